# Sets the RTC from NTP (ntptime, UTC) with a bounded number of attempts and
# returns Unix epoch seconds; it never blocks longer than its retries allow and
# never raises on a network failure (None means "not synced").
from compat import const
import ntptime

import compat

_RETRIES = const(3)  # settime() attempts per sync()
_RETRY_DELAY_MS = const(1000)  # pause between attempts
_TIMEOUT_S = const(2)  # ntptime's socket timeout per attempt


def sync(host=None, retries=_RETRIES, delay_ms=_RETRY_DELAY_MS):
    """Set the clock from NTP. Returns Unix epoch seconds, or None after `retries` failures."""
    if host:
        ntptime.host = host
    ntptime.timeout = _TIMEOUT_S
    for i in range(retries):
        try:
            ntptime.settime()
            return compat.unix_time()
        except (OSError, OverflowError, IndexError):  # lost/short reply, bad DNS
            if i + 1 < retries and delay_ms:
                compat.sleep_ms(delay_ms)
    return None
