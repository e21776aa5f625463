# tools/deploy.py over mpremote: the command lines it builds, the device-side code it
# runs (executed here against an in-memory filesystem), and a whole deploy through a
# fake mpremote that behaves like a device, including change detection and refusals.
import builtins
import io
import json
import types

import pytest

import boardinfo
import deploy

PORT = "/dev/ttyUSB0"


def test_command_lines_per_operation():
    assert deploy.probe_cmd(PORT, "mpremote")[:4] == ["mpremote", "connect", PORT, "exec"]
    assert deploy.reset_cmd(PORT, "mpremote") == ["mpremote", "connect", PORT, "reset"]
    items = [("/b/m%d.mpy" % i, "/m%d.mpy" % i) for i in range(10)]
    cmds = deploy.copy_cmds(PORT, items, "mpremote", batch=8)
    assert len(cmds) == 2
    assert cmds[0][:3] == ["mpremote", "connect", PORT]
    assert cmds[0][3:13] == ["fs", "cp", "-f", "/b/m0.mpy", ":/m0.mpy", "+", "fs", "cp", "-f", "/b/m1.mpy"]
    assert cmds[0].count("+") == 7 and cmds[1].count("+") == 1
    assert cmds[1][-5:] == ["fs", "cp", "-f", "/b/m9.mpy", ":/m9.mpy"]


def test_no_port_is_a_clear_error():
    with pytest.raises(deploy.DeployError) as e:
        deploy.target_for("")
    assert "PORT=" in str(e.value) and "--port" in str(e.value) and "dir:" in str(e.value)


class FakeDevice:
    """A MicroPython board's filesystem as mpremote would see it."""

    def __init__(self, platform="esp32", mpy=6):
        self.files = {}
        self.dirs = {"/"}
        self.platform = platform
        self.mpy = mpy
        self.commands = []
        self.resets = 0

    # the device-side `os` the exec'd code imports
    def mkdir(self, d):
        if d in self.dirs or d in self.files:
            raise OSError(17, "EEXIST")
        self.dirs.add(d)

    def remove(self, p):
        if p not in self.files:
            raise OSError(2, "ENOENT")
        del self.files[p]

    def open(self, path, mode="r"):
        if path not in self.files:
            raise OSError(2, "ENOENT")
        return io.StringIO(self.files[path].decode())

    def exec(self, code):
        out = []
        fake_os = types.SimpleNamespace(mkdir=self.mkdir, remove=self.remove)
        fake_sys = types.SimpleNamespace(platform=self.platform, implementation=types.SimpleNamespace(_mpy=self.mpy | (3 << 8)))

        def imp(name, *a, **k):
            return {"os": fake_os, "sys": fake_sys}[name]

        b = dict(vars(builtins), __import__=imp, open=self.open, print=lambda *a: out.append(" ".join(str(x) for x in a)))
        exec(code, {"__builtins__": b})
        return out

    def run(self, cmd, on_line=None):
        """Interpret an mpremote command line the way mpremote would."""
        self.commands.append(cmd)
        assert cmd[1:3] == ["connect", PORT]
        out = []
        rest = cmd[3:]
        while rest:
            if rest[0] == "+":
                rest = rest[1:]
                continue
            if rest[0] == "exec":
                out += self.exec(rest[1])
                rest = rest[2:]
            elif rest[0] == "reset":
                self.resets += 1
                rest = rest[1:]
            elif rest[:3] == ["fs", "cp", "-f"]:
                local, dev = rest[3], rest[4]
                assert dev.startswith(":")
                parent = dev[1:].rsplit("/", 1)[0] or "/"
                if parent not in self.dirs:
                    raise deploy.DeployError("cp: no such directory %s" % parent)
                line = "cp %s %s" % (local, dev)
                out.append(line)
                if on_line:
                    on_line(line)
                with open(local, "rb") as f:
                    self.files[dev[1:]] = f.read()
                rest = rest[5:]
            else:
                raise AssertionError("unexpected mpremote arguments %r" % rest)
        return out


def _config(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"csms_url": "ws://10.0.0.2:9000/ocpp", "charge_point_id": "CP7", "board": "sim"}))
    return str(p)


