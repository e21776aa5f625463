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
        if type(t) is dict:  # written by an earlier version: the same fields by name
            t = saved[key] = [t["tag"], t["ref"], t.get("id"), t["ms"], t["t0"], t.get("stop"),
                              t.get("last", t["ms"]), t.get("lt", t["t0"])]
        tag, ref, tx_id, _, _, stop, last, last_epoch = t  # the order of chargepoint's TX_FILE
        if tx_id is None and cp.queue.tx_id(ref) is None and not cp.queue.waiting(ref):
            log.warning("transaction on connector %s: power was lost before its Start was queued", key)
            continue
        if stop is not None and (cp.queue.waiting(stop) or cp.queue.done(stop)):
            continue  # its StopTransaction was queued just before the power went
        payload = {"idTag": tag, "meterStop": last, "timestamp": timefmt.format_datetime(last_epoch),
                   "transactionId": tx_id, "reason": "PowerLoss"}
        # as in ocpp16.aligned.finish: a cut during this recovery must not give a second Stop
        t[5] = cp.queue.next_seq  # its StopTransaction's seq
        store.save(cp._path(TX_FILE), saved)
        cp._push("StopTransaction", payload, ref)
        cp._event(("recovered", ref))
        log.warning("transaction on connector %s was open at power-off: stopped (PowerLoss)", key)
    if saved:
        store.save(cp._path(TX_FILE), {})
