# What follows when one of our CALLs gets no usable answer, and when the CSMS sends a frame
# that is not OCPP-J: rare paths of the core (ocpp16.chargepoint), imported for the work and
# unloaded (ChargePoint.on_demand). No I/O; the core's state changes, frames go to its outbox.
from compat import const
import log
from ocpp16 import rpc
from ocpp16.chargepoint import BOOT_RETRY_DEFAULT_S

# At most one InvalidMessages security event per this long (ms): a flood of bad frames
# must not fill the security log and the RAM buffer.
_INVALID_MESSAGES_EVENT_MS = const(60000)
_UNKNOWN_ID = const("-1")   # id of the CALLERROR answering a CALL whose id could not be read (ocpp16.badframe)


def failed(cp, m, why, now):
    """Our CALL m got no usable answer. why: "timeout" (no answer within chargepoint's
    _CALL_TIMEOUT_MS), None (lost: the link dropped before the answer), or the refusal (the CSMS failed to process
    it; only a refusal counts towards TransactionMessageAttempts): the CALLERROR frame, the
    rpc.RpcError of an answer that failed validation, or a text."""
    action = m["action"]
    kind = "lost" if why is None else why if why == "timeout" else None  # None: refused
    if kind == "lost":
        why = "connection lost"
    elif isinstance(why, tuple):
        why = "CALLERROR %s %s" % (why[2], why[3])
    elif isinstance(why, rpc.RpcError):
        why = "invalid answer: " + why.description
    seq = m["seq"]
    if seq is not None:
        if kind == "lost":
            return  # sent again on reconnect
        retry_s = cp.config.get("TransactionMessageRetryInterval")
        if kind == "timeout":
            # Not a failure to process: never counted, never given up. The same message
            # goes again (a new id) once the link is checked, at once after a reconnect.
            cp.retry_at = now + retry_s * 1000
            log.warning("%s not answered in %d s: sent again", action, (now - m["time"]) // 1000)
            return
        n = cp.attempts.get(seq, 0) + 1
        cp.attempts[seq] = n
        if n >= cp.config.get("TransactionMessageAttempts"):
            log.error("%s given up after %d attempts (%s)", action, n, why)
            cp.queue.fail(seq, why)
            cp.attempts.pop(seq, None)
            cp._event(("gave-up", action, why))
        else:
            # The wait grows with the attempt number (OCPP 1.6 section 4.9 advice).
            cp.retry_at = now + retry_s * 1000 * n
            log.warning("%s failed (%s): attempt %d, retry in %d s", action, why, n, retry_s * n)
        return
    if action == "BootNotification":
        cp.next_boot_ms = now + BOOT_RETRY_DEFAULT_S * 1000
    elif action == "StatusNotification" and kind is not None:
        # Lost with the link or not answered: the CSMS must still learn it, unless a
        # newer status of that connector is already waiting (one CALL at a time, so
        # none can have been sent since).
        c = m["payload"]["connectorId"]
        for r in cp.ram:
            if r[1] == action and r[2]["connectorId"] == c:
                break
        else:
            cp.ram.insert(0, [-1, action, m["payload"], None])
        log.warning("%s %s: sent again", action, why)
        return
    elif type(m["cb"]) is tuple:  # (module, fn, args...), as ChargePoint.receive calls it
        cp.on_demand(*(m["cb"] + (None, now)))
    elif m["cb"] is not None:
        m["cb"](None, now)
    log.warning("%s failed: %s", action, why)


def refused(cp, action, e):
    """A message the queue refused (ChargePoint._push): named in the log and the events; None."""
    log.error("%s not queued: %s", action, e)
    cp._event(("queue-error", action, str(e)))


def answer(cp, msg, now):
    """A frame that is not the CALLRESULT to our CALL: its CALLERROR, one to no CALL of ours, or
    (msg an rpc.RpcError) a frame that is not OCPP-J (bad_frame)."""
    if isinstance(msg, rpc.RpcError):
        return bad_frame(cp, msg, now)
    m = cp.pending
    if m is None or m["id"] != msg[1]:
        log.warning("answer to unknown message id %s ignored", msg[1])
    else:
        cp.pending = None
        failed(cp, m, msg, now)


def receive_too_large(cp, head, size, now):
    """A frame above the WebSocket's limit, read to its end and dropped: head is its first bytes."""
    bad_frame(cp, rpc.refused("too_large", head, size), now)


def reply_for(err):
    """The CALLERROR text that answers `err` (an RpcError), or None when nothing must be sent."""
    if not err.answer:
        return None
    return rpc.encode_error(err.msg_id or _UNKNOWN_ID, err.code, err.description)  # an id is never ""


def bad_frame(cp, e, now):
    """A frame that is not OCPP-J (e: the rpc.RpcError parsing raised): its CALLERROR when it
    can be named, else the failure of our CALL it answered; at most one InvalidMessages
    security event per _INVALID_MESSAGES_EVENT_MS."""
    log.warning("bad frame: %s", e)
    reply = reply_for(e)
    if reply is not None:
        cp.outbox.append(reply)
    elif cp.pending is not None and e.msg_id == cp.pending["id"]:
        m = cp.pending
        cp.pending = None
        failed(cp, m, "malformed answer: %s" % e, now)
    if cp.invalid_event_ms is None or now - cp.invalid_event_ms >= _INVALID_MESSAGES_EVENT_MS:
        cp.invalid_event_ms = now
        cp.security_event("InvalidMessages", now, str(e))
