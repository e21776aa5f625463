# OCPP dateTime text <-> Unix epoch seconds (UTC), with civil-from-days arithmetic
# because MicroPython has no datetime module. Pure functions: no clock is read here,
# and the epoch is always 1970-01-01 whatever the port's own time.time() uses.

MIN_YEAR = 1    # parse_datetime refuses years outside MIN_YEAR..MAX_YEAR
MAX_YEAR = 9999
MAX_FRACTION_DIGITS = 9   # longer fractional seconds are refused (a bound on the input, not on precision)


class TimeFormatError(ValueError):
    """The text is not an RFC 3339 / ISO 8601 date-time this module accepts."""


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the proleptic Gregorian date y-m-d."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400                                   # 0..399
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1  # day of year from March 1st
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy          # 0..146096
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of day number z (days since 1970-01-01)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _digits(s, i, n):
    part = s[i:i + n]
    # isdigit() alone would let CPython take non-ASCII digits ("２"): ASCII is checked too
    if len(part) != n or not part.isdigit() or len(part.encode()) != n:
        raise TimeFormatError("%d digits expected at %d: %r" % (n, i, s))
    return int(part)


def _expect(s, i, chars):
    if i >= len(s) or s[i] not in chars:
        raise TimeFormatError("%r expected at %d: %r" % (chars[0], i, s))


def parse_datetime(s):
    """Epoch seconds (int, fraction dropped) of 'YYYY-MM-DDTHH:MM:SS[.f+](Z|+hh:mm|-hh:mm)'.
    'T'/'t'/' ' between date and time and 'Z'/'z' are accepted (RFC 3339 5.6).
    A missing offset is read as UTC: ISO 8601 allows it, OCPP recommends UTC, and some
    servers omit the 'Z'. Raises TimeFormatError otherwise."""
    if type(s) is not str:
        raise TimeFormatError("date-time must be a string")
    y = _digits(s, 0, 4)
    _expect(s, 4, "-")
    mo = _digits(s, 5, 2)
    _expect(s, 7, "-")
    d = _digits(s, 8, 2)
    _expect(s, 10, "Tt ")
    h = _digits(s, 11, 2)
    _expect(s, 13, ":")
    mi = _digits(s, 14, 2)
    _expect(s, 16, ":")
    sec = _digits(s, 17, 2)
    if not MIN_YEAR <= y <= MAX_YEAR or not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo):
        raise TimeFormatError("no such date: %r" % s)
    if h > 23 or mi > 59 or sec > 60:  # 60: a leap second, counted as the next minute's 00
        raise TimeFormatError("no such time: %r" % s)
    i = 19
    n = len(s)
    if i < n and s[i] == ".":
        j = i + 1
        while j < n and "0" <= s[j] <= "9":
            j += 1
        if j == i + 1 or j - i - 1 > MAX_FRACTION_DIGITS:
            raise TimeFormatError("bad fractional seconds: %r" % s)
        i = j
    offset = 0
    if i < n:
        c = s[i]
        if c == "Z" or c == "z":
            i += 1
        elif c == "+" or c == "-":
            oh = _digits(s, i + 1, 2)
            _expect(s, i + 3, ":")
            om = _digits(s, i + 4, 2)
            if oh > 23 or om > 59:
                raise TimeFormatError("bad UTC offset: %r" % s)
            offset = (oh * 60 + om) * 60
            if c == "-":
                offset = -offset
            i += 6
        else:
            raise TimeFormatError("bad character after seconds: %r" % s)
    if i != n:
        raise TimeFormatError("trailing characters: %r" % s)
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset


def is_datetime(s):
    try:
        parse_datetime(s)
        return True
    except TimeFormatError:
        return False


def format_datetime(epoch):
    """'YYYY-MM-DDTHH:MM:SSZ' of epoch seconds (an int; a float is floored)."""
    epoch = int(epoch // 1)
    days = epoch // 86400
    rem = epoch - days * 86400
    y, m, d = civil_from_days(days)
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise TimeFormatError("epoch %d outside years %d..%d" % (epoch, MIN_YEAR, MAX_YEAR))
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)
