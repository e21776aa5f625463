# Compact payload tables of the Reservation profile (ReserveNow, CancelReservation).
# Data only (format: ocpp16/schema.py); ocpp16.schema does the checking.

CALLS = (";CancelReservation:IreservationId"
         ";ReserveNow:IconnectorId TexpiryDate SidTag=20 sparentIdTag=20 IreservationId"
         ";")
