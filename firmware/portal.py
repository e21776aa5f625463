# Setup mode: a WiFi access point with a captive DNS and one HTTP page that writes
# config.json (checked by devconfig, written atomically by store), then asks for a reboot.
# Loaded only in setup mode (netboot.setup_mode); holds the contactor open meanwhile. No OCPP here.
from compat import const
import asyncio
import os

import compat
import devconfig
import log
import store
from net import dns, httpd

HTTP_PORT = 80                # the page; a phone's captive-portal check lands here too
_AP_IP = const("192.168.4.1")  # where the AP is when ifconfig() cannot tell (ESP32 default)
PASSWORD_FILE = "portal.json"  # next to config.json: the per-device AP password, made once
PASSWORD_CHARS = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a console
PASSWORD_LEN = 12             # generated AP password length (WPA2 needs 8..63)
_SCAN_MAX = const(16)  # networks listed on the page
SAVED_GRACE_MS = 1500         # after saving: time for the browser to get the "rebooting" page
IDLE_REBOOT_MS = 600000       # setup entered because WiFi failed: reboot to retry after this
POLL_MS = 100                 # how often run() checks whether it is done
# Form field -> config key as devconfig names it in a ConfigError.
FIELDS = (("wifi_ssid", "wifi.ssid"), ("wifi_password", "wifi.password"), ("csms_url", "csms_url"),
          ("charge_point_id", "charge_point_id"), ("security_profile", "security_profile"),
          ("authorization_key", "authorization_key"), ("board", "board"),
          ("max_current_a", "max_current_a"), ("status_password", "status_password"))
SECRET_FIELDS = ("wifi_password", "authorization_key", "status_password")  # never shown back
# Keys whose errors have no field of their own on the page: shown beside this field.
ERROR_HOME = {"wifi": "wifi_ssid", "ca_cert": "security_profile", "client_cert": "security_profile",
              "client_key": "security_profile"}


def ap_name(model, mac):
    """<model>-<last 3 bytes of the MAC in hex>, e.g. ESP32-EVSE-0A1B2C."""
    tail = "".join("%02X" % b for b in bytes(mac)[-3:])
    return "%s-%s" % (model, tail)


def ap_password(folder, board_portal=None, fs=None):
    """The board file's portal.password, else a random one made once and kept in
    folder/portal.json (per device, survives reboots)."""
    if board_portal and board_portal.get("password"):
        return board_portal["password"]
    path = folder.rstrip("/") + "/" + PASSWORD_FILE
    saved = store.load(path, None, fs)
    if isinstance(saved, dict) and isinstance(saved.get("password"), str) and len(saved["password"]) >= 8:
        return saved["password"]
    raw = os.urandom(PASSWORD_LEN)
    pw = "".join(PASSWORD_CHARS[b % len(PASSWORD_CHARS)] for b in raw)
    store.save(path, {"password": pw}, fs)
    return pw


def list_boards(dirs):
    """name -> (kind, max_current_a) of every valid board file in the folders."""
    from hal import board as hal_board
    found = {}
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if not n.endswith(".json") or n[:-5] in found:
                continue
            try:
                b = hal_board.load(d + "/" + n)
            except Exception as e:  # a broken board file is not offered
                log.warning("portal: board file %s/%s skipped: %s", d, n, e)
                continue
            found[n[:-5]] = (b["kind"], b["max_current_a"])
    return found


def scan(network):
    """SSIDs in range, strongest first, without duplicates (the station scan)."""
    try:
        sta = network.WLAN(network.STA_IF)
        sta.active(True)
        nets = sta.scan()
    except Exception as e:
        log.warning("portal: wifi scan failed: %s", e)
        return []
    nets = sorted(nets, key=lambda n: -n[3])
    out = []
    for n in nets:
        try:
            ssid = n[0].decode()
        except UnicodeError:
            continue
        if ssid and ssid not in out:
            out.append(ssid)
        if len(out) >= _SCAN_MAX:
            break
    return out


def start_ap(network, name, password):
    """The access point: WPA2 with `password`, or open when it is None. Returns its IP."""
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    if password is None:
        ap.config(essid=name, authmode=getattr(network, "AUTH_OPEN", 0))
    else:
        ap.config(essid=name, password=password, authmode=getattr(network, "AUTH_WPA2_PSK", 3))
    try:
        ip = ap.ifconfig()[0]
    except Exception:
        ip = None
    return ap, ip if ip and ip != "0.0.0.0" else _AP_IP


