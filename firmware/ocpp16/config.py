# OCPP 1.6 configuration: the current value of every key and the persistence of the values
# a CSMS changed (store.save, atomic replace). The key table and GetConfiguration /
# ChangeConfiguration are in config_keys.py, loaded for those and at start-up, then unloaded.
import store
from ocpp16 import profiles

# CertificateStoreMaxLength: installed roots of both kinds (ocpp16.certstore); the other
# limits of the keys are in config_keys.py, with the key table.
CERTIFICATE_STORE_MAX = 8


def _table(fn, *args):
    """config_keys.<fn>(*args) with config_keys loaded for the call; fn None: the value of
    the fact args[0] (config_facts.KEYS, loaded for it; KeyError for no such key)."""
    name = "config_keys" if fn else "config_facts"
    try:
        t = profiles.load(name)
        return getattr(t, fn)(*args) if fn else t.KEYS[args[0]]
    finally:
        profiles.unload(name)


class Config:
    """Current values of every key; the values a CSMS changed persisted in `path`.
    Compact in RAM: one string of the key names (",A,B,...,", the writable keys first) and a
    list of the values in that order; types, defaults and validation stay in config_keys, and
    the read-only facts of this firmware in config_facts (read from there, unless set)."""

    def __init__(self, path=None, values=None):
        """The defaults, then `values` (board/device facts: NumberOfConnectors), then what the
        file at `path` holds (config_keys.start: it runs once, its code need not stay)."""
        self.path = path
        self.values = self  # config.values[name] = value: the mapping form callers use
        _table("start", self, values)

    def at(self, name, add=False):
        """The index of key `name` in self.list; KeyError for no such key. add: a fact of
        config_facts (not there until set) joins the RAM form, at its value."""
        names = self.names
        i = -1 if "," in name else names.find(name)
        while i > 0:
            n = i + len(name)
            if names.startswith(",", i - 1) and names.startswith(",", n):
                return names.count(",", 0, i) - 1
            i = names.find(name, n)
        if not add:
            raise KeyError(name)
        self.list.append(_table(None, name))
        self.names = names + name + ","
        return len(self.list) - 1

    def get(self, name):
        try:
            return self.list[self.at(name)]
        except KeyError:   # a fact, not set: config_facts has it
            return _table(None, name)

    def __setitem__(self, name, value):
        """config.values[name] = value: in RAM only, not persisted."""
        self.list[self.at(name, True)] = value

    def csl(self, name):
        out = []
        for s in (self.get(name) or "").split(","):
            s = s.strip()
            if s:
                out.append(s)
        return out

    def listing(self, names=None):
        """GetConfiguration: (configurationKey list, unknownKey list)."""
        return _table("listing", self, names)

    def change(self, name, text):
        """ChangeConfiguration: returns Accepted, Rejected, RebootRequired or NotSupported.
        The value is set after config_keys is unloaded: the file's update (store_load) and
        the key table are never in RAM together."""
        status, value = _table("change", name, text)
        if value is not None:
            self.set_internal(name, value)
        return status

    def set_internal(self, name, value):
        """A value the charge point sets itself (HeartbeatInterval from BootNotification) or a
        ChangeConfiguration accepted; persisted unless the key is read-only. The saved values
        are not kept in RAM: the file is read back and written whole (entries of keys this
        firmware no longer has stay in it), and not at all when it holds this value already
        (every BootNotification sets HeartbeatInterval, mostly to the same value)."""
        i = self.at(name, True)
        held = self.saved >> i & 1 and self.list[i] == value  # saved: bit i set, the file holds key i
        self.list[i] = value
        if self.path and i < self.writable and not held:
            saved = store.load(self.path, {})
            saved[name] = value
            store.save(self.path, saved)
            self.saved |= 1 << i
