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


class AuthStore:
    def __init__(self, directory=None, parse_time=None):
        self.dir = directory
        self.parse_time = parse_time
        d = store.load(self._path(LIST_FILE), {}) if directory else {}
        self.version = d.get("v", 0)
        self.list = d.get("e", {})
        self.cache = store.load(self._path(_CACHE_FILE), {}) if directory else {}
        # Each cache entry ends with the stamp it was learnt with (the oldest is evicted first);
        # one saved without a stamp counts as the oldest.
        self._stamp = 0
        for e in self.cache.values():
            if len(e) < 4:
                e.append(0)
            self._stamp = max(self._stamp, e[3])

    def _path(self, name):
        return self.dir + "/" + name

    def lookup(self, id_tag, epoch, use_list=True, use_cache=True):
        """("list" or "cache", status) for a known idTag, or (None, None)."""
        for source, use, table in (("list", use_list, self.list), ("cache", use_cache, self.cache)):
            e = table.get(id_tag) if use else None
            if e:
                status = STATUSES[e[0]]
                if status == "Accepted" and e[1] and epoch is not None and epoch >= e[1]:
                    status = "Expired"
                return source, status
        return None, None

    # ------------------------------------------------------------ cache
    def remember(self, id_tag, info):
        """An idTagInfo from the CSMS (Authorize, StartTransaction, StopTransaction answers)."""
        if not id_tag or not info or "status" not in info:
            return
        c = self.cache
        if id_tag not in c and len(c) >= CACHE_MAX:
            old = None
            for k in c:
                if old is None or c[k][3] < c[old][3]:
                    old = k
            del c[old]
        self._stamp += 1
        c[id_tag] = pack(info, self.parse_time) + [self._stamp]
        if self.dir:
            store.save(self._path(_CACHE_FILE), c)

    def clear_cache(self):
        self.cache = {}
        if self.dir:
            store.save(self._path(_CACHE_FILE), {})