def _deploy(tmp_path, dev, **kw):
    lines = []
    target = deploy.MpremoteTarget(PORT, exe="mpremote", run=dev.run)
    done = deploy.deploy(PORT, "sim", _config(tmp_path), build_dir=str(tmp_path / "b"), target=target,
                         out=lines.append, quiet_build=True, **kw)
    return done, lines


def test_probe_code_reads_platform_version_and_manifest():
    dev = FakeDevice()
    assert dev.exec(deploy.PROBE_CODE) == ["PROBE esp32 6", "{}"]
    dev.files["/.deploy.json"] = b'{"files": {"/a.mpy": "00"}}'
    target = deploy.MpremoteTarget(PORT, exe="mpremote", run=dev.run)
    assert target.probe() == (("esp32", 6), {"files": {"/a.mpy": "00"}})


def test_prepare_code_creates_parents_first_and_tolerates_what_exists():
    dev = FakeDevice()
    dev.dirs.add("/hal")
    dev.files["/log.py"] = b"stale"
    dirs = deploy.parent_dirs(["/hal/sim/__init__.mpy", "/boards/sim.json", "/log.mpy"])
    assert dirs == ["/hal", "/hal/sim", "/boards"]
    dev.exec(deploy.prepare_code(dirs, ["/log.py", "/never-there.py"]))
    assert {"/hal", "/hal/sim", "/boards"} <= dev.dirs and "/log.py" not in dev.files


def test_whole_deploy_through_mpremote_then_nothing_then_reset(tmp_path):
    dev = FakeDevice()
    done, lines = _deploy(tmp_path, dev)
    assert "/main.py" in done and "/boards/sim.json" in done and done[-1] == "/config.json"
    assert set(done) == set(dev.files) - {"/.deploy.json"}
    assert sum(1 for l in lines if l.startswith("  [")) == len(done)
    manifest = json.loads(dev.files["/.deploy.json"])
    assert set(manifest["files"]) == set(done)
    assert dev.resets == 1
    # Second run: one probe, no copies, a reset.
    dev.commands = []
    done, lines = _deploy(tmp_path, dev)
    assert done == []
    assert [c[3] for c in dev.commands] == ["exec", "reset"]
    assert dev.resets == 2


def test_copies_are_batched_per_connection(tmp_path):
    dev = FakeDevice()
    done, _ = _deploy(tmp_path, dev)
    cps = [c for c in dev.commands if "cp" in c]
    assert len(cps) == (len(done) + deploy.BATCH_FILES - 1) // deploy.BATCH_FILES
    for c in cps:  # each connection ends by recording its batch in the manifest
        assert c[-1] == ":" + deploy.MANIFEST


def test_device_that_cannot_run_the_build_is_refused_before_copying(tmp_path):
    dev = FakeDevice(mpy=5)
    with pytest.raises(deploy.DeployError) as e:
        _deploy(tmp_path, dev)
    assert "flash MicroPython v1.22 or later" in str(e.value)
    assert dev.files == {}
    with pytest.raises(deploy.DeployError) as e:
        deploy.check_device(("esp8266", 6), {"kind": "esp32", "name": "esp32-devkitc"})
    assert str(e.value) == "the device runs MicroPython for esp8266 but board 'esp32-devkitc' is esp32: wrong board or wrong firmware flashed"
    deploy.check_device(("esp32", 6), {"kind": "esp32", "chip": "esp32c3", "name": "c3"})
    deploy.check_device(("linux", 6), {"kind": "sim", "name": "sim"})


def test_mpremote_failure_names_the_port_problem(tmp_path):
    target = deploy.MpremoteTarget("/dev/does-not-exist", exe="mpremote")
    target.run = lambda cmd, on_line=None: target._run(["sh", "-c", "echo 'mpremote: failed to access /dev/does-not-exist'; exit 1"])
    with pytest.raises(deploy.DeployError) as e:
        target.probe()
    assert "failed to access" in str(e.value) and "mpremote connect list" in str(e.value)


