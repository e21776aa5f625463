# The whole charge point core on real LittleFS under micropython, with the power cut at
# every program/erase of a multi-transaction, mostly offline scenario (host_tests/powercut_fw.py).
import os

import pytest

import mpy


@pytest.mark.parametrize("partial", ["0.5", "0.0", "1.0"])
def test_firmware_survives_a_power_cut_at_every_flash_write(partial):
    script = os.path.join(mpy.HOST_TESTS, "powercut_fw.py")
    r = mpy.run([script, "1", partial], extra_path=(mpy.HOST_TESTS, os.path.join(mpy.HOST_TESTS, "portable")), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "FAIL" not in out
    whole = [l for l in out.splitlines() if l.startswith("writes in the whole run:")][0]
    writes = int(whole.split(":")[1].split(",")[0])
    tried, points = [int(x) for x in [l for l in out.splitlines() if l.startswith("cut points tried:")][0]
                     .split(":")[1].split("of")]
    assert tried == points == writes and writes >= 200
    second = int([l for l in out.splitlines() if l.startswith("second cuts during recovery:")][0].split(":")[1])
    assert second >= 300
    lost = [l for l in out.splitlines() if l.startswith("PowerLoss stops checked:")][0]
    checked = int(lost.split(":")[1].split(",")[0])
    assert checked >= tried // 2, lost  # most cut points fall inside a transaction: each one checked
    print(whole, "| cut points tried:", tried, "| second cuts during recovery:", second, "|", lost)
