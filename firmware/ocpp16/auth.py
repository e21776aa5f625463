# Authorization data the charge point keeps itself: the Local Authorization
# List (versioned, set by SendLocalList: ocpp16.localauth) and the Authorization Cache
# (learnt from idTagInfo answers). Both bounded, both persisted atomically through
# store.save. No sockets, no clock: expiry is checked against an epoch given.
import store
from compat import const

# Entries the local list may hold (LocalAuthListMaxLength): each costs RAM.
LOCAL_LIST_MAX = const(200)
# Entries one SendLocalList may carry (SendLocalListMaxLength).
SEND_LOCAL_LIST_MAX = const(50)
# Authorization cache entries; the oldest is evicted when full.
CACHE_MAX = const(32)

LIST_FILE = "locallist.json"   # in the data folder: {"v": version, "e": {idTag: entry}}
_CACHE_FILE = const("authcache.json")  # {idTag: entry + [the stamp it was learnt with]}
# idTagInfo status <-> one character, to keep entries small in RAM and on flash.
STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


def pack(info, parse_time):
    """(status index, expiry epoch or 0, parentIdTag or "") from an idTagInfo dict."""
    exp = info.get("expiryDate")
    return [STATUSES.index(info["status"]) if info.get("status") in STATUSES else 3,
            parse_time(exp) if exp else 0, info.get("parentIdTag") or ""]


def _unpack(e, epoch):
    status = STATUSES[e[0]]
    if status == "Accepted" and e[1] and epoch is not None and epoch >= e[1]:
        status = "Expired"
    return status


class AuthStore:
    def __init__(self, directory=None, parse_time=None):
        self.dir = directory
        self.parse_time = parse_time
        d = store.load(self._path(LIST_FILE), {}) if directory else {}
        self.version = d.get("v", 0)
        self.list = d.get("e", {})
        self.cache = store.load(self._path(_CACHE_FILE), {}) if directory else {}
        self.cache_order = sorted(self.cache, key=lambda k: self.cache[k][3] if len(self.cache[k]) > 3 else 0)
        self._stamp = len(self.cache_order)

    def _path(self, name):
        return self.dir + "/" + name

    def lookup(self, id_tag, epoch, use_list=True, use_cache=True):
        """("list" or "cache", status) for a known idTag, or (None, None)."""
        if use_list and id_tag in self.list:
            return "list", _unpack(self.list[id_tag], epoch)
        if use_cache and id_tag in self.cache:
            return "cache", _unpack(self.cache[id_tag], epoch)
        return None, None

    # ------------------------------------------------------------ cache
    def remember(self, id_tag, info):
        """An idTagInfo from the CSMS (Authorize, StartTransaction, StopTransaction answers)."""
        if not id_tag or not info or "status" not in info:
            return
        e = pack(info, self.parse_time)
        self._stamp += 1
        e.append(self._stamp)
        if id_tag in self.cache:
            self.cache_order.remove(id_tag)
        elif len(self.cache) >= CACHE_MAX:
            del self.cache[self.cache_order.pop(0)]
        self.cache[id_tag] = e
        self.cache_order.append(id_tag)
        self._save_cache()

    def clear_cache(self):
        self.cache = {}
        self.cache_order = []
        self._save_cache()

    def _save_cache(self):
        if self.dir:
            store.save(self._path(_CACHE_FILE), self.cache)
