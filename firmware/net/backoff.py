# Reconnect delays: bounded exponential growth with random jitter. Pure arithmetic,
# no I/O and no clock; the caller sleeps. Deterministic when given a rand function.
# net.link loads it at the first failed connect and drops it once a connection is stable.
from compat import const
try:
    from random import random as _random
except ImportError:  # a port built without random.random()
    _random = None

BASE_MS = 1000  # first delay after a failure
MAX_MS = 60000  # no delay grows beyond this (OCPP CSMSs expect a charger back within a minute)
_FACTOR = const(2)  # growth per consecutive failure
JITTER = 0.5  # fraction of a delay that may be taken off at random (spreads a fleet's reconnects)


def _urandom_fraction():
    import os
    return int.from_bytes(os.urandom(2), "big") / 65536


class Backoff:
    def __init__(self, base_ms=BASE_MS, max_ms=MAX_MS, factor=_FACTOR, jitter=JITTER, rand=None):
        if not base_ms > 0:
            raise ValueError("backoff base_ms must be > 0, not %r" % (base_ms,))
        if not max_ms >= base_ms:
            raise ValueError("backoff max_ms (%r) must be >= base_ms (%r)" % (max_ms, base_ms))
        if not factor >= 1:
            raise ValueError("backoff factor must be >= 1, not %r" % (factor,))
        if not 0 <= jitter <= 1:
            raise ValueError("backoff jitter must be within 0..1, not %r" % (jitter,))
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
            raise ValueError("backoff rand() must return 0..1, not %r" % (r,))
        return int(d - d * self.jitter * r)

    def reset(self):
        """After a connection that stayed up: start again from base_ms."""
        self.attempts = 0
        self._delay = self.base_ms
