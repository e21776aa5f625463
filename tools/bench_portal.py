"""make bench, portal part: heap with the setup portal and with the status page loaded
(64-bit unix port, .mpy files from tools/mpy.py), page load times on the host (plain HTTP
and headless Chromium), and the fleet simulator's figures (1,000 chargers). Asserts nothing.
"""
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))  # cdp.py (Chromium driver)
sys.path.insert(0, HERE)  # before host_tests: tools/mpy.py, not host_tests/mpy.py
import mpy as fw_mpy  # noqa: E402  (tools/mpy.py)
import sim  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
FLEET_N = 1000
PAGE_LOADS = 20        # page loads per figure (median reported)
STATUS_PASSWORD = "bench-status-1"


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def mpy_dir():
    out = os.path.join(ROOT, "build", "bench-sim")
    fw_mpy.build("sim", out, quiet=True)
    return out


def portal_heap(build):
    work = tempfile.mkdtemp(prefix="bench-portal-")
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s:%s" % (build, os.path.join(ROOT, "host_tests", "fakes"))
    r = subprocess.run([MICROPYTHON, os.path.join(HERE, "bench_portal_mp.py"), work, str(free_port()),
                        str(free_port(socket.SOCK_DGRAM))], env=env, capture_output=True, text=True, timeout=60)
    for line in r.stdout.splitlines():
        if line.startswith("portal_imported="):
            return dict((k, int(v)) for k, v in (kv.split("=") for kv in line.split()))
    print("portal heap: failed\n" + r.stdout + r.stderr)
    return None


async def sim_session(build, status, port=None, probe=None):
    """The sim charger on .mpy; retained heap reports. probe(port) runs while it charges."""
    from csms import Csms
    scenario = [{"at": 3, "do": "card", "id": "04A2B3C4"}, {"at": 5, "do": "plug"},
                {"at": 200, "do": "unplug"}, {"at": 202, "do": "end"}]
    work = tempfile.mkdtemp(prefix="bench-status-")
    os.mkdir(os.path.join(work, "boards"))  # the .mpy build has no boards/ beside it
    import shutil
    shutil.copy(os.path.join(ROOT, "boards", "sim.json"), os.path.join(work, "boards"))
    async with Csms() as csms:
        extra = {"log_level": "warning"}
        if status:
            extra["status_password"] = STATUS_PASSWORD
        cfg = sim.write_config(work, csms.url, "BENCH", 10 if probe else 40, scenario, extra)
        c = json.load(open(cfg))
        c["sim"].update(heap_report_s=1, trace=False)
        if status:
            c["sim"]["status_port"] = port
        json.dump(c, open(cfg, "w"))
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + build
        proc = await asyncio.create_subprocess_exec(MICROPYTHON, os.path.join(build, "main.py"), cfg, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        lines = []

        async def pump():
            while True:
                line = await proc.stdout.readline()
                if not line:
                    return
                lines.append(line.decode(errors="replace").strip())
        pump_task = asyncio.create_task(pump())
        result = None
        if probe is not None:
            while not any("tx=1" in l for l in lines):
                await asyncio.sleep(0.1)
            result = await probe(port)
            proc.kill()
        await proc.wait()
        await pump_task
    heaps = [dict(kv.split("=") for kv in l[7:].split()) for l in lines if l.startswith("[heap] alloc=")]
    charging = [int(h["alloc"]) for h in heaps if h["tx"] == "1"]
    return (min(charging) if charging else None), (max(charging) if charging else None), result


def plain_http_ms(port, path, n=PAGE_LOADS):
    hdr = {"Authorization": "Basic " + base64.b64encode(("admin:" + STATUS_PASSWORD).encode()).decode()}
    times = []
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=hdr),
                                    timeout=10) as r:
            size = len(r.read())
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), size


