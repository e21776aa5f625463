# The profile of every request a CSMS may send, the module holding its table (or why none may
# check it), the tables of Core's requests, of the answers an idle or charging charger does not
# get, and the rules of the kinds only requests have (uri, decimal): loaded by
# ocpp16.schema for one check, unloaded after it. Table format: ocpp16/schema.py, which does
# the checking and has the CALLERROR codes.
import sys

from compat import const
from ocpp16 import profiles
from ocpp16 import schema  # RpcError (resident)

# badframe.why's texts of a refused action (after ocpp16.schema's 0..11; the texts load only then)
_UNKNOWN_ACTION = const(12)  # "unknown action <action>"
_NO_ANSWER = const(13)       # "no answer is expected to <action>"

# Every feature profile: its name, the module holding its request tables, the requests a CSMS
# may send in it, ";" between profiles. "Security" is the OCPP 1.6 Security Whitepaper extension.
_PROFILES = const("Core schema_core ChangeAvailability ChangeConfiguration ClearCache DataTransfer"
                  " GetConfiguration RemoteStartTransaction RemoteStopTransaction Reset UnlockConnector;"
                  "FirmwareManagement schema_firmware GetDiagnostics UpdateFirmware;"
                  "LocalAuthListManagement schema_localauth GetLocalListVersion SendLocalList;"
                  "Reservation schema_reservation CancelReservation ReserveNow;"
                  "SmartCharging schema_smart ClearChargingProfile GetCompositeSchedule SetChargingProfile;"
                  "RemoteTrigger schema_trigger TriggerMessage;"
                  "Security schema_security CertificateSigned DeleteCertificate ExtendedTriggerMessage"
                  " GetInstalledCertificateIds GetLog InstallCertificate SignedUpdateFirmware")

# The registry of the handlers (ocpp16.profiles.HANDLERS, read by profiles.handler(); here so
# that it is loaded only for a CSMS call): action -> module under ocpp16/ with
# on_<action>(cp, payload, now) -> result dict, as "module: Action Action ;" groups in one
# string (a dict of 26 long names cost 2 KB of RAM for ever). The module is imported for the
# call and removed from sys.modules afterwards.
HANDLERS = ("core_ops: ChangeAvailability ChangeConfiguration ClearCache DataTransfer GetConfiguration "
            "RemoteStartTransaction RemoteStopTransaction Reset UnlockConnector ;"
            "localauth: GetLocalListVersion SendLocalList ;"
            "reserve_ops: ReserveNow CancelReservation ;"
            "trigger: TriggerMessage ;"
            "smart_ops: ClearChargingProfile GetCompositeSchedule SetChargingProfile ;"
            # Security whitepaper extension
            "certs: InstallCertificate GetInstalledCertificateIds DeleteCertificate CertificateSigned ;"
            "exttrigger: ExtendedTriggerMessage ;getlog: GetLog ;"
            "fw_ops: UpdateFirmware GetDiagnostics SignedUpdateFirmware ;")


# The CSMS's answers to the CALLs we send but those of ocpp16.schema._RESULTS (the ones an idle
# or charging charger gets): Core's DataTransfer, then Firmware Management's and the Security
# extension's.
_RESULTS = const(";DataTransfer:Estatus=Accepted,Rejected,UnknownMessageId,UnknownVendorId sdata"
                 ";DiagnosticsStatusNotification:;FirmwareStatusNotification:"
                 ";SecurityEventNotification:;SignCertificate:Estatus=Accepted,Rejected"
                 ";LogStatusNotification:;SignedFirmwareStatusNotification:;")


def tables(action, supported):
    """(module, spec) for the check of the CSMS request `action`: the module whose CALLS holds
    its spec (loaded), and that spec. Raises RpcError NotImplemented for an unknown action,
    NotSupported when `supported` (None: all) holds neither the action nor its profile or when
    its profile's tables are not on the board. supported False: for the CSMS's answer to our
    CALL `action` (_RESULTS here; NotImplemented when none is expected)."""
    if supported is False:
        module = sys.modules[__name__]  # this module, loaded by ocpp16.schema
        text = _RESULTS
    else:
        for group in _PROFILES.split(";"):
            words = group.split()
            if action in words[2:]:
                break
        else:
            schema.fail("NotImplemented", "", _UNKNOWN_ACTION, action)
        profile = words[0]
        if supported is not None and action not in supported and profile not in supported:
            raise schema.RpcError("NotSupported", "%s (%s) is not supported" % (action, profile))
        try:
            module = profiles.load(words[1])
        except ImportError:  # a small board may ship without an optional profile's tables
            raise schema.RpcError("NotSupported", "%s (%s) is not installed" % (action, profile))
        text = module.CALLS
    key = ";" + action + ":"
    i = text.find(key)
    if i < 0:  # an answer: every request in _PROFILES has its spec
        schema.fail("NotImplemented", "", _NO_ANSWER, action)
    i += len(key)
    return module, text[i:text.find(";", i)]


CALLS = (";ChangeAvailability:IconnectorId Etype=Inoperative,Operative"
         ";ChangeConfiguration:Skey=50 Svalue=500"
         ";ClearCache:"
         ";DataTransfer:SvendorId=255 smessageId=50 sdata"
         ";GetConfiguration:akey=s50"
         ";RemoteStartTransaction:iconnectorId SidTag=20"
         " ochargingProfile=schema_smart.CHARGING_PROFILE"
         ";RemoteStopTransaction:ItransactionId"
         ";Reset:Etype=Hard,Soft"
         ";UnlockConnector:IconnectorId"
         ";")


_TENTHS_REL_TOLERANCE = const(2e-7)   # float rounding allowance (single-precision floats on ESP32)
_TENTHS_ABS_TOLERANCE = const(1e-6)   # in tenths; 16.05 is 160.5 tenths and fails


def check_kind(v, kind, path):
    """schema's check of a uri (kind "u": RFC 3986 scheme ":" ..., no space) or of a decimal
    (kind "d", a float: finite and a multiple of 0.1 within float rounding); v has the type."""
    if kind != "d":  # "u"
        # RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ":"
        i = v.find(":")
        ok = 0 < i < len(v) - 1 and " " not in v
        for j in range(i if ok else 0):
            c = v[j]
            if not ("a" <= c <= "z" or "A" <= c <= "Z"
                    or j and ("0" <= c <= "9" or c == "+" or c == "-" or c == ".")):
                ok = False
        if not ok:
            raise schema.RpcError("TypeConstraintViolation", "%s: not a URI" % path)
        return
    q = v * 10
    # NaN (x != x), +-inf (inf - inf is NaN), else the distance to the nearest multiple
    if v != v or v - v != 0 or abs(q - round(q)) > _TENTHS_ABS_TOLERANCE + abs(q) * _TENTHS_REL_TOLERANCE:
        raise schema.RpcError("PropertyConstraintViolation", "%s: not a multiple of 0.1" % path)
