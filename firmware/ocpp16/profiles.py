# The registry of on-demand code: which module handles each CSMS-initiated
# action, which feature modules may stay resident while their state needs them,
# and the one way such modules are imported and removed again (sys.modules).
# No I/O and no protocol logic here; a new profile adds rows (here and in schema_core), not code.
import sys

from compat import const

# HANDLERS, action -> module under ocpp16/ with on_<action>(cp, payload, now) -> result dict,
# is one string in ocpp16/schema_core.py (beside the profile and table of every request), read
# by handler() and __getattr__ with that module loaded for the call: resident it held ~600 B.
_TABLES = const("schema_core")
# SupportedFeatureProfiles (OCPP 1.6 9.1), the profiles whose every action is in HANDLERS, is
# set once at start by ocpp16.boot (_SUPPORTED_PROFILES there: a profile added adds its name).

# Feature modules that stay resident while they hold state (ChargePoint.features),
# each loaded at boot when its state file (in data_dir) exists: BOOT_FEATURES, a dict
# feature -> state file, made from this when asked for (__getattr__). A feature module may
# define any of the hooks listed in FEATURE_HOOKS (ChargePoint calls them in order).
_BOOT_FEATURES = const("reservation:reservations.json"  # ocpp16/reservation.py: the reservations in force
                       " smart:charging_profiles.json"  # ocpp16.smart: the installed ChargePointMax/TxDefault profiles
                       " fw_state:fw.json")             # ocpp16.fw_state: a firmware update in progress
# FEATURE_HOOKS, the hooks a feature module may define (a comment: no tuple in RAM):
#   attach(cp, now): just loaded (at boot or on first use)
#   tick(cp, now): every core tick, before statuses are reported
#   status(cp, connector_id, status, now) -> status to report
#   may_start(cp, evse, id_tag, now) -> None, or the reason a start is refused
#   start_payload(cp, evse, payload): add fields to a StartTransaction
#   tx_ended(cp, connector_id, now): its transaction was stopped
#   authorized(cp, id_tag, connector, id_tag_info or None, now) -> None, or the reason an
#       accepted idTag is refused all the same (before it may start)
# A feature that is not in BOOT_FEATURES is loaded by the code that needs it (cp.feature):
# "reset" (ocpp16/reset.py) while an accepted Reset waits for its StopTransactions.
# Background work with I/O (downloads, uploads) is a job: a handler appends
# (module name, args) to ChargePoint.jobs; the app imports the module, runs
# `await module.run(app, args)` as its own task and unloads the module when it ends.


def handler(action, text=None):
    """The module name handling the CSMS's call `action` (HANDLERS), or None. When the table
    cannot be loaded (out of heap), the name of its own module, which handles nothing: the
    call gets InternalError, as when a handler cannot load, and charging goes on. text: another
    table of the same "module: name name ;" form to look `action` up in (ChargePoint's _RARE)."""
    if text is None:
        try:
            text = sys.modules[__name__].HANDLERS   # schema_core's (__getattr__), or one set here
        except Exception:  # ImportError, MemoryError
            return _TABLES
    i = text.find(" " + action + " ")
    if i < 0:
        return None
    i = text.rfind(";", 0, i) + 1
    return text[i:text.find(":", i)]


def load(name):
    """The module `name` (ocpp16.<name>, or a dotted path such as "net.http"),
    imported now. Whatever it raises (ImportError, MemoryError, a SyntaxError in a
    damaged file) goes to the caller, with no half-imported module left behind,
    so the next call tries again."""
    full = name if "." in name else "ocpp16" + "." + name  # (no name "ocpp16." interned)
    try:
        __import__(full)
        return sys.modules[full]
    except BaseException:
        unload(name)
        raise


# The Security extension's shared code: a module that imports it for its work names
# HELPERS = profiles.PKI_HELPERS (a tuple, made when asked for; a name longer than 10 characters:
# the literal it is compared with below interns none), and unload() forgets these with it.
_PKI = const("ocpp16.certstore pki.csr pki.chain pki.x509 pki.p256 pki.rsa pki.pem pki.der pki")


def __getattr__(name):
    """HANDLERS (from schema_core, loaded for it), PKI_HELPERS and BOOT_FEATURES, made for the on-demand
    modules that ask (as a tuple and a dict of constants they held ~1 KB of RAM for ever)."""
    if name == "HANDLERS":
        try:
            return load(_TABLES).HANDLERS
        finally:
            unload(_TABLES)
    if name == "PKI_HELPERS":
        return tuple(_PKI.split())
    if name != "BOOT_FEATURES":
        raise AttributeError(name)
    d = {}
    for f in _BOOT_FEATURES.split():
        i = f.find(":")
        d[f[:i]] = f[i + 1:]
    return d


def unload(name):
    """Forget the module `name` (and the HELPERS it names: modules it imported for its
    work): the next gc.collect() frees their code unless something else holds them. A tuple:
    each of the modules it names (dotted paths or top-level names), so nothing a job or a
    feature imported for its work stays resident once it is over."""
    if type(name) is tuple:
        for n in name:
            if "." in n:
                unload(n)
            else:
                sys.modules.pop(n, None)
        return
    full = name if "." in name else "ocpp16" + "." + name  # (no name "ocpp16." interned)
    mod = sys.modules.pop(full, None)
    helpers = getattr(mod, "HELPERS", None)
    if helpers:
        unload(helpers)
    dot = full.rfind(".")
    pkg = sys.modules.get(full[:dot])
    if pkg is not None and hasattr(pkg, full[dot + 1:]):
        delattr(pkg, full[dot + 1:])
