# Firmware Management building blocks in memory, on CPython and MicroPython: URL parsing and
# credential hiding (net.fetch), the bundle format checks (bundle.py), appboot's trial boots
# and rollback, the rolling flash log (log.py), the download sink's choice by content.
import hashlib
import json

import scratch

import appboot
import bundle
import log
from net import fetch


def _raises(fn, exc, text):
    try:
        fn()
    except exc as e:
        assert text in str(e), str(e)
        return
    assert False, "no %s" % exc.__name__


def test_urls_with_credentials_ports_and_schemes():
    assert fetch.parse_url("ftp://u%40x:p%3Aw@10.0.0.1:2121/dir/f.bin") == \
        ("ftp", "u@x", "p:w", "10.0.0.1", 2121, "/dir/f.bin")
    assert fetch.parse_url("https://host") == ("https", None, None, "host", 443, "/")
    assert fetch.parse_url("http://h:8080/a?b=1") == ("http", None, None, "h", 8080, "/a?b=1")
    _raises(lambda: fetch.parse_url("sftp://h/x"), fetch.TransferError, "unsupported URL scheme")
    _raises(lambda: fetch.parse_url("http://h:0/x"), fetch.TransferError, "bad port")
    _raises(lambda: fetch.parse_url("http://:8/x"), fetch.TransferError, "no host")
    _raises(lambda: fetch.parse_url("ftp://u:secret@h:x/"), fetch.TransferError, "bad port")
    try:
        fetch.parse_url("ftp://u:secret@h:x/")
    except fetch.TransferError as e:
        assert "secret" not in str(e)
    assert fetch.public("ftp://user:pw@h/x@y") == "ftp://***@h/x@y"
    assert fetch.public("http://h/a@b") == "http://h/a@b"


def _pack(files, version="1.0"):
    manifest = {"version": version, "files": [[n, len(b), "".join("%02x" % x for x in hashlib.sha256(b).digest())]
                                              for n, b in files]}
    m = json.dumps(manifest).encode()
    return bundle.MAGIC + (b"%d\n" % len(m)) + m + b"".join(b for _, b in files)


def test_bundle_head_is_parsed_from_any_prefix_and_bad_ones_are_named():
    data = _pack([("a.py", b"A = 1\n"), ("pkg/b.py", b"B = 2\n")])
    for n in range(0, 40):
        assert bundle.parse_head(data[:n]) is None
    m, off = bundle.parse_head(data)
    assert m["version"] == "1.0" and data[off:off + 6] == b"A = 1\n"
    _raises(lambda: bundle.parse_head(b"PK\x03\x04 not ours"), bundle.BundleError, "not an application bundle")
    _raises(lambda: bundle.parse_head(bundle.MAGIC + b"99999\n{}"), bundle.BundleError, "manifest of 99999 bytes")
    for bad in ([["../x.py", 1, "0" * 64]], [["appboot.py", 1, "0" * 64]], [["/abs.py", 1, "0" * 64]],
                [["a.py", -1, "0" * 64]], []):
        m = json.dumps({"version": "1", "files": bad}).encode()
        _raises(lambda: bundle.parse_head(bundle.MAGIC + b"%d\n" % len(m) + m), bundle.BundleError, "bundle")


def test_bundle_verify_and_install_switch_the_marker_last():
    d = scratch.folder("fw_units_bundle")
    data = _pack([("version.py", b'VERSION = "2"\n'), ("pkg/m.py", b"X = 1\n" * 100)], "2")
    with open(d + "/b", "wb") as f:
        f.write(data)
    assert bundle.verify(d + "/b")["version"] == "2"
    root = d + "/apps"
    assert bundle.install(d + "/b", root) == ("app1", "2")
    m = appboot.read(root)
    assert m == {"run": "app1", "prev": "", "trial": 1, "boots": 0, "version": "2"}
    with open(root + "/app1/pkg/m.py", "rb") as f:
        assert f.read() == b"X = 1\n" * 100
    # a second install keeps the running folder as prev and removes leftovers
    import os
    os.mkdir(root + "/app7")       # a folder a power cut left half written
    appboot.confirm(root)
    assert bundle.install(d + "/b", root) == ("app2", "2")
    assert appboot.read(root)["prev"] == "app1"
    assert sorted(n for n in os.listdir(root) if n.startswith("app")) == ["app1", "app2"]
    _raises(lambda: bundle.install(d + "/b", root, free=1000), bundle.NoSpace, "no space left")
    with open(d + "/b", "wb") as f:
        f.write(data[:-3])
    _raises(lambda: bundle.verify(d + "/b"), bundle.BundleError, "truncated in pkg/m.py")


def test_appboot_trial_boot_then_rollback_and_confirm():
    d = scratch.folder("fw_units_appboot")
    import sys
    path = list(sys.path)
    try:
        assert appboot.select(d) is None                  # no marker: the base tree runs
        appboot.write(d, {"run": "app2", "prev": "app1", "trial": 1, "boots": 0})
        assert appboot.select(d)["run"] == "app2" and sys.path[0] == d + "/app2"
        m = appboot.select(d)                             # a second boot, never confirmed
        assert m == {"run": "app1", "prev": "", "trial": 0, "failed": "app2"}
        appboot.write(d, {"run": "app3", "prev": "app1", "trial": 1, "boots": 0})
        appboot.select(d)
        assert appboot.confirm(d) is True and appboot.confirm(d) is False
        assert appboot.select(d)["run"] == "app3" and appboot.read(d)["trial"] == 0
        with open(d + "/" + appboot.MARKER, "w") as f:
            f.write("{torn")
        assert appboot.read(d) is None
        assert appboot.root_for("/config.json") == "/apps" and appboot.root_for("cfg/c.json") == "cfg/apps"
    finally:
        sys.path[:] = path


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s


