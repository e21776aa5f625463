# The texts of a connect's errors (a bad URL: net.ws_url; a failed connect or upgrade:
# net.ws_open), one line each of one string (each string constant is a heap object of its own);
# _E_* is a text's line. Loaded only when such an error is raised, unloaded after (net.ws _text):
# a connect that succeeds does not carry them.
from compat import const


_TEXTS = const(
    "URL must be a string, not %r\n"  # 0
    "URL must start with ws:// or wss://: %r\n"  # 1
    "URL path must be printable ASCII without spaces: %r\n"  # 2
    "credentials in the URL are not supported (use basic_auth): %r\n"  # 3
    "unclosed '[' in URL host: %r\n"  # 4
    "bad port in URL: %r\n"  # 5
    "URL has no host: %r\n"  # 6
    "URL port must be 1..65535: %r\n"  # 7
    "CSMS URL must be a string, not %r\n"  # 8
    "this runtime has no default CA store: pass an SSLContext that trusts the CSMS certificate"
    " (SSLContext(PROTOCOL_TLS_CLIENT) + load_verify_locations)\n"  # 9
    "HTTP response head longer than %d bytes\n"  # 10
    "malformed HTTP header line %r\n"  # 11
    "not an HTTP response: %r\n"  # 12
    "authorization rejected (HTTP 401)\n"  # 13
    "server answered HTTP %d %s instead of 101 Switching Protocols\n"  # 14
    "server did not upgrade to websocket (Upgrade: %r)\n"  # 15
    "server answered without Connection: Upgrade\n"  # 16
    "wrong Sec-WebSocket-Accept from server\n"  # 17
    "server enabled extensions we did not ask for: %s\n"  # 18
    "server did not select subprotocol %s\n"  # 19
    "server selected subprotocol %r, we asked for %s\n"  # 20
    "cannot connect to %s:%d: %s\n"  # 21
    "server closed the connection during the handshake (%s)\n"  # 22
    "bad HTTP response: %s\n"  # 23
    "TLS handshake with %s:%d failed: %s\n"  # 24
    "an ssl context was given for a ws:// URL (use wss://): %r\n"  # 25
    "no WebSocket connection to %s:%d within %d ms\n"  # 26
)


def text(i):
    """Line i of _TEXTS."""
    t = _TEXTS
    s = 0
    while i:
        s = t.find("\n", s) + 1
        i -= 1
    return t[s:t.find("\n", s)]
