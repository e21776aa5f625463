"""Fleet simulator: N simulated chargers, each the real firmware (firmware/app.py: the
OCPP core, evse, the WebSocket link) on sim hardware, in one CPython process, one
WebSocket each, against one CSMS. Ramp-up rate, a mix of scenarios, a bounded duration,
progress lines while it runs, and a summary: chargers connected, messages per second each
way, CSMS answer latency p50/p95/p99, failures by kind.

  make fleet SIM_ARGS="--n 1000 --csms ws://127.0.0.1:9000/ocpp"
  .venv/bin/python tools/fleet.py --n 50 --rate 100 --speed 20

Only ever connects to the --csms URL (which must be ws:// or wss://); without it, the
embedded CSMS (tools/csms.py) is started as a child process on 127.0.0.1, so the
simulator and the CSMS each have their own core and their CPU use is reported apart.
"""
import argparse
import asyncio
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)

import app as fw_app  # noqa: E402  (the firmware's composition root)
import log  # noqa: E402
from hal import sim as hal_sim  # noqa: E402

SCENARIOS = os.path.join(HERE, "scenarios")
DEFAULT_N = 100
DEFAULT_RATE = 50           # chargers started per second
DEFAULT_SPEED = 10          # simulated seconds per real second
DEFAULT_PERIOD_MS = 1000    # simulated control period of each charger (coarser than the device's 100 ms)
DEFAULT_DURATION_S = 300    # the fleet is stopped after this long whatever happens
PROGRESS_S = 5              # a progress line this often
CSMS_START_S = 20           # the embedded CSMS must print its URL within this
STOP_GRACE_S = 10           # at the end, chargers get this long to close their links
LAG_PROBE_S = 0.1           # the simulator's event loop is probed this often ...
LAG_SATURATED_MS = 50       # ... and is the bottleneck when its p95 lateness exceeds this
LOG_KINDS_MAX = 40          # distinct firmware warning kinds kept for the summary
SIM_BOARD = {"name": "sim", "kind": "sim", "connectors": 1, "max_current_a": 32, "phases": 1,
             "voltage_v": 230, "meter": "sim", "reader": "sim"}


class Stats:
    """Frames, latencies and failures of the whole fleet."""

    def __init__(self, record=False):
        self.out = 0
        self.inn = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self.latencies = []      # seconds from our CALL to the CSMS's answer
        self.failures = {}       # kind -> count
        self.record = [] if record else None   # (charger id, "out"/"in", text, action answered)
        self.lag = []            # seconds the simulator's event loop woke late (LAG_PROBE_S probes)
        self.first = None
        self.last = None

    def fail(self, kind, n=1):
        self.failures[kind] = self.failures.get(kind, 0) + n

    def mark(self):
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now


class FleetLog:
    """log.out for every charger: warnings and errors counted by kind, nothing printed."""

    def __init__(self, stats):
        self.stats = stats

    def write(self, text):
        for line in text.splitlines():
            if line.endswith(": stopped"):  # the fleet itself closed this link at the end
                continue
            if line.startswith("[warning]") or line.startswith("[error]"):
                kind = line.split(":", 1)[0] + ":" + (line.split(":", 2)[1] if ":" in line else "")
                kind = kind.strip()[:60]
                if kind in self.stats.failures or len(self.stats.failures) < LOG_KINDS_MAX:
                    self.stats.fail("log " + kind)

    def flush(self):
        pass


