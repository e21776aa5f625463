# Scratch folders for the portable tests, on CPython and MicroPython: one per
# process (several test runs may share a machine), removed and made afresh.
import os

PROCESS_TAG = "%d" % int.from_bytes(os.urandom(4), "big")


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(path)


def folder(name, keep=False):
    """/tmp/_<name>_<process tag>, empty unless keep (then as the last run left it)."""
    path = "/tmp/_%s_%s" % (name, PROCESS_TAG)
    if not keep:
        rmtree(path)
    try:
        os.mkdir(path)
    except OSError:
        pass
    return path
