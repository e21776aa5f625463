#!/usr/bin/env python3
# Copies a board's firmware image (tools/mpy.py output, main.py, the board file and
# config.json) to a device with mpremote, or into a local folder (--port dir:<folder>),
# copying only files whose hash differs from the manifest kept on the device.
# Host only. Never deletes anything it did not deploy (data files, config.json).
import argparse
import json
import os
import shutil
import subprocess
import sys

import boardinfo
mpy = boardinfo.mpy_tool()

HERE = os.path.dirname(os.path.abspath(__file__))
if boardinfo.FIRMWARE not in sys.path:
    sys.path.insert(0, boardinfo.FIRMWARE)
import devconfig  # noqa: E402  (firmware/devconfig.py, the same validation the device runs)

MANIFEST = "/.deploy.json"  # on the device: {"files": {device path: sha256 hex}}
MANIFEST_VERSION = 1
CONFIG_PATH = "/config.json"
BOARDS_DIR = "/boards"
# Files per mpremote invocation: each start costs a connect and a raw-REPL entry,
# one long chain makes an error hard to place.
BATCH_FILES = 8
# The .mpy major version MicroPython v1.22+ loads (sys.implementation._mpy & 0xff).
MPY_MAJOR = 6
# sys.platform of a device per chip family.
PLATFORM_BY_CHIP = {"esp8266": "esp8266"}
DEFAULT_PLATFORM = "esp32"


class DeployError(Exception):
    pass


# ---------------------------------------------------------------- the image
def parse_extra(spec):
    """"ca.pem=/ca.pem" -> ("ca.pem", "/ca.pem"): a local file and its absolute device path."""
    local, sep, dev = spec.partition("=")
    if not sep or not local or not dev.startswith("/") or ".." in dev.split("/"):
        raise DeployError("--extra %r: write LOCAL=/device/path, e.g. ca.pem=/ca.pem" % spec)
    if not os.path.isfile(local):
        raise DeployError("--extra %r: %s not found" % (spec, local))
    return local, dev


def image(board, config=None, build_dir=None, firmware=boardinfo.FIRMWARE, boards_dir=boardinfo.BOARDS, quiet=False,
          extra=()):
    """Every file to put on the device: list of (device path "/x", local path, size, sha256).
    `extra`: (local, device path) pairs such as a CA certificate."""
    files = mpy.build(board, build_dir, firmware=firmware, boards_dir=boards_dir, quiet=quiet)
    out = [("/" + rel, local, size, sha) for rel, local, size, sha in files]
    taken = set(f[0] for f in out) | {CONFIG_PATH, MANIFEST, BOARDS_DIR + "/" + board + ".json"}
    for local, dev in extra:
        if dev in taken:
            raise DeployError("--extra: %s is a file of the image itself" % dev)
        out.append((dev, local, os.path.getsize(local), mpy.sha256_of(local)))
    bpath = boardinfo.board_path(board, boards_dir)
    out.append((BOARDS_DIR + "/" + board + ".json", bpath, os.path.getsize(bpath), mpy.sha256_of(bpath)))
    if config:
        out.append((CONFIG_PATH, config, os.path.getsize(config), mpy.sha256_of(config)))
    # main.py after the modules it imports, config.json after main.py: an interrupted
    # deploy leaves an old main.py rather than a new one with missing modules.
    order = {"/main.py": 1, CONFIG_PATH: 2}
    out.sort(key=lambda f: (order.get(f[0], 0), f[0]))
    return out


def check_config(config, board, boards_dir=boardinfo.BOARDS):
    """Validate config.json on the host exactly as main.py will on the device."""
    if not os.path.exists(config):
        raise DeployError("%s not found: create it with `make config` (tools/config.py)" % config)
    kind = boardinfo.load_board(board, boards_dir)["kind"]
    try:
        cfg = devconfig.load(config, kind)
    except devconfig.ConfigError as e:
        raise DeployError(str(e))
    if cfg["board"] != board:
        raise DeployError("config.json: board: is %r but --board is %r" % (cfg["board"], board))
    return cfg


def plan(files, old):
    """(to_copy, to_remove): files whose hash differs from the old manifest, and
    previously deployed code files that are no longer in the image."""
    old_files = (old or {}).get("files", {})
    to_copy = [f for f in files if old_files.get(f[0]) != f[3]]
    now = set(f[0] for f in files)
    to_remove = sorted(p for p in old_files if p not in now and p != CONFIG_PATH)
    return to_copy, to_remove


def manifest_for(files):
    return {"version": MANIFEST_VERSION, "files": dict((f[0], f[3]) for f in files)}


def parent_dirs(paths):
    """Directories to create for device paths, parents first ("/hal", "/hal/sim")."""
    dirs = []
    for p in paths:
        parts = p.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in dirs:
                dirs.append(d)
    return dirs


APPS_MARKER = "apps/current.json"  # appboot.py's marker, relative to the device root


def shadowing_sources(paths):
    """For each deployed x.mpy, the x.py that MicroPython would import first if present
    (left over from `mpremote mip install` or a hand copy)."""
    return [p[:-4] + ".py" for p in paths if p.endswith(".mpy")]


