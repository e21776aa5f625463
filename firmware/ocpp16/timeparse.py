# OCPP dateTime text -> Unix epoch seconds (UTC): the parsing half of ocpp16.timefmt, imported
# for the call (timefmt.parse_datetime) and unloaded; a date's day is checked with timefmt's
# days_from_civil (no calendar tables here). Pure functions: no clock is read here.
from compat import const
from ocpp16.timefmt import days_from_civil

_MAX_FRACTION_DIGITS = const(9)  # longer fractional seconds are refused (a bound on the input, not on precision)
# Short texts as const(): a literal of 10 characters or less would be an interned name, never freed.
_DATE_END = const("Tt ")  # between date and time (RFC 3339 5.6)
_UTC = const("Zz")


def _digits(s, i, n, end=""):
    """The int of the n ASCII digits at s[i:], followed by one of the chars `end` if given.
    (The text is sliced, never indexed: s[i] would intern each character as a name.)"""
    part = s[i:i + n]
    # isdigit() alone would let CPython take non-ASCII digits ("２"): ASCII is checked too
    if len(part) != n or not part.isdigit() or len(part.encode()) != n:
        raise ValueError("%d digits expected at %d: %r" % (n, i, s))
    i += n
    if end and (i >= len(s) or s[i:i + 1] not in end):
        raise ValueError("%r expected at %d: %r" % (end[:1], i, s))
    return int(part)


def parse_datetime(s):
    """Epoch seconds (int, fraction dropped) of 'YYYY-MM-DDTHH:MM:SS[.f+](Z|+hh:mm|-hh:mm)'.
    'T'/'t'/' ' between date and time and 'Z'/'z' are accepted (RFC 3339 5.6).
    A missing offset is read as UTC: ISO 8601 allows it, OCPP recommends UTC, and some
    servers omit the 'Z'. Raises ValueError otherwise."""
    if type(s) is not str:
        raise ValueError("date-time must be a string")
    y = _digits(s, 0, 4, "-")
    mo = _digits(s, 5, 2, "-")
    d = _digits(s, 8, 2, _DATE_END)
    h = _digits(s, 11, 2, ":")
    mi = _digits(s, 14, 2, ":")
    sec = _digits(s, 17, 2)
    # years 1..9999, those timefmt formats: four digits, and no year 0; the days of a month are
    # those up to the first of the next (the Gregorian leap rules are days_from_civil's)
    if not y or not 1 <= mo <= 12 or not 1 <= d <= days_from_civil(y + mo // 12, mo % 12 + 1, 1) - days_from_civil(y, mo, 1):
        raise ValueError("no such date: %r" % s)
    if h > 23 or mi > 59 or sec > 60:  # 60: a leap second, counted as the next minute's 00
        raise ValueError("no such time: %r" % s)
    i = 19
    n = len(s)
    if s[i:i + 1] == ".":
        j = i + 1
        while j < n and "0" <= s[j:j + 1] <= "9":
            j += 1
        if j == i + 1 or j - i - 1 > _MAX_FRACTION_DIGITS:
            raise ValueError("bad fractional seconds: %r" % s)
        i = j
    offset = 0
    if i < n:
        c = s[i:i + 1]
        if c in _UTC:
            i += 1
        elif c == "+" or c == "-":
            oh = _digits(s, i + 1, 2, ":")
            om = _digits(s, i + 4, 2)
            if oh > 23 or om > 59:
                raise ValueError("bad UTC offset: %r" % s)
            offset = (oh * 60 + om) * 60
            if c == "-":
                offset = -offset
            i += 6
        else:
            raise ValueError("bad character after seconds: %r" % s)
    if i != n:
        raise ValueError("trailing characters: %r" % s)
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
