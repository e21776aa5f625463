# An idTag's authorization (the module is named for offline authorization), imported for each
# step and unloaded (ChargePoint.on_demand): authorizing it (OCPP 1.6 3.5, 4.1) for a card at
# the reader or a RemoteStartTransaction, online through an Authorize CALL (or at once when
# LocalPreAuthorize knows the tag), offline or without an answer from the local list and cache,
# into a grant that waits for an EV plugged (ChargePoint.auth); the answers to its transaction's
# Start and Stop (_answered: the idTagInfo remembered, the transactionId). The transaction's
# start and StopTransaction are built in ocpp16.aligned with their meter values. Also the
# AuthStore (the local list and cache, ocpp16.auth), read from flash for each use. No I/O beyond
# tx.json (a transactionId) and the AuthStore's files.
import log
import store
from compat import const
from ocpp16 import timefmt
from ocpp16.auth import LIST_FILE, STATUSES, pack

HELPERS = ("ocpp16.auth",)  # unloaded with this module (ocpp16.profiles.unload)

_CACHE_FILE = const("authcache.json")  # in the data folder: {idTag: entry + [the stamp it was learnt with]}
# Authorization cache entries; the oldest is evicted when full.
_CACHE_MAX = const(32)
# Short texts as const(): a literal of 10 characters or less would be an interned name, never
# freed (a hook's name is interned only when a feature has it).
_AUTHORIZE = const("Authorize")
_ID_TAG = const("idTag")
_ID_TAG_INFO = const("idTagInfo")
_AUTHORIZED = const("authorized")  # the resident features' hook
_TXID = const("txid")  # the core event (ChargePoint.events) of a transactionId given


def authorize(cp, id_tag, connector, now):
    """id_tag asks to charge on `connector` (None: any). True: asked."""
    if not cp.online or cp.boot_status != "Accepted":
        answered(cp, id_tag, connector, None, now)
    elif cp.config.get("LocalPreAuthorize") and lookup(cp, id_tag, now)[1] == "Accepted":
        # Known locally as valid: start at once, no Authorize round trip.
        result(cp, id_tag, connector, "Accepted", now)
    else:  # its answer (idTagInfo remembered) comes to answered
        cp._ram(_AUTHORIZE, {_ID_TAG: id_tag}, ("offline", "answered", id_tag, connector))
    return True


def answered(cp, id_tag, connector, payload, now):
    """The Authorize answer; None when there is none (offline, or it failed): then a tag
    known in the local list or cache is judged by its stored status (LocalAuthorizeOffline),
    an unknown one by AllowOfflineTxForUnknownId."""
    if payload is not None:
        info = payload.get(_ID_TAG_INFO, {})
        remember(cp, id_tag, info)
        return result(cp, id_tag, connector, info.get("status"), now, info)
    source, status = None, None
    if cp.config.get("LocalAuthorizeOffline"):
        source, status = lookup(cp, id_tag, now)
    if source is None:
        status = "Accepted" if cp.config.get("AllowOfflineTxForUnknownId") else STATUSES[3]  # Invalid
    result(cp, id_tag, connector, status, now)


def auth_store(cp):
    """The AuthStore of cp's data folder, read from flash now (ChargePoint.auth_store, for one
    use); without a data folder it lives in RAM, kept as cp.auth_store."""
    st = AuthStore(cp.data_dir, timefmt.parse_datetime)
    if not cp.data_dir:
        cp.auth_store = st
    return st


def remember(cp, id_tag, info):
    """An idTagInfo of the CSMS (Authorize, StartTransaction, StopTransaction answers) goes to
    the Authorization Cache when it is enabled. The cache is an aid: when it cannot be read in
    now (MemoryError), the tag is not learnt this time and the answer is handled all the same."""
    if id_tag and info and cp.config.get("AuthorizationCacheEnabled"):  # a Stop may have no idTag
        try:
            (cp.auth_store if not cp.data_dir else auth_store(cp)).remember(id_tag, info)
        except MemoryError as e:
            log.warning("idTag %s not cached: %r", id_tag, e)


