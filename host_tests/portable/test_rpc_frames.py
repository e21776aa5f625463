# OCPP-J framing on both runtimes: the malformed-frame table (every bad frame with
# the exact code, id and whether a CALLERROR goes back), valid frames, and
# encode -> parse round trips. Plain asserts only: runs under pytest and micropython.
from limits import limit
from ocpp16 import rpc as E  # the CALLERROR codes by name

CALL, CALLRESULT = 2, 3  # OCPP-J message type numbers (rpc's are private: _CALL, _CALLRESULT)
MAX_FRAME_CHARS = limit("ocpp16.rpc", "_MAX_FRAME_CHARS")
ERROR_CODES = limit("ocpp16.rpc", "_ERROR_CODES").split()


def reply_for(e):
    """ocpp16.failures.reply_for, the module loaded for the call (as the core loads it)."""
    from ocpp16 import profiles
    try:
        return profiles.load("failures").reply_for(e)
    finally:
        profiles.unload("failures")
from ocpp16 import rpc
from out_of_heap import refusing

# rpc's own bounds are const()s (no name on the device): their values, as OCPP-J and rpc.py give them
MAX_ID_LEN = 36                 # a message id: 1..36 chars
MAX_DESCRIPTION_LEN = 255       # errorDescription is cut to this
ID_COUNTER_WRAP = 1000000000    # MessageIds counts 1..999999999
UNKNOWN_ID = "-1"               # the id answering a CALL whose id could not be read
CALLERROR = 4

FV = E.FormationViolation
PE = E.ProtocolError
PCV = E.PropertyConstraintViolation
IE = E.InternalError
BIG = "x" * (MAX_FRAME_CHARS + 1)
LONG_ID = "i" * (MAX_ID_LEN + 1)
DEEP = "[" * 3000 + "]" * 3000  # deeper than CPython json's recursion limit (1000)

# (frame, code, msg_id the error carries, answer = a CALLERROR must be sent back)
MALFORMED = (
    # not JSON: the id is read from a well-formed header when there is one
    ("", FV, None, True),
    ("hello", FV, None, True),
    ("[2,", FV, None, True),
    ('[2,"abc","Reset",{"type":"Hard"}', FV, "abc", True),
    ('[2,"a\\"b","Reset",{}', FV, None, True),
    ('[2,"tab\tid","Reset",{"type":"Hard"}', FV, "tab\tid", True),
    ('[3,"r1",{"status":', FV, "r1", False),
    ('[4,"e1","GenericError"', FV, "e1", False),
    ('[9,"x"', FV, "x", False),
    (DEEP, FV, None, True),  # refused by MAX_CONTAINERS before json runs
    (b"\xff\xfe\x00", FV, None, True),
    # too large: refused before json sees it
    ('[2,"big","DataTransfer",{"vendorId":"v","data":"' + BIG + '"}]', FV, "big", True),
    ('[3,"r9",{"data":"' + BIG + '"}]', FV, "r9", False),
    (BIG, FV, None, True),
    (BIG.encode(), FV, None, True),
    ('[2,"many","DataTransfer",{"vendorId":"v","x":[' + ",".join(["{}"] * rpc.MAX_CONTAINERS) + "]}]",
     FV, "many", True),
    ('[3,"r2",{"d":"' + "{" * (rpc.MAX_CONTAINERS - 1) + '"}]', FV, "r2", False),
    # JSON, but not an array
    ('{"a":1}', FV, None, True),
    ('"text"', FV, None, True),
    ("42", FV, None, True),
    ("null", FV, None, True),
    # message type
    ("[]", PE, None, True),
    ('["2","id","Reset",{}]', FV, "id", True),
    ('[2.0,"id","Reset",{}]', FV, "id", True),
    ('[true,"id","Reset",{}]', FV, "id", True),
    ('[null,"id"]', FV, "id", True),
    ('[5,"id5",{}]', PCV, "id5", False),
    ('[0,"a"]', PCV, "a", False),
    ('[1,"a","X",{}]', PCV, "a", False),
    ('[-1,"a","X",{}]', PCV, "a", False),
    # CALL: id
    ("[2]", PE, None, True),
    ('[2,5,"Reset",{}]', FV, None, True),
    ('[2,null,"Reset",{}]', FV, None, True),
    ('[2,["id"],"Reset",{}]', FV, None, True),
    ('[2,"' + LONG_ID + '","Reset",{}]', FV, None, True),
    ('[2,"","Reset",{}]', FV, None, True),
    # CALL: element count, action, payload
    ('[2,"id"]', PE, "id", True),
    ('[2,"id","Reset"]', PE, "id", True),
    ('[2,"id","Reset",{},{}]', FV, "id", True),
    ('[2,"id",7,{}]', FV, "id", True),
    ('[2,"id",null,{}]', FV, "id", True),
    ('[2,"id","Reset",[]]', FV, "id", True),
    ('[2,"id","Reset",null]', FV, "id", True),
    ('[2,"id","Reset","type=Hard"]', FV, "id", True),
    # CALLRESULT
    ('[3,"r1"]', PE, "r1", False),
    ("[3]", PE, None, False),
    ('[3,"r1",{},{}]', FV, "r1", False),
    ('[3,"r1",[]]', FV, "r1", False),
    ('[3,"r1",null]', FV, "r1", False),
    ('[3,7,{}]', FV, None, False),
    ('[3,"' + LONG_ID + '",{}]', FV, None, False),
    # CALLERROR
    ('[4,"e1","GenericError","x"]', PE, "e1", False),
    ('[4,"e1",5,"x",{}]', FV, "e1", False),
    ('[4,"e1","GenericError",null,{}]', FV, "e1", False),
    ('[4,"e1","GenericError","x",[]]', FV, "e1", False),
    ('[4,"e1","GenericError","x",null]', FV, "e1", False),
    ('[4,"e1","GenericError","x",{},1]', FV, "e1", False),
    ('[4,null,"GenericError","x",{}]', FV, None, False),
)


