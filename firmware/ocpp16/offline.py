# Authorization without the CSMS (OCPP 1.6 3.5), for a card presented while offline or an
# Authorize that got no answer: imported for the decision and unloaded (ChargePoint.on_demand).
# No I/O; the decision goes to the core's ChargePoint._auth_result.


def authorize(cp, id_tag, connector, now):
    """A tag known in the local list or cache is judged by its stored status
    (LocalAuthorizeOffline); an unknown one by AllowOfflineTxForUnknownId."""
    source, status = None, None
    if cp.config.get("LocalAuthorizeOffline"):
        source, status = cp._local_status(id_tag, now)
    if source is None:
        status = "Accepted" if cp.config.get("AllowOfflineTxForUnknownId") else "Invalid"
    cp._auth_result(id_tag, connector, status, now)
