# An accepted Reset (ocpp16.core_ops.on_Reset) waiting for its StopTransactions, a resident
# feature (ChargePoint.features) only while it waits: the charger reboots (cp.reboot, done
# by the app) once they are delivered, or after a bounded wait (they are on flash and go
# out after the reboot anyway). No I/O here.

# After an accepted Reset, wait at most this long for queued messages to go out.
RESET_DRAIN_MS = 30000
NAME = __name__[__name__.rfind(".") + 1:]  # its key in cp.features


def tick(cp, now):
    kind, since = cp.reset_requested
    if (not cp.tx and cp.queue.peek() is None) or now - since >= RESET_DRAIN_MS:
        cp.reboot = kind
        cp.drop_feature(NAME)
