# Compact payload tables of the Firmware Management profile's requests: GetDiagnostics and
# UpdateFirmware (the answers to its status notifications: ocpp16.schema_core.RESULTS).
# Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

CALLS = (";GetDiagnostics:Ulocation iretries iretryInterval tstartTime tstopTime"
         ";UpdateFirmware:Ulocation iretries TretrieveDate iretryInterval"
         ";")
