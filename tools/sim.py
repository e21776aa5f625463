"""Host simulator: an embedded CSMS on 127.0.0.1 and one simulated charger
running the real firmware (under the `micropython` command by default) through
a scenario. Prints every OCPP frame on one line as it happens and a summary.

  make sim
  make sim SIM_ARGS="--speed 50 --scenario tools/scenarios/basic.json"
  make sim SIM_ARGS="--csms ws://my-csms:9000/ocpp --id CP042"
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


def firmware_command(runtime, config_path):
    """The command line that runs the firmware on this host, and its environment."""
    env = dict(os.environ)
    main = os.path.join(FIRMWARE, "main.py")
    if runtime == "micropython":
        exe = os.path.join(os.path.dirname(sys.executable), "micropython")
        if not os.path.exists(exe):
            exe = shutil.which("micropython") or exe
        env["MICROPYPATH"] = ".frozen:" + FIRMWARE
        return [exe, main, config_path], env
    env["PYTHONPATH"] = FIRMWARE
    return [sys.executable, "-u", main, config_path], env


def load_scenario(path):
    with open(path) as f:
        events = json.load(f)
    if not isinstance(events, list):
        raise SystemExit("%s: a scenario is a JSON list of events" % path)
    return events


def write_config(workdir, url, cp_id, speed, scenario, extra=None):
    scn = os.path.join(workdir, "scenario.json")
    with open(scn, "w") as f:
        json.dump(scenario, f)
    cfg = {"csms_url": url, "charge_point_id": cp_id, "board": "sim",
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
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    workdir = tempfile.mkdtemp(prefix="ocpp-sim-")
    t0 = time.time()
    try:
        if args.csms:
            cmd, env = firmware_command(args.runtime, write_config(workdir, args.csms, args.id, args.speed, scenario))
            print("[sim] firmware (%s) -> %s/%s" % (args.runtime, args.csms.rstrip("/"), args.id))
            rc, _ = await run_firmware(cmd, env)
            return rc
        from csms import Csms, summary
        async with Csms() as csms:
            cmd, env = firmware_command(args.runtime, write_config(workdir, csms.url, args.id, args.speed, scenario))
            print("[sim] embedded CSMS on %s; firmware (%s) as %s, %gx speed" % (csms.url, args.runtime, args.id, args.speed))
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
