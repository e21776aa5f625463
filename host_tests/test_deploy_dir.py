# tools/deploy.py into a folder (--port dir:<folder>): the exact device layout,
# change detection by hash, and the firmware booting from that folder under the
# real `micropython` command with nothing but .mpy files and main.py.
#
# deploy_sim_folder() and boot_folder() are the helpers a full-session test calls:
#   folder = deploy_sim_folder(tmp_path, csms_url=csms.url)
#   proc, lines = boot_folder(folder, until="...", timeout=...)
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

import boardinfo
import deploy
import mpy as mpyrun

mpytool = boardinfo.mpy_tool()

SECRET_KEY = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # 32 hex characters
SECRET_WIFI = "hunter2-wifi-pass"


def sim_config(**over):
    cfg = {"csms_url": "ws://127.0.0.1:9/ocpp", "charge_point_id": "CPDEPLOY", "board": "sim",
           "log_level": "debug", "security_profile": 1, "authorization_key": SECRET_KEY,
           "wifi": {"ssid": "garage", "password": SECRET_WIFI}}
    cfg.update(over)
    return cfg


def deploy_sim_folder(tmp_path, firmware=boardinfo.FIRMWARE, name="device", **config):
    """Deploy board sim with a config.json built from sim_config(**config) into
    tmp_path/<name>; returns the folder (laid out as the device filesystem)."""
    cfg_path = tmp_path / (name + "-config.json")
    cfg_path.write_text(json.dumps(sim_config(**config)))
    folder = tmp_path / name
    deploy.deploy("dir:" + str(folder), "sim", str(cfg_path), build_dir=str(tmp_path / (name + "-build")),
                  firmware=firmware, out=lambda s: None, quiet_build=True)
    return str(folder)


def boot_folder(folder, until=None, timeout=20):
    """Run main.py from `folder` under micropython with MICROPYPATH=.frozen:<folder> (no
    firmware/ on the path) until a line containing `until` appears (None: until it
    exits) or `timeout` s pass. Returns (returncode, or None if it was stopped, lines)."""
    env = {"MICROPYPATH": ".frozen:" + folder}
    proc = mpyrun.popen(["main.py", "config.json"], env=env, cwd=folder,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    found = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if until is not None and until in line:
                found.set()
        found.set()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    found.wait(timeout)
    try:  # output closed: the exit status follows at once
        rc = proc.wait(5 if until is None else 0.1)
    except subprocess.TimeoutExpired:
        rc = None
    if rc is None:
        proc.kill()
        proc.wait()
    t.join(5)
    return rc, lines


def _tree(folder):
    out = []
    for dirpath, _, files in os.walk(folder):
        for f in files:
            out.append(os.path.relpath(os.path.join(dirpath, f), folder).replace(os.sep, "/"))
    return sorted(out)


def _firmware_copy(tmp_path):
    fw = tmp_path / "fw"
    shutil.copytree(boardinfo.FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__"))
    return fw


def test_folder_holds_exactly_the_device_layout(tmp_path):
    folder = deploy_sim_folder(tmp_path)
    modules = mpytool.source_files(kind="sim")
    want = sorted([("startup.mpy" if m == "main.py" else m[:-3] + ".mpy") for m in modules]
                  + ["main.py", "boards/sim.json", "config.json", ".deploy.json"])
    assert _tree(folder) == want
    assert [f for f in _tree(folder) if f.endswith(".py")] == ["main.py"]
    manifest = json.load(open(os.path.join(folder, ".deploy.json")))
    assert set(manifest["files"]) == set("/" + f for f in want if f != ".deploy.json")


def test_second_deploy_copies_nothing_and_one_change_copies_one(tmp_path):
    fw = _firmware_copy(tmp_path)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(sim_config()))
    folder = tmp_path / "dev"

    def run():
        return deploy.deploy("dir:" + str(folder), "sim", str(cfg), build_dir=str(tmp_path / "b"),
                             firmware=str(fw), out=lambda s: None, quiet_build=True)

    first = run()
    assert len(first) == len(_tree(folder)) - 1  # everything but the manifest
    assert run() == []
    with open(fw / "log.py", "a") as f:
        f.write("\n_CHANGED = 1\n")
    assert run() == ["/log.mpy"]
    cfg.write_text(json.dumps(sim_config(charge_point_id="CP2")))
    assert run() == ["/config.json"]
    assert run() == []


def test_removed_module_is_deleted_and_stale_source_no_longer_shadows(tmp_path):
    fw = _firmware_copy(tmp_path)
    (fw / "extra_mod.py").write_text("X = 1\n")
    folder = tmp_path / "dev"
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(sim_config()))

    def run():
        return deploy.deploy("dir:" + str(folder), "sim", str(cfg), build_dir=str(tmp_path / "b"),
                             firmware=str(fw), out=lambda s: None, quiet_build=True)

    run()
    assert (folder / "extra_mod.mpy").exists()
    (fw / "extra_mod.py").unlink()
    # A source left by `mpremote mip install` would be imported before the .mpy.
    (folder / "log.py").write_text("raise ImportError('stale source imported')\n")
    with open(fw / "log.py", "a") as f:
        f.write("\n_CHANGED = 2\n")
    run()
    assert not (folder / "extra_mod.mpy").exists()
    assert not (folder / "log.py").exists()
    assert (folder / "config.json").exists()


