# Meter values (OCPP 1.6 4.7) and the transactions they begin and end, imported for each use and
# unloaded (ChargePoint.on_demand): the meterValue element of a sample (periodic, clock-aligned,
# a transaction's begin and end, triggered) and the MeterValues message; a transaction's start
# (once the core finds an EV plugged for a grant, ocpp16.offline) with its Transaction.Begin
# values, and, once it was stopped and the contactor is open, its StopTransaction with the
# Transaction.End values: one module loaded at a start, the moment that decides the smallest
# heap. The stop itself (the offer off) is the core's: it never waits for an import. The core
# keeps the next periodic and aligned moment. No I/O beyond tx.json; the messages go through the
# core's queue.
import log
from ocpp16 import timefmt
from compat import const
from ocpp16.chargepoint import Transaction

# Short texts as const(): a literal of 10 characters or less would be an interned name, never
# freed (a hook's or an on-demand module's name is interned only when a feature has it or it loads).
_VOLTAGE = const("Voltage")
_WH = const("Wh")
_W = const("W")
_V = const("V")
_PER_PHASE = const("%.1f")
_TO_NEUTRAL = const("-N")  # a voltage's phase: L1-N
_MEASURAND = const("measurand")
_UNIT = const("unit")
_METER_START = const("meterStart")
_METER_VALUE = const("meterValue")
_ID_TAG = const("idTag")
_METER_STOP = const("meterStop")
_QUEUE_FULL = const("queue full")
_MAY_START = const("may_start")  # hooks of the resident features
_TX_ENDED = const("tx_ended")
_CORE_OPS = const("core_ops")
_OUT_OF_USE = const("out_of_use")


def sample(cp, now, tx=None):
    """MeterValuesAlignedData of every connector, with the transaction's id inside one; tx: the
    MeterValuesSampledData of that transaction's connector (periodic)."""
    if tx is not None:
        return _meter_values(cp, cp.evses[tx.connector - 1], "MeterValuesSampledData", "Sample.Periodic", now, tx)
    for evse in cp.evses:
        _meter_values(cp, evse, "MeterValuesAlignedData", "Sample.Clock", now, cp.tx.get(evse.id))


def _meter_values(cp, evse, key, context, now, tx):
    mv = _sampled(cp, evse, key, context, now)
    if mv is None:
        return
    payload = {"connectorId": evse.id, _METER_VALUE: [mv]}
    if tx is not None:
        payload["transactionId"] = tx.tx_id
        cp._push("MeterValues", payload, tx.tx_ref)
    elif cp.online:
        cp._ram("MeterValues", payload, None)


def _sampled(cp, evse, key, context, now):
    """One meterValue element with the measurands listed in configuration key `key`
    (ocpp16.config_keys._MEASURANDS)."""
    measurands = cp.config.csl(key)
    r = evse.read_meter()
    if not measurands or r is None:
        return None
    values = []
    for m in measurands:
        if m == "Energy.Active.Import.Register":
            series, unit = [str(int(r["energy_wh"]))], _WH
        elif m == "Power.Active.Import":
            series, unit = [str(int(r["power_w"]))], _W
        elif m == "Current.Offered":
            series, unit = [str(evse.offer_amps)], "A"
        else:  # Current.Import, Voltage: per phase
            series, unit = [], _V if m == _VOLTAGE else "A"
            for v in r["voltage_v" if unit == _V else "current_a"]:
                series.append(_PER_PHASE % v)
        for i in range(len(series)):
            sv = {"value": series[i], "context": context, _MEASURAND: m, _UNIT: unit}
            if len(series) > 1:
                sv["phase"] = ("L1", "L2", "L3")[i] + (_TO_NEUTRAL if m == _VOLTAGE else "")
            values.append(sv)
    return {"timestamp": cp.clock.stamp(now), "sampledValue": values}


def start(cp, evse, now):
    """The transaction of the grant (cp.auth, spent here: one start per authorization) on evse,
    with its Transaction.Begin values, unless the queue has no room for it (queue.room_for_transaction)
    or a feature refuses it (may_start hooks): the Transaction, or None."""
    a = cp.auth
    id_tag = a["tag"]
    cp.auth = None
    if not cp.queue.room_for_transaction():
        log.error("%s not queued: %s", "StartTransaction", _QUEUE_FULL)
        cp._event(("refused", _QUEUE_FULL))
        return None
    try:
        for hook in cp._hooks(_MAY_START):
            why = hook(cp, evse, id_tag, now)
            if why:
                log.info("idTag %s refused: %s", id_tag, why)
                cp._event(("refused", why))
                return None
    except MemoryError as e:  # a feature could not check it (it may read the local list)
        log.warning("idTag %s: start waits: %r", id_tag, e)
        cp.auth = a  # tried again next tick, while the authorization lasts
        return None
    evse.read_meter()
    meter = evse.energy_wh()
    epoch = cp.clock.epoch(now)
    payload = {"connectorId": evse.id, _ID_TAG: id_tag, _METER_START: meter,
               "timestamp": timefmt.format_datetime(epoch)}
    for hook in cp._hooks("start_payload"):
        hook(cp, evse, payload)
    # The transaction is on flash (tx.json, with the seq its Start will get) before its
    # Start is queued: a power cut in between is recovered without a dangling Start.
    t = Transaction(evse.id, id_tag, cp.queue.next_seq, meter, now, epoch)
    cp.tx[evse.id] = t
    cp._save_tx(now)
    ref = cp._push("StartTransaction", payload, None)
    if ref is None:
        del cp.tx[evse.id]
        cp._save_tx(now)
        return None
    if ref != t.tx_ref:
        t.tx_ref = ref
        cp._save_tx(now)
    interval = cp.config.get("MeterValueSampleInterval")
    t.next_sample_ms = now + interval * 1000 if interval else None
    cp.finishing.discard(evse.id)
    evse.permit(True)
    log.info("transaction on connector %d %s: %s", evse.id, "started", id_tag)
    t.begin_values = _sampled(cp, evse, "StopTxnSampledData", "Transaction.Begin", now)
    return t


def finish(cp, connector, now):
    """The StopTransaction of the transaction stopped on `connector` (ChargePoint.stop_transaction),
    with meterStop read now that the contactor is open (or after the settle time)."""
    t = cp.tx[connector]
    reason, id_tag, _ = t.stopping
    evse = cp.evses[connector - 1]
    evse.read_meter()
    payload = {_METER_STOP: evse.energy_wh(), "timestamp": cp.clock.stamp(now),
               "transactionId": t.tx_id, "reason": reason}
    if id_tag:
        payload[_ID_TAG] = id_tag
    data = []
    for v in (t.begin_values, _sampled(cp, evse, "StopTxnSampledData", "Transaction.End", now)):
        if v:
            data.append(v)
    if data:
        payload["transactionData"] = data
    # Record the Stop's seq before queueing it: after a cut in between, recovery can
    # tell whether this Stop made it to the queue (and must not send a second one).
    t.stop_seq = cp.queue.next_seq
    cp._save_tx(now)
    cp._push("StopTransaction", payload, t.tx_ref)
    del cp.tx[connector]
    if evse.plugged:
        cp.finishing.add(connector)
    cp._save_tx(now)
    cp._event(("stopped", connector, reason, payload[_METER_STOP] - t.meter_start))
    for hook in cp._hooks(_TX_ENDED):
        hook(cp, connector, now)
    log.info("transaction on connector %d %s: %s", connector, "stopped", reason)
    if connector in cp.scheduled_unavailable:  # a ChangeAvailability waited for this stop
        cp.on_demand(_CORE_OPS, _OUT_OF_USE, connector)
