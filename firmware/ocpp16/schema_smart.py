# Compact payload tables of the Smart Charging profile (SetChargingProfile,
# ClearChargingProfile, GetCompositeSchedule) and the ChargingProfile type that
# RemoteStartTransaction may carry. Data only (format: ocpp16/schema.py);
# ocpp16.schema does the checking.

CALLS = (";ClearChargingProfile:iid iconnectorId"
         " echargingProfilePurpose=ChargePointMaxProfile,TxDefaultProfile,TxProfile istackLevel"
         ";GetCompositeSchedule:IconnectorId Iduration echargingRateUnit=A,W"
         ";SetChargingProfile:IconnectorId OcsChargingProfiles=CHARGING_PROFILE"
         ";")

CHARGING_PROFILE = (
    "IchargingProfileId itransactionId IstackLevel "
    "EchargingProfilePurpose=ChargePointMaxProfile,TxDefaultProfile,TxProfile "
    "EchargingProfileKind=Absolute,Recurring,Relative erecurrencyKind=Daily,Weekly "
    "tvalidFrom tvalidTo OchargingSchedule=CHARGING_SCHEDULE")
CHARGING_SCHEDULE = (
    "iduration tstartSchedule EchargingRateUnit=A,W AchargingSchedulePeriod=oCHARGING_SCHEDULE_PERIOD "
    "dminChargingRate")
CHARGING_SCHEDULE_PERIOD = "IstartPeriod Dlimit inumberPhases"
