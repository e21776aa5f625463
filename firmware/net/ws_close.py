# How a WebSocket connection ends (RFC 6455 5.5.1, 7.1): our close handshake, the answer to the
# server's close frame, and failing the connection on a protocol violation (a close frame with
# the reason, then drop). Loaded by net.ws (WebSocket._end) for that and unloaded after: a
# connected link does not keep it. No logging, no retries.
import asyncio

from compat import const
from net.ws import ConnectionClosed, ProtocolError, WebSocketError, _wait_for_ms

CLOSE_TIMEOUT_MS = const(3000)  # how long close() waits for the server's close frame
FAIL_CLOSE_TIMEOUT_MS = const(1000)  # how long we try to tell the server why we are dropping it
FAIL_REASON_CHARS = const(60)  # the part of an error text sent as the close reason
_POLL_S = 0.02  # how often close() looks whether the receiving task has seen the server's close

# RFC 6455 (net.ws keeps its own names private: no interned name on the device)
_OP_CLOSE = const(8)  # 5.2: the close frame's opcode
_MAX_CONTROL = const(125)  # 5.5: control frame payload limit (the close code's 2 bytes and the reason)
CLOSE_PROTOCOL = const(1002)
CLOSE_NO_STATUS = const(1005)  # never sent: what a close frame without a code means
CLOSE_BAD_DATA = const(1007)  # text message that is not UTF-8


def _valid_close_code(code):
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


async def _send_close(ws, code, reason=""):
    if ws._close_sent or ws.closed:
        return
    ws._close_sent = True
    payload = b"" if code == CLOSE_NO_STATUS else code.to_bytes(2, "big") + reason.encode()[:_MAX_CONTROL - 2]
    await ws._send(payload, _OP_CLOSE)


async def failed(ws, code, exc):
    """Tell the server why (bounded), drop the connection and raise exc."""
    if not ws.closed:
        text = str(exc)
        try:
            await _wait_for_ms(_send_close(ws, code, text[:FAIL_REASON_CHARS]), FAIL_CLOSE_TIMEOUT_MS)
        except Exception:  # best effort: the connection is being dropped anyway
            pass
        ws._lost(text, code)
    raise exc


async def fail(ws, b, n=0, busy=False):
    """Fail the connection for the violation net.ws found in a frame (b: its first two bytes, n its
    payload length, busy: inside a fragmented message; b None: a text message that is not UTF-8):
    raises ProtocolError."""
    code = CLOSE_PROTOCOL
    if b is None:
        text, code = "text message is not valid UTF-8", CLOSE_BAD_DATA
    elif b & 0x7000:
        text = "reserved bits set in a frame (no extension was agreed)"
    elif b & 0x80:
        text = "server sent a masked frame"
    elif n >> 63:
        text = "frame length has its top bit set"
    elif b & 0x800:  # a control frame
        op = b >> 8 & 0x0F
        if op > 10:
            text = "unknown control opcode %d" % op
        elif not b & 0x8000:
            text = "fragmented control frame"
        else:
            text = "control frame of %d bytes (max %d)" % (n, _MAX_CONTROL)
    elif b >> 8 & 0x0F > 2:
        text = "unknown data opcode %d" % (b >> 8 & 0x0F)
    elif busy:
        text = "new message started inside a fragmented one"
    else:
        text = "continuation frame without a message to continue"
    await failed(ws, code, ProtocolError(text))


async def close(ws, code, reason):
    """Close handshake: send close, wait (bounded) for the server's close, drop TCP."""
    if ws.closed:
        return
    try:
        await _send_close(ws, code, reason)
        await _wait_for_ms(_until_closed(ws), CLOSE_TIMEOUT_MS)
    except (WebSocketError, asyncio.TimeoutError):
        pass
    ws._lost(reason, code)
    await ws.wait_closed()  # the TCP connection ends here, not when the server times out


async def _until_closed(ws):
    # The server's close frame: seen by the task receiving, or read (and what comes before it dropped) here.
    try:
        while not ws.closed:
            if ws._rx_active:
                await asyncio.sleep(_POLL_S)
            else:
                await ws.recv()
    except ConnectionClosed:
        pass


async def on_close(ws, payload):
    """The server's close frame: check it, answer it (echoing the code), end the connection."""
    code, reason = CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        await failed(ws, CLOSE_PROTOCOL, ProtocolError("close frame with a 1-byte payload"))
    if len(payload) >= 2:
        code = int.from_bytes(payload[:2], "big")
        if not _valid_close_code(code):
            await failed(ws, CLOSE_PROTOCOL, ProtocolError("invalid close code %d" % code))
        try:
            reason = str(payload[2:], "utf-8")
        except UnicodeError:
            await failed(ws, CLOSE_BAD_DATA, ProtocolError("close reason is not UTF-8"))
    ws.close_code = code
    ws.close_reason = reason
    if not ws._close_sent:  # RFC 6455 5.5.1: answer with a close, echoing the code
        try:
            await _wait_for_ms(_send_close(ws, code), FAIL_CLOSE_TIMEOUT_MS)
        except Exception:  # the server is closing anyway
            pass
    raise ws._lost(reason, code)