def form_to_config(form, old, boards):
    """The raw config dict the form asks for, on top of the old config (its other keys
    kept); an empty secret field keeps the old secret."""
    raw = dict(old) if isinstance(old, dict) else {}
    ow = raw.get("wifi") if isinstance(raw.get("wifi"), dict) else {}
    ssid = form.get("wifi_ssid", "").strip()
    pw = form.get("wifi_password", "")
    if not pw and ssid == ow.get("ssid"):
        pw = ow.get("password", "")
    raw["wifi"] = {"ssid": ssid, "password": pw} if ssid else None
    for k in ("csms_url", "charge_point_id", "board"):
        raw[k] = form.get(k, "").strip() or None
    sp = form.get("security_profile", "0").strip()
    raw["security_profile"] = int(sp) if sp.isdigit() else sp
    for k in ("authorization_key", "status_password"):
        v = form.get(k, "")
        if v:
            raw[k] = v
        elif form.get("clear_" + k):
            raw[k] = None
    a = form.get("max_current_a", "").strip()
    raw["max_current_a"] = int(a) if a.isdigit() else (a or None)
    for k in list(raw):
        if raw[k] is None:
            del raw[k]
    return raw


def check(raw, boards):
    """(valid config, None) or (None, {field: message}) with devconfig's own rules. After a
    refusal the value is replaced by a neutral one and the rest checked again, so every
    refused field gets its message in one round trip."""
    b = boards.get(raw.get("board")) if isinstance(raw.get("board"), str) else None
    errors = {}
    if raw.get("board") and b is None:
        errors["board"] = "no board file %r on the device" % raw.get("board")
        b = (None, None)
    kind, max_a = b if b else (None, None)
    trial = dict(raw)
    for _ in range(len(FIELDS) + 2):
        try:
            cfg = devconfig.validate(trial, kind, None, max_a)
            return (None, errors) if errors else (cfg, None)
        except devconfig.ConfigError as e:
            f = _field_of(e.key)
            if f in errors or not _neutralise(trial, e.key):
                errors.setdefault(f, str(e))
                return None, errors
            errors[f] = str(e)
    return None, errors


def _neutralise(trial, key):
    """Replace the refused value by one devconfig accepts; False when there is none."""
    top = key.split(".")[0] if key else key
    if top == "wifi":
        trial["wifi"] = {"ssid": "x", "password": ""}
    elif top == "csms_url":
        trial["csms_url"] = "ws://placeholder.invalid"
    elif top == "charge_point_id":
        trial["charge_point_id"] = "X"
    elif top == "authorization_key":
        trial["authorization_key"] = "0" * devconfig.KEY_MIN_LEN
    elif top in ("security_profile", "ca_cert", "client_cert", "client_key"):
        trial["security_profile"] = 0
    elif top in ("max_current_a", "status_password"):
        trial.pop(top, None)
    else:
        return False
    return True


def _field_of(key):
    for f, k in FIELDS:
        if k == key:
            return f
    return ERROR_HOME.get(key, "")


CSS = ("body{font-family:sans-serif;max-width:34em;margin:1em auto;padding:0 1em;color:#222}"
       "h1{font-size:1.3em}label{display:block;margin-top:.8em;font-weight:bold}"
       "input,select{width:100%;padding:.4em;box-sizing:border-box;font-size:1em}"
       ".err{color:#b00020;font-size:.9em}.note{color:#555;font-size:.85em}"
       "button{margin-top:1.2em;padding:.6em 1.4em;font-size:1em}"
       ".ok{background:#e6f4ea;padding:1em;border-radius:4px}")


def page(title, body):
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<title>%s</title><style>%s</style></head><body>%s</body></html>") % (httpd.escape(title), CSS, body)


