# Authorization data the charge point keeps itself: the Local Authorization
# List (versioned, set by SendLocalList: ocpp16.localauth) and the Authorization Cache
# (learnt from idTagInfo answers). Both bounded, both persisted atomically through
# store.save. This module holds the list's limits (the cache's is offline's) and the form of an entry (config_keys, offline
# and localauth import them; the last two unload it with them: HELPERS); the AuthStore that
# reads them back from flash, looks tags up and learns them is in ocpp16.offline, loaded for
# each use (ChargePoint.auth_store), so neither its code nor the entries stay in RAM. No
# sockets, no clock.
from compat import const

# Entries the local list may hold (LocalAuthListMaxLength): each costs RAM.
LOCAL_LIST_MAX = const(200)

_EXPIRY_DATE = const("expiryDate")  # short texts as const(): a literal of 10 characters or less is an interned name
LIST_FILE = "locallist.json"   # in the data folder: {"v": version, "e": {idTag: entry}}
# idTagInfo status <-> one character, to keep entries small in RAM and on flash.
STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


def pack(info, parse_time):
    """(status index, expiry epoch or 0, parentIdTag or "") from an idTagInfo dict."""
    exp = info.get(_EXPIRY_DATE)
    return [STATUSES.index(info["status"]) if info.get("status") in STATUSES else 3,
            parse_time(exp) if exp else 0, info.get("parentIdTag") or ""]
