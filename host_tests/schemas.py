# Test helper (CPython only): validates OCPP 1.6 payloads and whole OCPP-J frames
# against the OFFICIAL JSON schemas shipped in the installed `ocpp` package
# (ocpp/v16/schemas/<Action>.json and <Action>Response.json). Validators are cached.
import decimal
import importlib.util
import json
import os

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

__all__ = ["ValidationError", "schema_dir", "actions", "validator", "errors", "is_valid",
           "validate_request", "validate_response", "validate_frame"]

_validators = {}
_dir = None


def schema_dir():
    """Folder holding the official OCPP 1.6 schemas of the installed `ocpp` package."""
    global _dir
    if _dir is None:
        spec = importlib.util.find_spec("ocpp")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the `ocpp` package is not installed (make setup)")
        for base in spec.submodule_search_locations:
            d = os.path.join(base, "v16", "schemas")
            if os.path.isdir(d):
                _dir = d
                break
        else:
            raise RuntimeError("ocpp/v16/schemas not found in %s" % spec.submodule_search_locations)
    return _dir


def actions():
    """Every action with a request schema (39 for OCPP 1.6 + Security Whitepaper)."""
    return sorted(f[:-5] for f in os.listdir(schema_dir())
                  if f.endswith(".json") and not f.endswith("Response.json"))


def schema(action, response=False):
    path = os.path.join(schema_dir(), action + ("Response" if response else "") + ".json")
    with open(path) as f:
        # Decimal, as the ocpp library does: multipleOf 0.1 is exact only on decimals.
        return json.load(f, parse_float=decimal.Decimal)


def validator(action, response=False):
    """Cached Draft4Validator of <action>.json (response=False) or <action>Response.json."""
    key = (action, response)
    v = _validators.get(key)
    if v is None:
        v = _validators[key] = Draft4Validator(schema(action, response))
    return v


def _decimals(payload):
    return json.loads(json.dumps(payload), parse_float=decimal.Decimal)


def errors(action, payload, response=False):
    """List of jsonschema errors of payload against the official schema (empty if valid)."""
    return list(validator(action, response).iter_errors(_decimals(payload)))


def is_valid(action, payload, response=False):
    return not errors(action, payload, response)


def validate_request(action, payload):
    """Raise jsonschema ValidationError unless payload is a valid <action> request."""
    validator(action, False).validate(_decimals(payload))


def validate_response(action, payload):
    """Raise jsonschema ValidationError unless payload is a valid answer to <action>."""
    validator(action, True).validate(_decimals(payload))


def validate_frame(text, action=None):
    """Validate one OCPP-J frame (text or parsed list). A CALL is checked against its
    action's request schema; a CALLRESULT needs `action` (the call it answers); a
    CALLERROR only for shape. Returns the parsed frame; raises ValueError for a bad
    frame shape and ValidationError for a bad payload."""
    m = json.loads(text) if isinstance(text, (str, bytes)) else text
    if not isinstance(m, list) or not m or m[0] not in (2, 3, 4):
        raise ValueError("not an OCPP-J frame: %r" % (m,))
    want = {2: 4, 3: 3, 4: 5}[m[0]]
    if len(m) != want or not isinstance(m[1], str) or not 0 < len(m[1]) <= 36:
        raise ValueError("bad OCPP-J frame: %r" % (m,))
    if m[0] == 2:
        validate_request(m[2], m[3])
    elif m[0] == 3:
        if action is None:
            raise ValueError("a CALLRESULT is checked against the action it answers: pass action=")
        validate_response(action, m[2])
    elif not (isinstance(m[2], str) and isinstance(m[3], str) and isinstance(m[4], dict)):
        raise ValueError("bad CALLERROR: %r" % (m,))
    return m
