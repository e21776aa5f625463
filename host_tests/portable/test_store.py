# store.save/load: atomic replace, fallbacks, named errors, and a power cut at every write of a
# save (through powercut.FakeFS). Runs on CPython and micropython.
import powercut
import store

P = "/d/state.json"


def fs_with_dir():
    fs = powercut.FakeFS()
    store.makedirs("/d", fs)
    return fs


def test_round_trip_and_missing_default():
    fs = fs_with_dir()
    assert store.load(P, {"x": 1}, fs) == {"x": 1}
    obj = {"a": [1, 2.5, None, True], "b": {"c": "é"}}
    store.save(P, obj, fs)
    assert store.load(P, None, fs) == obj
    assert sorted(fs.listdir("/d")) == ["state.json"]


def test_leftover_torn_tmp_is_removed_and_old_kept():
    fs = fs_with_dir()
    store.save(P, {"v": 1}, fs)
    fs.files[P + ".tmp"] = bytearray(b'{"v": 2')
    assert store.load(P, None, fs) == {"v": 1}
    assert P + ".tmp" not in fs.files


def test_corrupt_file_falls_back_to_complete_tmp_then_default():
    fs = fs_with_dir()
    fs.files[P] = bytearray(b"\x00garbage")
    fs.files[P + ".tmp"] = bytearray(b'{"v": 3}')
    assert store.load(P, None, fs) == {"v": 3}
    assert fs.files[P] == bytearray(b'{"v": 3}') and P + ".tmp" not in fs.files
    fs.files[P] = bytearray(b"[1, 2")
    assert store.load(P, "dflt", fs) == "dflt"


def test_missing_file_with_complete_tmp_uses_tmp():
    fs = fs_with_dir()
    fs.files[P + ".tmp"] = bytearray(b"[1]")
    assert store.load(P, None, fs) == [1]


def test_named_errors():
    fs = fs_with_dir()
    try:
        store.save(P, {"x": "y" * store.MAX_STATE_BYTES}, fs)
        assert False, "no error"
    except store.StoreError as e:
        assert "limit" in str(e)
    try:
        store.save(P, {"x": {1, 2}}, fs)
        assert False, "no error"
    except store.StoreError as e:
        assert "JSON" in str(e)
    assert P not in fs.files
    fs.files[P] = bytearray(b" " * (store.MAX_STATE_BYTES + 1))
    assert store.load(P, 7, fs) == 7


def test_a_refusal_whose_text_cannot_load_is_a_store_error_all_the_same():
    # the texts are in store_load, loaded for the refusal: out of heap for it, the save is
    # refused as before (the class is what callers test) and nothing is written
    fs = fs_with_dir()
    real = store.__getattr__

    def no_heap(*args):
        raise MemoryError("no heap")
    store.__getattr__ = lambda name: no_heap
    try:
        for bad in ({"x": float("nan")}, {"x": "y" * store.MAX_STATE_BYTES}):
            try:
                store.save(P, bad, fs)
                assert False, "no error"
            except store.StoreError as e:
                assert P in str(e)
    finally:
        store.__getattr__ = real
    assert P not in fs.files and P + ".tmp" not in fs.files


def test_unknown_names_are_attribute_errors():
    import sys
    for bad in (lambda: store.nope, lambda: store._nope, lambda: store.__nope__):
        try:
            bad()
            assert False, "no AttributeError"
        except AttributeError:
            pass
    assert "store_load" not in sys.modules


def test_makedirs_nested_and_existing():
    fs = powercut.FakeFS()
    store.makedirs("/a/b/c", fs)
    store.makedirs("/a/b/c", fs)
    assert fs.dirs == {"/a", "/a/b", "/a/b/c"}


def test_power_cut_at_every_write_of_a_save_gives_old_or_new():
    for partial in (0.0, 0.5, 1.0):
        k = 1
        while True:
            fs = fs_with_dir()
            store.save(P, {"v": "old"}, fs)
            fs.cut_at = fs.ops + k
            try:
                store.save(P, {"v": "new"}, fs)
                done = True
            except powercut.PowerCut:
                done = False
            after = fs.reboot()
            got = store.load(P, None, after)
            assert got in ({"v": "old"}, {"v": "new"}), (k, partial, got)
            if done:
                assert got == {"v": "new"}
                break
            assert store.load(P, None, after) == got    # stable once read
            assert sorted(after.listdir("/d")) == ["state.json"]
            k += 1
        assert k >= 3
