# A firmware limit that is module-private (`_NAME = const(...)`), read where it is defined,
# for the portable tests (CPython and MicroPython). MicroPython compiles such a name away:
# no global and no interned name on the device, so `module._NAME` does not exist there, and
# a test that needs the value reads it from its one named home, the module's source.
import sys


def limit(module, name):
    """The value of `name = const(expr)` in firmware module `module` (dotted name). A module
    this imports is removed again, so reading a limit never leaves it loaded for later tests
    (the on-demand rule they check)."""
    loaded = module in sys.modules
    __import__(module)
    path = sys.modules[module].__file__
    if not loaded:
        del sys.modules[module]
    if path.endswith(".mpy"):
        raise ValueError("%s is compiled (%s): its source is needed to read %s" % (module, path, name))
    head = name + " = const("
    with open(path) as f:
        for line in f:
            if line.startswith(head):
                expr = line[len(head):].split("#")[0].rstrip()  # a trailing comment may hold ")"
                return eval(expr[:-1])
    raise LookupError("%s defines no %s = const(...)" % (module, name))
