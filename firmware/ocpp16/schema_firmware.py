# Compact payload tables of the Firmware Management profile: GetDiagnostics and
# UpdateFirmware requests, and the (empty) answers to our status notifications.
# Data only; ocpp16.schema does the checking.

CALLS = {
    "GetDiagnostics": (
        ("location", "U"),
        ("retries", "i"),
        ("retryInterval", "i"),
        ("startTime", "t"),
        ("stopTime", "t"),
    ),
    "UpdateFirmware": (
        ("location", "U"),
        ("retries", "i"),
        ("retrieveDate", "T"),
        ("retryInterval", "i"),
    ),
}

RESULTS = {
    "DiagnosticsStatusNotification": (),
    "FirmwareStatusNotification": (),
}
