# compat: the runtime shim behaves the same on both runtimes.
import compat


def test_ticks_diff_measures_elapsed_time():
    a = compat.ticks_ms()
    compat.sleep_ms(20)
    b = compat.ticks_ms()
    assert 15 <= compat.ticks_diff(b, a) < 1000


def test_const_returns_its_value():
    assert compat.const(42) == 42


def test_replace_overwrites_target():
    import os
    a, b = "/tmp/_compat_a", "/tmp/_compat_b"
    for p, v in ((a, "new"), (b, "old")):
        f = open(p, "w")
        f.write(v)
        f.close()
    compat.replace(a, b)
    f = open(b)
    assert f.read() == "new"
    f.close()
    assert not compat.file_exists(a)
    os.remove(b)
