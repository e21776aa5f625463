# Runs under the micropython command (MICROPYPATH=.frozen:firmware):
# frames per second the OCPP core can parse, validate, answer and frame
# (GetConfiguration round trips against an in-memory peer), and the heap the
# core holds after construction. Prints figures only.
import gc
import sys

import compat
from hal.sim import build
from evse.connector import Evse
from ocpp16.chargepoint import ChargePoint
from ocpp16.config import Config
from ocpp16.queue import MessageQueue

ROUNDS = 2000
DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ocpp-bench-core"


def main():
    import os
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    gc.collect()
    base = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    hw = build({"connectors": 1, "max_current_a": 32})
    evses = [Evse(1, hw.connectors[0])]
    cp = ChargePoint({"charge_point_id": "B"}, Config(None, {}), evses, MessageQueue(DIR + "/q"), now=0)
    cp.boot_status = "Accepted"
    cp.online = True
    gc.collect()
    held = (gc.mem_alloc() - base) if hasattr(gc, "mem_alloc") else 0
    frames = ['[2,"%d","GetConfiguration",{"key":["HeartbeatInterval","MeterValueSampleInterval"]}]' % i
              for i in range(10)]
    t0 = compat.ticks_ms()
    out = 0
    for i in range(ROUNDS):
        cp.receive(frames[i % 10], 0)
        out += len(cp.outbox)
        del cp.outbox[:]
    dt = compat.ticks_diff(compat.ticks_ms(), t0)
    assert out == ROUNDS
    print("core heap after construction: %d bytes" % held)
    print("GetConfiguration round trips: %d in %d ms = %d frames/s" % (ROUNDS, dt, ROUNDS * 1000 // max(dt, 1)))


main()