class Portal:
    """The setup page over a config.json path. `boards`: list_boards() result."""

    def __init__(self, cfg_path, boards, network, ssids=(), reason=""):
        self.cfg_path = cfg_path
        self.boards = boards
        self.network = network
        self.ssids = list(ssids)
        self.reason = reason
        self.saved = None        # the config written, once the form was accepted
        try:
            self.old = devconfig.read(cfg_path)
        except devconfig.ConfigError:
            self.old = {}
        if not isinstance(self.old, dict):
            self.old = {}

    def values(self, form=None):
        """What the fields show: the form as sent, else the old config (never a secret)."""
        if form is not None:
            v = dict(form)
        else:
            o = self.old
            w = o.get("wifi") if isinstance(o.get("wifi"), dict) else {}
            v = {"wifi_ssid": w.get("ssid", ""), "csms_url": o.get("csms_url", ""),
                 "charge_point_id": o.get("charge_point_id", ""), "board": o.get("board", ""),
                 "security_profile": o.get("security_profile", 0), "max_current_a": o.get("max_current_a", "")}
        for f in SECRET_FIELDS:
            v.pop(f, None)
        return v

    def render(self, form=None, errors=None):
        v = self.values(form)
        errors = errors or {}
        o = self.old

        def val(k):
            x = v.get(k)
            return "" if x is None else httpd.escape(x)

        def err(k):
            m = errors.get(k)
            return "<div class='err' id='err-%s'>%s</div>" % (k, httpd.escape(m)) if m else ""

        def text(k, label, kind="text", note="", extra=""):
            if kind == "password" and form is not None and form.get(k):
                note = "Type it again: a secret is never sent back to the browser."
            return ("<label for='%s'>%s</label><input id='%s' name='%s' type='%s' value='%s'%s>%s%s"
                    % (k, label, k, k, kind, "" if kind == "password" else val(k), extra,
                       ("<div class='note'>%s</div>" % note) if note else "", err(k)))

        h = ["<h1>Charger setup</h1>"]
        if self.reason:
            h.append("<p class='note'>Setup mode: %s. The contactor stays open until the charger restarts.</p>"
                     % httpd.escape(self.reason))
        if errors.get(""):
            h.append("<div class='err' id='err-form'>%s</div>" % httpd.escape(errors[""]))
        h.append("<form method='post' action='/save'>")
        h.append(text("wifi_ssid", "WiFi network (SSID)", extra=" list='ssids' autocomplete='off'"))
        h.append("<datalist id='ssids'>%s</datalist>" % "".join(
            "<option value='%s'>" % httpd.escape(s) for s in self.ssids))
        if self.ssids:
            h.append("<div class='note'>In range: %s. <a href='/?scan=1'>Scan again</a></div>"
                     % httpd.escape(", ".join(self.ssids)))
        ow = o.get("wifi") if isinstance(o.get("wifi"), dict) else {}
        h.append(text("wifi_password", "WiFi password", "password",
                      "Set; leave empty to keep it." if ow.get("password") else "Empty for an open network."))
        h.append(text("csms_url", "CSMS URL", note="ws://host:port/path or wss://...; the id is appended."))
        h.append(text("charge_point_id", "Charge point id"))
        sp = str(v.get("security_profile", 0))
        h.append("<label for='security_profile'>Security profile</label><select id='security_profile' name='security_profile'>")
        for n, label in (("0", "0: none"), ("1", "1: Basic auth over ws://"), ("2", "2: Basic auth over TLS"),
                         ("3", "3: TLS client certificate")):
            h.append("<option value='%s'%s>%s</option>" % (n, " selected" if n == sp else "", label))
        h.append("</select>" + err("security_profile"))
        h.append(text("authorization_key", "AuthorizationKey", "password",
                      ("Set; leave empty to keep it." if o.get("authorization_key") else "Not set.")
                      + " 16 to 40 characters (profiles 1 and 2). Never shown."))
        h.append("<label for='board'>Board</label><select id='board' name='board'>")
        names = sorted(self.boards)
        cur = v.get("board") or (names[0] if len(names) == 1 else "")
        for n in names:
            h.append("<option value='%s'%s>%s (%s, max %d A)</option>" % (
                httpd.escape(n), " selected" if n == cur else "", httpd.escape(n), self.boards[n][0], self.boards[n][1]))
        h.append("</select>" + err("board"))
        h.append(text("max_current_a", "Connector maximum current (A)", "number",
                      "Empty: the board's maximum.", " min='6' max='80'"))
        h.append(text("status_password", "Status page password", "password",
                      ("Set; leave empty to keep it." if o.get("status_password") else "Empty: no status page.")
                      + " 8 to 64 characters."))
        h.append("<button type='submit'>Save and restart</button></form>")
        return page("Charger setup", "".join(h))

    def handle(self, req):
        if req.path == "/" and req.method in ("GET", "HEAD"):
            if "scan=1" in req.query:
                self.ssids = scan(self.network)
            return httpd.response(200, self.render())
        if req.path == "/save":
            if req.method != "POST":
                return httpd.response(303, "", headers=[("Location", "/")])
            return self.save(httpd.parse_form(req.body))
        if req.path == "/favicon.ico":  # browsers ask for it; a redirect would render the page again
            return httpd.response(404, "", "text/plain")
        # Captive-portal checks (generate_204, hotspot-detect.html, ...) and any other path.
        return httpd.response(303, "", headers=[("Location", "http://%s/" % self.host)])

    host = _AP_IP

    def save(self, form):
        raw = form_to_config(form, self.old, self.boards)
        cfg, errors = check(raw, self.boards)
        if errors:
            log.info("portal: refused: %s", "; ".join(errors[k] for k in errors))
            return httpd.response(200, self.render(form, errors))
        for s in devconfig.secrets(raw):
            log.secret(s)
        store.save(self.cfg_path, raw)
        self.saved = cfg
        log.info("portal: config.json saved: %s", devconfig.describe(cfg))
        return httpd.response(200, page("Saved", "<div class='ok' id='saved'><h1>Saved</h1><p>The charger "
                                        "restarts now and joins %s.</p></div>" % httpd.escape(
                                            cfg["wifi"]["ssid"] if cfg.get("wifi") else "its network")))


