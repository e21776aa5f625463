# Runs under the micropython command (MICROPYPATH=.frozen:firmware): the heap the
# Reservation and Remote Trigger profiles hold while their modules are loaded and
# after they are unloaded again, measured on a charge point core with two connectors.
# Prints figures only.
import gc
import json
import sys

import log
from hal.sim import build
from evse.connector import Evse
from ocpp16 import profiles
from ocpp16.chargepoint import ChargePoint, WallClock
from ocpp16.config import Config
from ocpp16.queue import MessageQueue
from ocpp16.timefmt import format_datetime

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ocpp-bench-reserve"
T0 = 1795435200
CONNECTORS = 2
ROUNDS = 10  # reserve / cancel / trigger cycles; figures are those of the last


def heap():
    gc.collect()
    gc.collect()
    return gc.mem_alloc()


def quiet(cp):
    del cp.outbox[:]
    del cp.events[:]
    del cp.ram[:]
    cp.pending = None


def call(cp, action, payload, n=[0]):
    n[0] += 1
    cp.receive(json.dumps([2, "b%d" % n[0], action, payload]), 0)
    status = json.loads(cp.outbox[0])[2]["status"]
    quiet(cp)
    return status


def main():
    import os
    log.set_level("warning")
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    for name in os.listdir(DIR):
        if name.endswith(".json"):
            os.remove(DIR + "/" + name)
    hw = build({"connectors": CONNECTORS, "max_current_a": 32})
    evses = [Evse(i + 1, hw.connectors[i]) for i in range(CONNECTORS)]
    cp = ChargePoint({"charge_point_id": "B"}, Config(None, {"NumberOfConnectors": CONNECTORS}), evses,
                     MessageQueue(DIR + "/q"), clock=WallClock(T0, 0), data_dir=DIR, now=0)
    cp.boot_status = "Accepted"
    cp.online = True
    for rid in (90, 91):  # warm up: first-use allocations of the core (ids, schema tables, ...)
        call(cp, "CancelReservation", {"reservationId": rid})
        call(cp, "TriggerMessage", {"requestedMessage": "Heartbeat"})
    cp.tick(0)
    quiet(cp)
    first = None
    start = heap()
    for round in range(ROUNDS):  # later rounds show what stays once every table has grown
        f = cycle(cp)
        if first is None:
            first = f
            one_round = heap() - start
    total = heap() - start
    print("Reservation: reserve_ops (ReserveNow/CancelReservation) while imported: %d bytes" % f[0])
    print("Reservation: resident with 1 reservation: %d bytes; with %d (one per connector, the most): %d bytes; "
          "after a tick: %d bytes" % (f[1], CONNECTORS, f[2], f[3]))
    print("Reservation: during a ReserveNow / CancelReservation call (both modules loaded): %d bytes" % f[7])
    print("Reservation: after every reservation is cancelled (modules unloaded): %d bytes (first time: %d)"
          % (f[4], first[4]))
    print("Remote Trigger: trigger while imported: %d bytes; after TriggerMessage calls (unloaded): %d bytes "
          "(first time: %d)" % (f[5], f[6], first[6]))
    print("Both: retained after 1 round of reserve / cancel / trigger: %d bytes; after %d rounds: %d bytes"
          % (one_round, ROUNDS, total))


def cycle(cp):
    base = heap()
    profiles.load("reserve_ops")
    ops = heap() - base
    profiles.unload("reserve_ops")
    exp = format_datetime(T0 + 3600)
    status = call(cp, "ReserveNow", {"connectorId": 1, "expiryDate": exp, "idTag": "CARD0001", "reservationId": 1})
    assert status == "Accepted", status
    one = heap() - base
    status = call(cp, "ReserveNow", {"connectorId": 2, "expiryDate": exp, "idTag": "CARD0002",
                                     "parentIdTag": "FLEET", "reservationId": 2})
    assert status == "Accepted", status
    two = heap() - base
    cp.tick(0)
    quiet(cp)
    ticking = heap() - base
    profiles.load("reserve_ops")  # as during a ReserveNow / CancelReservation call
    during = heap() - base
    profiles.unload("reserve_ops")
    assert call(cp, "CancelReservation", {"reservationId": 1}) == "Accepted"
    assert call(cp, "CancelReservation", {"reservationId": 2}) == "Accepted"
    assert "ocpp16.reservation" not in sys.modules and "ocpp16.reserve_ops" not in sys.modules
    cp.tick(0)
    quiet(cp)
    after = heap() - base
    base = heap()
    profiles.load("trigger")
    trig = heap() - base
    profiles.unload("trigger")
    for what in ("StatusNotification", "MeterValues", "Heartbeat"):
        assert call(cp, "TriggerMessage", {"requestedMessage": what}) == "Accepted"
    assert "ocpp16.trigger" not in sys.modules
    trig_after = heap() - base
    return ops, one, two, ticking, after, trig, trig_after, during

main()
