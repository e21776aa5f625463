# Which application folder runs: reads the marker apps/current.json at boot, counts trial
# boots, rolls back to the previous folder when a new one was not confirmed in time, and
# puts the chosen folder first on sys.path. Imported by main.py before anything else; only
# os, sys and json here (the rest of the code may come from the folder it selects), and it
# is never part of a bundle. The marker is replaced by one rename, so it is old or new.
import json
import os
import sys

MARKER = "current.json"   # in the apps root: {"run", "prev", "trial", "boots", "failed"}
APPS = "apps"             # the apps root, beside config.json ("/apps" on the device)
# Boots a new folder gets before it must have been confirmed (BootNotification Accepted):
# the first boot is the trial; a second unconfirmed boot rolls back.
TRIAL_BOOTS = 1

selected = None           # the marker as used by this boot (None: the base tree runs)
root = None               # the apps root of this boot


def config_arg():
    """config.json as bringup.begin() finds it: argv[1], $OCPP_CONFIG, /config.json."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    getenv = getattr(os, "getenv", None)
    return (getenv("OCPP_CONFIG") if getenv else None) or "/config.json"


def boot():
    """The device's /main.py stub and a host's main.py call this before anything else."""
    try:
        return select(root_for(config_arg()))
    except Exception as e:  # a damaged marker must not stop the charger: the base tree runs
        print("[error] appboot: %r: running the base firmware" % (e,))
        return None


def in_trial():
    """True while this boot runs a new folder that was not confirmed yet."""
    return bool(selected and selected.get("trial"))


def failed(e):
    """The selected version cannot start (its startup failed to import, or the app crashed).
    During its trial the chip is reset, so the next boot rolls back; otherwise re-raise."""
    print("[error] appboot: the application failed: %r" % (e,))
    if in_trial():
        try:
            import machine
            machine.reset()
        except ImportError:  # a host: the process ends, the next start rolls back
            sys.exit(1)
    raise e


def root_for(config_path):
    i = config_path.rfind("/")
    d = config_path[:i] if i > 0 else ("" if i == 0 else ".")
    return d + "/" + APPS


def read(root_dir):
    """The marker dict, or None when the base tree runs (no marker, or a torn one)."""
    for name in (MARKER, MARKER + ".tmp"):
        try:
            with open(root_dir + "/" + name) as f:
                m = json.load(f)
            if isinstance(m, dict):
                return m
        except (OSError, ValueError):
            pass
    return None


def write(root_dir, m):
    """Replace the marker atomically: tmp file, close, rename over the marker."""
    tmp = root_dir + "/" + MARKER + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(m))
    try:
        os.rename(tmp, root_dir + "/" + MARKER)
    except OSError:  # a target that exists (CPython on some systems): remove, then rename
        os.remove(root_dir + "/" + MARKER)
        os.rename(tmp, root_dir + "/" + MARKER)


def select(root_dir):
    """At boot: decide the folder, count the trial, roll back if needed; returns the marker."""
    global selected, root
    root = root_dir
    m = read(root_dir)
    if m is not None and m.get("trial"):
        boots = m.get("boots", 0) + 1
        if boots > TRIAL_BOOTS:
            m = {"run": m.get("prev") or "", "prev": "", "trial": 0, "failed": m.get("run")}
        else:
            m["boots"] = boots
        write(root_dir, m)
    selected = m
    if m is not None and m.get("run"):
        path = root_dir + "/" + m["run"]
        if path not in sys.path:
            sys.path.insert(0, path)
    return m


def confirm(root_dir):
    """The running folder reached BootNotification Accepted: keep it (no rollback any more)."""
    m = read(root_dir)
    if m is not None and m.get("trial"):
        m["trial"] = 0
        m.pop("boots", None)
        write(root_dir, m)
        return True
    return False
