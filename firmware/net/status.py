# The local status page (normal mode): a read-only HTML page and /status.json on port 80
# behind HTTP Basic auth (config.json status_password). A job the app starts when that
# password is set (ocpp16.profiles jobs): nothing is imported otherwise. Reads, never writes.
from compat import const
import json

import compat
import log
import version
from net import httpd

PORT = 80                 # the status page's TCP port
_REFRESH_S = const(5)  # the HTML page reloads itself this often
_REALM = const("charger status")  # Basic auth realm shown by the browser


def snapshot(app):
    """Everything the page shows, as a JSON-ready dict."""
    cp = app.cp
    now = app.clock.now()
    conns = []
    for e in app.evses:
        rep = cp.reported.get(e.id)
        tx = cp.tx.get(e.id)
        r = e.reading or {}
        amps = r.get("current_a") or []
        energy = None
        if tx is not None and r.get("energy_wh") is not None:
            energy = int(r["energy_wh"] - tx.meter_start)
        conns.append({
            "id": e.id, "state": e.state, "status": rep[0] if rep else None,
            "error": rep[1] if rep else None, "offered_a": e.offer_amps,
            "drawn_a": round(max(amps), 1) if amps else 0.0, "contactor_closed": e.relay.closed,
            "transaction_id": tx.tx_id if tx is not None else None,
            "id_tag": tx.id_tag if tx is not None else None, "energy_wh": energy,
        })
    link = app.link
    return {
        "charge_point_id": app.cfg.get("charge_point_id"),
        "firmware": version.VERSION,
        "uptime_s": now // 1000,
        "free_heap": compat.mem_free(),
        "csms": {"url": app.cfg.get("csms_url"), "connected": bool(link is not None and link.up),
                 "since": app.link_since, "last_error": app.link_error, "boot": cp.boot_status},
        "queue": {"stored": len(app.queue), "ram": len(cp.ram)},
        "connectors": conns,
    }


CSS = ("body{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em;color:#222}"
       "h1{font-size:1.3em}h2{font-size:1.05em;margin:1em 0 0}table{border-collapse:collapse;width:100%;margin:.6em 0}"
       "th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd}th{width:45%;color:#555}"
       ".up{color:#137333}.down{color:#b00020}.note{color:#555;font-size:.85em}")


def _row(k, v, vid=None):
    return "<tr><th>%s</th><td%s>%s</td></tr>" % (k, " id='%s'" % vid if vid else "", httpd.escape("-" if v is None else v))


def render(s):
    h = ["<h1>Charger %s</h1>" % httpd.escape(s["charge_point_id"])]
    c = s["csms"]
    h.append("<h2>CSMS</h2><table>")
    h.append("<tr><th>Link</th><td id='link' class='%s'>%s</td></tr>" % (
        "up" if c["connected"] else "down", "connected" if c["connected"] else "not connected"))
    since = None
    if c["since"]:
        from ocpp16 import timefmt
        since = timefmt.format_datetime(c["since"])
    h.append(_row("URL", c["url"]) + _row("Connected since (UTC)", since) +
             _row("Last error", c["last_error"]) + _row("BootNotification", c["boot"]))
    h.append(_row("Messages waiting (flash / RAM)", "%d / %d" % (s["queue"]["stored"], s["queue"]["ram"]), "queue"))
    h.append("</table>")
    for k in s["connectors"]:
        i = k["id"]
        h.append("<h2>Connector %d</h2><table>" % i)
        h.append(_row("OCPP status", k["status"], "status-%d" % i) + _row("Error code", k["error"]) +
                 _row("Pilot state", k["state"], "state-%d" % i) + _row("Contactor", "closed" if k["contactor_closed"] else "open") +
                 _row("Current offered (A)", k["offered_a"], "offered-%d" % i) + _row("Current drawn (A)", k["drawn_a"], "drawn-%d" % i) +
                 _row("Transaction", k["transaction_id"], "tx-%d" % i) +
                 _row("Energy this transaction (Wh)", k["energy_wh"], "energy-%d" % i))
        h.append("</table>")
    h.append("<h2>Device</h2><table>" + _row("Firmware", s["firmware"], "firmware") +
             _row("Free heap (bytes)", s["free_heap"], "heap") + _row("Uptime (s)", s["uptime_s"], "uptime") + "</table>")
    h.append("<p class='note'>Reloads every %d s. <a href='/status.json'>JSON</a></p>" % _REFRESH_S)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<meta http-equiv='refresh' content='%d'><title>Charger status</title><style>%s</style></head>"
            "<body>%s</body></html>") % (_REFRESH_S, CSS, "".join(h))


class StatusPage:
    def __init__(self, app, password):
        self.app = app
        self.password = password

    def handle(self, req):
        if not httpd.same(httpd.basic_password(req), self.password):
            return httpd.unauthorized(_REALM)
        if req.method not in ("GET", "HEAD"):
            return httpd.response(405, "405 read-only\n", "text/plain", [("Allow", "GET, HEAD")])
        if req.path == "/":
            return httpd.response(200, render(snapshot(self.app)))
        if req.path == "/status.json":
            return httpd.response(200, json.dumps(snapshot(self.app)), "application/json")
        return httpd.response(404, "404 not found\n", "text/plain")


async def run(app, port):
    """The job: serve until cancelled (the app ends), then close and unload the server."""
    import asyncio
    import sys
    server = await httpd.Server(StatusPage(app, app.cfg["status_password"]).handle, "0.0.0.0",
                                PORT if port is None else port).start()
    log.info("status page: http://<charger>:%d/ (HTTP Basic auth)", server.port)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        server.close()
        sys.modules.pop("net.httpd", None)
