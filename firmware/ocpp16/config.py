# OCPP 1.6 configuration: the current value of every key and the persistence of the values
# a CSMS changed (store.save, atomic replace). The key table and GetConfiguration /
# ChangeConfiguration are in config_keys.py, loaded for those and at start-up, then unloaded.
import store
from ocpp16 import profiles

# CertificateStoreMaxLength: installed roots of both kinds (ocpp16.certstore); the other
# limits of the keys are in config_keys.py, with the key table.
CERTIFICATE_STORE_MAX = 8


def _table(fn, *args):
    """config_keys.<fn>(*args) with config_keys loaded for the call."""
    try:
        return getattr(profiles.load("config_keys"), fn)(*args)
    finally:
        profiles.unload("config_keys")


class Config:
    """Current values of every key; persisted overrides in `path`."""

    def __init__(self, path=None, values=None):
        self.path = path
        self.values, self.readonly = _table("defaults")
        if values:  # overriding the defaults: board/device facts (NumberOfConnectors, SupportedFeatureProfiles)
            self.values.update(values)
        self.saved = store.load(path, {}) if path else {}
        for name in self.saved:
            if name in self.values:
                self.values[name] = self.saved[name]

    def get(self, name):
        return self.values[name]

    def csl(self, name):
        out = []
        for s in (self.values[name] or "").split(","):
            s = s.strip()
            if s:
                out.append(s)
        return out

    def listing(self, names=None):
        """GetConfiguration: (configurationKey list, unknownKey list)."""
        return _table("listing", self, names)

    def change(self, name, text):
        """ChangeConfiguration: returns Accepted, Rejected, RebootRequired or NotSupported."""
        return _table("change", self, name, text)

    def set_internal(self, name, value):
        """A value the charge point sets itself (HeartbeatInterval from BootNotification)."""
        self.values[name] = value
        if self.path and name not in self.readonly:
            self.saved[name] = value
            store.save(self.path, self.saved)
