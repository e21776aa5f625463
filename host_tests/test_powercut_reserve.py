# Reservations on real LittleFS under micropython with the power cut at every
# program/erase of a ReserveNow / replace / cancel / use / expiry scenario
# (host_tests/powercut_reserve.py): after the reboot each is there whole or not at all.
import os

import pytest

import mpy


@pytest.mark.parametrize("partial", ["0.5", "0.0", "1.0"])
def test_reservations_survive_a_power_cut_at_every_flash_write(partial):
    script = os.path.join(mpy.HOST_TESTS, "powercut_reserve.py")
    r = mpy.run([script, "1", partial], extra_path=(mpy.HOST_TESTS,), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "FAIL" not in out
    line = lambda start: [l for l in out.splitlines() if l.startswith(start)][0]
    writes = int(line("writes in the whole run:").split(":")[1].split(",")[0])
    tried, points = [int(x) for x in line("cut points tried:").split(":")[1].split("of")]
    assert tried == points == writes and writes >= 40
    before, after = [int(w) for w in line("after reboot:").split() if w.isdigit()]
    assert before > 0 and after > 0 and before + after == tried  # both outcomes happen
    print(line("writes in the whole run:"), "|", line("after reboot:"))
