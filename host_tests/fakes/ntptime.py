# A fake `ntptime`: settime() fails a test-set number of times (as a lost UDP
# packet does on the device), then "sets" the clock. No sockets.
host = "pool.ntp.org"
timeout = 1
fail_next = 0   # how many settime() calls raise OSError(ETIMEDOUT) before one succeeds
calls = 0
synced = 0


def reset_fakes():
    global fail_next, calls, synced
    fail_next = calls = synced = 0


def settime():
    global fail_next, calls, synced
    calls += 1
    if fail_next > 0:
        fail_next -= 1
        raise OSError(110)  # ETIMEDOUT, what a lost NTP reply raises
    synced += 1


def time():
    import time as _t
    return int(_t.time())
