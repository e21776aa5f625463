# SecurityProfile changes (Security whitepaper, "Security profiles"): the value is
# only raised, and only when its prerequisites are in place; an accepted change asks
# the app to reconnect with the new profile and remembers the previous one to fall
# back to if that fails (A05.FR.08). Loaded for the one ChangeConfiguration; no I/O
# beyond reading the certificate store.
from ocpp16.profiles import PKI_HELPERS as HELPERS  # forgotten with this module (ocpp16.profiles.unload)


def prerequisite_missing(cp, profile):
    """None, or what profile `profile` still needs on this charger."""
    d = cp.device
    if profile in (1, 2) and not (cp.config.get("AuthorizationKey") or d.get("authorization_key")):
        return "AuthorizationKey not set"
    if profile >= 2:
        if not d.get("csms_url", "").startswith("wss:"):
            return "csms_url is not wss://"
        from ocpp16.certstore import CertStore
        s = CertStore(cp.data_dir)
        if not s.names("CentralSystemRootCertificate") and not d.get("ca_cert"):
            return "no CentralSystemRootCertificate installed"
        if profile == 3 and not (s.chain_pem() and s.key_der()) and not d.get("client_cert"):
            return "no charger certificate installed"
    return None


def change(cp, text, now):
    """ChangeConfiguration SecurityProfile: Accepted or Rejected."""
    import log
    t = text.strip() if isinstance(text, str) else ""
    if t not in ("0", "1", "2", "3"):
        return "Rejected"
    new = int(t)
    old = cp.config.get("SecurityProfile")
    if new < old:
        log.warning("SecurityProfile %d refused: profiles are only raised (now %d)", new, old)
        return "Rejected"
    if new == old:
        return "Accepted"
    why = prerequisite_missing(cp, new)
    if why:
        log.warning("SecurityProfile %d refused: %s", new, why)
        return "Rejected"
    status = cp.config.change("SecurityProfile", t)
    if status == "Accepted":
        cp.profile_change = (old, new)  # the app reconnects with `new`, back to `old` if it cannot
    return status
