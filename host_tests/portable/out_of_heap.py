# An on-demand import out of heap, for the portable tests (CPython and MicroPython): a
# profiles.load that refuses some modules the way a device short of RAM does.


def refusing(real, broken):
    """A profiles.load that raises MemoryError for the modules named in the set `broken`
    (an import out of heap) and is `real` for the others."""
    def load(name):
        if name in broken:
            raise MemoryError("no room for " + name)
        return real(name)
    return load
