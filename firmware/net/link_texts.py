# The texts of the link's log lines and reasons (net.link), the frame loop's errors (net.ws) and a
# Backoff's refused parameters (net.backoff), one line each of one string (each string constant
# is a heap object of its own); _T_* is a text's line, counted on from net/ws_texts.py's. Loaded
# for one text and unloaded after (net.ws _text): a connected link does not carry them, and a
# failed connect does not load them beside net.ws_open.
from compat import const


_TEXTS = const(
    # lines 0..26 are net/ws_texts.py's (net.ws _LINK_TEXTS): empty here
    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
    # net.ws
    "connection lost: %s\n"  # 27
    "connection lost (EOF)\n"  # 28
    "connection lost while sending: %s\n"  # 29
    "ping payload of %d bytes exceeds %d\n"  # 30
    "outgoing message of %d bytes exceeds max_message %d\n"  # 31
    "recv() is already running in another task\n"  # 32
    # net.link
    "link: handler failed on %s: %r\n"  # 33
    "%s must be a number of seconds >= 0\n"  # 34
    "not connected to the CSMS\n"  # 35
    "%s stuck for %d ms (dead link)\n"  # 36
    "link lost while sending: %s\n"  # 37
    "link: next connect attempt in %d ms\n"  # 38
    "link: connect to %s failed: %s\n"  # 39
    "link: connected to %s\n"  # 40
    "link: disconnected from %s: %s\n"  # 41
    "no pong within %d ms after an unanswered CALL (dead link)\n"  # 42
    "nothing received for %d ms (dead link)\n"  # 43
    "link: binary message of %d bytes ignored (OCPP-J is text)\n"  # 44
    "receiver failed: %r\n"  # 45
    "link: %r\n"  # 46
    "link: %s\n"  # 47
    # net.backoff
    "backoff base_ms must be > 0, not %r\n"  # 48
    "backoff max_ms (%r) must be >= base_ms (%r)\n"  # 49
    "backoff factor must be >= 1, not %r\n"  # 50
    "backoff jitter must be within 0..1, not %r\n"  # 51
    "backoff rand() must return 0..1, not %r\n"  # 52
    # net.ws
    "connection closing: nothing may follow our close frame\n"  # 53
)


def text(i):
    """Line i of _TEXTS."""
    t = _TEXTS
    s = 0
    while i:
        s = t.find("\n", s) + 1
        i -= 1
    return t[s:t.find("\n", s)]