# ---------------------------------------------------------------- targets
class DirTarget:
    """A local folder laid out exactly as the device filesystem would be."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def _local(self, device_path):
        return os.path.join(self.root, device_path.lstrip("/"))

    def probe(self):
        try:
            with open(self._local(MANIFEST)) as f:
                return None, json.load(f)
        except (OSError, ValueError):
            return None, None

    def prepare(self, dirs, remove):
        for d in dirs:
            os.makedirs(self._local(d), exist_ok=True)
        for p in remove:
            try:
                os.remove(self._local(p))
            except OSError:
                pass

    def copy(self, items, progress, manifest):
        """Copy one batch, then record it in the manifest."""
        for local, dev in items:
            shutil.copyfile(local, self._local(dev))
            progress(dev)
        self.write_manifest(manifest)

    def write_manifest(self, manifest):
        tmp = self._local(MANIFEST) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(manifest, f, sort_keys=True)
        os.replace(tmp, self._local(MANIFEST))

    def reset(self):
        pass


def mpremote_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return exe if os.path.exists(exe) else (shutil.which("mpremote") or "mpremote")


def connect_args(port, exe=None):
    return [exe or mpremote_exe(), "connect", port]


PROBE_CODE = (
    "import sys\n"
    "print('PROBE', sys.platform, getattr(sys.implementation, '_mpy', 0) & 0xff)\n"
    "try:\n"
    "    f = open(%r)\n"
    "    print(f.read())\n"
    "    f.close()\n"
    "except OSError:\n"
    "    print('{}')\n" % MANIFEST
)


def probe_cmd(port, exe=None):
    """Platform, .mpy version and the manifest, in one connection."""
    return connect_args(port, exe) + ["exec", PROBE_CODE]


def prepare_code(dirs, remove):
    """Device-side code: create directories, delete files; both tolerate what is already so."""
    return (
        "import os\n"
        "for d in %r:\n"
        "    try:\n"
        "        os.mkdir(d)\n"
        "    except OSError:\n"
        "        pass\n"
        "for p in %r:\n"
        "    try:\n"
        "        os.remove(p)\n"
        "    except OSError:\n"
        "        pass\n" % (list(dirs), list(remove))
    )


def prepare_cmd(port, dirs, remove, exe=None):
    return connect_args(port, exe) + ["exec", prepare_code(dirs, remove)]


def copy_cmds(port, items, exe=None, batch=BATCH_FILES):
    """mpremote command lines copying (local, device path) pairs, `batch` per connection,
    chained with "+"; -f because the manifest already says they differ."""
    cmds = []
    for i in range(0, len(items), batch):
        cmd = connect_args(port, exe)
        for j, (local, dev) in enumerate(items[i:i + batch]):
            if j:
                cmd.append("+")
            cmd += ["fs", "cp", "-f", local, ":" + dev]
        cmds.append(cmd)
    return cmds


def reset_cmd(port, exe=None):
    return connect_args(port, exe) + ["reset"]


class MpremoteTarget:
    """A device on a serial port (or anything `mpremote connect` accepts)."""

    def __init__(self, port, exe=None, run=None):
        self.port = port
        self.exe = exe
        self.run = run or self._run
        self._tmp = None

    def _run(self, cmd, on_line=None):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in p.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if on_line:
                on_line(line)
        if p.wait() != 0:
            raise DeployError("mpremote failed (%s):\n%s\n%s" % (" ".join(cmd[:4]), "\n".join(lines[-10:]), _port_hint(self.port)))
        return lines

    def probe(self):
        lines = self.run(probe_cmd(self.port, self.exe))
        for i, line in enumerate(lines):
            if line.startswith("PROBE "):
                _, platform, mpy_major = line.split()
                try:
                    manifest = json.loads("\n".join(lines[i + 1:]) or "{}")
                except ValueError:
                    manifest = None  # unreadable manifest: copy everything
                return (platform, int(mpy_major)), manifest
        raise DeployError("the device did not answer the probe: is MicroPython running on %s?" % self.port)

    def prepare(self, dirs, remove):
        if dirs or remove:
            self.run(prepare_cmd(self.port, dirs, remove, self.exe))

    def copy(self, items, progress, manifest):
        """Copy one batch and, last in the same connection, the manifest that records it."""
        def on_line(line):
            # mpremote prints "cp <local> :<device path>" as it starts each file.
            if line.startswith("cp ") and " :" in line:
                dev = line.rsplit(" :", 1)[1]
                if dev != MANIFEST:
                    progress(dev)
        tmp = self._manifest_file(manifest)
        try:
            self.run(copy_cmds(self.port, list(items) + [(tmp, MANIFEST)], self.exe, batch=len(items) + 1)[0], on_line)
        finally:
            os.remove(tmp)

    def _manifest_file(self, manifest):
        import tempfile
        fd, tmp = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(manifest, f, sort_keys=True)
        return tmp

    def write_manifest(self, manifest):
        tmp = self._manifest_file(manifest)
        try:
            self.run(copy_cmds(self.port, [(tmp, MANIFEST)], self.exe)[0])
        finally:
            os.remove(tmp)

    def reset(self):
        self.run(reset_cmd(self.port, self.exe))


def _port_hint(port):
    return ("check the port (`mpremote connect list` shows them), that no other program "
            "(a serial monitor, another mpremote) holds %s, and that MicroPython is flashed "
            "(`make flash`)" % port)


def target_for(port, exe=None):
    if not port:
        raise DeployError("no port: pass PORT= to make (--port to tools/deploy.py): /dev/ttyUSB0 (Linux), "
                          "/dev/cu.usbserial-* (macOS), COM3 (Windows), or dir:<folder> for a local folder")
    if port.startswith("dir:"):
        return DirTarget(port[4:])
    return MpremoteTarget(port, exe)


def check_device(info, board):
    """Refuse a device whose platform or .mpy version cannot run this build."""
    if info is None:
        return
    platform, mpy_major = info
    chip = boardinfo.chip_of(board)
    want = PLATFORM_BY_CHIP.get(chip, DEFAULT_PLATFORM) if chip else None
    if want and platform != want:
        raise DeployError("the device runs MicroPython for %s but board %r is %s: wrong board or wrong firmware flashed" % (platform, board.get("name"), chip))
    if mpy_major != MPY_MAJOR:
        raise DeployError("the device loads .mpy version %d, this build makes version %d: flash MicroPython v1.22 or later" % (mpy_major, MPY_MAJOR))


# ---------------------------------------------------------------- deploy
def deploy(port, board, config=None, full=False, build_dir=None, firmware=boardinfo.FIRMWARE,
           boards_dir=boardinfo.BOARDS, target=None, out=print, quiet_build=False, extra=()):
    """Build and copy what changed. Returns the list of device paths copied."""
    bdict = boardinfo.load_board(board, boards_dir)
    extra = [parse_extra(e) if isinstance(e, str) else e for e in extra]
    if config:
        cfg = check_config(config, board, boards_dir)
        sent = set(dev for _, dev in extra)
        for key in ("ca_cert", "client_cert", "client_key"):
            p = cfg.get(key)
            if p and ("/" + p.lstrip("/")) not in sent:
                out("note: config.json names %s %s: pass --extra <file>=%s unless it is on the device already"
                    % (key, p, "/" + p.lstrip("/")))
    target = target or target_for(port)
    files = image(board, config, build_dir, firmware, boards_dir, quiet=quiet_build, extra=extra)
    info, old = target.probe()
    check_device(info, dict(bdict, name=board))
    if full:
        old = None
    to_copy, to_remove = plan(files, old)
    to_remove = to_remove + shadowing_sources(f[0] for f in to_copy)
    if to_copy:
        # New code over USB runs from the base tree: forget an installed bundle
        # (firmware/appboot.py would otherwise keep its folder first on sys.path).
        to_remove.append(APPS_MARKER)
    target.prepare(parent_dirs(f[0] for f in to_copy), to_remove)
    sizes = dict((f[0], f[2]) for f in files)
    done = []

    def progress(dev):
        done.append(dev)
        out("  [%d/%d] %s (%d B)" % (len(done), len(to_copy), dev, sizes.get(dev, 0)))

    # The manifest is rewritten after every batch: a deploy cut short (a watchdog reset,
    # a pulled cable) leaves a manifest that is true, and the next one copies only the rest.
    current = dict((p, h) for p, h in ((old or {}).get("files", {})).items() if p not in to_remove)
    if to_copy:
        out("copying %d of %d files to %s" % (len(to_copy), len(files), port))
        for i in range(0, len(to_copy), BATCH_FILES):
            batch = to_copy[i:i + BATCH_FILES]
            for f in batch:
                current[f[0]] = f[3]
            target.copy([(f[1], f[0]) for f in batch], progress, {"version": MANIFEST_VERSION, "files": dict(current)})
    else:
        out("nothing changed on %s (%d files up to date)" % (port, len(files)))
    for p in plan(files, old)[1]:
        out("  removed %s (no longer in the image)" % p)
    if not to_copy and (to_remove or old is None):
        target.write_manifest(manifest_for(files))
    target.reset()
    if not isinstance(target, DirTarget):
        out("reset %s: watch the console with `mpremote connect %s repl`" % (port, port))
    return done


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build and copy the firmware to a device (only changed files)")
    ap.add_argument("--port", required=True, help="serial port, or dir:<folder> for a local folder")
    ap.add_argument("--board", required=True, help="board name (boards/<name>.json)")
    ap.add_argument("--config", default="", help="config.json to install as /config.json ('' keeps the device's)")
    ap.add_argument("--full", action="store_true", help="ignore the device manifest and copy everything")
    ap.add_argument("--extra", action="append", default=[], metavar="LOCAL=/PATH",
                    help="also copy a file, e.g. --extra ca.pem=/ca.pem (repeatable)")
    args = ap.parse_args(argv)
    try:
        deploy(args.port, args.board, args.config or None, args.full, extra=args.extra)
    except (DeployError, mpy.BuildError, boardinfo.BoardFileError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
