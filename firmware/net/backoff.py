# Reconnect delays: bounded exponential growth with random jitter. Pure arithmetic,
# no I/O and no clock; the caller sleeps. Deterministic when given a rand function.
# net.link loads it at the first failed connect and drops it once a connection is stable.
from compat import const
from net.ws import _text
try:
    from random import random as _random
except ImportError:  # a port built without random.random()
    _random = None

BASE_MS = 1000  # first delay after a failure
MAX_MS = 60000  # no delay grows beyond this (OCPP CSMSs expect a charger back within a minute)
_FACTOR = const(2)  # growth per consecutive failure
JITTER = 0.5  # fraction of a delay that may be taken off at random (spreads a fleet's reconnects)

# The texts of refused parameters: net/link_texts.py's (net.ws _text), loaded only to raise one (a Backoff
# lives while the link is down, so its module's size adds to every reconnect's heap).
_T_BASE = const(48)
_T_MAX = const(49)
_T_FACTOR = const(50)
_T_JITTER = const(51)
_T_RAND = const(52)


def _urandom_fraction():
    import os
    return int.from_bytes(os.urandom(2), "big") / 65536


class Backoff:
    def __init__(self, base_ms=BASE_MS, max_ms=MAX_MS, factor=_FACTOR, jitter=JITTER, rand=None):
        if not base_ms > 0:
            raise ValueError(_text(_T_BASE, (base_ms,)))
        if not max_ms >= base_ms:
            raise ValueError(_text(_T_MAX, (max_ms, base_ms)))
        if not factor >= 1:
            raise ValueError(_text(_T_FACTOR, (factor,)))
        if not 0 <= jitter <= 1:
            raise ValueError(_text(_T_JITTER, (jitter,)))
        self.base_ms = base_ms
        self.max_ms = max_ms
        self.factor = factor
        self.jitter = jitter
        self.rand = rand or _random or _urandom_fraction
        self.attempts = 0
        self._delay = base_ms

    def next_ms(self):
        """Delay before the next attempt, in whole ms: base * factor**n capped at max, minus jitter."""
        d = self._delay
        self.attempts += 1
        # Grow the stored delay, not an exponent: no huge intermediate numbers.
        self._delay = min(self.max_ms, d * self.factor)
        r = self.rand()
        if not 0 <= r <= 1:
            raise ValueError(_text(_T_RAND, (r,)))
        return int(d - d * self.jitter * r)

    def reset(self):
        """After a connection that stayed up: start again from base_ms."""
        self.attempts = 0
        self._delay = self.base_ms
