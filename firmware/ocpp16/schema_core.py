# The feature profile of every request a CSMS may send, and the compact tables of Core's
# requests (CSMS -> charge point): loaded by ocpp16.schema for the check of one CSMS call,
# unloaded after it. Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

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
