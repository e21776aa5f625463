# The firmware's identity, one home each: its name (the default BootNotification
# chargePointVendor) and its version (firmwareVersion, the boot console line, the mip
# package and the README's release notes). Constants only.
from compat import const

# The values through const(): a literal of 10 characters or less would be an interned name.
_NAME = const("ocpp16-mpy")
_SERIAL_FORMAT = const("%02X")  # a byte of the chip id, two hex digits
NAME = _NAME  # this firmware; at most 20 characters (CiString20Type)
VERSION = "0.2.0"  # at most 50 characters (CiString50Type)


def serial(chip_id):
    """chargePointSerialNumber made from the chip's unique id (at most 25 characters)."""
    b = chip_id[:12]
    return _SERIAL_FORMAT * len(b) % tuple(b)
