#!/usr/bin/env python3
# Writes config.json for a charger from flags, environment or prompts (secrets asked
# without echo), validated by firmware/devconfig.py exactly as the device will.
# Never prints a secret: the summary says "(set)". Never waits for input without a TTY.
import argparse
import getpass
import json
import os
import sys

import boardinfo

if boardinfo.FIRMWARE not in sys.path:
    sys.path.insert(0, boardinfo.FIRMWARE)
import devconfig  # noqa: E402

# Secrets may come from the environment instead of the command line (shell history, ps).
ENV_WIFI_PASSWORD = "OCPP_WIFI_PASSWORD"
ENV_AUTHORIZATION_KEY = "OCPP_AUTHORIZATION_KEY"
GENERATE = "generate"  # --authorization-key generate: a random key
GENERATED_KEY_BYTES = 20  # 40 hex characters, the longest AuthorizationKey allowed
FILE_MODE = 0o600  # config.json holds the WiFi password and the AuthorizationKey

# flag dest -> config key ("wifi.x" for the wifi object)
FLAGS = (
    ("csms_url", "--csms-url", "csms_url", "CSMS URL, ws://host:port/path or wss://... (the id is appended)"),
    ("id", "--id", "charge_point_id", "charge point id"),
    ("board", "--board", "board", "board name (boards/<name>.json)"),
    ("wifi_ssid", "--wifi-ssid", "wifi.ssid", "WiFi network name"),
    ("wifi_password", "--wifi-password", "wifi.password", "WiFi password (or $%s)" % ENV_WIFI_PASSWORD),
    ("security_profile", "--security-profile", "security_profile", "OCPP security profile 0-3"),
    ("authorization_key", "--authorization-key", "authorization_key",
     "AuthorizationKey for profiles 1/2 (or $%s; 'generate' makes a random one)" % ENV_AUTHORIZATION_KEY),
    ("log_level", "--log-level", "log_level", "error, warning, info or debug"),
    ("vendor", "--vendor", "vendor", "BootNotification chargePointVendor"),
    ("model", "--model", "model", "BootNotification chargePointModel"),
    ("serial", "--serial", "serial", "BootNotification chargePointSerialNumber (default: made from the chip id)"),
    ("ca_cert", "--ca-cert", "ca_cert", "CA certificate file on the device (wss)"),
    ("ntp_host", "--ntp-host", "ntp_host", "NTP server"),
    ("data_dir", "--data-dir", "data_dir", "data folder on the device"),
)
SECRET_FIELDS = ("wifi.password", "authorization_key")


class ConfigToolError(Exception):
    pass


def _get(cfg, key):
    if key.startswith("wifi."):
        return (cfg.get("wifi") or {}).get(key[5:])
    return cfg.get(key)


def _set(cfg, key, value):
    if key.startswith("wifi."):
        w = cfg.get("wifi")
        if not isinstance(w, dict):
            w = cfg["wifi"] = {}
        w[key[5:]] = value
    else:
        cfg[key] = value


def _board_kind(name, boards_dir):
    try:
        return boardinfo.load_board(name, boards_dir, validate=False)["kind"]
    except boardinfo.BoardFileError as e:
        raise ConfigToolError("config.json: board: %s" % e)


def wanted(cfg, kind):
    """Config keys still missing that a working config needs, in prompt order."""
    need = [k for k in ("csms_url", "charge_point_id", "board") if _get(cfg, k) in (None, "")]
    if kind in devconfig.NETWORKED_KINDS:
        if _get(cfg, "wifi.ssid") in (None, ""):
            need.append("wifi.ssid")
        if _get(cfg, "wifi.password") is None:
            need.append("wifi.password")
    if cfg.get("security_profile") in (1, 2) and not cfg.get("authorization_key"):
        need.append("authorization_key")
    return need


PROMPTS = {
    "csms_url": "CSMS URL (ws://host:port/path or wss://...)",
    "charge_point_id": "Charge point id",
    "board": "Board (%s)",
    "wifi.ssid": "WiFi network name",
    "wifi.password": "WiFi password (not shown; empty for an open network)",
    "authorization_key": "AuthorizationKey (not shown; 'generate' for a random one)",
}