def test_full_deploy_ignores_the_manifest(tmp_path):
    folder = deploy_sim_folder(tmp_path)
    cfg = os.path.join(str(tmp_path), "device-config.json")
    again = deploy.deploy("dir:" + folder, "sim", cfg, full=True, build_dir=str(tmp_path / "b"),
                          out=lambda s: None, quiet_build=True)
    assert len(again) == len(_tree(folder)) - 1


def test_deploy_refuses_a_bad_config_or_another_board_before_copying(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sim_config(authorization_key="short")))
    folder = tmp_path / "dev"
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy("dir:" + str(folder), "sim", str(bad), build_dir=str(tmp_path / "b"), out=lambda s: None)
    assert str(e.value) == "config.json: authorization_key: must be 16 to 40 characters, got 5"
    assert not folder.exists()
    other = tmp_path / "other.json"
    other.write_text(json.dumps(sim_config(board="sim-two")))
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy("dir:" + str(folder), "sim", str(other), build_dir=str(tmp_path / "b"), out=lambda s: None)
    assert "board: is 'sim-two' but --board is 'sim'" in str(e.value)
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy("dir:" + str(folder), "sim", str(tmp_path / "missing.json"), out=lambda s: None)
    assert "make config" in str(e.value)


def test_deploy_cli_prints_a_progress_line_per_file(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(sim_config()))
    rc = deploy.main(["--port", "dir:" + str(tmp_path / "dev"), "--board", "sim", "--config", str(cfg)])
    out = capsys.readouterr().out
    assert rc == 0
    n = len(_tree(tmp_path / "dev")) - 1
    assert out.count("  [") == n and ("[%d/%d] /config.json" % (n, n)) in out
    assert SECRET_KEY not in out and SECRET_WIFI not in out
    rc = deploy.main(["--port", "dir:" + str(tmp_path / "dev"), "--board", "sim", "--config", str(cfg)])
    assert rc == 0 and "nothing changed" in capsys.readouterr().out


def test_deployed_folder_boots_under_micropython_without_firmware_sources(tmp_path):
    folder = deploy_sim_folder(tmp_path, data_dir=str(tmp_path / "data"))
    rc, lines = boot_folder(folder, until="app: starting")
    text = "\n".join(lines)
    assert "[info] config: config.json ok: id CPDEPLOY, board sim" in text, text
    assert "[info] board: sim (sim), 1 connector(s)" in text, text
    assert "[info] app: starting" in text, text
    assert SECRET_KEY not in text and SECRET_WIFI not in text


