# Compact payload tables of the OCPP 1.6 Security Whitepaper extension's seven CSMS requests
# (the answers to our four security calls: ocpp16.schema_core.RESULTS).
# Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

CALLS = (";CertificateSigned:ScertificateChain=10000"
         ";DeleteCertificate:OcertificateHashData=CERTIFICATE_HASH_DATA"
         ";ExtendedTriggerMessage:ErequestedMessage=BootNotification,LogStatusNotification,"
         "FirmwareStatusNotification,Heartbeat,MeterValues,SignChargePointCertificate,StatusNotification"
         " iconnectorId"
         ";GetInstalledCertificateIds:EcertificateType=CentralSystemRootCertificate,ManufacturerRootCertificate"
         ";GetLog:Olog=LOG_PARAMETERS ElogType=DiagnosticsLog,SecurityLog IrequestId iretries iretryInterval"
         ";InstallCertificate:EcertificateType=CentralSystemRootCertificate,ManufacturerRootCertificate"
         " Scertificate=5500"
         ";SignedUpdateFirmware:iretries iretryInterval IrequestId Ofirmware=FIRMWARE"
         ";")
CERTIFICATE_HASH_DATA = ("EhashAlgorithm=SHA256,SHA384,SHA512 SissuerNameHash=128 SissuerKeyHash=128 "
                         "SserialNumber=40")
LOG_PARAMETERS = "SremoteLocation=512 toldestTimestamp tlatestTimestamp"
FIRMWARE = ("Slocation=512 TretrieveDateTime tinstallDateTime SsigningCertificate=5500 "
            "Ssignature=800")
