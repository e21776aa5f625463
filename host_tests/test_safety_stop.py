# Energy after a stop request: the contactor legitimately stays closed while the
# EV finishes (IEC 61851: the EV opens S2 within 3 s; the interlock forces it
# after 6 s), and the EV may draw current meanwhile. That energy belongs to the
# transaction. Uses the portable safety rig (real pilot/relay drivers, real core).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "portable"))

import test_evse_safety as T


def test_meter_stop_includes_the_energy_drawn_until_the_contactor_opens():
    r = T.charging()
    r.ev_amps = 32
    r.run(2000)
    r.csms_call("RemoteStopTransaction", {"transactionId": T.TX_ID})
    r.run(3000)          # the EV keeps drawing for 3 s, as IEC 61851 allows ...
    r.ev.state = "B"     # ... then opens S2
    r.run(1100)
    assert not r.relay.closed
    stop = [m[3] for m in r.sent if m[2] == "StopTransaction"][-1]
    assert stop["meterStop"] >= int(r.energy_wh) - 1, (stop["meterStop"], r.energy_wh)
