# Hardware interfaces, one small duck-typed class per device kind. The real
# drivers (hal/esp32) and the simulated ones (hal/sim) both follow these
# shapes; evse and app only ever talk to these methods.
#
# Pilot (one per connector)
#   offer(amps)      PWM at the IEC 61851 duty for `amps` (>= 6); 0 or None =
#                    constant +12 V (no offer, state detection only)
#   disable()        -12 V constant: state F, charger not available
#   sample()         -> (state, diode_ok): state one of "A".."F", diode_ok
#                    False when PWM runs but no -12 V low plateau was seen
#   amps             the current offered now (0 when not offering)
# Relay (contactor, one per connector)
#   set(closed)      drive the coil; only evse.interlock calls this
#   closed           the commanded position
#   check(now)       optional (a relay with a feedback contact: hal/esp32/relay.py, whose
#                    feedback() reads it): None, or the ChargePointErrorCode of a contact
#                    that disagrees with the command (fault_info says how)
# CardReader (one per charger, may be None)
#   poll()           -> idTag (uppercase hex UID) once per card presentation, or
#                    None; raises HalError("ReaderFailure") when the reader is gone
# Meter (one per connector, may be None)
#   read()           -> dict with "energy_wh" (import register), "power_w",
#                    "current_a" (list per phase), "voltage_v" (list per phase);
#                    raises HalError("PowerMeterFailure") when it cannot read


class HalError(Exception):
    """A device fault. `code` is the OCPP ChargePointErrorCode it maps to. No super().__init__():
    the exception's args are the constructor's already, and super() would make __init__ a
    closure (~150 B resident)."""

    def __init__(self, code, info=""):
        self.code = code
        self.info = info


def on_demand(code, name, fn, *args):
    """fn(*args) of module `name`, imported for the call and forgotten after it: the
    boot, error and diagnostic paths of the drivers hold no RAM between calls. A module
    that cannot be loaded (ImportError, MemoryError) raises HalError(code): the device
    is faulted, charging goes on elsewhere."""
    import sys
    try:
        try:
            mod = __import__(name, None, None, (fn,))
        except Exception as e:
            raise HalError(code, "%s: %r" % (name, e))
        return getattr(mod, fn)(*args)
    finally:
        sys.modules.pop(name, None)
        i = name.rfind(".")
        pkg = sys.modules.get(name[:i])
        if pkg is not None and name[i + 1:] in pkg.__dict__:
            del pkg.__dict__[name[i + 1:]]


class Connector:
    """The devices of one charging connector (numbered from 1); max_amps: the board's
    max_current_a (what its cable and contactor carry)."""

    def __init__(self, pilot, relay, meter=None, max_amps=16):
        self.pilot = pilot
        self.relay = relay
        self.meter = meter
        self.max_amps = max_amps


class Hardware:
    """What a board file builds: connectors plus the shared devices."""

    def __init__(self, connectors, reader=None, watchdog=None, board=None):
        self.connectors = connectors
        self.reader = reader
        self.watchdog = watchdog
        self.board = board or {}
        self.chip_id = None  # bytes that identify the chip (machine.unique_id()); the default serial