def _short(frame):
    return frame[:60] if len(frame) <= 60 else frame[:50] + "...(%d)" % len(frame)


def test_malformed_table_is_large():
    assert len(MALFORMED) >= 30


def test_malformed_frames_get_exact_code_and_id():
    wrong = []
    for frame, code, msg_id, answer in MALFORMED:
        try:
            got = rpc.parse(frame)
        except rpc.RpcError as e:
            if (e.code, e.msg_id, e.answer) != (code, msg_id, answer):
                wrong.append((_short(frame), (e.code, e.msg_id, e.answer), (code, msg_id, answer)))
            assert e.code in ERROR_CODES
            assert type(e.description) is str and e.description
            continue
        wrong.append((_short(frame), "parsed as", got))
    assert not wrong, wrong


def test_reply_for_malformed_frames():
    for frame, code, msg_id, answer in MALFORMED:
        try:
            rpc.parse(frame)
        except rpc.RpcError as e:
            reply = reply_for(e)
            if not answer:
                assert reply is None, frame
                continue
            # the answer is itself a well-formed CALLERROR carrying the id or "-1"
            f = rpc.parse(reply)
            assert f[0] == CALLERROR and f[2] == code and f[4] == {}
            assert f[1] == (msg_id if msg_id is not None else UNKNOWN_ID)


