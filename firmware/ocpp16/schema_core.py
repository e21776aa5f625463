# The profile of every request a CSMS may send, the module holding its table (or why none may
# check it), and the tables of Core's requests: loaded by ocpp16.schema for one check, unloaded
# after it. Table format: ocpp16/schema.py, which does the checking (not to be imported here).
from ocpp16 import callerror as E
from ocpp16 import profiles

# Every feature profile: its name, the module holding its request tables, the requests a CSMS
# may send in it, ";" between profiles. "Security" is the OCPP 1.6 Security Whitepaper extension.
PROFILES = ("Core schema_core ChangeAvailability ChangeConfiguration ClearCache DataTransfer"
            " GetConfiguration RemoteStartTransaction RemoteStopTransaction Reset UnlockConnector;"
            "FirmwareManagement schema_firmware GetDiagnostics UpdateFirmware;"
            "LocalAuthListManagement schema_localauth GetLocalListVersion SendLocalList;"
            "Reservation schema_reservation CancelReservation ReserveNow;"
            "SmartCharging schema_smart ClearChargingProfile GetCompositeSchedule SetChargingProfile;"
            "RemoteTrigger schema_trigger TriggerMessage;"
            "Security schema_security CertificateSigned DeleteCertificate ExtendedTriggerMessage"
            " GetInstalledCertificateIds GetLog InstallCertificate SignedUpdateFirmware")


def tables(action, supported):
    """The module whose CALLS holds the spec of the CSMS request `action` (loaded). Raises
    RpcError NotImplemented for an unknown action, NotSupported when `supported` (None: all)
    holds neither the action nor its profile or when its profile's tables are not on the board."""
    for group in PROFILES.split(";"):
        words = group.split()
        if action in words[2:]:
            break
    else:
        raise E.RpcError(E.NotImplemented, "unknown action %s" % str(action)[:E.NAME_IN_ERROR])
    profile = words[0]
    if supported is not None and action not in supported and profile not in supported:
        raise E.RpcError(E.NotSupported, "%s (%s) is not supported" % (action, profile))
    try:
        return profiles.load(words[1])
    except ImportError:  # a small board may ship without an optional profile's tables
        raise E.RpcError(E.NotSupported, "%s (%s) is not installed" % (action, profile))


CALLS = (";ChangeAvailability:IconnectorId Etype=Inoperative|Operative"
         ";ChangeConfiguration:Skey=50 Svalue=500"
         ";ClearCache:"
         ";DataTransfer:SvendorId=255 smessageId=50 sdata"
         ";GetConfiguration:akey=s50"
         ";RemoteStartTransaction:iconnectorId SidTag=20"
         " ochargingProfile=schema_smart.CHARGING_PROFILE"
         ";RemoteStopTransaction:ItransactionId"
         ";Reset:Etype=Hard|Soft"
         ";UnlockConnector:IconnectorId"
         ";")
