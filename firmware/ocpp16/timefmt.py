# OCPP dateTime text <-> Unix epoch seconds (UTC), with civil-from-days arithmetic
# because MicroPython has no datetime module. Pure functions: no clock is read here,
# and the epoch is always 1970-01-01 whatever the port's own time.time() uses.
# Resident: formatting (every timestamp the charger stamps) and the day arithmetic; parsing
# text lives in ocpp16/timeparse.py, imported for the call and unloaded.

# Years 1..9999 (four digits, no year 0): format_datetime refuses others, timeparse reads no others.


# The text is not an RFC 3339 / ISO 8601 date-time this module accepts (or an epoch has no
# text): a ValueError with a message, under its own name (a class of its own costs ~200 B).


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the proleptic Gregorian date y-m-d."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400                                   # 0..399
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1  # day of year from March 1st
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy          # 0..146096
    return era * 146097 + doe - 719468


def parse_datetime(s):
    """Epoch seconds (int, fraction dropped) of 'YYYY-MM-DDTHH:MM:SS[.f+](Z|+hh:mm|-hh:mm)';
    raises ValueError otherwise (the rules: timeparse.parse_datetime). Out of heap for
    the parser, the text is refused the same way: the caller goes on without it."""
    from ocpp16 import profiles
    try:
        return profiles.load("timeparse").parse_datetime(s)
    except (ImportError, MemoryError) as e:
        raise ValueError(s, e)   # (no text: one costs ~70 B resident)
    finally:
        profiles.unload("timeparse")


def format_datetime(epoch):
    """'YYYY-MM-DDTHH:MM:SSZ' of epoch seconds (an int; a float is floored). The date is
    days_from_civil backwards (its only user: one function less to keep in RAM)."""
    epoch = int(epoch // 1)
    z = epoch // 86400
    rem = epoch - z * 86400
    z += 719468
    era = z // 146097
    doe = z - era * 146097                                                  # 0..146096
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365         # 0..399
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)                         # from March 1st
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (m <= 2)
    if not 1 <= y <= 9999:
        raise ValueError(epoch)   # outside years 1..9999
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, doy - (153 * mp + 2) // 5 + 1, rem // 3600, rem // 60 % 60, rem % 60)
