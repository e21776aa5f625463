# A minimal test runner for the `micropython` command: imports each module
# named on the command line (from host_tests/portable), calls every function
# whose name starts with test_ (awaiting coroutines), prints one line per
# failure and closes with "N passed, N failed". Portable tests use plain
# asserts and no pytest features, so CPython's pytest runs them too.
import sys
import asyncio

try:
    from sys import print_exception
except ImportError:
    import traceback

    def print_exception(e):
        traceback.print_exception(type(e), e, e.__traceback__)


def run_module(name):
    mod = __import__(name)
    passed = failed = 0
    names = sorted(n for n in dir(mod) if n.startswith("test_"))
    for n in names:
        fn = getattr(mod, n)
        if not callable(fn):
            continue
        try:
            r = fn()
            if r is not None and hasattr(r, "send"):
                asyncio.run(r)
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL", name + "." + n)
            print_exception(e)
    return passed, failed


def main(argv):
    total_p = total_f = 0
    for name in argv:
        p, f = run_module(name)
        print("%s: %d passed, %d failed" % (name, p, f))
        total_p += p
        total_f += f
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
