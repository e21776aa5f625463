# A CALL above the WebSocket message limit (65536 bytes) over the wire, repeated as a
# CSMS would: each is read to its end and dropped, answered with a CALLERROR
# FormationViolation carrying its message id, and the charger stays on the same
# connection (no 1009 close, no reconnect loop), on CPython and MicroPython.
import asyncio

import pytest
from ocpp.v16 import call

import scenario as S

BIG = 70 * 1024  # bytes of payload data: above net/ws.py MAX_MESSAGE, below MAX_DRAIN


def big_call(msg_id):
    return '[2,"%s","DataTransfer",{"vendorId":"acme","data":"%s"}]' % (msg_id, "x" * BIG)


async def script(csms, st):
    await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == 1)
    for i in range(3):
        await st._connection.send(big_call("big-%d" % i))
        m = await csms.wait_for(pred=lambda m: m[0] == 4)
        assert m[1:4] == ["big-%d" % i, "FormationViolation", "frame too large (%d bytes)" % (BIG + 56)], m
    # still the same connection, and answering properly
    assert (await st.call(call.ClearCache())).status == "Accepted"


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_call_above_the_message_limit_gets_formation_violation_and_keeps_the_link(runtime):
    station, lines, rc = asyncio.run(S.run_session(runtime, [{"at": 40, "do": "end"}], script=script, speed=20))
    assert rc == 0, "\n".join(lines[-40:])
    assert S.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    out = "\n".join(lines)
    assert out.count("link: connected to") == 1, out  # never dropped
    assert "disconnected" not in out.split("ClearCache")[0], out
    assert len([m for m in S.firmware_frames(station) if m[0] == 4]) == 3
