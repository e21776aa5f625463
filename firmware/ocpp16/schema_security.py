# Compact payload tables of the OCPP 1.6 Security Whitepaper extension: its seven
# CSMS requests and the answers to our four security calls.
# Data only; ocpp16.schema does the checking.

CERTIFICATE_USE = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")

CALLS = {
    "CertificateSigned": (
        ("certificateChain", "S", 10000),
    ),
    "DeleteCertificate": (
        ("certificateHashData", "O", (
            ("hashAlgorithm", "E", ("SHA256", "SHA384", "SHA512")),
            ("issuerNameHash", "S", 128),
            ("issuerKeyHash", "S", 128),
            ("serialNumber", "S", 40),
        )),
    ),
    "ExtendedTriggerMessage": (
        ("requestedMessage", "E", ("BootNotification", "LogStatusNotification",
                                   "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                                   "SignChargePointCertificate", "StatusNotification")),
        ("connectorId", "i"),
    ),
    "GetInstalledCertificateIds": (
        ("certificateType", "E", CERTIFICATE_USE),
    ),
    "GetLog": (
        ("log", "O", (
            ("remoteLocation", "S", 512),
            ("oldestTimestamp", "t"),
            ("latestTimestamp", "t"),
        )),
        ("logType", "E", ("DiagnosticsLog", "SecurityLog")),
        ("requestId", "I"),
        ("retries", "i"),
        ("retryInterval", "i"),
    ),
    "InstallCertificate": (
        ("certificateType", "E", CERTIFICATE_USE),
        ("certificate", "S", 5500),
    ),
    "SignedUpdateFirmware": (
        ("retries", "i"),
        ("retryInterval", "i"),
        ("requestId", "I"),
        ("firmware", "O", (
            ("location", "S", 512),
            ("retrieveDateTime", "T"),
            ("installDateTime", "t"),
            ("signingCertificate", "S", 5500),
            ("signature", "S", 800),
        )),
    ),
}

RESULTS = {
    "SecurityEventNotification": (),
    "SignCertificate": (
        ("status", "E", ("Accepted", "Rejected")),
    ),
    "LogStatusNotification": (),
    "SignedFirmwareStatusNotification": (),
}