def _answered(cp, m, p, now):
    """The answer p to our StartTransaction or StopTransaction m (the core acks it after): a
    Start's transactionId given to its transaction, which is stopped when its idTag was not
    accepted and StopTransactionOnInvalidId is set; then its idTagInfo remembered. True: done."""
    info = p.get(_ID_TAG_INFO)
    if m["action"] == "StartTransaction":
        for t in list(cp.tx.values()):
            if t.tx_ref == m["seq"]:
                t.tx_id = p["transactionId"]
                log.info("transactionId %s assigned", t.tx_id)  # the portal browser test waits for it
                cp._save_tx(now)
                cp._event((_TXID, t.connector, t.tx_id))
                status = info.get("status")
                if status != "Accepted" and cp.config.get("StopTransactionOnInvalidId"):
                    log.info("idTag %s refused: %s", t.id_tag, status)
                    cp.stop_transaction(t.connector, "DeAuthorized", now)
    remember(cp, m["payload"].get(_ID_TAG), info)
    return True


def lookup(cp, id_tag, now):
    """("list" or "cache", status) of a tag known locally, else (None, None)."""
    return (cp.auth_store if not cp.data_dir else auth_store(cp)).lookup(
        id_tag, cp.clock.epoch(now) if cp.clock.known() else None, cp.config)


def result(cp, id_tag, connector, status, now, info=None):
    """The decision on id_tag (info: the idTagInfo of an Authorize answer, None when decided
    locally): a grant waits in cp.auth for a plug, unless a feature refuses it. True: decided."""
    cp._event(("authorize", id_tag, status))
    why = None if status == "Accepted" else status
    try:
        for hook in cp._hooks(_AUTHORIZED) if why is None else ():
            why = hook(cp, id_tag, connector, info, now)
            if why:
                cp._event(("refused", why))
                break
    except MemoryError as e:  # a feature could not check it (it may read the local list): not granted
        why = repr(e)
    if why:
        log.info("idTag %s refused: %s", id_tag, why)
    else:
        cp.auth = {"tag": id_tag, "connector": connector,
                   "until": now + cp.config.get("ConnectionTimeOut") * 1000}
    return True


class AuthStore:
    """The Local Authorization List and the Authorization Cache of a data folder (ocpp16.auth),
    read back from flash when made; every change is saved at once. Expiry is checked against
    an epoch given."""

    def __init__(self, directory=None, parse_time=None):
        self.dir = directory
        self.parse_time = parse_time
        d = {}
        self.cache = {}
        if directory:  # store_load imported once for both files (store.load imports it per lookup)
            load = store.load
            d = load(self._path(LIST_FILE), {})
            self.cache = load(self._path(_CACHE_FILE), {})
        self.version = d.get("v", 0)
        self.list = d.get("e", {})
        # Each cache entry ends with the stamp it was learnt with (the oldest is evicted first);
        # one saved without a stamp counts as the oldest.
        for e in self.cache.values():
            if len(e) < 4:
                e.append(0)

    def _path(self, name):
        return self.dir + "/" + name

    def lookup(self, id_tag, epoch, config=None):
        """("list" or "cache", status) for a known idTag, or (None, None); config: its keys
        LocalAuthListEnabled and AuthorizationCacheEnabled say which is looked at (None: both)."""
        for source, key, table in (("list", "LocalAuthListEnabled", self.list),
                                   ("cache", "AuthorizationCacheEnabled", self.cache)):
            e = table.get(id_tag) if config is None or config.get(key) else None
            if e:
                status = STATUSES[e[0]]
                if status == "Accepted" and e[1] and epoch is not None and epoch >= e[1]:
                    status = STATUSES[2]  # Expired
                return source, status
        return None, None

    # ------------------------------------------------------------ cache
    def remember(self, id_tag, info):
        """An idTagInfo from the CSMS (Authorize, StartTransaction, StopTransaction answers)."""
        if not id_tag or not info or "status" not in info:
            return
        c = self.cache
        if id_tag not in c and len(c) >= _CACHE_MAX:
            old = None
            for k in c:
                if old is None or c[k][3] < c[old][3]:
                    old = k
            del c[old]
        stamp = 0
        for e in c.values():
            stamp = max(stamp, e[3])
        c[id_tag] = pack(info, self.parse_time) + [stamp + 1]
        if self.dir:
            store.save(self._path(_CACHE_FILE), c)

    def clear_cache(self):
        self.cache = {}
        if self.dir:
            store.save(self._path(_CACHE_FILE), {})