async def browser_ms(url, auth=False, n=PAGE_LOADS):
    import cdp
    if cdp.chromium_path() is None:
        return None
    b = await cdp.Browser().start()
    try:
        if auth:
            await b.headers(Authorization="Basic " + base64.b64encode(("admin:" + STATUS_PASSWORD).encode()).decode())
        times = [await b.goto(url) for _ in range(n)]
        return statistics.median(times)
    finally:
        await b.close_async()


async def status_probe(port):
    http_page = await asyncio.to_thread(plain_http_ms, port, "/")
    http_json = await asyncio.to_thread(plain_http_ms, port, "/status.json")
    chrome = await browser_ms("http://127.0.0.1:%d/" % port, auth=True)
    return http_page, http_json, chrome


async def portal_probe(build):
    work = tempfile.mkdtemp(prefix="bench-portal-")
    os.mkdir(work + "/boards")
    import shutil
    shutil.copy(os.path.join(ROOT, "boards", "esp32-devkitc.json"), work + "/boards/")
    port = free_port()
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s:%s" % (build, os.path.join(ROOT, "host_tests", "fakes"))
    proc = await asyncio.create_subprocess_exec(MICROPYTHON, os.path.join(ROOT, "host_tests", "portal_device.py"),
                                                work, str(port), str(free_port(socket.SOCK_DGRAM)), env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line or "setup portal: WiFi" in line:
            break
    try:
        def get():
            times = []
            for _ in range(PAGE_LOADS):
                t0 = time.perf_counter()
                with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as r:
                    size = len(r.read())
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times), size
        http = await asyncio.to_thread(get)
        chrome = await browser_ms("http://127.0.0.1:%d/" % port)
        return http, chrome
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def fleet_figures(n=FLEET_N):
    out = os.path.join(tempfile.mkdtemp(prefix="bench-fleet-"), "fleet.json")
    cmd = [sys.executable, os.path.join(HERE, "fleet.py"), "--n", str(n), "--rate", "100", "--speed", "10",
           "--duration", "300", "--scenario", os.path.join(HERE, "scenarios", "basic.json"), "--json", out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    sys.stdout.write("".join(l + "\n" for l in r.stdout.splitlines() if "----" in l or "summary" in l or not l.startswith("[fleet] t=")))
    return json.load(open(out)) if os.path.exists(out) else None


def main():
    build = mpy_dir()
    print("\n== setup portal heap (.mpy, unix port 64-bit) ==")
    h = portal_heap(build)
    if h:
        print("portal modules imported: %d bytes; with AP, DNS and HTTP server running after serving its "
              "%d-byte page: %d bytes" % (h["portal_imported"], h["page_bytes"], h["portal_running"]))
    print("\n== status page heap (.mpy, unix port 64-bit), sim charger while charging ==")
    off_min, off_max, _ = asyncio.run(sim_session(build, False))
    port = free_port()
    on_min, on_max, probe = asyncio.run(sim_session(build, True, port, status_probe))
    print("retained heap while charging, status page off: %s..%s bytes" % (off_min, off_max))
    print("retained heap while charging, status page on (server listening): %s..%s bytes" % (on_min, on_max))
    if off_min and on_min:
        print("status page cost: %d bytes" % (on_min - off_min))
    print("\n== page load time on the host (median of %d) ==" % PAGE_LOADS)
    (sp_ms, sp_size), (sj_ms, sj_size), chrome = probe
    print("status page: plain HTTP %.1f ms (%d bytes), /status.json %.1f ms (%d bytes), Chromium load event %s ms"
          % (sp_ms, sp_size, sj_ms, sj_size, "%.1f" % chrome if chrome is not None else "n/a"))
    (pp_ms, pp_size), pchrome = asyncio.run(portal_probe(build))
    print("setup portal page: plain HTTP %.1f ms (%d bytes), Chromium load event %s ms"
          % (pp_ms, pp_size, "%.1f" % pchrome if pchrome is not None else "n/a"))
    if "--no-fleet" not in sys.argv:
        print("\n== fleet simulator, %d chargers against the embedded CSMS ==" % FLEET_N)
        fleet_figures()


if __name__ == "__main__":
    main()
