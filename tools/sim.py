"""Host simulator: an embedded CSMS on 127.0.0.1 and one simulated charger
running the real firmware (under the `micropython` command by default) through
a scenario. Prints every OCPP frame on one line as it happens and a summary.

  make sim
  make sim SIM_ARGS="--speed 50 --scenario tools/scenarios/basic.json"
  make sim SIM_ARGS="--csms ws://my-csms:9000/ocpp --id CP042"
  make sim SIM_ARGS="--mpy --heapsize 128000"     (.mpy files from a folder, as a device runs them)
  make sim SIM_ARGS="--romfs --heapsize 150000"   (the same files in a ROMFS image, vfs.VfsRom)
"""
import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
DEFAULT_SCENARIO = os.path.join(HERE, "scenarios", "basic.json")
DEFAULT_SPEED = 20          # simulated seconds per real second
RUN_TIMEOUT_S = 600         # the firmware process is stopped after this long


# Started with -c: the device's /main.py stub (tools/mpy.py) after the image is on the path.
MPY_BOOT = "import startup\nstartup.main()\n"
MPY_CHDIR = "import os\nos.chdir(%r)\n"  # a .mpy folder run: into the folder first
# The unix port has no ffi to map a file: the image is read into the heap, then mounted
# at ROMFS_MOUNT (on a device it stays in flash). The boot line costs a few hundred bytes.
ROMFS_MOUNT = "/rom"
ROMFS_BOOT = ("import vfs,sys\nf=open(%r,'rb')\nb=f.read()\nf.close()\nvfs.mount(vfs.VfsRom(b),'" + ROMFS_MOUNT
              + "')\nsys.path.insert(0,'" + ROMFS_MOUNT + "')\ndel f\n" + MPY_BOOT)


def micropython_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        exe = shutil.which("micropython") or exe
    return exe


def firmware_command(runtime, config_path, mpy_dir=None, romfs=None, heapsize=None, extra_path=()):
    """The command line that runs the firmware on this host, and its environment.
    mpy_dir: a folder laid out as a device root by tools/mpy.py (startup.mpy, ...);
    romfs: a ROMFS image of such a folder (tools/romfs.py); heapsize: -X heapsize=N."""
    env = dict(os.environ)
    main = os.path.join(FIRMWARE, "main.py")
    if runtime == "micropython":
        exe = micropython_exe()
        cmd = [exe] + (["-X", "heapsize=%d" % heapsize] if heapsize else [])
        path = [".frozen"]
        if romfs:
            cmd += ["-c", ROMFS_BOOT % os.path.abspath(romfs)]
        elif mpy_dir:
            # As on a device: the image is the current folder, first on the path as '', so the
            # module file names interned as __file__ are "ocpp16/queue.mpy", not this host's
            # absolute temp paths (about 1 KB of names a device never has).
            path.insert(0, "")
            cmd += ["-c", MPY_CHDIR % os.path.abspath(mpy_dir) + MPY_BOOT]
        else:
            path.append(FIRMWARE)
            cmd += [main, config_path]
        env["MICROPYPATH"] = ":".join(path + list(extra_path))
        env["OCPP_CONFIG"] = config_path  # -c runs have no argv[1]
        return cmd, env
    if mpy_dir or romfs or heapsize:
        raise SystemExit("--mpy, --romfs and --heapsize need --runtime micropython")
    env["PYTHONPATH"] = FIRMWARE
    return [sys.executable, "-u", main, config_path], env


def load_scenario(path):
    with open(path) as f:
        events = json.load(f)
    if not isinstance(events, list):
        raise SystemExit("%s: a scenario is a JSON list of events" % path)
    return events


def write_config(workdir, url, cp_id, speed, scenario, extra=None, board="sim"):
    """config.json in workdir, with the board file next to it in workdir/boards/ (where a
    device keeps it, so .mpy and ROMFS runs outside the checkout find it too)."""
    scn = os.path.join(workdir, "scenario.json")
    with open(scn, "w") as f:
        json.dump(scenario, f)
    os.makedirs(os.path.join(workdir, "boards"), exist_ok=True)
    shutil.copy(os.path.join(ROOT, "boards", board + ".json"), os.path.join(workdir, "boards", board + ".json"))
    cfg = {"csms_url": url, "charge_point_id": cp_id, "board": board,
           "data_dir": os.path.join(workdir, "data"), "log_level": "info",
           "sim": {"speed": speed, "trace": True, "scenario": scn}}
    if extra:
        cfg.update(extra)
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


async def run_firmware(cmd, env, out=sys.stdout, timeout=RUN_TIMEOUT_S):
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    lines = []

    async def pump():
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\n")
            lines.append(text)
            if out is not None:
                out.write(text + "\n")
                out.flush()
    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        lines.append("[sim] firmware stopped after %d s" % timeout)
    return proc.returncode, lines


async def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csms", help="an external CSMS URL (the charge point id is appended); default: embedded")
    ap.add_argument("--id", default="SIM001", help="charge point id (default SIM001)")
    ap.add_argument("--scenario", default=DEFAULT_SCENARIO, help="JSON list of timed events (see README)")
    ap.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="simulated seconds per real second")
    ap.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (config, flash state)")
    ap.add_argument("--mpy", action="store_true", help="run the .mpy files of `make mpy BOARD=sim` from a folder")
    ap.add_argument("--romfs", action="store_true", help="run from the ROMFS image of `make romfs BOARD=sim`")
    ap.add_argument("--heapsize", type=int, help="the MicroPython heap in bytes (-X heapsize=N)")
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    workdir = tempfile.mkdtemp(prefix="ocpp-sim-")
    t0 = time.time()
    run_opts = {"heapsize": args.heapsize}
    if args.mpy or args.romfs:
        import boardinfo
        mpy = boardinfo.mpy_tool()
        run_opts["mpy_dir"] = os.path.join(workdir, "mpy")
        mpy.build("sim", run_opts["mpy_dir"], quiet=True)
        if args.romfs:
            import romfs
            run_opts["romfs"] = os.path.join(workdir, "sim.romfs")
            size = romfs.build_image(run_opts.pop("mpy_dir"), run_opts["romfs"])
            print("[sim] ROMFS image %d bytes (read into the heap: the unix port cannot map it)" % size)

    def command(url):
        return firmware_command(args.runtime, write_config(workdir, url, args.id, args.speed, scenario), **run_opts)
    try:
        if args.csms:
            cmd, env = command(args.csms)
            print("[sim] firmware (%s) -> %s/%s" % (args.runtime, args.csms.rstrip("/"), args.id))
            rc, _ = await run_firmware(cmd, env)
            return rc
        from csms import Csms, summary
        async with Csms() as csms:
            cmd, env = command(csms.url)
            print("[sim] embedded CSMS on %s; firmware (%s%s%s) as %s, %gx speed"
                  % (csms.url, args.runtime, ", .mpy" if args.mpy else ", ROMFS" if args.romfs else "",
                     ", heap %d B" % args.heapsize if args.heapsize else "", args.id, args.speed))
            rc, _ = await run_firmware(cmd, env)
            station = csms.stations.get(args.id)
            print("[sim] ---- summary ----")
            if station is None:
                print("[sim] the charger never connected")
                return 1
            lines = summary(station)
            for line in lines:
                print("[sim] " + line)
            print("[sim] %d frames exchanged, firmware exit code %s, %.1f s wall time"
                  % (len(station.frames), rc, time.time() - t0))
            done = [t for t in station.transactions.values() if t["stop"]]
            return 0 if rc == 0 and done else 1
    finally:
        if args.keep:
            print("[sim] work folder kept: " + workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
