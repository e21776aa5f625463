# Meter values (OCPP 1.6 4.7), imported for each and unloaded (ChargePoint.on_demand): the
# meterValue element of a sample (periodic, clock-aligned, a transaction's begin and end,
# triggered) and the MeterValues message; the core keeps the next periodic and aligned moment.
# No I/O; the values go through the core's queue.


def sample(cp, now):
    """MeterValuesAlignedData of every connector, with the transaction's id inside one."""
    for evse in cp.evses:
        _meter_values(cp, evse, "MeterValuesAlignedData", "Sample.Clock", now, cp.tx.get(evse.id))


def _meter_values(cp, evse, key, context, now, tx):
    mv = _sampled(cp, evse, key, context, now)
    if mv is None:
        return
    payload = {"connectorId": evse.id, "meterValue": [mv]}
    if tx is not None:
        payload["transactionId"] = tx.tx_id
        cp._push("MeterValues", payload, tx.tx_ref)
    elif cp.online:
        cp._ram("MeterValues", payload, None)


def _sampled(cp, evse, key, context, now):
    """One meterValue element with the measurands listed in configuration key `key`
    (ocpp16.config_keys.MEASURANDS)."""
    measurands = cp.config.csl(key)
    r = evse.read_meter()
    if not measurands or r is None:
        return None
    values = []
    for m in measurands:
        if m == "Energy.Active.Import.Register":
            series, unit = [str(int(r["energy_wh"]))], "Wh"
        elif m == "Power.Active.Import":
            series, unit = [str(int(r["power_w"]))], "W"
        elif m == "Current.Offered":
            series, unit = [str(evse.offer_amps)], "A"
        else:  # Current.Import, Voltage: per phase
            series, unit = [], "V" if m == "Voltage" else "A"
            for v in r["voltage_v" if unit == "V" else "current_a"]:
                series.append("%.1f" % v)
        for i in range(len(series)):
            sv = {"value": series[i], "context": context, "measurand": m, "unit": unit}
            if len(series) > 1:
                sv["phase"] = ("L1", "L2", "L3")[i] + ("-N" if m == "Voltage" else "")
            values.append(sv)
    return {"timestamp": cp.clock.stamp(now), "sampledValue": values}
