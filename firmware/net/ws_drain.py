# A message recv() cannot take as one frame: its fragments (RFC 6455 5.4) assembled, or, above
# max_message (RFC 6455 sets no limit; OCPP wants a CALL among them answered), read to its end
# through the receive buffer and dropped, its first bytes kept for the reader (the OCPP message
# id), the connection kept. Loaded by net.ws (WebSocket._end) for such a message only.
from compat import const
from net.ws import MessageTooBig

MAX_DRAIN = const(1048576)  # a larger message is read to its end and refused, link kept; beyond this: close 1009
TOO_BIG_HEAD = const(128)  # first bytes of a refused message kept for its reader (the OCPP message id)
CLOSE_TOO_BIG = const(1009)  # RFC 6455 7.4.1: the close code of a message beyond MAX_DRAIN
_CHUNK = const(512)  # read size while a message is assembled or drained


def _too_big(text, head, size, closed):
    e = MessageTooBig(text)
    e.head = head
    e.size = size
    e.closed = closed
    return e


async def drain(ws, n, fin):
    """The message whose first frame has n payload bytes (fin: its last): its fragments assembled
    into ws._msg (control frames between are handled as usual, net.ws _frame). Above ws.max_message
    it is read to its end and MessageTooBig raised (closed False); beyond MAX_DRAIN the connection
    is closed (1009) on the header alone, the payload never read."""
    ws._msg = bytearray()
    buf = memoryview(bytearray(_CHUNK))
    total = 0
    while True:
        total += n
        if total > ws.max_message:
            break
        while n:  # through buf, appended as it comes
            k = min(n, _CHUNK)
            ws._msg.extend(await ws._read_into(buf[:k]))
            n -= k
        if fin:
            return
        fin, _, n = await ws._frame()
    # The big buffer goes; _msg holds the head instead (still set: the message goes on, net.ws _frame).
    ws._msg = head = ws._msg[:TOO_BIG_HEAD]
    while True:
        if total > MAX_DRAIN:
            await ws._end("failed", CLOSE_TOO_BIG, _too_big("incoming message of %d+ bytes exceeds %d"
                                                            % (total, max(MAX_DRAIN, ws.max_message)),
                                                            bytes(head), total, True))
        while n:  # through buf: no allocation
            k = min(n, _CHUNK)
            chunk = await ws._read_into(buf[:k])
            if len(head) < TOO_BIG_HEAD:
                head.extend(chunk[:TOO_BIG_HEAD - len(head)])
            n -= k
        chunk = None
        if fin:
            raise _too_big("incoming message of %d bytes exceeds max_message %d (dropped)"
                           % (total, ws.max_message), bytes(head), total, False)
        fin, _, n = await ws._frame()
        total += n