class Charger:
    """One simulated charger: the firmware App on hal.sim, with its frames counted."""

    def __init__(self, fleet, index, scenario):
        self.fleet = fleet
        self.cp_id = "%s%05d" % (fleet.prefix, index)
        self.scenario = scenario
        self.dir = os.path.join(fleet.workdir, self.cp_id)
        self.connected = False
        self.connects = 0
        self.pending = {}        # msg id -> (send time, action)
        self.starts = 0          # StartTransaction answered
        self.stops = 0           # StopTransaction answered
        self.result = None
        self.app = None
        self.hw = None
        self.clock = None
        self.playing = False     # the scenario starts once the CSMS accepted the BootNotification

    def config(self):
        f = self.fleet
        return {"csms_url": f.url, "charge_point_id": self.cp_id, "board": "sim", "security_profile": 0,
                "authorization_key": None, "wifi": None, "log_level": "warning", "vendor": "MicroPython-OCPP",
                "model": "FleetSim", "data_dir": self.dir, "ca_cert": None, "client_cert": None,
                "client_key": None, "ntp_host": None, "status_password": None, "max_current_a": None,
                "sim": {"speed": f.speed, "period_ms": f.period_ms}}

    async def run(self):
        cfg = self.config()
        hw = self.hw = hal_sim.build(dict(SIM_BOARD))
        clock = self.clock = fw_app.Clock(self.fleet.speed)
        charger = self

        class FleetApp(fw_app.App):
            def _make_link(self):
                link = fw_app.App._make_link(self)
                send = link.send

                async def counted_send(text):
                    await send(text)
                    charger.sent(text)
                link.send = counted_send
                return link

            def event(self, kind, arg=None, size=0):
                if kind == "open":
                    charger.connected = True
                    charger.connects += 1
                elif kind == "message":
                    charger.received(arg)
                return fw_app.App.event(self, kind, arg, size)

        try:
            while True:
                self.app = FleetApp(cfg, hw, clock)
                self.result = await self.app.run()
                if self.result != "reboot":
                    return
        except asyncio.CancelledError:
            self.result = "stopped"
            raise
        except Exception as e:
            self.result = "crashed"
            self.fleet.stats.fail("charger crashed: %s" % type(e).__name__)

    def play(self):
        """Start the scenario now: its times count from the accepted boot, so a loaded
        fleet's slow connects do not eat into it (a card tapped before boot is not sent)."""
        self.playing = True
        t0 = self.clock.now() / 1000.0
        events = []
        for e in self.scenario:
            e = dict(e)
            e["at"] = e["at"] + t0
            events.append(e)
        self.hw.sim.load_scenario(events)

    def sent(self, text):
        s = self.fleet.stats
        s.out += 1
        s.bytes_out += len(text)
        s.mark()
        try:
            m = json.loads(text)
        except ValueError:
            s.fail("unparsable frame sent")
            return
        if m[0] == 2:
            self.pending[m[1]] = (time.monotonic(), m[2])
        if s.record is not None:
            s.record.append((self.cp_id, "out", text, None))

    def received(self, text):
        s = self.fleet.stats
        s.inn += 1
        s.bytes_in += len(text)
        s.mark()
        action = None
        try:
            m = json.loads(text)
        except ValueError:
            s.fail("unparsable frame received")
            return
        if m[0] in (3, 4) and isinstance(m[1], str):
            p = self.pending.pop(m[1], None)
            if p is not None:
                s.latencies.append(time.monotonic() - p[0])
                action = p[1]
                if m[0] == 4:
                    s.fail("CALLERROR %s to %s" % (m[2] if len(m) > 2 else "?", action))
                elif action == "BootNotification" and not self.playing and m[2].get("status") == "Accepted":
                    self.play()
                elif action == "StartTransaction":
                    self.starts += 1
                elif action == "StopTransaction":
                    self.stops += 1
        if s.record is not None:
            s.record.append((self.cp_id, "in", text, action))


