# Scenario harness: the whole firmware (sim board) as a subprocess on CPython or
# real MicroPython, against the embedded CSMS (the `ocpp` package) over real
# WebSockets on 127.0.0.1. Every frame the firmware sends is checked against
# the official OCPP 1.6 JSON schemas.
import asyncio
import json
import os
import tempfile

import sim
from csms import Csms

import schemas

SCENARIO_TIMEOUT_S = int(os.environ.get("SCENARIO_TIMEOUT_S", "180"))


class LineTap:
    """A file-like `out` for sim.run_firmware that hands every firmware output line to a callback."""

    def __init__(self, on_line):
        self.on_line = on_line

    def write(self, text):
        for line in text.splitlines():
            self.on_line(line)

    def flush(self):
        pass


async def run_session(runtime, scenario, script=None, speed=20, cp_id="CP1", extra_cfg=None,
                      csms_kwargs=None, workdir=None, echo=False, keys=None, on_line=None, csms_ready=None, sim_opts=None):
    """Run one charger session. `script(csms, station)` is an optional coroutine
    playing the CSMS side. `keys`: OCPP configuration keys preset in the data dir
    (as if a CSMS had changed them earlier). `on_line(text)`: called with every
    firmware output line as it comes. `csms_ready(csms)`: called before the firmware
    starts (arm faults there). `sim_opts`: more "sim" options of
    config.json (e.g. period_ms). Returns (station, firmware output lines, exit code)."""
    workdir = workdir or tempfile.mkdtemp(prefix="ocpp-scn-")
    if keys:
        os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
        with open(os.path.join(workdir, "data", "config.json"), "w") as f:
            json.dump(keys, f)
    async with Csms(**(csms_kwargs or {})) as csms:
        if csms_ready is not None:
            csms_ready(csms)
        cfg = sim.write_config(workdir, csms.url, cp_id, speed, scenario, extra_cfg)
        if sim_opts:
            with open(cfg) as f:
                full = json.load(f)
            full["sim"].update(sim_opts)
            with open(cfg, "w") as f:
                json.dump(full, f)
        cmd, env = sim.firmware_command(runtime, cfg)
        out = LineTap(on_line) if on_line is not None else None
        fw = asyncio.ensure_future(sim.run_firmware(cmd, env, out=out, timeout=SCENARIO_TIMEOUT_S))
        script_task = None
        if script is not None:
            station = await csms.connected(cp_id)
            script_task = asyncio.ensure_future(script(csms, station))
        rc, lines = await fw
        if echo:
            print("\n".join(lines))
        if script_task is not None:
            if not script_task.done():
                script_task.cancel()
                raise AssertionError("CSMS script did not finish; firmware output:\n" + "\n".join(lines[-60:]))
            script_task.result()  # re-raise assertion errors from the script
        station = csms.stations.get(cp_id)
        assert station is not None, "charger never connected:\n" + "\n".join(lines[-40:])
        return station, lines, rc


def firmware_frames(station):
    """Frames the firmware sent, parsed."""
    return [json.loads(raw) for d, raw in station.frames if d == "in"]


def check_schemas(station):
    """Validate every frame the firmware sent against the official schemas:
    its CALLs against <Action>.json, its CALLRESULTs against the response
    schema of the CSMS call they answer. Returns the number checked."""
    actions_by_id = {}
    for d, raw in station.frames:
        m = json.loads(raw)
        if d == "out" and m[0] == 2:
            actions_by_id[m[1]] = m[2]
    n = 0
    for d, raw in station.frames:
        if d != "in":
            continue
        m = json.loads(raw)
        if m[0] == 2:
            schemas.validate_request(m[2], m[3])
        elif m[0] == 3:
            schemas.validate_response(actions_by_id[m[1]], m[2])
        else:
            assert m[0] == 4 and isinstance(m[1], str) and isinstance(m[2], str), m
        n += 1
    return n


def normalized(frames):
    """A transcript without message ids and timestamps."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("timestamp", "currentTime")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    out = []
    for m in frames:
        m = list(m)
        m[1] = "<id>"
        out.append(strip(m))
    return out


def calls(frames, action):
    return [m for m in frames if m[0] == 2 and m[2] == action]


TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


def answered_calls(station):
    """The charger's CALLs in the order the CSMS answered them:
    [(action, payload, answer kind 3/4, answer payload or error code, index of the CALL in station.frames)]."""
    sent = {}
    out = []
    for i, (d, raw) in enumerate(station.frames):
        m = json.loads(raw)
        if d == "in" and m[0] == 2:
            sent[m[1]] = (m, i)
        elif d == "out" and m[0] in (3, 4) and m[1] in sent:
            c, at = sent.pop(m[1])
            out.append((c[2], c[3], m[0], m[2], at))
    return out


def delivered_tx_messages(station):
    """Transaction messages the CSMS accepted (answered with a CALLRESULT), in order:
    [(action, payload, answer payload)]."""
    return [(a, p, r) for a, p, kind, r, _ in answered_calls(station) if kind == 3 and a in TX_ACTIONS]


def without_ids(payload):
    """A payload without transactionId and timestamps: what must match across runs."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("timestamp", "transactionId")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    return strip(payload)


def collapse_repeats(seq):
    """seq with consecutive equal items merged, and how many were merged."""
    out = []
    for x in seq:
        if not out or out[-1] != x:
            out.append(x)
    return out, len(seq) - len(out)
