# A firmware limit that is module-private (`_NAME = const(...)`), read where it is defined,
# for the portable tests (CPython and MicroPython). MicroPython compiles such a name away:
# no global and no interned name on the device, so `module._NAME` does not exist there, and
# a test that needs the value reads it from its one named home, the module's source.
import sys


def limit(module, name):
    """The value of `name = const(expr)` in firmware module `module` (dotted name); expr may go
    on over several lines (a table of strings in parentheses)."""
    __import__(module)
    path = sys.modules[module].__file__
    if path.endswith(".mpy"):
        raise ValueError("%s is compiled (%s): its source is needed to read %s" % (module, path, name))
    head = name + " = const("
    with open(path) as f:
        text = None
        for line in f:
            if text is None and not line.startswith(head):
                continue
            text = line[len(head):] if text is None else text + line
            try:
                return eval("(" + text[:text.rindex(")")] + ")")  # (its lines joined as in const(...))
            except (SyntaxError, ValueError):  # not closed on this line: read on
                pass
    raise LookupError("%s defines no %s = const(...)" % (module, name))