class Fleet:
    def __init__(self, url, n, rate, speed, scenarios, duration_s, period_ms=DEFAULT_PERIOD_MS,
                 prefix="FLEET", record=False, out=sys.stdout):
        self.url = url
        self.n = n
        self.rate = rate
        self.speed = speed
        self.scenarios = scenarios   # [(name, events)]
        self.duration_s = duration_s
        self.period_ms = period_ms
        self.prefix = prefix
        self.out = out
        self.stats = Stats(record)
        self.chargers = []
        self.workdir = tempfile.mkdtemp(prefix="ocpp-fleet-")

    def say(self, text):
        if self.out is not None:
            self.out.write("[fleet] " + text + "\n")
            self.out.flush()

    def expected_sessions(self, c):
        return sum(1 for e in c.scenario if e.get("do") == "plug")

    def progress(self, t0):
        s = self.stats
        up = sum(1 for c in self.chargers if c.app is not None and c.app.link is not None and c.app.link.up)
        done = sum(1 for c in self.chargers if c.result is not None)
        self.say("t=%3ds started %d/%d, connected now %d, finished %d, frames out %d in %d, sessions done %d"
                 % (time.monotonic() - t0, len(self.chargers), self.n, up, done, s.out, s.inn,
                    sum(c.stops for c in self.chargers)))

    async def run(self):
        log.out = FleetLog(self.stats)
        log.set_level("warning")
        t0 = time.monotonic()
        deadline = t0 + self.duration_s
        tasks = []
        next_progress = t0 + PROGRESS_S
        cpu0 = time.process_time()

        async def lag_probe():
            while True:
                t = time.monotonic()
                await asyncio.sleep(LAG_PROBE_S)
                self.stats.lag.append(max(0.0, time.monotonic() - t - LAG_PROBE_S))
        probe = asyncio.create_task(lag_probe())
        try:
            for i in range(self.n):
                name, events = self.scenarios[i % len(self.scenarios)]
                c = Charger(self, i + 1, events)
                self.chargers.append(c)
                tasks.append(asyncio.create_task(c.run()))
                due = t0 + (i + 1) / self.rate
                while time.monotonic() < due:
                    await asyncio.sleep(min(0.05, max(0.0, due - time.monotonic())))
                    if time.monotonic() >= next_progress:
                        next_progress += PROGRESS_S
                        self.progress(t0)
                if time.monotonic() >= deadline:
                    break
            while time.monotonic() < deadline and not all(t.done() for t in tasks):
                await asyncio.sleep(0.1)
                if time.monotonic() >= next_progress:
                    next_progress += PROGRESS_S
                    self.progress(t0)
            timed_out = not all(t.done() for t in tasks)
        finally:
            probe.cancel()
            for c in self.chargers:   # a bounded run: whoever is still going stops now
                if c.app is not None and c.app.link is not None:
                    c.app.link.stop()
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks, timeout=STOP_GRACE_S) if tasks else None
            log.out = sys.stdout
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.wall_s = time.monotonic() - t0
        self.cpu_s = time.process_time() - cpu0
        self.timed_out = timed_out
        return self.summary()

    def summary(self):
        s = self.stats
        lat = sorted(s.latencies)
        incomplete = 0
        for c in self.chargers:
            if c.stops < self.expected_sessions(c):
                incomplete += 1
            if c.pending:
                s.fail("CALL unanswered at the end", len(c.pending))
            if not c.connects:
                s.fail("never connected")
            if c.result == "stopped":
                s.fail("stopped by the duration limit")
        if incomplete:
            s.fail("sessions not completed", incomplete)
        active = (s.last - s.first) if s.first is not None and s.last > s.first else 0.0
        return {
            "chargers": self.n, "started": len(self.chargers),
            "connected": sum(1 for c in self.chargers if c.connects),
            "sessions_expected": sum(self.expected_sessions(c) for c in self.chargers),
            "sessions_completed": sum(min(c.stops, self.expected_sessions(c)) for c in self.chargers),
            "frames_out": s.out, "frames_in": s.inn,
            "msgs_per_s_out": round(s.out / active, 1) if active else 0.0,
            "msgs_per_s_in": round(s.inn / active, 1) if active else 0.0,
            "latency_ms": {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "p99": _pct(lat, 99), "max": _pct(lat, 100)},
            "sim_loop_lag_ms": {"p50": _pct(sorted(s.lag), 50), "p95": _pct(sorted(s.lag), 95), "max": _pct(sorted(s.lag), 100)},
            "failures": dict(sorted(s.failures.items())),
            "wall_s": round(self.wall_s, 2), "active_s": round(active, 2),
            "sim_cpu_s": round(self.cpu_s, 2), "timed_out": self.timed_out,
            "charger_sim_s": round(sum(c.clock.now() for c in self.chargers if c.clock is not None) / 1000.0),
            "speed": self.speed, "rate": self.rate,
        }


def _pct(sorted_values, p):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return round(sorted_values[i] * 1000, 1)


def load_scenarios(paths):
    out = []
    for p in paths:
        with open(p) as f:
            events = json.load(f)
        if not isinstance(events, list):
            raise SystemExit("%s: a scenario is a JSON list of events" % p)
        out.append((os.path.basename(p), events))
    return out


class CsmsProcess:
    """tools/csms.py --serve as a child process on 127.0.0.1: its own core, its CPU time read from /proc."""

    async def __aenter__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "csms.py"), "--serve"],
                                     stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        loop = asyncio.get_running_loop()
        line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline), CSMS_START_S)
        if not line.startswith("CSMS "):
            self.proc.kill()
            raise SystemExit("embedded CSMS did not start: %r" % line)
        self.url = line.split()[1]
        self.cpu0 = self.cpu_s()
        return self

    def cpu_s(self):
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    async def __aexit__(self, *exc):
        self.used_cpu_s = None
        c = self.cpu_s()
        if c is not None and self.cpu0 is not None:
            self.used_cpu_s = c - self.cpu0
        try:
            self.proc.stdin.close()   # the CSMS ends when its stdin closes
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


SATURATED = 0.8  # a side busy this fraction of one core is the bottleneck


