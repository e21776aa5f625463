# The app's wiring, on demand: builds an App's parts from config.json and the board (the
# core, its configuration and queue, the connectors), then starts the status page and, on a
# real-time clock, the hardware tasks (apphw); and says a link's arguments. app.py imports it
# for each (re)start and each link, and drops it; nothing here runs every control period.
from compat import const
import sys

import compat
import log
import store

# One control-loop iteration (app.App.control_loop): core tick, sending; the pilot sample and
# interlock too where no timer runs them every evse.interlock.SAMPLE_PERIOD_MS.
_CONTROL_PERIOD_MS = const(100)
_LOG_DIR = const("log")  # the rolling log (log.py) in data_dir
_QUEUE_DIR = const("/queue")  # the message queue's folder in data_dir
_ID_PREFIX = const("%d.")  # message ids start with the boot counter
_STATUS_JOB = const("net.status")  # the local status page's job module
_APPHW = const("apphw")
_SECURE_SCHEME = const("wss:")
_APPLINK = const("applink")
_TLS_CONTEXT = const("tls_context")  # applink's; by a const(): a ws:// link interns no name of it


def build(app, cfg, hw, clock, trace):
    """App.__init__: every attribute of the App."""
    from evse.connector import Evse
    from ocpp16.chargepoint import ChargePoint, WallClock
    from ocpp16.config import Config
    from ocpp16.queue import MessageQueue
    from app import Clock, _log_stamp
    if not cfg.get("serial") and getattr(hw, "chip_id", None):
        import version
        # chargePointSerialNumber unless config.json sets one. In place, not in a copy: main.boot()
        # keeps this dict for the charger's life, a copy would be a second one (~0.5 KB).
        cfg["serial"] = version.serial(hw.chip_id)
    app.cfg = cfg
    app.hw = hw
    simcfg = cfg.get("sim") or {}
    app.clock = clock or Clock(simcfg.get("speed"))
    # A long simulated outage may use a coarser control period (sim boards only).
    app.period_ms = int(simcfg.get("period_ms", _CONTROL_PERIOD_MS))
    app.trace = trace if trace is not None else simcfg.get("trace", False)
    data = cfg.get("data_dir", "data")
    store.makedirs(data)
    overrides = {"NumberOfConnectors": len(hw.connectors)}  # SupportedFeatureProfiles: set by the core
    app.config = Config(data + "/config.json", overrides)
    # SecurityProfile starts at config.json's security_profile; a CSMS may only have raised it.
    if app.config.get("SecurityProfile") < cfg.get("security_profile", 0):
        app.config.set_internal("SecurityProfile", cfg.get("security_profile", 0))
    app.evses = [Evse(i + 1, c) for i, c in enumerate(hw.connectors)]
    cap = cfg.get("max_current_a")  # set in the setup portal; never above the board's
    for e in app.evses:
        e.max_amps = min(e.max_amps, cap) if cap else e.max_amps
    app.queue = MessageQueue(data + _QUEUE_DIR)
    # Message ids must stay unique across reboots: prefix them with a boot counter.
    path = data + "/boots.json"
    boots = store.load(path, {}).get("n", 0) + 1
    store.save(path, {"n": boots})
    now = app.clock.now()
    app.cp = ChargePoint(cfg, app.config, app.evses, app.queue,
                         clock=WallClock(compat.unix_time(), now), data_dir=data,
                         reader=hw.reader, now=now, id_prefix=_ID_PREFIX % boots,
                         board=hw.board)
    # Every log line also goes to the rolling log on flash (the GetDiagnostics file).
    log.to_file(data + "/" + _LOG_DIR, _log_stamp)  # the function, not a bound method (see there)
    app.link = None
    app._flushing = False
    app.sampler = None
    app.job_tasks = []           # background jobs asked for by the core (cp.jobs)
    app.link_since = None        # Unix time the CSMS link last came up (status page)
    app.link_error = None        # why it last went down (status page)
    app.relink = None            # app.clock ms from which to make a new link (applink.relink); 0: at once
    app.fallback = None          # [previous SecurityProfile, failed attempts] after a change
    # (app.link_events, security event kind -> when a failed connect last reported it: made by
    # applink.connect_failed at the first such event)


async def start(app, out):
    """App.run, before its link: the status page job, and the hardware tasks (into the list `out`,
    which App.run cancels when it ends) and the first meter reads waited for (apphw). A
    deterministic (simulated) clock has no hardware tasks: the control loop polls the meters and
    the pilot every period."""
    # The local status page (net/status.py) runs as a job while the app runs: only when
    # config.json sets status_password and the board file does not turn it off.
    if app.cfg.get("status_password") and (app.hw.board.get("portal") or {}).get("status_page", True):
        app.cp.jobs.append((_STATUS_JOB, (app.cfg.get("sim") or {}).get("status_port")))
    if app.clock.speed is not None:
        for evse in app.evses:
            evse.meter_task = evse.meter is not None  # polled inline, every period
        return
    try:  # by its name's const(): the sim session, which never loads it, interns none of its names
        hw = __import__(_APPHW)
    finally:
        sys.modules.pop(_APPHW, None)  # its coroutine holds it until the first reads are in
    await hw.start(app, out)


def first_app(cfg, hw, clock, kind=None):
    """app.run()'s App. The first: the sim board's scenario loaded, StartupOfTheDevice recorded.
    After a Reset of `kind` (Hard, Soft) in place, on the same clock: the board's reset hook,
    then the next App (its ResetOrReboot was reported at the Reset)."""
    from app import App
    if kind is not None:
        reset = getattr(hw, "reset", None)
        if reset is not None:
            reset(kind)
        log.info("%s reset: restarting", kind)
        return App(cfg, hw, clock)
    scenario = (cfg.get("sim") or {}).get("scenario")
    if scenario and getattr(hw, "sim", None) is not None:
        load_scenario(hw, scenario)
    app = App(cfg, hw, clock)
    app.cp.security_event("StartupOfTheDevice", app.clock.now())
    return app


def load_scenario(hw, path):
    """Sim boards: the scenario file config.json's sim section names."""
    import json
    with open(path) as f:
        hw.sim.load_scenario(json.load(f))


def link_args(app):
    """The arguments of the net.link.Link for the SecurityProfile in force, (args, kw): app.py
    makes the Link once this module is dropped, so it and net.ws_url (loaded by Link()) are
    never in the heap together. A TLS context is applink's (loaded for the call)."""
    key = password(app.config.get("AuthorizationKey")) or app.cfg.get("authorization_key")
    profile = app.config.get("SecurityProfile")
    auth = (app.cfg["charge_point_id"], key) if profile in (1, 2) and key else None
    ssl = None
    if profile >= 2 or app.cfg["csms_url"].startswith(_SECURE_SCHEME):
        from app import _rare
        ssl = _rare(_APPLINK, _TLS_CONTEXT, app.cfg, profile)
    # Pauses between connect attempts follow the (possibly simulated) clock.
    return ((app.cfg["csms_url"], app.cfg["charge_point_id"]),
            {"basic_auth": auth, "ssl": ssl, "ping_interval_s": app.config.get("WebSocketPingInterval"),
             "sleep_ms": app.clock.sleep_ms})


def password(key):
    """The Basic auth password of an OCPP AuthorizationKey: its hex form (32 to 40 hex
    digits, 16-20 bytes, Security whitepaper) decoded, any other text as it is."""
    if not key or len(key) % 2 or not 32 <= len(key) <= 40:
        return key
    try:
        import binascii
        return binascii.unhexlify(key)
    except ValueError:
        return key
