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


async def run_session(runtime, scenario, script=None, speed=20, cp_id="CP1", extra_cfg=None,
                      csms_kwargs=None, workdir=None, echo=False):
    """Run one charger session. `script(csms, station)` is an optional coroutine
    playing the CSMS side. Returns (station, firmware output lines, exit code)."""
    workdir = workdir or tempfile.mkdtemp(prefix="ocpp-scn-")
    async with Csms(**(csms_kwargs or {})) as csms:
        cfg = sim.write_config(workdir, csms.url, cp_id, speed, scenario, extra_cfg)
        cmd, env = sim.firmware_command(runtime, cfg)
        fw = asyncio.ensure_future(sim.run_firmware(cmd, env, out=None, timeout=SCENARIO_TIMEOUT_S))
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
