# Power cuts at every flash write of an application-bundle install on real LittleFS under
# micropython (host_tests/powercut_bundle.py): the charger boots the old version whole or the
# new one whole, and the retry after the reboot installs the new one.
import os
import sys

import mpy

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import mkbundle  # noqa: E402

SCRIPT = os.path.join(mpy.HOST_TESTS, "powercut_bundle.py")


def _bundle(tmp_path):
    files = [("version.py", b'VERSION = "0.2.0"\n'), ("app.py", b"NEW = True\n" * 400),
             ("ocpp16/fw_extra.py", b"Y = 2\n" * 700), ("empty.py", b"")]
    path = os.path.join(str(tmp_path), "pc.bundle")
    with open(path, "wb") as f:
        f.write(mkbundle.pack(files, "0.2.0"))
    return path


def _run(args):
    r = mpy.run([SCRIPT] + args, extra_path=(mpy.HOST_TESTS,), timeout=240)
    return r, r.stdout + r.stderr


def test_power_cut_at_every_write_of_a_bundle_install(tmp_path):
    r, out = _run([_bundle(tmp_path), "1"])
    assert r.returncode == 0 and "FAIL" not in out, out[-3000:]
    line = [x for x in r.stdout.splitlines() if x.startswith("cut points tried:")][0]
    tried, points = [int(x) for x in line.split(":")[1].split("of")]
    assert tried == points and points >= 50, out
    print(out)


def test_the_checker_catches_a_switch_before_the_unpack(tmp_path):
    r, out = _run([_bundle(tmp_path), "1", "unsafe"])
    assert r.returncode == 1 and "FAIL cut at write" in out, out[-3000:]
