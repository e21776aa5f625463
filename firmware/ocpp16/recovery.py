# Power-loss recovery at boot: a transaction tx.json still holds was open when the power
# went; it is ended with StopTransaction reason PowerLoss and its last persisted reading.
# Imported by ChargePoint only when tx.json holds one, then unloaded (ocpp16.profiles).
import log
import store
from ocpp16 import timefmt
from ocpp16.chargepoint import TX_FILE


def recover(cp, saved, now):
    """A transaction that was open at power-off is ended with reason PowerLoss
    and the last meter reading that was persisted."""
    for key in saved:
        t = saved[key]
        ref = t["ref"]
        if t.get("id") is None and cp.queue.tx_id(ref) is None and not cp.queue.waiting(ref):
            log.warning("transaction on connector %s: power was lost before its Start was queued", key)
            continue
        stop = t.get("stop")
        if stop is not None and (cp.queue.waiting(stop) or cp.queue.done(stop)):
            continue  # its StopTransaction was queued just before the power went
        payload = {"idTag": t["tag"], "meterStop": t.get("last", t["ms"]),
                   "timestamp": timefmt.format_datetime(t.get("lt", t["t0"])),
                   "transactionId": t.get("id"), "reason": "PowerLoss"}
        # as in ocpp16.aligned.finish: a cut during this recovery must not give a second Stop
        t["stop"] = cp.queue.next_seq
        store.save(cp._path(TX_FILE), saved)
        cp._push("StopTransaction", payload, t["ref"])
        cp._event(("recovered", t["ref"]))
        log.warning("transaction on connector %s was open at power-off: stopped (PowerLoss)", key)
    if saved:
        store.save(cp._path(TX_FILE), {})
