# Charging profiles on real LittleFS under micropython, with the power cut at every
# program/erase of a sequence of SetChargingProfile / ClearChargingProfile calls
# (host_tests/powercut_smart.py): after the reboot a profile set is the one before
# or after the call in flight, never half.
import os

import pytest

import mpy


@pytest.mark.parametrize("partial", ["0.5", "0.0", "1.0"])
def test_charging_profiles_survive_a_power_cut_at_every_flash_write(partial):
    script = os.path.join(mpy.HOST_TESTS, "powercut_smart.py")
    r = mpy.run([script, "1", partial], extra_path=(mpy.HOST_TESTS,), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "FAIL" not in out
    lines = out.splitlines()
    writes = int([l for l in lines if l.startswith("writes in the whole run:")][0].split(":")[1].split(",")[0])
    tried, points = [int(x) for x in [l for l in lines if l.startswith("cut points tried:")][0]
                     .split(":")[1].split("of")]
    assert tried == points == writes and writes >= 40
    landed, lost = [int(l.split()[-1]) for l in [l for l in lines if l.startswith("call in flight:")][0]
                    .split(",")]
    assert landed > 0 and lost > 0  # both outcomes happen, and each was recognised
