# Compact payload tables of the Local Auth List Management profile
# (GetLocalListVersion, SendLocalList). Data only; ocpp16.schema does the checking.
from ocpp16.schema import ID_TAG_INFO

CALLS = {
    "GetLocalListVersion": (),
    "SendLocalList": (
        ("listVersion", "I"),
        ("localAuthorizationList", "a", ("o", (
            ("idTag", "S", 20),
            ("idTagInfo", "o", ID_TAG_INFO),
        ))),
        ("updateType", "E", ("Differential", "Full")),
    ),
}

RESULTS = {}
