# Compact payload table of the Remote Trigger profile (TriggerMessage).
# Data only; ocpp16.schema does the checking.

CALLS = {
    "TriggerMessage": (
        ("requestedMessage", "E", ("BootNotification", "DiagnosticsStatusNotification",
                                   "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                                   "StatusNotification")),
        ("connectorId", "i"),
    ),
}

RESULTS = {}
