# Transaction messages the CSMS refuses (CALLERROR): retried after
# TransactionMessageRetryInterval x attempt, in order, nothing lost; after
# TransactionMessageAttempts the message is recorded in the queue's failure log and
# the later ones still flow. One it never answers is sent again until answered
# (a timeout is not a failure to process; see also test_outage_timeouts.py).
import asyncio
import json
import os
import tempfile

import pytest
from ocpp.v16 import call

import scenario as S

# 100 ms control period / 50 = 2 ms per iteration: a whole number of ms, so the
# simulated clock never runs ahead of wall time x SPEED on either runtime.
SPEED = 50
RETRY_S = 10


def _times(station, idx):
    return station.csms.log_times[idx]  # one station: its frames and the CSMS log line up


def _check_transaction(station, tx_id):
    delivered = S.delivered_tx_messages(station)
    actions = [a for a, _, _ in delivered]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction", actions
    assert set(actions[1:-1]) == {"MeterValues"}
    assert all(p["transactionId"] == tx_id for a, p, _ in delivered[1:])
    done = [i for i, t in station.transactions.items() if t["stop"]]
    assert done == [tx_id]
    return [p for a, p, _ in delivered if a == "MeterValues"]


def _epoch(stamp):
    import datetime
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


CALLERROR_SESSION = [
    {"at": 3, "do": "card", "id": "04A2B3C4"},
    {"at": 5, "do": "plug"},
    {"at": 100, "do": "unplug"},
    {"at": 102, "do": "end"},
]


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_callerror_retried_with_growing_waits_in_order(runtime):
    def arm(csms):
        for action in S.TX_ACTIONS:
            csms.fail_action(action, times=2)
    keys = {"MeterValueSampleInterval": 15, "TransactionMessageRetryInterval": RETRY_S}
    station, lines, rc = asyncio.run(S.run_session(runtime, CALLERROR_SESSION, speed=SPEED, keys=keys,
                                                   csms_ready=arm))
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    answered = S.answered_calls(station)
    for action in S.TX_ACTIONS:
        tries = [(p, kind, at) for a, p, kind, _, at in answered if a == action]
        # the first message of each kind: two CALLERRORs, then accepted; the same payload each time
        assert [k for _, k, _ in tries[:3]] == [4, 4, 3], (action, tries)
        assert tries[0][0] == tries[1][0] == tries[2][0]
        t = [_times(station, at) for _, _, at in tries[:3]]
        g1, g2 = (t[1] - t[0]) * SPEED, (t[2] - t[1]) * SPEED  # simulated seconds (at least)
        assert g1 >= RETRY_S * 0.9, (action, g1)
        assert 1.5 < g2 / g1 < 2.6, (action, g1, g2)  # the wait grows with the attempt
        assert all(k == 3 for _, k, _ in tries[3:]), action  # only 2 CALLERRORs were armed
        print("\n[outage] %s %s: CALLERROR, retry after %.1f s, CALLERROR, retry after %.1f s, accepted"
              % (runtime, action, g1, g2))
    tx_id = max(station.transactions)
    mvs = _check_transaction(station, tx_id)
    # one sample every 15 s from the start to the stop: none lost, none twice, in order
    stamps = [_epoch(p["meterValue"][0]["timestamp"]) for p in mvs]
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [15] * (len(stamps) - 1), stamps
    assert len(stamps) == 6, stamps  # ~95 s of charging


NO_ANSWER_SESSION = [
    {"at": 10, "do": "card", "id": "04A2B3C4"},
    {"at": 12, "do": "plug"},
    {"at": 130, "do": "unplug"},
    {"at": 132, "do": "end"},
]


def test_unanswered_message_sent_again_not_given_up_and_later_ones_flow():
    workdir = tempfile.mkdtemp(prefix="ocpp-outage-")

    async def script(csms, st):
        await csms.wait_for("BootNotification")
        r = await st.call(call.ChangeConfiguration(key="TransactionMessageAttempts", value="2"))
        assert r.status == "Accepted"

    keys = {"MeterValueSampleInterval": 15, "TransactionMessageRetryInterval": 5}
    station, lines, rc = asyncio.run(S.run_session(
        "cpython", NO_ANSWER_SESSION, script=script, speed=SPEED, keys=keys, workdir=workdir,
        csms_ready=lambda c: c.ignore_action("MeterValues", times=2)))
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    sent = [(json.loads(raw), i) for i, (d, raw) in enumerate(station.frames)
            if d == "in" and '"MeterValues"' in raw]
    first = sent[0][0][3]
    repeats = [i for m, i in sent if m[3] == first]
    # 2 unanswered (timeouts do not count towards TransactionMessageAttempts = 2), the third answered
    assert len(repeats) == 3, "the unanswered MeterValues must be sent until answered"
    gap = (_times(station, repeats[1]) - _times(station, repeats[0])) * SPEED
    assert gap >= 30 + 5 - 1, gap  # answer timeout (30 s), then the retry interval
    tx_id = max(station.transactions)
    mvs = _check_transaction(station, tx_id)
    assert mvs[0] == first and len(mvs) >= 6, mvs  # delivered, and the later samples too
    stamps = [_epoch(p["meterValue"][0]["timestamp"]) for p in mvs]
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [15] * (len(mvs) - 1), stamps
    assert not os.path.exists(os.path.join(workdir, "data", "queue", "failures.json")) or \
        json.load(open(os.path.join(workdir, "data", "queue", "failures.json"))) == []
    assert not any("given up" in line for line in lines)
    print("\n[outage] unanswered MeterValues: sent again %.0f s later (simulated), delivered on the third send"
          % gap)


def test_message_refused_every_time_is_recorded_after_the_attempts():
    workdir = tempfile.mkdtemp(prefix="ocpp-outage-")
    keys = {"MeterValueSampleInterval": 0, "TransactionMessageRetryInterval": 5}
    session = [{"at": 3, "do": "card", "id": "04A2B3C4"}, {"at": 5, "do": "plug"},
               {"at": 30, "do": "unplug"}, {"at": 32, "do": "end"}]
    station, lines, rc = asyncio.run(S.run_session(
        "cpython", session, speed=SPEED, keys=keys, workdir=workdir,
        csms_ready=lambda c: c.fail_action("StopTransaction", times=None, code="InternalError")))
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    stops = [(p, kind) for a, p, kind, _, _ in S.answered_calls(station) if a == "StopTransaction"]
    assert [k for _, k in stops] == [4, 4, 4]  # TransactionMessageAttempts (3), then no more
    assert stops[0][0] == stops[1][0] == stops[2][0]
    with open(os.path.join(workdir, "data", "queue", "failures.json")) as f:
        failures = json.load(f)
    (tx_id,) = station.transactions
    assert failures == [["StopTransaction", tx_id, "CALLERROR InternalError injected fault"]], failures
    # the status after the stop still reaches the CSMS
    statuses = [p["status"] for a, p, kind, _, _ in S.answered_calls(station) if a == "StatusNotification"]
    assert statuses[-1] == "Available", statuses
