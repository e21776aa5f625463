# A CSMS that keeps the connection but stops answering: a timeout is not a failure to
# process. Transaction messages are sent again (same content, new id) until answered and
# never given up for want of an answer; an unanswered StatusNotification is sent again;
# after a CALL timeout the link is checked with a ping and re-made when no pong comes.
# Simulated time (SPEED) keeps minutes of hanging to seconds; both runtimes.
import asyncio
import json
import os
import tempfile

import pytest

import scenario as S

SPEED = 50  # 2 ms of wall time per 100 ms control period, as in test_outage_retries.py
RETRY_S = 10
HANGS = 6  # unanswered StopTransactions: 6 x (30 s timeout + 10 s) = 4 minutes without an answer
SESSION = [
    {"at": 3, "do": "card", "id": "04A2B3C4"},
    {"at": 5, "do": "plug"},
    {"at": 40, "do": "unplug"},
    {"at": 330, "do": "end"},
]


def _failures(workdir):
    try:
        with open(os.path.join(workdir, "data", "queue", "failures.json")) as f:
            return json.load(f)
    except OSError:
        return []


def _stops(station):
    return [(json.loads(raw), i) for i, (d, raw) in enumerate(station.frames)
            if d == "in" and '"StopTransaction"' in raw]


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_csms_silent_for_minutes_then_answering_gets_the_stop_and_the_status(runtime):
    workdir = tempfile.mkdtemp(prefix="ocpp-timeouts-")

    def arm(csms):
        csms.ignore_action("StopTransaction", times=HANGS)
        csms.ignore_action("StatusNotification", times=1)  # the first one: connector 0 Available

    keys = {"MeterValueSampleInterval": 0, "TransactionMessageRetryInterval": RETRY_S}
    station, lines, rc = asyncio.run(S.run_session(runtime, SESSION, speed=SPEED, keys=keys, workdir=workdir,
                                                   csms_ready=arm))
    out = "\n".join(lines)
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    stops = _stops(station)
    assert len(stops) == HANGS + 1, [m for m, _ in stops]  # sent until answered, never given up
    assert len({m[1] for m, _ in stops}) == HANGS + 1  # a new message id each time
    assert all(m[3] == stops[0][0][3] for m, _ in stops)  # the same content
    gaps = [(station.csms.log_times[b] - station.csms.log_times[a]) * SPEED
            for (_, a), (_, b) in zip(stops, stops[1:])]
    assert all(g >= 30 + RETRY_S - 1 for g in gaps), gaps  # the answer timeout, then the retry interval
    (tx,) = station.transactions.values()
    assert tx["stop"] is not None and tx["meter_stop"] == stops[0][0][3]["meterStop"] > 0
    assert _failures(workdir) == []
    assert "given up" not in out
    assert out.count("link: connected to") == 1, out  # the pongs came: the link was kept
    answered = [(p["connectorId"], p["status"]) for a, p, kind, _, _ in S.answered_calls(station)
                if a == "StatusNotification" and kind == 3]
    assert (0, "Available") in answered, answered  # the unanswered status went again
    assert answered[-1] == (1, "Available"), answered
    print("\n[timeouts] %s: StopTransaction unanswered %d times over %.0f s (simulated), sent again each time, "
          "delivered" % (runtime, HANGS, sum(gaps)))


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_csms_hung_until_the_charger_reconnects(runtime):
    workdir = tempfile.mkdtemp(prefix="ocpp-timeouts-")
    session = [{"at": 3, "do": "card", "id": "04A2B3C4"}, {"at": 5, "do": "plug"},
               {"at": 40, "do": "unplug"}, {"at": 150, "do": "end"}]
    keys = {"MeterValueSampleInterval": 0, "TransactionMessageRetryInterval": RETRY_S}
    station, lines, rc = asyncio.run(S.run_session(runtime, session, speed=SPEED, keys=keys, workdir=workdir,
                                                   csms_ready=lambda c: c.hang_action("StopTransaction")))
    out = "\n".join(lines)
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    stops = _stops(station)
    assert station.csms.hung == [stops[0][0][1]]
    assert len(stops) == 2 and stops[0][0][3] == stops[1][0][3], [m for m, _ in stops]
    assert "no pong within" in out and out.count("link: connected to") == 2, out
    gap = (station.csms.log_times[stops[1][1]] - station.csms.log_times[stops[0][1]]) * SPEED
    assert 30 <= gap < 30 + 10 + 5, gap  # timeout, one pong wait, the first backoff: reconnected and sent
    (tx,) = station.transactions.values()
    assert tx["stop"] is not None and tx["reason"] == "EVDisconnected"
    assert _failures(workdir) == [] and "given up" not in out
    answered = [(p["connectorId"], p["status"]) for a, p, kind, _, _ in S.answered_calls(station)
                if a == "StatusNotification" and kind == 3]
    assert answered[-1] == (1, "Available"), answered
    print("\n[timeouts] %s: hung CSMS: no pong, reconnected, StopTransaction sent again %.0f s (simulated) "
          "after the first" % (runtime, gap))