def test_flash_log_is_timestamped_rotated_and_bounded():
    d = scratch.folder("fw_units_log")
    out, log.out = log.out, _Out()
    t = [0]
    try:
        log.to_file(d + "/log", lambda: "2026-01-01T00:00:%02dZ" % (t[0] % 60))
        for i in range(2000):
            t[0] = i
            log.info("line %d %s", i, "y" * 50)
        log.warning("the last one")
        paths = log.files()
        assert len(paths) == 4  # logfile._LOG_FILES
        import os
        total = sum(os.stat(p)[6] for p in paths)
        assert total <= 4 * 16384  # logfile._LOG_FILES * log._LOG_FILE_BYTES
        with open(paths[-1]) as f:
            last = f.read().splitlines()[-1]
        assert last == "2026-01-01T00:00:%02dZ [warning] the last one" % (1999 % 60)
        with open(paths[0]) as f:
            first = f.readline()
        assert first.startswith("2026-01-01T00:00:") and "[info] line " in first
        assert int(first.split("line ")[1].split()[0]) > 0    # the oldest lines were rotated out
    finally:
        log.file_off()
        log.out = out


def test_download_sink_tells_image_from_bundle_by_content():
    from ocpp16.fw_update import Sink
    d = scratch.folder("fw_units_sink")
    s = Sink(d + "/part", 0, None)
    s.begin(None, 0)
    _raises(lambda: [s.write(b"OC"), s.write(b"PPBNDX1\nmore")], bundle.BundleError, "neither an ESP32")
    s = Sink(d + "/part", 0, 10000)
    s.begin(100000, 0)
    _raises(lambda: s.write(bundle.MAGIC), bundle.NoSpace, "no space left")
    s = Sink(d + "/part", 0, None)
    s.begin(None, 0)
    _raises(lambda: s.write(b"\xe9\x01"), fetch.TransferError, "needs its size")
    s = Sink(d + "/part", 0, None)
    s.begin(None, 0)
    for c in (bundle.MAGIC[:3], bundle.MAGIC[3:], b"rest"):
        s.write(c)
    s.close()
    with open(d + "/part", "rb") as f:
        assert f.read() == bundle.MAGIC + b"rest"
    assert s.kind == "bundle"


def test_a_crashing_trial_version_resets_the_board_instead_of_restarting_in_place():
    import sys
    import bringup
    import main
    calls = []

    class HW:
        connectors = ()  # after_crash holds them safe first

        def reset(self, kind):
            calls.append(kind)
    saved = dict(main.APPS)
    saved_selected = appboot.selected
    try:
        appboot.selected = {"run": "app2", "prev": "app1", "trial": 1, "boots": 1}
        appboot.root = "/apps"
        bringup.begin(main.APPS)            # takes the choice and drops the module
        assert "appboot" not in sys.modules and main.APPS == {"root": "/apps", "trial": True}
        assert bringup.after_crash(HW(), True, main.APPS) is True and calls == ["Hard"]
        assert bringup.after_crash(HW(), False, main.APPS) is True and calls == ["Hard"]   # a host: the run ends
        main.APPS["trial"] = False
        assert bringup.after_crash(HW(), True, main.APPS) is False
    finally:
        main.APPS.update(saved)
        appboot.selected = saved_selected
        sys.modules["appboot"] = appboot


def test_signed_download_sink_hashes_the_whole_file_also_when_resumed():
    # A SignedUpdateFirmware's digest covers every byte of the file: on a resumed download the
    # staged part is hashed first; when the server sends it all again the digest starts over.
    from ocpp16.fw_update import Sink
    from ocpp16 import profiles
    d = scratch.folder("fw_units_signed")
    body = bundle.MAGIC + bytes(range(256)) * 11      # 2.8 KB: several re-hash chunks
    whole = hashlib.sha256(body).digest()
    s = Sink(d + "/part", 0, None, signed=True)
    s.begin(len(body), 0)
    for i in range(0, 1000, 7):
        s.write(memoryview(body)[i:min(i + 7, 1000)])  # cut off after 1000 bytes
    s.close()
    r = Sink(d + "/part", 1000, None, signed=True)
    r.begin(len(body), 1000)                         # the server resumes (206 from byte 1000)
    r.write(body[1000:])
    r.close()
    assert r.digest.digest() == whole and r.digest.size == len(body)
    with open(d + "/part", "rb") as f:
        assert f.read() == body
    again = Sink(d + "/part", 1000, None, signed=True)
    again.begin(len(body), 0)                        # no Range support: the whole file again
    again.write(body)
    again.close()
    assert again.digest.digest() == whole
    short = Sink(d + "/part", 5000, None, signed=True)
    _raises(lambda: short.begin(len(body) + 3000, 5000), fetch.TransferError, "shorter than the resume offset")
    assert Sink(d + "/part", 0, None).digest is None   # unsigned: nothing hashed
    profiles.unload(("ocpp16.fwsign",))
