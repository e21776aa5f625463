#!/usr/bin/env python3
# `make romfs BOARD=...`: the board's .mpy image (tools/mpy.py, build/<board>/) packed
# into a ROMFS image, build/<board>.romfs, with `mpremote romfs build`. On a device built
# with MICROPY_VFS_ROM the image lives in the "romfs" flash partition and its bytecode
# runs in place (no heap for code); `mpremote romfs deploy` writes it there. Host only.
import argparse
import os
import subprocess
import sys

import boardinfo

BUILD = os.path.join(boardinfo.ROOT, "build")


class RomfsError(Exception):
    pass


def mpremote_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return exe if os.path.exists(exe) else "mpremote"


def build_image(src_dir, out):
    """Pack the folder `src_dir` (already compiled: --no-mpy) into the image `out`.
    Returns its size in bytes. The options go before the subcommand."""
    r = subprocess.run([mpremote_exe(), "romfs", "--no-mpy", "-o", out, "build", src_dir],
                       capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        raise RomfsError("mpremote romfs build failed: %s" % (r.stderr or r.stdout).strip())
    return os.path.getsize(out)


def build(board_name, out=None, build_dir=None, quiet=False):
    """Compile the board's image (into build_dir, default build/<board>) and pack it.
    Returns (image path, size)."""
    mpy = boardinfo.mpy_tool()  # tools/mpy.py (host_tests/ has a module of that name too)
    src = build_dir or os.path.join(BUILD, board_name)
    mpy.build(board_name, src, quiet=quiet)
    out = out or os.path.join(BUILD, board_name + ".romfs")
    size = build_image(src, out)
    if not quiet:
        print("%s: ROMFS image of build/%s, %d bytes" % (os.path.relpath(out), board_name, size))
    return out, size


def main(argv=None):
    ap = argparse.ArgumentParser(description="Pack a board's .mpy image into a ROMFS image")
    ap.add_argument("--board", required=True, help="board name (boards/<name>.json)")
    ap.add_argument("--out", help="image file (default build/<board>.romfs)")
    args = ap.parse_args(argv)
    try:
        build(args.board, args.out)
    except Exception as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