def verdict(summary, csms_cpu_s):
    """CPU of each side over the run, the estimate of chargers one simulator core sustains
    (at this speed and scenario mix), and the bottleneck: the side near a full core, else
    "none" (both had room), with the busier side named."""
    wall = summary["wall_s"] or 1
    sim_load = summary["sim_cpu_s"] / wall
    lines = ["simulator CPU %.0f %% of one core" % (100 * sim_load)]
    if summary["sim_cpu_s"] > 0 and summary["charger_sim_s"]:
        # one core-second simulates this many charger-seconds: the chargers one core keeps at real time
        per_core = int(summary["charger_sim_s"] / summary["sim_cpu_s"])
        summary["chargers_per_core_1x"] = per_core
        lines.append("simulator CPU %.2f ms per charger per simulated second: one core sustains about %d chargers "
                     "in real time (--speed 1), %d at --speed %g" % (1000.0 * summary["sim_cpu_s"] / summary["charger_sim_s"],
                                                                    per_core, per_core / summary["speed"], summary["speed"]))
    lag = summary["sim_loop_lag_ms"]
    lines.append("simulator event loop late by p50 %s ms, p95 %s ms, max %s ms" % (lag["p50"], lag["p95"], lag["max"]))
    # On a shared machine a busy process gets less than a core: a late event loop is the
    # sign that the simulator could not keep up, whatever its CPU share.
    sim_busy = sim_load >= SATURATED or (lag["p95"] or 0) > LAG_SATURATED_MS
    if csms_cpu_s is None:
        lines.append("CSMS CPU: not measured (external CSMS)")
        return lines, "simulator" if sim_busy else None
    csms_load = csms_cpu_s / wall
    lines.append("CSMS CPU %.0f %% of one core" % (100 * csms_load))
    if sim_busy:
        return lines, "simulator"
    if csms_load >= SATURATED:
        return lines, "CSMS"
    return lines, "none (simulator loop on time, CSMS below %d %% of a core)" % (100 * SATURATED)


def print_summary(summary, out=sys.stdout, extra=()):
    w = out.write
    w("[fleet] ---- summary ----\n")
    w("[fleet] chargers connected %d of %d, sessions completed %d of %d, %.1f s wall (%.1f s with traffic)\n"
      % (summary["connected"], summary["chargers"], summary["sessions_completed"], summary["sessions_expected"],
         summary["wall_s"], summary["active_s"]))
    w("[fleet] messages/s charger->CSMS %.1f, CSMS->charger %.1f (%d and %d frames)\n"
      % (summary["msgs_per_s_out"], summary["msgs_per_s_in"], summary["frames_out"], summary["frames_in"]))
    lat = summary["latency_ms"]
    w("[fleet] CSMS answer latency ms: p50 %s, p95 %s, p99 %s, max %s\n" % (lat["p50"], lat["p95"], lat["p99"], lat["max"]))
    if summary["failures"]:
        for k, v in summary["failures"].items():
            w("[fleet] failure: %s x%d\n" % (k, v))
    else:
        w("[fleet] failures: none\n")
    for line in extra:
        w("[fleet] " + line + "\n")
    out.flush()


async def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="number of chargers (default %d)" % DEFAULT_N)
    ap.add_argument("--csms", help="CSMS URL, ws:// or wss:// (the charge point id is appended); default: embedded")
    ap.add_argument("--rate", type=float, default=DEFAULT_RATE, help="chargers started per second")
    ap.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="simulated seconds per real second")
    ap.add_argument("--period-ms", type=int, default=DEFAULT_PERIOD_MS, help="simulated control period per charger")
    ap.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="stop after this many seconds")
    ap.add_argument("--scenario", action="append", help="scenario file (repeat for a mix; default: tools/scenarios/*.json)")
    ap.add_argument("--prefix", default="FLEET", help="charge point id prefix (ids are PREFIX00001...)")
    ap.add_argument("--json", help="write the summary as JSON to this file")
    ap.add_argument("--frames", help="write every frame (JSON lines: id, direction, text, answered action)")
    args = ap.parse_args(argv)
    if args.n < 1 or args.rate <= 0 or args.speed <= 0 or args.duration <= 0:
        raise SystemExit("--n, --rate, --speed and --duration must be positive")
    if args.csms and not (args.csms.startswith("ws://") or args.csms.startswith("wss://")):
        raise SystemExit("--csms must be a ws:// or wss:// URL")
    scenarios = load_scenarios(args.scenario or sorted(glob.glob(os.path.join(SCENARIOS, "*.json"))))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # one socket and a few queue files per charger
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def go(url):
        fleet = Fleet(url, args.n, args.rate, args.speed, scenarios, args.duration, args.period_ms,
                      args.prefix, record=bool(args.frames))
        fleet.say("%d chargers -> %s, %g/s ramp-up, %gx speed, scenarios %s, at most %g s"
                  % (args.n, url, args.rate, args.speed, ", ".join(n for n, _ in scenarios), args.duration))
        return fleet, await fleet.run()

    if args.csms:
        fleet, summary = await go(args.csms)
        csms_cpu = None
    else:
        async with CsmsProcess() as csms:
            fleet, summary = await go(csms.url)
        csms_cpu = csms.used_cpu_s
    lines, side = verdict(summary, csms_cpu)
    summary["csms_cpu_s"] = None if csms_cpu is None else round(csms_cpu, 2)
    summary["bottleneck"] = side
    if side:
        lines.append("bottleneck: %s" % side)
    print_summary(summary, extra=lines)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.frames:
        with open(args.frames, "w") as f:
            for rec in fleet.stats.record:
                f.write(json.dumps(rec) + "\n")
    ok = (summary["connected"] == summary["chargers"] and summary["sessions_completed"] == summary["sessions_expected"]
          and not summary["timed_out"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
