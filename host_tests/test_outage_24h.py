# A 24-hour outage in simulated time: the CSMS goes down right after boot, the
# charger runs a whole day of charging offline (MeterValues every 60 s), the CSMS
# comes back after the unplug and must then receive every transaction message in
# order with its transactionId, only the latest status per connector, no Heartbeat
# from the outage.
#
# Speed: CPython's event loop sleeps at least 1 ms per control-loop iteration (the
# epoll timeout is rounded up to whole ms), so a day at period_ms 1000 costs > 86 s
# of wall time; at 3000 ms it is ~30 s. MicroPython runs flat out at such speeds
# (its sleeps round down to 0 ms), which makes the 30 s answer timeout shorter than
# a CSMS round trip; CPython keeps >= 10 ms of wall time per answer timeout.
import asyncio
import datetime
import json
import os
import tempfile
import time

import pytest

import scenario as S

DAY_S = 24 * 3600
START_S = 1800              # card; the CSMS is down long before (~0.6 s wall)
AFTER_S = 3 * 3600          # unplug -> end: room for the replay in simulated time (~1.5 h used)
SPEED = 3000
PERIOD_MS = 3000
SESSION = [
    {"at": START_S, "do": "card", "id": "04A2B3C4"},
    {"at": START_S + 5, "do": "plug"},
    {"at": START_S + 5 + DAY_S, "do": "unplug"},
    {"at": START_S + 5 + DAY_S + AFTER_S, "do": "end"},
]
KEYS = {"AllowOfflineTxForUnknownId": True}  # the card is tapped offline and unknown there


def _epoch(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def day_run():
    workdir = tempfile.mkdtemp(prefix="ocpp-outage-")
    box = {}

    def ready(csms):
        box["csms"] = csms

    def on_line(line):
        csms = box["csms"]
        if line.startswith("<- "):  # an answer the charger received
            box["answers"] = box.get("answers", 0) + 1
            if box["answers"] == 4:  # BootNotification, the StartupOfTheDevice event, the two boot StatusNotifications
                box["down_at"] = len(csms.log)
                csms.go_down()
        elif "scenario: do=unplug" in line:
            box["up_at"] = len(csms.log)
            box["up_time"] = asyncio.get_running_loop().time()
            csms.come_up()

    t0 = time.time()
    station, lines, rc = asyncio.run(S.run_session(
        "cpython", SESSION, speed=SPEED, keys=KEYS, workdir=workdir, csms_ready=ready, on_line=on_line,
        sim_opts={"period_ms": PERIOD_MS}))
    wall = time.time() - t0
    return station, lines, rc, box, workdir, wall


def test_day_long_outage_replayed_in_order(day_run):
    station, lines, rc, box, workdir, wall = day_run
    csms = station.csms
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    assert "down_at" in box and "up_at" in box, "\n".join(lines[-40:])
    assert csms.refused > 100  # the charger kept trying during the outage
    frames = [json.loads(raw) for _, raw in station.frames]
    before, after = frames[:box["up_at"]], frames[box["up_at"]:]
    assert [m[2] for m in before if m[0] == 2 and m[2] not in ("Heartbeat", "SecurityEventNotification")] == \
        ["BootNotification", "StatusNotification", "StatusNotification"]
    # the one security event of a normal boot (StartupOfTheDevice) goes out before the outage
    assert [m[3]["type"] for m in before if m[0] == 2 and m[2] == "SecurityEventNotification"] == ["StartupOfTheDevice"]
    assert not any(m[0] == 2 and m[2] == "Authorize" for m in frames)  # decided offline

    delivered = S.delivered_tx_messages(station)
    msgs, repeats = S.collapse_repeats([(a, json.dumps(p, sort_keys=True)) for a, p, _ in delivered])
    actions = [a for a, _ in msgs]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"
    assert set(actions[1:-1]) == {"MeterValues"}
    tx_id = delivered[0][2]["transactionId"]
    assert all(json.loads(p)["transactionId"] == tx_id for _, p in msgs[1:])
    assert [i for i, t in station.transactions.items() if t["stop"]] == [tx_id]
    stamps = [_epoch(json.loads(p)["meterValue"][0]["timestamp"]) for a, p in msgs if a == "MeterValues"]
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [60] * (len(stamps) - 1)  # none lost, in order
    assert DAY_S // 60 - 2 <= len(stamps) <= DAY_S // 60, len(stamps)
    t = station.transactions[tx_id]
    energy = t["meter_stop"] - t["meter_start"]
    assert abs(energy - 7360 * 24) < 7360 * 24 * 0.01, energy  # 32 A x 230 V for a day
    failures_path = os.path.join(workdir, "data", "queue", "failures.json")
    assert not os.path.exists(failures_path) or json.load(open(failures_path)) == []

    # statuses coalesced while offline: one per connector that changed, its latest state
    sn = [m[3] for m in after if m[0] == 2 and m[2] == "StatusNotification"]
    assert [(s["connectorId"], s["status"]) for s in sn] == [(1, "Available")], sn
    assert _epoch(sn[0]["timestamp"]) >= stamps[-1]
    # no Heartbeat from the outage: the first one comes after the replay
    calls_after = [m[2] for m in after if m[0] == 2]
    assert "Heartbeat" not in calls_after[:calls_after.index("StopTransaction")]
    assert calls_after.count("Heartbeat") <= AFTER_S // 300 + 1

    stop_i = max(i for i, (d, raw) in enumerate(station.frames) if d == "in" and '"StopTransaction"' in raw)
    replay_s = csms.log_times[stop_i] - box["up_time"]
    print("\n[outage] 24 h outage: %d transaction messages replayed (%d MeterValues, %d sent twice), "
          "%d connects refused while down, replay %.1f s, run %.1f s wall"
          % (len(delivered), len(stamps), repeats, csms.refused, replay_s, wall))


def test_coalesced_status_follows_the_transaction_messages_before_it(day_run):
    station, box = day_run[0], day_run[3]
    order = [(m[2], m[3].get("connectorId")) for m in (json.loads(raw) for _, raw in station.frames[box["up_at"]:])
             if m[0] == 2 and m[2] in ("StatusNotification", "StopTransaction")]
    assert order[:2] == [("StopTransaction", None), ("StatusNotification", 1)], order[:3]
