# The feature profile of every request a CSMS may send, which module holds its table (or why
# none may check it), and the compact tables of Core's requests (CSMS -> charge point): loaded
# by ocpp16.schema for the check of one CSMS call, unloaded after it. Table format: ocpp16/schema.py,
# which does the checking (this module must not import it).
from ocpp16 import callerror as E
from ocpp16 import profiles

# Feature profile of every action the CSMS may call. "Security" is the OCPP 1.6 Security
# Whitepaper extension.
CALL_PROFILES = {
    "ChangeAvailability": "Core", "ChangeConfiguration": "Core", "ClearCache": "Core",
    "DataTransfer": "Core", "GetConfiguration": "Core", "RemoteStartTransaction": "Core",
    "RemoteStopTransaction": "Core", "Reset": "Core", "UnlockConnector": "Core",
    "GetDiagnostics": "FirmwareManagement", "UpdateFirmware": "FirmwareManagement",
    "GetLocalListVersion": "LocalAuthListManagement", "SendLocalList": "LocalAuthListManagement",
    "CancelReservation": "Reservation", "ReserveNow": "Reservation",
    "ClearChargingProfile": "SmartCharging", "GetCompositeSchedule": "SmartCharging",
    "SetChargingProfile": "SmartCharging",
    "TriggerMessage": "RemoteTrigger",
    "CertificateSigned": "Security", "DeleteCertificate": "Security",
    "ExtendedTriggerMessage": "Security", "GetInstalledCertificateIds": "Security",
    "GetLog": "Security", "InstallCertificate": "Security", "SignedUpdateFirmware": "Security",
}
# Module under ocpp16/ holding each profile's request tables (CALLS).
PROFILE_MODULES = {
    "Core": "schema_core", "FirmwareManagement": "schema_firmware", "LocalAuthListManagement": "schema_localauth",
    "Reservation": "schema_reservation", "SmartCharging": "schema_smart", "RemoteTrigger": "schema_trigger",
    "Security": "schema_security",
}


def tables(action, supported):
    """The module whose CALLS holds the table of the CSMS request `action` (loaded). Raises
    RpcError NotImplemented for an unknown action, NotSupported when `supported` (None: all)
    holds neither the action nor its profile or when its profile's tables are not on the board."""
    profile = CALL_PROFILES.get(action)
    if profile is None:
        raise E.RpcError(E.NotImplemented, "unknown action %s" % str(action)[:E.NAME_IN_ERROR])
    if supported is not None and action not in supported and profile not in supported:
        raise E.RpcError(E.NotSupported, "%s (%s) is not supported" % (action, profile))
    try:
        return profiles.load(PROFILE_MODULES[profile])
    except ImportError:  # a small board may ship without an optional profile's tables
        raise E.RpcError(E.NotSupported, "%s (%s) is not installed" % (action, profile))


CALLS = {
    "ChangeAvailability": "IconnectorId Etype=Inoperative|Operative",
    "ChangeConfiguration": "Skey=50 Svalue=500",
    "ClearCache": "",
    "DataTransfer": "SvendorId=255 smessageId=50 sdata",
    "GetConfiguration": "akey=s50",
    "RemoteStartTransaction": "iconnectorId SidTag=20 ochargingProfile=schema_smart.CHARGING_PROFILE",
    "RemoteStopTransaction": "ItransactionId",
    "Reset": "Etype=Hard|Soft",
    "UnlockConnector": "IconnectorId",
}