async def hold_safe(hw, stop):
    """Setup mode's interlock: every connector unavailable and never permitted, its
    pilot at -12 V (state F), sampled every SAMPLE_PERIOD_MS so the contactor stays open."""
    from evse.connector import Evse
    from evse.interlock import SAMPLE_PERIOD_MS
    evses = [Evse(i + 1, c) for i, c in enumerate(hw.connectors)]
    for e in evses:
        e.set_available(False)
        e.pilot.disable()
    while not stop():
        now = compat.ticks_ms()
        for e in evses:
            try:
                e.step(now)
            except Exception as ex:
                e.interlock.force_open("sampling failed: %r" % (ex,))
        await asyncio.sleep(SAMPLE_PERIOD_MS / 1000)
    return evses


async def run(cfg_path, network, hw=None, boards=None, board=None, model=None, reason="",
              port=None, dns_port=None, bind="0.0.0.0", idle_reboot_ms=None, tick=None):
    """Serve setup mode until the form is saved (or idle_reboot_ms passed). Returns "reboot".
    tick(): called every POLL_MS (main feeds the watchdog with it)."""
    import gc
    port = HTTP_PORT if port is None else port
    dns_port = dns.PORT if dns_port is None else dns_port
    folder = cfg_path[:cfg_path.rfind("/")] if "/" in cfg_path else "."
    bp = (board or {}).get("portal") or {}
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    name = ap_name(model or devconfig.DEFAULTS["model"], wlan.config("mac"))
    password = None if bp.get("open") else ap_password(folder or "/", bp)
    ssids = scan(network)
    ap, ip = start_ap(network, name, password)
    log.warning("setup portal: %s", reason or "started")
    log.warning("setup portal: WiFi %r, %s; open http://%s/", name,
                "OPEN (no password)" if password is None else "password " + password, ip)
    portal = Portal(cfg_path, boards if boards is not None else {}, network, ssids, reason)
    portal.host = ip
    server = await httpd.Server(portal.handle, bind, port).start()
    responder = dns.Responder(ip, dns_port, bind)
    responder.open()
    state = {"stop": False}
    tasks = [asyncio.create_task(responder.run())]
    if hw is not None:
        tasks.append(asyncio.create_task(hold_safe(hw, lambda: state["stop"])))
    gc.collect()
    t0 = compat.ticks_ms()
    try:
        while portal.saved is None:
            if idle_reboot_ms and compat.ticks_diff(compat.ticks_ms(), t0) >= idle_reboot_ms:
                log.info("setup portal: nothing saved in %d s: restarting to try the WiFi again", idle_reboot_ms // 1000)
                break
            if tick is not None:
                tick()
            await asyncio.sleep(POLL_MS / 1000)
        if portal.saved is not None:
            await asyncio.sleep(SAVED_GRACE_MS / 1000)
    finally:
        state["stop"] = True
        responder.stop()
        server.close()
        for t in tasks:
            try:
                await asyncio.wait_for(t, 1)
            except Exception:
                pass
        try:
            ap.active(False)
        except Exception:
            pass
    return "reboot"
