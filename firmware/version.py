# The firmware's identity, one home each: its name (the default BootNotification
# chargePointVendor) and its version (firmwareVersion, the boot console line, the mip
# package and the README's release notes). Constants only.
NAME = "ocpp16-mpy"  # this firmware; at most 20 characters (CiString20Type)
VERSION = "0.2.0"  # at most 50 characters (CiString50Type)


def serial(chip_id):
    """chargePointSerialNumber made from the chip's unique id (at most 25 characters)."""
    b = chip_id[:12]
    return "%02X" * len(b) % tuple(b)
