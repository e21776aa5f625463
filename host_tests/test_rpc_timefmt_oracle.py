# CPython-only: timefmt against the standard library's datetime as an independent
# oracle, over random instants, offsets and fractional seconds.
import datetime
import random

from ocpp16 import timefmt

UTC = datetime.timezone.utc


def test_parse_matches_datetime():
    rnd = random.Random(1616)
    for _ in range(5000):
        epoch = rnd.randrange(-62135596800, 253402300799)  # 0001-01-01 .. 9999-12-31
        off_min = rnd.choice((0, rnd.randrange(-23 * 60 - 59, 23 * 60 + 60)))
        frac = rnd.choice(("", "." + str(rnd.randrange(10 ** 6)).zfill(6), ".5", ".123456789"))
        tz = datetime.timezone(datetime.timedelta(minutes=off_min))
        try:
            local = datetime.datetime.fromtimestamp(epoch, UTC).astimezone(tz)
        except OverflowError:
            continue  # the offset pushed the local time outside year 1..9999
        sign = "-" if off_min < 0 else "+"
        text = local.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + frac
        text += "Z" if off_min == 0 and rnd.random() < 0.5 else "%s%02d:%02d" % (sign, abs(off_min) // 60, abs(off_min) % 60)
        assert timefmt.parse_datetime(text) == epoch, text
        assert datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() // 1 == epoch


def test_format_matches_datetime():
    rnd = random.Random(61)
    for _ in range(5000):
        epoch = rnd.randrange(-62135596800, 253402300799)
        want = datetime.datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert timefmt.format_datetime(epoch) == want.rjust(20, "0")
