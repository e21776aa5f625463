# OCPP dateTime text <-> epoch seconds on both runtimes: anchors, round trips over
# many dates (leap years, century rules, negative epochs), offsets, fractions, and
# the texts that must be refused. Plain asserts: runs under pytest and micropython.
from ocpp16 import timefmt
from ocpp16.timefmt import format_datetime, parse_datetime
from out_of_heap import refusing


def _is_datetime(s):
    """Whether ocpp16.schema takes s as a dateTime (it asks timefmt.parse_datetime)."""
    from ocpp16 import rpc
    try:
        rpc.validate_result("Heartbeat", {"currentTime": s})
        return True
    except rpc.RpcError:
        return False


def test_anchors():
    # facts about the Gregorian calendar, independent of this code
    assert parse_datetime("1970-01-01T00:00:00Z") == 0
    assert parse_datetime("1970-01-02T00:00:00Z") == 86400
    assert parse_datetime("1969-12-31T23:59:59Z") == -1
    assert parse_datetime("2000-01-01T00:00:00Z") == 946684800
    assert parse_datetime("2038-01-19T03:14:07Z") == 2 ** 31 - 1
    assert format_datetime(2 ** 31) == "2038-01-19T03:14:08Z"
    assert format_datetime(0) == "1970-01-01T00:00:00Z"


def _is_leap(y):
    """The Gregorian rule, independent of this code."""
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_in_month(y, m):
    return (29 if _is_leap(y) else 28) if m == 2 else 30 if m in (4, 6, 9, 11) else 31


def _civil(z):
    """(year, month, day) of day number z, as format_datetime writes it (its date arithmetic)."""
    t = format_datetime(z * 86400)
    return int(t[:4]), int(t[5:7]), int(t[8:10])


def test_days_round_trip_and_calendar_rules():
    prev = None
    for z in range(-719162, 2932897, 997):  # years 1 .. 9999 (what format_datetime writes), every 997 days
        y, m, d = _civil(z)
        assert timefmt.days_from_civil(y, m, d) == z
        assert 1 <= m <= 12 and 1 <= d <= _days_in_month(y, m)
        if d == 1 and y > 1:  # the parser knows the last day of the month before
            last = "%04d-%02d-%02dT00:00:00Z" % (y - (m == 1), (m - 2) % 12 + 1, _days_in_month(y - (m == 1), (m - 2) % 12 + 1))
            assert parse_datetime(last) == (z - 1) * 86400, last
            assert not _is_datetime(last[:8] + "%02d" % (int(last[8:10]) + 1) + last[10:]), last
        if prev is not None:
            assert (y, m, d) > prev
        prev = (y, m, d)
    # consecutive days across leap days and century years
    for y in (1900, 2000, 2004, 2023, 2024, 2100, 2400):
        z = timefmt.days_from_civil(y, 2, 28)
        feb29 = _civil(z + 1)
        assert (feb29 == (y, 2, 29)) == _is_leap(y), y
        assert _civil(z + 1 + _is_leap(y)) == (y, 3, 1)
        year_len = timefmt.days_from_civil(y + 1, 1, 1) - timefmt.days_from_civil(y, 1, 1)
        assert year_len == (366 if _is_leap(y) else 365)
        assert _is_datetime("%04d-02-29T12:00:00Z" % y) == _is_leap(y), y
    assert [y for y in (1900, 2000, 2004, 2023, 2024, 2100) if _is_leap(y)] == [2000, 2004, 2024]


def test_text_round_trip_many_dates():
    for epoch in range(-2208988800, 4102444800, 7777777 + 13):  # 1900 .. 2100, odd steps hit all fields
        text = format_datetime(epoch)
        assert len(text) == 20 and text[10] == "T" and text[-1] == "Z"
        assert parse_datetime(text) == epoch, text
    for y in (1972, 1996, 2000, 2024, 2028):
        t = "%04d-02-29T23:59:59Z" % y
        assert format_datetime(parse_datetime(t)) == t
        assert format_datetime(parse_datetime(t) + 1) == "%04d-03-01T00:00:00Z" % y


