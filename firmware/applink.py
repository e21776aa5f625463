# The CSMS link's rare work, on demand: the TLS context of a wss:// link or an https:// transfer,
# and what only a failure or a change needs: the security event of a failed connect, the
# fallback to the previous SecurityProfile, a new link in place of the old. app.py imports it
# for the call and drops it; the link's frame loop never needs it, a ws:// link never loads it
# (appwire.link_args says a link's arguments).
from compat import const
import asyncio

import log

# A failed TLS handshake or Basic auth is a security event, each kind at most this often (ms).
_LINK_EVENT_MS = const(600000)
# Failed connects with a new SecurityProfile before going back to the previous one (A05.FR.08).
_PROFILE_FALLBACK_ATTEMPTS = const(3)


def tls_context(cfg, profile=0):
    """The TLS context of a wss:// link (appwire.link_args: of its SecurityProfile, 2 or 3, when
    one is in force), and of an https:// transfer (the jobs fw_update, fw_diag and getlog,
    through app._rare)."""
    if profile >= 2:
        # The TLS context of security profile 2/3 (net.tlsprofile, loaded for the call).
        from ocpp16 import profiles
        try:
            client = (cfg["client_cert"], cfg["client_key"]) if cfg.get("client_cert") else None
            return profiles.load("net.tlsprofile").context(profile, cfg.get("data_dir", "data"), cfg.get("ca_cert"), client)
        finally:
            profiles.unload("net.tlsprofile")
    from net import tls
    ca = cfg.get("ca_cert")
    if not ca:
        log.warning("wss without ca_cert: the server certificate is NOT verified")
    return tls.context(ca)


def connect_failed(app, error):
    """A failed connect: a security event when it was the TLS handshake or Basic auth
    (each kind at most every _LINK_EVENT_MS), and after a SecurityProfile change the
    count towards falling back to the previous profile."""
    from net import ws
    now = app.clock.now()
    text = str(error)
    kind = None
    if isinstance(error, ws.Unauthorized):
        kind = "FailedToAuthenticateAtCentralSystem"
    elif app.link is not None and app.link.ssl is not None:
        from ocpp16 import profiles
        try:
            kind = profiles.load("net.tlsprofile").failure_event(text)
        finally:
            profiles.unload("net.tlsprofile")
    if kind:
        # kind -> when a failed connect last reported it; made at the first such event (an
        # App attribute fewer while nothing failed: its attribute table grows in steps)
        events = getattr(app, "link_events", None) or {}
        last = events.get(kind)
        if last is None or now - last >= _LINK_EVENT_MS:
            events[kind] = now
            app.link_events = events
            app.cp.security_event(kind, now, text)
    fb = app.fallback
    if fb is not None:
        fb[1] += 1
        if fb[1] >= _PROFILE_FALLBACK_ATTEMPTS:
            log.warning("SecurityProfile %d cannot connect: back to %d", app.config.get("SecurityProfile"), fb[0])
            app.config.set_internal("SecurityProfile", fb[0])
            app.fallback = None
            app.relink = 0  # at the next control step


async def relink(app):
    """A new link in place of the old one (stopped first): after a SecurityProfile change
    (cp.profile_change; the previous profile is kept for the fallback), a new client
    certificate, or a fallback. Raises when no link can be made (app.py tries again later).
    This coroutine holds this module while it runs: app.py's _make_link loads appwire for
    link_args, dropped before Link() loads net.ws_url."""
    if app.link is not None:
        await app.link.close()  # stopped, its task waited for (at most 5 s)
    change = app.cp.profile_change
    if change is not None:
        app.cp.profile_change = None
        app.fallback = [change[0], 0]
    app.relink = None
    try:
        app.link = app._make_link()
    except Exception as e:  # the new profile cannot even be set up: back to the previous one
        log.error("link not made: %s", e)
        if app.fallback is None:
            raise
        app.config.set_internal("SecurityProfile", app.fallback[0])
        app.fallback = None
        app.link = app._make_link()
    asyncio.create_task(app.link.run(app))
