# Compact payload tables of the Reservation profile (ReserveNow, CancelReservation).
# Data only; ocpp16.schema does the checking.

CALLS = {
    "CancelReservation": (
        ("reservationId", "I"),
    ),
    "ReserveNow": (
        ("connectorId", "I"),
        ("expiryDate", "T"),
        ("idTag", "S", 20),
        ("parentIdTag", "s", 20),
        ("reservationId", "I"),
    ),
}

RESULTS = {}
