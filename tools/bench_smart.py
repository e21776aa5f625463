# Smart Charging figures under the micropython unix port (64-bit words: an ESP32
# needs about half the heap for the same objects, and is ~20-50x slower): the heap
# the resident schedule module (ocpp16.smart) holds, its code and its state with the
# maximum number of installed profiles and periods (MaxChargingProfilesInstalled x
# ChargingScheduleMaxPeriods); what is left after the on-demand handlers unload; the
# time of one GetCompositeSchedule at that maximum, and of the per-tick work.
# Figures only, no assertions.
# Run: MICROPYPATH=.frozen:firmware:host_tests .venv/bin/micropython tools/bench_smart.py DIR
import gc
import json
import sys
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/_bench_smart"
T0 = 1795435200   # 2026-11-23T12:00:00Z
REPEAT = 20


def us():
    return time.ticks_us() if hasattr(time, "ticks_us") else int(time.perf_counter() * 1000000)


def since(t0):
    return time.ticks_diff(us(), t0) if hasattr(time, "ticks_diff") else us() - t0


def heap():
    gc.collect()
    return gc.mem_alloc()


def install_all(cp, config):
    """MaxChargingProfilesInstalled profiles of ChargingScheduleMaxPeriods periods each."""
    from ocpp16.timefmt import format_datetime
    n_prof = config.get("MaxChargingProfilesInstalled")
    n_per = config.get("ChargingScheduleMaxPeriods")
    levels = config.get("ChargeProfileMaxStackLevel") + 1
    msg = 0
    slots = [("ChargePointMaxProfile", 0)] * 3 + [("TxDefaultProfile", 0)] * 4 + [("TxDefaultProfile", 1)] * 3
    for i in range(n_prof):
        purpose, conn = slots[i % len(slots)]
        kind = "Recurring" if i % 2 else "Absolute"
        sched = {"chargingRateUnit": "W" if i % 3 == 0 else "A", "startSchedule": format_datetime(T0 - 60 * i),
                 "chargingSchedulePeriod": [{"startPeriod": j * 3600 + i * 97 * (j > 0), "limit":
                                             (6 + (i + j) % 20) * (690 if i % 3 == 0 else 1)}
                                            for j in range(n_per)]}
        p = {"chargingProfileId": i + 1, "stackLevel": i % levels, "chargingProfilePurpose": purpose,
             "chargingProfileKind": kind, "chargingSchedule": sched}
        if kind == "Recurring":
            p["recurrencyKind"] = "Daily"
        msg += 1
        cp.receive(json.dumps([2, "b%d" % msg, "SetChargingProfile", {"connectorId": conn, "csChargingProfiles": p}]), 0)
        answer = json.loads(cp.outbox.pop())
        assert answer[2]["status"] == "Accepted", answer


def main():
    import os
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    for n in ("charging_profiles.json", "config.json"):
        try:
            os.remove(DIR + "/" + n)
        except OSError:
            pass
    from hal.sim import build
    from evse.connector import Evse
    from ocpp16.chargepoint import ChargePoint, Transaction, WallClock
    from ocpp16.config import Config
    from ocpp16.queue import MessageQueue
    from ocpp16.timefmt import format_datetime
    board = {"connectors": 2, "max_current_a": 32, "voltage_v": 230, "phases": 3}
    hw = build(board)
    evses = [Evse(i + 1, c) for i, c in enumerate(hw.connectors)]
    config = Config(DIR + "/config.json", {"NumberOfConnectors": 2})
    cp = ChargePoint({"charge_point_id": "B"}, config, evses, MessageQueue(DIR + "/queue"),
                     clock=WallClock(T0, 0), data_dir=DIR, now=0, board=board)
    for c in (1, 2):
        t = Transaction(c, "T", c, 0, 0, T0 - 900)
        t.tx_id = c
        cp.tx[c] = t
    n_prof = config.get("MaxChargingProfilesInstalled")
    n_per = config.get("ChargingScheduleMaxPeriods")
    msg = 100
    # warm-up: one install and clear loads what every CALL shares (schema tables, timefmt, store)
    cp.receive(json.dumps([2, "w1", "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 99, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative", "chargingSchedule": {"chargingRateUnit": "A",
                                                               "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}}]), 0)
    cp.receive(json.dumps([2, "w2", "ClearChargingProfile", {}]), 0)
    del cp.outbox[:]
    print("modules loaded by the warm-up and kept: %s" % sorted(m for m in sys.modules if "smart" in m))
    base = heap()
    import ocpp16.smart  # noqa: F401  the resident module's code alone
    code = heap() - base
    install_all(cp, config)
    resident = [m for m in sys.modules if m.startswith("ocpp16.smart")]
    total = heap() - base
    print("resident after %d SetChargingProfile calls: %s (handlers unloaded: %s)"
          % (n_prof, ", ".join(resident), "ocpp16.smart_ops" not in sys.modules))
    print("heap of Smart Charging resident, %d profiles x %d periods: %d bytes (code %d, profiles and state %d)"
          % (n_prof, n_per, total, code, total - code))
    print("profiles on flash: %d bytes" % os.stat(DIR + "/charging_profiles.json")[6])
    # one GetCompositeSchedule at the maximum: the whole call (handler import, 24 h, unload)
    times = []
    periods = 0
    for k in range(REPEAT):
        msg += 1
        t0 = us()
        cp.receive(json.dumps([2, "g%d" % msg, "GetCompositeSchedule", {"connectorId": 1, "duration": 86400}]), 0)
        times.append(since(t0))
        answer = json.loads(cp.outbox.pop())
        periods = len(answer[2]["chargingSchedule"]["chargingSchedulePeriod"])
    times.sort()
    print("GetCompositeSchedule, connector 1, 24 h at the maximum: median %d us, max %d us (%d periods)"
          % (times[len(times) // 2], times[-1], periods))
    S = sys.modules["ocpp16.smart"]
    anchors = {1: T0 - 900, 2: T0 - 900}
    b = S.Board(cp)
    times = []
    for k in range(REPEAT):
        t0 = us()
        S.composite(cp.smart.profiles, 0, T0, 86400, anchors, b, 48)
        times.append(since(t0))
    times.sort()
    print("composite schedule of connector 0 (both connectors' schedules and the share), 24 h: median %d us"
          % times[len(times) // 2])
    times = []
    for k in range(REPEAT):
        cp.smart.dirty = True
        t0 = us()
        S.tick(cp, 0)
        times.append(since(t0))
    times.sort()
    print("tick that evaluates (period boundary, start/stop): median %d us" % times[len(times) // 2])
    t0 = us()
    for k in range(200):
        S.tick(cp, 0)
    print("tick between boundaries (nothing to do): %d us" % (since(t0) // 200))
    del S, b, times
    msg += 1
    cp.receive(json.dumps([2, "c%d" % msg, "ClearChargingProfile", {}]), 0)
    cp.outbox.pop()
    first = heap()
    print("after ClearChargingProfile of all: resident %s; %d bytes above the start stay once: the names"
          " (qstrs) MicroPython interned at the first import, never freed (the next line: not more each time)"
          % ([m for m in sys.modules if m.startswith("ocpp16.smart")], first - base))
    install_all(cp, config)
    cp.receive(json.dumps([2, "c2", "ClearChargingProfile", {}]), 0)
    cp.outbox.pop()
    print("a second install of the maximum and clear: heap back to %+d bytes of the first clear"
          % (heap() - first))


main()
