# tools/fleet.py as `make fleet` runs it: 50 simulated chargers (the real firmware on sim
# hardware, one WebSocket each) against the embedded CSMS in its own process on 127.0.0.1;
# every session completes and every frame, both ways, is valid under the official schemas.
import json
import os
import subprocess
import sys

import schemas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 50


def test_fifty_chargers_complete_their_sessions_with_schema_valid_frames(tmp_path):
    summary_path, frames_path = str(tmp_path / "summary.json"), str(tmp_path / "frames.jsonl")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "fleet.py"), "--n", str(N), "--rate", "200",
                        "--speed", "40", "--duration", "50", "--scenario", os.path.join(ROOT, "tools/scenarios/basic.json"),
                        "--json", summary_path, "--frames", frames_path],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    s = json.load(open(summary_path))
    assert s["connected"] == N and s["sessions_completed"] == s["sessions_expected"] == N, out
    assert s["failures"] == {}, out
    assert not s["timed_out"]
    assert s["latency_ms"]["p50"] is not None and s["latency_ms"]["p50"] <= s["latency_ms"]["p99"]
    assert "[fleet] ---- summary ----" in out and "CSMS answer latency ms: p50" in out
    assert "bottleneck: " in out
    frames = [json.loads(line) for line in open(frames_path)]
    assert len(frames) == s["frames_out"] + s["frames_in"]
    per = {}
    for cp_id, direction, text, answered in frames:
        m = json.loads(text)
        # a CALLRESULT is checked against the action of the CALL it answers
        schemas.validate_frame(m, answered if m[0] == 3 else None)
        if m[0] == 2:
            per.setdefault(cp_id, []).append(m[2])
    assert len(per) == N
    for cp_id, actions in per.items():
        assert actions[0] == "BootNotification", (cp_id, actions)
        assert actions.count("StartTransaction") == 1 and actions.count("StopTransaction") == 1, (cp_id, actions)
        assert actions.index("StartTransaction") < actions.index("StopTransaction")
    # every CALL from a charger was answered
    calls = sum(1 for f in frames if f[1] == "out" and json.loads(f[2])[0] == 2)
    answers = sum(1 for f in frames if f[1] == "in" and f[3] is not None)
    assert calls == answers
