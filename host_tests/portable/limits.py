# A firmware limit that is module-private (`_NAME = const(...)`), read where it is defined,
# for the portable tests (CPython and MicroPython). MicroPython compiles such a name away:
# no global and no interned name on the device, so `module._NAME` does not exist there, and
# a test that needs the value reads it from its one named home, the module's source.
import sys


def _value(text):
    """The value of `text` (what follows "const(", to the last ")"), or None if not closed yet."""
    for t in (text, "\n".join(l.split("#")[0] for l in text.split("\n"))):  # a comment may hold ")"
        if ")" in t:
            try:
                return (eval("(" + t[:t.rindex(")")] + ")"),)  # its lines joined as in const(...)
            except (SyntaxError, ValueError):
                pass
    return None


def limit(module, name):
    """The value of `name = const(expr)` in firmware module `module` (dotted name); expr may go
    on over several lines (a table of strings in parentheses). A module this imports is removed
    again, so reading a limit never leaves it loaded for later tests (the on-demand rule they
    check)."""
    loaded = module in sys.modules
    __import__(module)
    path = sys.modules[module].__file__
    if not loaded:
        del sys.modules[module]
    if path.endswith(".mpy"):
        raise ValueError("%s is compiled (%s): its source is needed to read %s" % (module, path, name))
    head = name + " = const("
    with open(path) as f:
        text = None
        for line in f:
            if text is None and not line.startswith(head):
                continue
            text = line[len(head):] if text is None else text + line
            v = _value(text)
            if v is not None:
                return v[0]
    raise LookupError("%s defines no %s = const(...)" % (module, name))
