# tools/config.py: config.json from flags, environment or prompts; validated like the
# device does; secrets never printed (not even echoed while typed); no hang without a TTY.
import importlib.util
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
import types

import pytest

import boardinfo

TOOL = os.path.join(boardinfo.ROOT, "tools", "config.py")
spec = importlib.util.spec_from_file_location("config_tool", TOOL)
config_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(config_tool)

KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
WIFI_PW = "very-secret-wifi"
FULL = ["--csms-url", "ws://cs.example.com:9000/ocpp", "--id", "CP042", "--board", "esp32",
        "--wifi-ssid", "garage", "--wifi-password", WIFI_PW, "--security-profile", "1",
        "--authorization-key", KEY]


@pytest.fixture
def boards(tmp_path):
    d = tmp_path / "boards"
    d.mkdir()
    (d / "esp32.json").write_text(json.dumps({"kind": "esp32"}))
    (d / "sim.json").write_text(json.dumps({"kind": "sim"}))
    return str(d)


class NoTty:
    def isatty(self):
        return False


def run_main(argv, boards, env=None):
    return config_tool.main(argv, stdin=NoTty(), env=env or {}, boards_dir=boards)


def test_flags_write_a_valid_private_file_and_print_no_secret(tmp_path, boards, capsys):
    out = tmp_path / "config.json"
    assert run_main(FULL + ["--out", str(out)], boards) == 0
    cfg = json.loads(out.read_text())
    assert cfg == {"csms_url": "ws://cs.example.com:9000/ocpp", "charge_point_id": "CP042", "board": "esp32",
                   "wifi": {"ssid": "garage", "password": WIFI_PW}, "security_profile": 1, "authorization_key": KEY}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert KEY not in text and WIFI_PW not in text
    assert "authorization_key  (set)" in text and "wifi.password      (set)" in text


def test_an_existing_file_is_the_starting_point(tmp_path, boards, capsys):
    out = tmp_path / "config.json"
    assert run_main(FULL + ["--out", str(out)], boards) == 0
    assert run_main(["--out", str(out), "--log-level", "debug"], boards) == 0
    cfg = json.loads(out.read_text())
    assert cfg["log_level"] == "debug" and cfg["authorization_key"] == KEY
    assert run_main(["--out", str(out), "--fresh", "--board", "sim"], boards) == 1  # fresh: the rest is missing
    assert "csms_url: required: pass --csms-url" in capsys.readouterr().err


def test_secrets_from_the_environment(tmp_path, boards):
    out = tmp_path / "c.json"
    argv = ["--out", str(out), "--csms-url", "ws://h/ocpp", "--id", "CP1", "--board", "esp32", "--wifi-ssid", "g",
            "--security-profile", "1"]
    env = {config_tool.ENV_WIFI_PASSWORD: WIFI_PW, config_tool.ENV_AUTHORIZATION_KEY: KEY}
    assert run_main(argv, boards, env) == 0
    cfg = json.loads(out.read_text())
    assert cfg["wifi"]["password"] == WIFI_PW and cfg["authorization_key"] == KEY


def test_generated_key_is_hex_of_the_longest_length_and_not_printed(tmp_path, boards, capsys):
    out = tmp_path / "c.json"
    argv = FULL[:-2] + ["--authorization-key", "generate", "--out", str(out)]
    assert run_main(argv, boards) == 0
    key = json.loads(out.read_text())["authorization_key"]
    assert len(key) == 40 and int(key, 16) >= 0
    text = capsys.readouterr().out
    assert key not in text and "generated: register the key from" in text


@pytest.mark.parametrize("change,message", [
    (["--security-profile", "2"], "error: config.json: security_profile: 2 needs a wss:// csms_url"),
    (["--authorization-key", "tooshort"], "error: config.json: authorization_key: must be 16 to 40 characters, got 8"),
    (["--wifi-password", "1234567"], "error: config.json: wifi.password: must be empty (open network) or 8 to 64 characters, got 7"),
    (["--security-profile", "one"], "error: config.json: security_profile: must be a whole number 0 to 3"),
    (["--board", "nope"], "error: config.json: board: board 'nope': no file"),
    (["--csms-url", "http://x/ocpp"], "error: config.json: csms_url: must start with ws:// or wss://"),
])
def test_bad_values_fail_with_the_device_message_and_no_secret(tmp_path, boards, capsys, change, message):
    out = tmp_path / "c.json"
    assert run_main(FULL + change + ["--out", str(out)], boards) == 1
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert KEY not in err and WIFI_PW not in err and "tooshort" not in err and "1234567" not in err
    assert not out.exists()


def test_no_tty_and_missing_values_fails_at_once_instead_of_waiting(tmp_path):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, TOOL, "--out", str(tmp_path / "c.json"), "--board", "sim"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "error: config.json: csms_url: required: pass --csms-url (or run in a terminal to be asked)" in r.stderr
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "c.json").exists()


def test_prompts_ask_for_what_is_missing_and_secrets_through_the_hidden_prompt(boards):
    answers = {"CSMS URL": "ws://cs.example.com/ocpp", "Charge point id": "CP9", "Board": "esp32",
               "WiFi network name": "garage"}
    asked, asked_secret, answered = [], [], []

    def ask(prompt):
        asked.append(prompt)
        if prompt.startswith("Board") and "nope" not in [a for a in answered]:
            answered.append("nope")
            return "nope"  # not a board: asked again
        return [v for k, v in answers.items() if prompt.startswith(k)][0]

    def ask_secret(prompt):
        asked_secret.append(prompt)
        return WIFI_PW if prompt.startswith("WiFi") else KEY

    args = types.SimpleNamespace(security_profile="1")
    cfg, warnings, generated = config_tool.build_config(args, None, {}, ask, ask_secret, boards)
    assert [p.split(" (")[0].rstrip(": ") for p in asked] == ["CSMS URL", "Charge point id", "Board", "Board", "WiFi network name"]
    assert "esp32, sim" in asked[2]
    assert [p.split(" (")[0] for p in asked_secret] == ["WiFi password", "AuthorizationKey"]
    assert cfg["wifi"] == {"ssid": "garage", "password": WIFI_PW} and cfg["authorization_key"] == KEY
    assert warnings == [] and not generated


def test_typed_password_is_not_echoed_on_a_real_terminal(tmp_path, boards):
    out = tmp_path / "c.json"
    argv = [sys.executable, TOOL, "--out", str(out), "--csms-url", "ws://h/ocpp", "--id", "CP1",
            "--board", "esp32", "--wifi-ssid", "garage"]
    code = ("import sys; sys.argv = %r; sys.path.insert(0, %r); import runpy; "
            "import boardinfo; boardinfo.BOARDS = %r; runpy.run_path(%r, run_name='__main__')"
            % (argv[1:], os.path.dirname(TOOL), boards, TOOL))
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", code])
    seen = b""
    sent = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not sent and b"WiFi password" in seen:
            os.write(fd, WIFI_PW.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert sent, seen
    assert WIFI_PW.encode() not in seen, seen
    assert b"wifi.password      (set)" in seen, seen
    assert json.loads(out.read_text())["wifi"]["password"] == WIFI_PW