def test_offsets_and_fractions():
    base = parse_datetime("2024-02-29T12:00:00Z")
    assert parse_datetime("2024-02-29T13:30:00+01:30") == base
    assert parse_datetime("2024-02-29T06:15:00-05:45") == base
    assert parse_datetime("2024-03-01T11:59:00+23:59") == base
    assert parse_datetime("2024-02-29T12:00:00+00:00") == base
    assert parse_datetime("2024-02-29T12:00:00-00:00") == base
    assert parse_datetime("2024-02-29T12:00:00.999999999Z") == base
    assert parse_datetime("2024-02-29T12:00:00.5+01:00") == base - 3600
    assert parse_datetime("2024-02-29t12:00:00z") == base
    assert parse_datetime("2024-02-29 12:00:00Z") == base
    assert parse_datetime("2024-02-29T12:00:00") == base  # no offset: read as UTC (documented)
    assert parse_datetime("2024-02-29T12:00:60Z") == base + 60  # leap second
    # crossing a year boundary through the offset
    assert format_datetime(parse_datetime("2025-01-01T00:30:00+01:00")) == "2024-12-31T23:30:00Z"
    assert format_datetime(parse_datetime("2024-12-31T23:30:00-01:00")) == "2025-01-01T00:30:00Z"
    for h in range(-12, 15):
        sign = "-" if h < 0 else "+"
        t = "2023-06-15T10:20:30%s%02d:00" % (sign, abs(h))
        assert parse_datetime(t) == parse_datetime("2023-06-15T10:20:30Z") - h * 3600


def test_format_floors_floats():
    assert format_datetime(1.9) == "1970-01-01T00:00:01Z"
    assert format_datetime(-0.5) == "1969-12-31T23:59:59Z"


def test_refused_texts():
    bad = ("", "2024", "2024-02-29", "2024-02-29T12:00Z", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
           "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z",
           "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:61Z", "2024/01/01T00:00:00Z",
           "2024-01-01X00:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567890Z",
           "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+01", "2024-01-01T00:00:00+24:00",
           "2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00ZZ", "2024-01-01T00:00:00Z ",
           " 2024-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2024-1-01T00:00:00Z", "２０２４-01-01T00:00:00Z",
           "+2024-01-01T00:00:00Z", "2024-01-01T00:00:00UTC", None, 1700000000, b"2024-01-01T00:00:00Z")
    for s in bad:
        try:
            parse_datetime(s)
            assert False, s
        except ValueError:
            pass
        assert not _is_datetime(s)


def test_format_refuses_years_out_of_range():
    for epoch in (timefmt.days_from_civil(10000, 1, 1) * 86400, timefmt.days_from_civil(0, 12, 31) * 86400):
        try:
            format_datetime(epoch)
            assert False, epoch
        except ValueError:
            pass
    assert format_datetime(timefmt.days_from_civil(9999, 12, 31) * 86400 + 86399) == "9999-12-31T23:59:59Z"
    assert format_datetime(timefmt.days_from_civil(1, 1, 1) * 86400) == "0001-01-01T00:00:00Z"


def test_parsing_is_on_demand_and_out_of_heap_refuses_politely():
    # timeparse is imported for the call and unloaded; when it cannot be loaded the text is
    # refused as not understood (a ValueError callers already handle), never a crash.
    import sys
    from ocpp16 import profiles
    assert parse_datetime("2026-12-01T22:00:00Z") == 1796162400
    assert "ocpp16.timeparse" not in sys.modules
    real = profiles.load
    profiles.load = refusing(real, {"timeparse"})
    try:
        try:
            parse_datetime("2026-12-01T22:00:00Z")
            assert False, "parsed without its module"
        except ValueError as e:
            assert e.args[0] == "2026-12-01T22:00:00Z" and "MemoryError" in str(e)   # the text and why
        assert not _is_datetime("2026-12-01T22:00:00Z")
        assert format_datetime(1796162400) == "2026-12-01T22:00:00Z"   # formatting is resident
    finally:
        profiles.load = real
    assert _is_datetime("2026-12-01T22:00:00Z")
