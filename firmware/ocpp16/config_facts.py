# OCPP 1.6 read-only configuration keys whose value is a fact of this firmware that nothing
# changes: name -> value. Not in the Config's RAM form (a string of names and a list of values
# that stays for the charger's life): Config.get() loads this module for the value of one and
# unloads it, as config_keys does for GetConfiguration and ChangeConfiguration (answered
# Rejected for these). The read-only keys the charger sets itself (NumberOfConnectors,
# SupportedFeatureProfiles) and the *MaxLength keys of the measurand lists are in config_keys.
from compat import const
from ocpp16 import auth
from ocpp16.config import CERTIFICATE_STORE_MAX

HELPERS = ("ocpp16.auth",)  # unloaded with this module (ocpp16.profiles.unload): read for LOCAL_LIST_MAX

# Smart Charging bounds (ocpp16.smart_ops rejects a profile beyond them; RAM and flash):
_SMART_MAX_STACK_LEVEL = const(8)  # ChargeProfileMaxStackLevel: stackLevel 0..8 per purpose and connector
_SMART_MAX_PERIODS = const(24)     # ChargingScheduleMaxPeriods: periods in one charging schedule
_SMART_MAX_PROFILES = const(10)    # MaxChargingProfilesInstalled: profiles on all connectors together
# SendLocalListMaxLength: entries one SendLocalList may carry (ocpp16.localauth reads the key).
_SEND_LOCAL_LIST_MAX = const(50)
_CERTIFICATE_CHAIN_MAX = const(10000)  # CertificateSignedMaxChainSize: the whitepaper's ceiling, the schema's maxLength

KEYS = {
    "ConnectorPhaseRotationMaxLength": 2,
    "GetConfigurationMaxKeys": 60,
    "SupportedFeatureProfilesMaxLength": 6,
    "LocalAuthListMaxLength": auth.LOCAL_LIST_MAX,
    "SendLocalListMaxLength": _SEND_LOCAL_LIST_MAX,
    # Reservation profile (ocpp16/reserve_ops.py): a ReserveNow for connector 0 holds one
    # connector free for its idTag without choosing which.
    "ReserveConnectorZeroSupported": True,
    "ChargeProfileMaxStackLevel": _SMART_MAX_STACK_LEVEL,
    "ChargingScheduleAllowedChargingRateUnit": "Current,Power",   # a comma-separated list
    "ChargingScheduleMaxPeriods": _SMART_MAX_PERIODS,
    "ConnectorSwitch3to1PhaseSupported": False,
    "MaxChargingProfilesInstalled": _SMART_MAX_PROFILES,
    # Security whitepaper keys: facts of this firmware.
    "CertificateSignedMaxChainSize": _CERTIFICATE_CHAIN_MAX,
    "CertificateStoreMaxLength": CERTIFICATE_STORE_MAX,
    "AdditionalRootCertificateCheck": False,
}
