# Compact payload tables of the Firmware Management profile: GetDiagnostics and
# UpdateFirmware requests, and the (empty) answers to our status notifications.
# Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

CALLS = {
    "GetDiagnostics": "Ulocation iretries iretryInterval tstartTime tstopTime",
    "UpdateFirmware": "Ulocation iretries TretrieveDate iretryInterval",
}

RESULTS = {
    "DiagnosticsStatusNotification": "",
    "FirmwareStatusNotification": "",
}
