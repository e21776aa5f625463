# A received message above max_message (RFC 6455 sets no limit; OCPP wants a CALL among them
# answered): read to its end through the receive buffer and dropped, its first bytes kept for the
# reader (the OCPP message id), the connection kept. Loaded by net.ws for such a message only.
from compat import const
from net.ws import OP_CLOSE, OP_CONT, MessageTooBig

MAX_DRAIN = const(1048576)  # a larger message is read to its end and refused, link kept; beyond this: close 1009
TOO_BIG_HEAD = const(128)  # first bytes of a refused message kept for its reader (the OCPP message id)
CLOSE_TOO_BIG = const(1009)  # RFC 6455 7.4.1: the close code of a message beyond MAX_DRAIN


def _too_big(text, head, size, closed):
    e = MessageTooBig(text)
    e.head = head
    e.size = size
    e.closed = closed
    return e


async def drain(ws, have, n, fin):
    """ws._msg (`have` bytes so far, or None) and its next frame of n payload bytes (its last when
    fin) exceed ws.max_message: read the rest of the message and raise MessageTooBig (closed False);
    beyond MAX_DRAIN close the connection (1009) on the header alone, the payload never read."""
    head = bytearray(ws._msg[:TOO_BIG_HEAD]) if ws._msg is not None else bytearray()
    ws._msg = None
    total = have
    while True:
        total += n
        if total > MAX_DRAIN:
            await ws._end("failed", CLOSE_TOO_BIG, _too_big("incoming message of %d+ bytes exceeds %d"
                                                            % (total, max(MAX_DRAIN, ws.max_message)),
                                                            bytes(head), total, True))
        k = min(n, TOO_BIG_HEAD - len(head))
        if k > 0:
            part = bytearray(k)
            await ws._read_into(memoryview(part))
            head.extend(part)
            part = None
            n -= k
        while n:  # through the receive buffer: no allocation
            n -= len(await ws._read_some(n))
        if fin:
            raise _too_big("incoming message of %d bytes exceeds max_message %d (dropped)"
                           % (total, ws.max_message), bytes(head), total, False)
        while True:  # the next frame of the message; control frames between are handled as usual
            fin, op, n = await ws._read_header()
            if op < OP_CLOSE:
                break
            await ws._control(fin, op, n)
        await ws._data_op(op, True)