def test_valid_frames():
    assert rpc.parse('[2,"19223201","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]') == \
        (CALL, "19223201", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert rpc.parse(' \n[2 , "ws" , "Reset" , {"type" : "Hard"} ]\r\n') == (2, "ws", "Reset", {"type": "Hard"})
    assert rpc.parse(b'[3,"b1",{"status":"Accepted"}]') == (3, "b1", {"status": "Accepted"})
    assert rpc.parse(bytearray(b'[3,"b1",{}]')) == (3, "b1", {})
    assert rpc.parse('[4,"e","FormatViolation","2.0 spelling is passed through",{"a":[1]}]') == \
        (4, "e", "FormatViolation", "2.0 spelling is passed through", {"a": [1]})
    assert rpc.parse('[2,"' + "i" * MAX_ID_LEN + '","X",{}]')[1] == "i" * MAX_ID_LEN
    assert rpc.parse('[2,"\\u00fc","Reset",{}]')[1] == "\u00fc"
    # an unknown action still parses: refusing it is validate_call's job (NotImplemented)
    assert rpc.parse('[2,"1","NoSuchAction",{}]') == (2, "1", "NoSuchAction", {})


def test_frame_at_the_size_limit_is_parsed():
    head = '[2,"1","DataTransfer",{"vendorId":"v","data":"'
    tail = '"}]'
    frame = head + "d" * (MAX_FRAME_CHARS - len(head) - len(tail)) + tail
    assert len(frame) == MAX_FRAME_CHARS
    f = rpc.parse(frame)
    assert f[0] == CALL and len(f[3]["data"]) == MAX_FRAME_CHARS - len(head) - len(tail)


def test_frame_at_the_container_limit_is_parsed():
    frame = '[2,"1","DataTransfer",{"vendorId":"v","x":[' + ",".join(["[]"] * (rpc.MAX_CONTAINERS - 3)) + "]}]"
    assert frame.count("[") + frame.count("{") == rpc.MAX_CONTAINERS
    assert len(rpc.parse(frame)[3]["x"]) == rpc.MAX_CONTAINERS - 3


def test_nesting_deeper_than_cpython_recursion_limit():
    # with the container bound lifted, CPython's json raises RecursionError and
    # MicroPython's parses a list of lists: both end as FormationViolation, id unknown
    saved = rpc.MAX_CONTAINERS
    rpc.MAX_CONTAINERS = 10 ** 6
    try:
        rpc.parse(DEEP)
        assert False
    except rpc.RpcError as e:
        assert (e.code, e.msg_id, e.answer) == (FV, None, True)
    finally:
        rpc.MAX_CONTAINERS = saved


def test_round_trip_call():
    payloads = [{}, {"type": "Hard"}, {"key": ["a", "b"], "n": 0, "neg": -5, "f": 21.5, "t": True, "z": None},
                {"nested": {"list": [{"x": 1}, {"y": [2, [3]]}]}}, {"s": 'q"uo\\te\n\t\u00e9\u20ac\U0001F600'}]
    ids = rpc.MessageIds()
    for p in payloads:
        msg_id = ids.next()
        text = rpc.encode_call(msg_id, "DataTransfer", p)
        assert rpc.parse(text) == (CALL, msg_id, "DataTransfer", p)


def test_round_trip_result_and_error():
    for p in ({}, {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}):
        assert rpc.parse(rpc.encode_result("r" * 36, p)) == (CALLRESULT, "r" * 36, p)
    for code in ERROR_CODES:
        assert rpc.parse(rpc.encode_error("e1", code, "why")) == (CALLERROR, "e1", code, "why", {})
    assert rpc.parse(rpc.encode_error("e2", "GenericError", "", {"k": [1, "v"]})) == \
        (CALLERROR, "e2", "GenericError", "", {"k": [1, "v"]})


def test_encoding_is_compact_and_sorted():
    text = rpc.encode_call("1", "BootNotification", {"chargePointVendor": "V\u00e9", "chargePointModel": "M",
                                                     "zz": [1, None, True], "aa": {"b": 2, "a": 1}})
    assert text == ('[2,"1","BootNotification",{"aa":{"a":1,"b":2},"chargePointModel":"M",'
                    '"chargePointVendor":"V\u00e9","zz":[1,null,true]}]')
    assert rpc.encode_result("7", {"s": "\U0001F600\n"}) == '[3,"7",{"s":"\U0001F600\\n"}]'
    assert rpc.encode_error("7", E.NotSupported) == '[4,"7","NotSupported","",{}]'
    assert " " not in rpc.encode_call("1", "X", {"a": [1, 2], "b": {"c": "d"}})


def test_encode_refuses_what_json_cannot_say():
    for bad in ({1: 2}, {"a": object()}, {"a": {1, 2}}):
        try:
            rpc.encode_result("1", bad)
            assert False, bad
        except TypeError:
            pass
    for bad_id in ("", "x" * (MAX_ID_LEN + 1), 5, None):
        try:
            rpc.encode_call(bad_id, "Heartbeat", {})
            assert False, bad_id
        except ValueError:
            pass
    for call in (lambda: rpc.encode_call("1", "", {}), lambda: rpc.encode_call("1", None, {}),
                 lambda: rpc.encode_error("1", "FormatViolation"), lambda: rpc.encode_error("1", None)):
        try:
            call()
            assert False
        except ValueError:
            pass
    for call in (lambda: rpc.encode_call("1", "Heartbeat", []), lambda: rpc.encode_result("1", None),
                 lambda: rpc.encode_result("1", "x")):
        try:
            call()
            assert False
        except TypeError:
            pass


def test_error_description_is_bounded():
    text = rpc.encode_error("1", "GenericError", "d" * 1000)
    assert len(rpc.parse(text)[3]) == MAX_DESCRIPTION_LEN


def test_message_ids_are_deterministic_and_bounded():
    a = rpc.MessageIds()
    b = rpc.MessageIds()
    seq = [a.next() for _ in range(5)]
    assert seq == ["1", "2", "3", "4", "5"] and seq == [b.next() for _ in range(5)]
    p = rpc.MessageIds(id_prefix="boot7-", seed=41)
    assert (p.next(), p.next()) == ("boot7-41", "boot7-42")
    w = rpc.MessageIds(seed=ID_COUNTER_WRAP - 1)
    assert w.next() == str(ID_COUNTER_WRAP - 1) and w.next() == "1"
    longest = rpc.MessageIds(id_prefix="p" * (MAX_ID_LEN - 9), seed=ID_COUNTER_WRAP - 1).next()
    assert len(longest) == MAX_ID_LEN
    for kw in ({"id_prefix": "p" * (MAX_ID_LEN - 8)}, {"seed": 0}, {"seed": ID_COUNTER_WRAP}, {"id_prefix": 5}):
        try:
            rpc.MessageIds(**kw)
            assert False, kw
        except ValueError:
            pass


def test_ids_unique_over_many():
    ids = rpc.MessageIds(id_prefix="c")
    seen = set()
    for _ in range(2000):
        seen.add(ids.next())
    assert len(seen) == 2000


def test_rpc_error_carries_fields():
    e = rpc.RpcError(E.NotSupported, "nope", "m1")
    assert (e.code, e.description, e.msg_id, e.answer) == (E.NotSupported, "nope", "m1", True)
    assert str(e) == "NotSupported: nope"
    assert reply_for(e) == '[4,"m1","NotSupported","nope",{}]'
    assert reply_for(rpc.RpcError("GenericError", "g")) == '[4,"-1","GenericError","g",{}]'
    assert reply_for(rpc.RpcError("GenericError", "g", "m2", False)) is None


def test_validate_entry_points():
    rpc.validate_call("Reset", {"type": "Hard"})
    rpc.validate_result("Heartbeat", {"currentTime": "2024-01-01T00:00:00Z"})
    for action, payload, code in (("Nope", {}, E.NotImplemented), ("Reset", {"type": "Warm"}, PCV),
                                  ("Reset", {}, E.OccurenceConstraintViolation),
                                  ("Reset", {"type": 1}, E.TypeConstraintViolation),
                                  ("Reset", {"type": "Hard", "x": 1}, FV), ("Reset", [], FV)):
        try:
            rpc.validate_call(action, payload)
            assert False, (action, payload)
        except rpc.RpcError as e:
            assert e.code == code, (action, payload, e.code)
    try:
        rpc.validate_call("ReserveNow", {}, ("Core", "SmartCharging"))
        assert False
    except rpc.RpcError as e:
        assert e.code == E.NotSupported


def test_refusal_reason_loads_only_for_a_bad_frame():
    import sys
    from ocpp16 import profiles
    loads = []
    load = profiles.load

    def spy(name):
        loads.append(name)
        return load(name)
    profiles.load = spy
    try:
        rpc.parse('[2,"1","Reset",{"type":"Hard"}]')
        rpc.parse('[3,"1",{}]')
        assert loads == []  # a good frame never needs ocpp16.badframe
        try:
            rpc.parse('[2,"1","Reset"]')
            assert False
        except rpc.RpcError as e:
            assert (e.code, e.msg_id, e.answer) == (PE, "1", True)
        assert loads == ["ocpp16.badframe"] and "ocpp16.badframe" not in sys.modules
    finally:
        profiles.load = load


def test_refusal_without_heap_for_its_reason():
    # ocpp16.badframe cannot be loaded (out of heap, not on the board): the frame is refused all
    # the same, as InternalError, and not answered (whether it was a CALL is not known)
    from ocpp16 import profiles
    load = profiles.load
    profiles.load = refusing(load, {"ocpp16.badframe"})
    try:
        try:
            rpc.parse('[2,"1","Reset"]')
            assert False
        except rpc.RpcError as e:
            assert (e.code, e.msg_id, e.answer) == (IE, None, False) and reply_for(e) is None
        e = rpc.refused("too_large", b'[2,"big"', 100000)
        assert (e.code, e.msg_id, e.answer) == (IE, None, False)
        assert rpc.parse('[2,"1","Reset",{"type":"Hard"}]')[2] == "Reset"  # good frames: unaffected
    finally:
        profiles.load = load