def build_config(args, base=None, env=None, ask=None, ask_secret=None, boards_dir=boardinfo.BOARDS):
    """The config dict from an existing file (`base`), flags, environment and, when
    `ask` is given, prompts for what is still missing. Raises ConfigToolError/ConfigError."""
    env = os.environ if env is None else env
    cfg = dict(base or {})
    if isinstance(cfg.get("wifi"), dict):
        cfg["wifi"] = dict(cfg["wifi"])
    for dest, _, key, _ in FLAGS:
        v = getattr(args, dest, None)
        if v is not None:
            if key == "security_profile":
                try:
                    v = int(v)
                except ValueError:
                    raise devconfig.ConfigError(key, "must be a whole number 0 to 3")
            _set(cfg, key, v)
    if getattr(args, "wifi_password", None) is None and env.get(ENV_WIFI_PASSWORD) is not None:
        _set(cfg, "wifi.password", env[ENV_WIFI_PASSWORD])
    if getattr(args, "authorization_key", None) is None and env.get(ENV_AUTHORIZATION_KEY):
        cfg["authorization_key"] = env[ENV_AUTHORIZATION_KEY]
    generated = False
    while True:
        kind = _board_kind(cfg["board"], boards_dir) if cfg.get("board") else None
        need = wanted(cfg, kind)
        if not need:
            break
        key = need[0]
        if ask is None:
            hint = [f for d, f, k, _ in FLAGS if k == key][0]
            raise devconfig.ConfigError(key, "required: pass %s (or run in a terminal to be asked)" % hint)
        prompt = PROMPTS[key]
        if key == "board":
            prompt = prompt % ", ".join(boardinfo.board_names(boards_dir))
        value = (ask_secret if key in SECRET_FIELDS else ask)(prompt + ": ").strip()
        if value == "" and key != "wifi.password":
            continue  # asked again: required
        if key == "board" and value not in boardinfo.board_names(boards_dir):
            continue  # asked again: the prompt lists the boards
        _set(cfg, key, value)
    if cfg.get("authorization_key") == GENERATE:
        import secrets
        cfg["authorization_key"] = secrets.token_hex(GENERATED_KEY_BYTES)
        generated = True
    if cfg.get("wifi") == {}:
        del cfg["wifi"]
    kind = _board_kind(cfg["board"], boards_dir) if isinstance(cfg.get("board"), str) and cfg["board"] else None
    warnings = []
    devconfig.validate(cfg, kind, warnings.append)
    return cfg, warnings, generated


def summary(cfg, out_path, generated=False):
    lines = ["wrote %s:" % out_path]
    for key in ("csms_url", "charge_point_id", "board", "security_profile", "authorization_key",
                "wifi.ssid", "wifi.password", "log_level", "vendor", "model", "serial", "ca_cert", "ntp_host",
                "data_dir"):
        v = _get(cfg, key)
        if v is None:
            continue
        if key in SECRET_FIELDS:
            v = "(set)" if v else "(empty: open network)"
            if key == "authorization_key" and generated:
                v += " generated: register the key from %s with the CSMS" % out_path
        lines.append("  %-18s %s" % (key, v))
    return "\n".join(lines)


def write_atomic(path, cfg):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def main(argv=None, stdin=None, env=None, boards_dir=boardinfo.BOARDS):
    ap = argparse.ArgumentParser(description="Write config.json for the charger (validated as on the device)")
    ap.add_argument("--out", default="config.json", help="file to write (an existing one is the starting point)")
    for dest, flag, _, help_text in FLAGS:
        ap.add_argument(flag, dest=dest, help=help_text)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing --out file")
    args = ap.parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    base = None
    if os.path.exists(args.out) and not args.fresh:
        try:
            base = devconfig.read(args.out)
        except devconfig.ConfigError as e:
            print("error: %s (use --fresh to start over)" % e, file=sys.stderr)
            return 1
        if not isinstance(base, dict):
            base = None
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    ask = input if interactive else None
    ask_secret = getpass.getpass if interactive else None
    try:
        cfg, warnings, generated = build_config(args, base, env, ask, ask_secret, boards_dir)
    except (devconfig.ConfigError, ConfigToolError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nerror: cancelled; nothing written", file=sys.stderr)
        return 1
    for w in warnings:
        print("warning: %s" % w)
    write_atomic(args.out, cfg)
    print(summary(cfg, args.out, generated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