def test_secrets_never_reach_the_console_with_a_bad_or_a_good_config(tmp_path):
    # Bad: a key of the wrong length (the message names the key, never its value) and a
    # WiFi password; at debug level so every line that could leak is written.
    bad_key = "ab" * 21  # 42 characters
    folder = deploy_sim_folder(tmp_path, name="good", data_dir=str(tmp_path / "data"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(sim_config(authorization_key=bad_key), f)
    before = dict((p, os.stat(os.path.join(folder, p)).st_mtime_ns) for p in _tree(folder))
    rc, lines = boot_folder(folder)
    text = "\n".join(lines)
    assert rc == 1, text  # a host run ends with the message (the device waits and retries instead)
    assert "[error] fatal: config.json: authorization_key: must be 16 to 40 characters, got 42" in text, text
    assert "charger held safe" in text, text
    assert bad_key not in text and SECRET_WIFI not in text
    after = dict((p, os.stat(os.path.join(folder, p)).st_mtime_ns) for p in _tree(folder))
    assert after == before  # nothing written while in the fatal loop
    # Good config, the same secrets: the boot gets to the app without printing them.
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(sim_config(data_dir=str(tmp_path / "data")), f)
    rc, lines = boot_folder(folder, until="app: starting")
    text = "\n".join(lines)
    assert "app: starting" in text, text
    assert "authorization key (set)" in text and "password (set)" in text
    assert SECRET_KEY not in text and SECRET_WIFI not in text


def test_extra_files_such_as_a_ca_certificate_follow_the_same_change_detection(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(sim_config(csms_url="wss://127.0.0.1:9/ocpp", security_profile=2, ca_cert="/ca.pem")))
    folder = tmp_path / "dev"
    notes = []

    def run(extra):
        return deploy.deploy("dir:" + str(folder), "sim", str(cfg), build_dir=str(tmp_path / "b"),
                             out=notes.append, quiet_build=True, extra=extra)

    run([])
    assert any(n.startswith("note: config.json names ca_cert /ca.pem: pass --extra <file>=/ca.pem") for n in notes)
    assert run(["%s=/ca.pem" % ca]) == ["/ca.pem"]
    assert (folder / "ca.pem").read_text() == ca.read_text()
    assert run(["%s=/ca.pem" % ca]) == []
    ca.write_text("-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n")
    assert run(["%s=/ca.pem" % ca]) == ["/ca.pem"]
    for bad, why in (("ca.pem", "write LOCAL=/device/path"), ("%s=ca.pem" % ca, "write LOCAL=/device/path"),
                     ("missing.pem=/m.pem", "missing.pem not found"), ("%s=/main.py" % ca, "is a file of the image itself")):
        with pytest.raises(deploy.DeployError) as e:
            run([bad])
        assert why in str(e.value), (bad, str(e.value))


def test_ctrl_c_on_the_running_image_leaves_the_charger_safe(tmp_path):
    import signal
    folder = deploy_sim_folder(tmp_path, data_dir=str(tmp_path / "data"))
    proc = mpyrun.popen(["main.py", "config.json"], env={"MICROPYPATH": ".frozen:" + folder}, cwd=folder,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "app: starting" in line:
                time.sleep(0.3)  # inside the event loop by now
                proc.send_signal(signal.SIGINT)
                break
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "\n".join(lines) + "\n" + out
    assert "[warning] stopped (Ctrl-C): charger held safe (contactor open, pilot off)" in text, text
    assert "KeyboardInterrupt" in text
    assert SECRET_KEY not in text and SECRET_WIFI not in text


def test_a_usb_deploy_with_new_code_leaves_an_installed_bundle_behind(tmp_path):
    # After an UpdateFirmware bundle, /apps/current.json makes appboot run /apps/appN first;
    # new code deployed over USB must be what runs, so the deploy removes the marker.
    folder = deploy_sim_folder(tmp_path)
    os.makedirs(os.path.join(folder, "apps", "app1"))
    marker = os.path.join(folder, "apps", "current.json")
    with open(marker, "w") as f:
        json.dump({"run": "app1", "prev": "", "trial": 0}, f)
    deploy_sim_folder(tmp_path)                  # nothing changed: nothing copied, marker kept
    assert os.path.exists(marker)
    deploy.deploy("dir:" + folder, "sim", str(tmp_path / "device-config.json"), build_dir=str(tmp_path / "b2"),
                  out=lambda s: None, quiet_build=True, full=True)
    assert not os.path.exists(marker)
