# Compact payload table of the Remote Trigger profile (TriggerMessage).
# Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

CALLS = (";TriggerMessage:ErequestedMessage=BootNotification,DiagnosticsStatusNotification,"
         "FirmwareStatusNotification,Heartbeat,MeterValues,StatusNotification iconnectorId"
         ";")
