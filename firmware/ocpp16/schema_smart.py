# Compact payload tables of the Smart Charging profile (SetChargingProfile,
# ClearChargingProfile, GetCompositeSchedule) and the ChargingProfile type that
# RemoteStartTransaction may carry. Data only; ocpp16.schema does the checking.

CHARGING_PROFILE_PURPOSE = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
CHARGING_RATE_UNIT = ("A", "W")

CHARGING_SCHEDULE = (
    ("duration", "i"),
    ("startSchedule", "t"),
    ("chargingRateUnit", "E", CHARGING_RATE_UNIT),
    ("chargingSchedulePeriod", "A", ("o", (
        ("startPeriod", "I"),
        ("limit", "D"),
        ("numberPhases", "i"),
    ))),
    ("minChargingRate", "d"),
)

CHARGING_PROFILE = (
    ("chargingProfileId", "I"),
    ("transactionId", "i"),
    ("stackLevel", "I"),
    ("chargingProfilePurpose", "E", CHARGING_PROFILE_PURPOSE),
    ("chargingProfileKind", "E", ("Absolute", "Recurring", "Relative")),
    ("recurrencyKind", "e", ("Daily", "Weekly")),
    ("validFrom", "t"),
    ("validTo", "t"),
    ("chargingSchedule", "O", CHARGING_SCHEDULE),
)

CALLS = {
    "ClearChargingProfile": (
        ("id", "i"),
        ("connectorId", "i"),
        ("chargingProfilePurpose", "e", CHARGING_PROFILE_PURPOSE),
        ("stackLevel", "i"),
    ),
    "GetCompositeSchedule": (
        ("connectorId", "I"),
        ("duration", "I"),
        ("chargingRateUnit", "e", CHARGING_RATE_UNIT),
    ),
    "SetChargingProfile": (
        ("connectorId", "I"),
        ("csChargingProfiles", "O", CHARGING_PROFILE),
    ),
}

RESULTS = {}