# ---------------------------------------------------------------- the real mpremote parser
class FakeTransport:
    """Stands in for mpremote's SerialTransport: the real mpremote command parser and
    `fs cp`/`exec`/`reset` code run against the FakeDevice filesystem."""

    def __init__(self, device):
        self.device = device
        self.in_raw_repl = False
        self.mounted = False
        self.device_name = PORT
        self._buf = None

    def enter_raw_repl(self, soft_reset=True):
        self.in_raw_repl = True

    def exit_raw_repl(self):
        self.in_raw_repl = False

    def close(self):
        pass

    def exec_raw_no_follow(self, buf):
        self._buf = buf.decode() if isinstance(buf, bytes) else buf
        if "machine.reset()" in self._buf:
            self.device.resets += 1
            self._buf = None

    def follow(self, timeout=None, data_consumer=None):
        out = self.device.exec(self._buf) if self._buf else []
        if data_consumer and out:
            data_consumer(("\n".join(out) + "\n").encode())
        return b"", b""

    def fs_exists(self, path):
        return path in self.device.files or path in self.device.dirs

    def fs_isdir(self, path):
        return path in self.device.dirs

    def fs_writefile(self, dest, data, chunk_size=256, progress_callback=None):
        parent = dest.rsplit("/", 1)[0] or "/"
        if parent not in self.device.dirs:
            raise OSError(2, "ENOENT")
        self.device.files[dest] = bytes(data)


def test_command_lines_run_through_the_real_mpremote(tmp_path, monkeypatch):
    import contextlib
    import sys
    from mpremote import commands as mp_commands
    from mpremote import main as mp_main

    dev = FakeDevice()
    monkeypatch.setattr(mp_commands, "SerialTransport", lambda device, baudrate=115200: FakeTransport(dev))

    def run(cmd, on_line=None):
        dev.commands.append(cmd)
        raw = io.BytesIO()
        text = io.TextIOWrapper(raw, write_through=True)
        monkeypatch.setattr(sys, "argv", ["mpremote"] + cmd[1:])
        with contextlib.redirect_stdout(text):
            rc = mp_main.main()
        lines = raw.getvalue().decode().splitlines()
        for line in lines:
            if on_line:
                on_line(line)
        if rc:
            raise deploy.DeployError("mpremote failed: %s" % lines)
        return lines

    target = deploy.MpremoteTarget(PORT, exe="mpremote", run=run)
    progress = []
    done = deploy.deploy(PORT, "sim", _config(tmp_path), build_dir=str(tmp_path / "b"), target=target,
                         out=progress.append, quiet_build=True)
    assert set(done) == set(dev.files) - {"/.deploy.json"}
    assert "/hal/sim/__init__.mpy" in dev.files and "/boards/sim.json" in dev.files
    assert sum(1 for p in progress if p.startswith("  [")) == len(done)  # parsed from mpremote's own "cp" lines
    assert dev.resets == 1
    assert deploy.deploy(PORT, "sim", _config(tmp_path), build_dir=str(tmp_path / "b"), target=target,
                         out=progress.append, quiet_build=True) == []
    assert dev.resets == 2


def test_a_deploy_cut_short_resumes_with_only_the_files_not_yet_copied(tmp_path):
    dev = FakeDevice()
    real_run = dev.run
    connections = []

    def flaky(cmd, on_line=None):
        if "cp" in cmd:
            connections.append(cmd)
            if len(connections) == 3:  # the board resets during the third batch
                raise deploy.DeployError("mpremote failed: device disconnected")
        return real_run(cmd, on_line)

    target = deploy.MpremoteTarget(PORT, exe="mpremote", run=flaky)
    with pytest.raises(deploy.DeployError):
        deploy.deploy(PORT, "sim", _config(tmp_path), build_dir=str(tmp_path / "b"), target=target,
                      out=lambda s: None, quiet_build=True)
    copied_before = set(json.loads(dev.files["/.deploy.json"])["files"])
    assert len(copied_before) == 2 * deploy.BATCH_FILES
    done, _ = _deploy(tmp_path, dev)
    assert not set(done) & copied_before
    assert set(done) | copied_before == set(dev.files) - {"/.deploy.json"}
