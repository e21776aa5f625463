# Clock-aligned meter values (ClockAlignedDataInterval, OCPP 1.6 4.7): the core
# (ocpp16.chargepoint) keeps the next aligned moment and imports this for the sample, then
# unloads it (ChargePoint.on_demand). No I/O; the values go through the core's queue.


def sample(cp, now):
    """MeterValuesAlignedData of every connector, with the transaction's id inside one."""
    for evse in cp.evses:
        cp._meter_values(evse, "MeterValuesAlignedData", "Sample.Clock", now, cp.tx.get(evse.id))
