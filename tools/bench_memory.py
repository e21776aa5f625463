"""make bench, memory part: the heap a whole charging session needs when the firmware
is loaded the way a device loads it, on the real `micropython` (64-bit unix port).
Loading modes: `.py` sources (the compiler runs in the heap: hosts only), `.mpy` files
from a folder (tools/mpy.py: a stock ESP32 image), a ROMFS image mounted with
vfs.VfsRom (tools/romfs.py; the unix port reads the image into the heap first, on the
device it stays in flash). Prints figures and the targets of issue 11; asserts nothing.

  .venv/bin/python tools/bench_memory.py            (everything, a few minutes)
  .venv/bin/python tools/bench_memory.py --quick    (no bisection)
  .venv/bin/python tools/bench_memory.py --only esp32 [--quick]   (the esp32-devkitc image on the
      host fakes: retained heap, the fakes' own share, per-module heap, smallest heap; in the
      micropython heap only a thin machine/network/ntptime that forwards each bus operation
      over a socket to the host fakes and device models in a CPython process)
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_qstr  # noqa: E402  (pool_capacity)
import boardinfo  # noqa: E402
import romfs  # noqa: E402
import sim  # noqa: E402

mpy = boardinfo.mpy_tool()

# The esp32 session's thin machine, network and ntptime (every bus operation goes over a wire
# to the host fakes and device models in a CPython process: tools/bench_esp32_host.py).
WIRE_FAKES = os.path.join(ROOT, "host_tests", "fakes", "wire")
SCENARIO = os.path.join(HERE, "scenarios", "bench.json")
SPEED = 100            # simulated seconds per real second in sim-board sessions
REPEATS = 3            # a heap size counts only when this many sessions in a row complete
STEP = 2048            # bisection resolution (bytes)
HEAP_HI = 1024 * 1024  # bisection upper bound; a session must complete there
RUN_TIMEOUT_S = 90     # one session, wall time
# The esp32-devkitc image on the host fakes runs in real time: card, plug, unplug (s after the
# first bus operation; tools/bench_esp32_host.py plays them).
ESP32_TIMELINE_S = (3, 4, 9)
ESP32_TIMEOUT_S = 40
QSTR_ENTRY_BYTES = 11  # a qstr pool entry on the 64-bit unix port: pointer, 2-byte hash, 1-byte length
FAKE_MODULES = ("machine", "network", "ntptime")  # in the firmware's heap: host_tests/fakes/wire's
# Issue 11's targets on this 64-bit port (about 0.69x on the ESP32's 32-bit words).
TARGETS = {
    "esp32 mpy heap": 150000,
    "sim mpy heap": 128000,
    "sim mpy idle": 92 * 1024,
    "sim mpy peak": 96 * 1024,
    "sim romfs heap over image": 100000,
}
# Figures this bench measured before the issue-11 work (firmware of commit f4159c5), for comparison.
# "romfs" idle/heap are over the image's own size (the part the unix port holds for want of ffi).
BEFORE = {
    "sim py idle": 207770, "sim py heap": 298496,
    "sim mpy idle": 197018, "sim mpy peak": 198144, "sim mpy heap": 224000,
    "sim romfs idle": 119600, "sim romfs heap over image": 144256,
    "esp32 mpy heap": 332800, "sim mpy wss heap": 243916,
}


# ---------------------------------------------------------------- images
class Image:
    """The firmware as one loading mode presents it to the interpreter."""

    def __init__(self, mode, board, work):
        self.mode = mode          # "py", "mpy" or "romfs"
        self.board = board
        self.mpy_dir = None
        self.romfs = None
        self.image_size = 0
        if mode in ("mpy", "romfs"):
            self.mpy_dir = os.path.join(work, "mpy-" + board)
            if not os.path.isdir(self.mpy_dir):
                mpy.build(board, self.mpy_dir, quiet=True)
        if mode == "romfs":
            self.romfs = os.path.join(work, board + ".romfs")
            self.image_size = romfs.build_image(self.mpy_dir, self.romfs)

    def label(self):
        return {"py": ".py sources", "mpy": ".mpy from a folder", "romfs": "ROMFS image (VfsRom)"}[self.mode]

    def command(self, cfg, heapsize, extra_path=()):
        if self.mode == "romfs":
            return sim.firmware_command("micropython", cfg, romfs=self.romfs, heapsize=heapsize, extra_path=extra_path)
        return sim.firmware_command("micropython", cfg, mpy_dir=self.mpy_dir, heapsize=heapsize, extra_path=extra_path)


def compile_dir(src_dir, out_dir):
    """The host fakes compiled as the firmware is (tools/mpy.py: the module's name as its
    source name, one interned name fewer than a path), so their source costs no heap."""
    os.makedirs(out_dir, exist_ok=True)
    exe = mpy.mpy_cross_exe()
    for f in os.listdir(src_dir):
        if f.endswith(".py"):
            subprocess.run(mpy.compile_cmd(exe, os.path.join(src_dir, f), os.path.join(out_dir, f[:-3] + ".mpy"),
                                           f[:-3], None), check=True)
    return out_dir


# ---------------------------------------------------------------- one session
def _parse_heap(lines):
    heaps, modules = [], []
    for line in lines:
        if line.startswith("[heap] modules="):
            modules = line.split("=", 1)[1].split(",")
        elif line.startswith("[heap] alloc="):
            d = dict(kv.split("=") for kv in line[7:].split())
            heaps.append({k: int(v) for k, v in d.items()})
            heaps[-1]["modules"] = modules
        elif line.startswith("qstr pool:") and heaps:  # micropython.qstr_info() after a sample
            d = dict(kv.split("=") for kv in line[10:].replace(",", " ").split())
            heaps[-1]["qstr"] = int(d.get("n_total_bytes", 0))
            heaps[-1]["n_qstr"] = int(d.get("n_qstr", 0))
    return heaps, modules


async def sim_session(image, heapsize=None, report=False, tls=None):
    """One bench.json session on the sim board. Returns a dict: ok (exit 0 and a
    transaction stopped), heaps (the [heap] samples), modules (sys.modules once booted)."""
    from csms import Csms
    with open(SCENARIO) as f:
        scenario = json.load(f)
    work = tempfile.mkdtemp(prefix="ocpp-benchmem-")
    try:
        extra = {"log_level": "warning"}
        ssl_ctx = None
        if tls:
            ssl_ctx, extra["ca_cert"] = tls
            extra["security_profile"] = 0
        async with Csms(ssl=ssl_ctx) as csms:
            cfg = sim.write_config(work, csms.url, "BENCH", SPEED, scenario, extra)
            with open(cfg) as f:
                c = json.load(f)
            c["sim"]["trace"] = False
            if report:
                c["sim"]["heap_report_s"] = 1
            with open(cfg, "w") as f:
                json.dump(c, f)
            cmd, env = image.command(cfg, heapsize)
            rc, lines = await sim.run_firmware(cmd, env, out=None, timeout=RUN_TIMEOUT_S)
            st = csms.stations.get("BENCH")
            done = st is not None and any(t["stop"] for t in st.transactions.values())
        heaps, modules = _parse_heap(lines)
        idle = [h for h in heaps if h["booted"] and not h["tx"]]
        if idle:
            modules = idle[-1]["modules"]  # resident: what an idle charger keeps, after a session
        return {"ok": rc == 0 and done, "rc": rc, "heaps": heaps, "modules": modules, "lines": lines}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The esp32 session's start (-c): the heap in use (and the names) before the thin fakes are
# imported, "[heap] fakes=" once they are (their retained cost, names included), then the session.
ESP32_START = ("import gc,micropython\ngc.collect()\nmicropython.qstr_info()\na=gc.mem_alloc()\n"
               "import machine,network,ntptime\ngc.collect()\nprint('[heap] fakes=%d'%(gc.mem_alloc()-a))\n"
               "micropython.qstr_info()\nimport startup\nstartup.main()\n")
# In a process of its own: the heap the handles on the peripherals of esp32-devkitc hold in the
# firmware's heap: the ones the drivers and main.py create (on a device they are C objects,
# most of them static). Each is a Hardware handle of the thin machine (its object is the host's).
ESP32_DEVICES = ("import gc,machine,network\ngc.collect()\n"
                 "a=gc.mem_alloc()\n"
                 "P=machine.Pin\np=[P(18),P(23),P(19),P(5,P.OUT,value=1),P(22,P.OUT,value=1),P(4,P.OUT,value=0),"
                 "P(26,P.OUT,value=0),P(34,P.IN),P(0,P.IN,P.PULL_UP)]\n"
                 "o=(p,machine.SPI(2,baudrate=1000000,sck=p[0],mosi=p[1],miso=p[2]),"
                 "machine.UART(2,baudrate=2400,tx=17,rx=16,rxbuf=512),machine.PWM(P(25),freq=1000,duty_u16=65535),"
                 "machine.ADC(P(36),atten=3),machine.WDT(timeout=10000),network.WLAN(network.STA_IF))\n"
                 "del P\ngc.collect()\nprint(gc.mem_alloc()-a)\n")
ESP32_WIFI = {"ssid": "garage", "password": "wifi-password-1"}


def wire_host_cmd(timeline=None):
    """The CPython side of the wire (tools/bench_esp32_host.py): the host fakes, the device
    models and (timeline) the card, plug, unplug and the heap samples' clock."""
    cmd = [sys.executable, "-u", os.path.join(HERE, "bench_esp32_host.py"),
           "--wifi", "%s:%s" % (ESP32_WIFI["ssid"], ESP32_WIFI["password"])]
    return cmd + (["--timeline", ",".join(map(str, timeline))] if timeline else [])


class WireHost:
    """A wire host for probes run one after another with subprocess.run(stdin=host.wire)."""

    def __enter__(self):
        self.wire, theirs = socket.socketpair()
        self.proc = subprocess.Popen(wire_host_cmd(), stdin=theirs, stdout=subprocess.DEVNULL)
        theirs.close()
        return self

    def __exit__(self, *exc):
        self.wire.close()  # the host ends at the end of its wire
        self.proc.wait(timeout=30)


def wire_path(image, fakes_dir):
    """The thin fakes' folder on the micropython path, relative to the image folder (a run starts
    there): each module's file name is interned, "../wire/machine.mpy" is the shorter name."""
    return os.path.relpath(fakes_dir, image.mpy_dir)


def esp32_devices_cost(image, fakes_dir):
    """Heap the handles on the board's peripherals hold (Pin, PWM, ADC, SPI, UART, WDT, WLAN)."""
    cmd, env = image.command("/dev/null", None, extra_path=(wire_path(image, fakes_dir),))
    with WireHost() as host:
        r = subprocess.run(cmd[:-2] + ["-c", sim.MPY_CHDIR % os.path.abspath(image.mpy_dir) + ESP32_DEVICES], env=env,
                           stdin=host.wire, capture_output=True, text=True, timeout=60)
    return int(r.stdout.strip()) if r.returncode == 0 else None


async def esp32_session(image, fakes_dir, heapsize=None, linger_s=0):
    """The esp32-devkitc .mpy image on the thin machine/network/ntptime of host_tests/fakes/wire,
    whose other end (tools/bench_esp32_host.py, CPython) holds the host fakes and the device
    models (MFRC522, SDM120, the EV's pilot) and plays the timeline in real time: a card, a
    plug, an unplug. ok: the CSMS saw the transaction stopped and the app never crashed (it
    restarts in place on a board). linger_s: keep it running this long after the stop (idle
    heap samples after a session)."""
    from csms import Csms
    work = tempfile.mkdtemp(prefix="ocpp-benchmem-esp32-")
    try:
        async with Csms() as csms:
            cfg = os.path.join(work, "config.json")
            with open(cfg, "w") as f:
                json.dump({"csms_url": csms.url, "charge_point_id": "BENCH", "board": "esp32-devkitc",
                           "wifi": ESP32_WIFI, "data_dir": os.path.join(work, "data"),
                           "log_level": os.environ.get("BENCH_LOG", "warning")}, f)
            os.makedirs(os.path.join(work, "boards"))
            shutil.copy(os.path.join(ROOT, "boards", "esp32-devkitc.json"), os.path.join(work, "boards"))
            cmd, env = image.command(cfg, heapsize, extra_path=(wire_path(image, fakes_dir),))
            cmd = cmd[:-2] + ["-c", (sim.MPY_CHDIR % os.path.abspath(image.mpy_dir) if image.mode == "mpy" else "") + ESP32_START]
            ours, theirs = socket.socketpair()
            host = await asyncio.create_subprocess_exec(*wire_host_cmd(ESP32_TIMELINE_S), stdin=theirs,
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=work, stdin=ours, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.STDOUT)
            ours.close()
            theirs.close()
            lines = []

            async def pump(p, prefix=""):
                while True:
                    line = await p.stdout.readline()
                    if not line:
                        return
                    lines.append(prefix + line.decode(errors="replace").rstrip("\n"))
            readers = [asyncio.create_task(pump(proc)), asyncio.create_task(pump(host, "[host] "))]
            t0 = time.time()
            done = False
            while time.time() - t0 < ESP32_TIMEOUT_S and proc.returncode is None:
                st = csms.stations.get("BENCH")
                if st is not None and any(t["stop"] for t in st.transactions.values()):
                    done = True
                    break
                await asyncio.sleep(0.2)
            if done and linger_s:
                await asyncio.sleep(linger_s)
            if os.environ.get("BENCH_LOG"):
                lines.extend("[csms] %s %s" % (d, raw) for _, d, raw in csms.log)
            st = csms.stations.get("BENCH")
            txs = list(st.transactions.values()) if st is not None else []
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            try:
                await asyncio.wait_for(host.wait(), 10)  # it ends at the end of its wire
            except asyncio.TimeoutError:
                host.kill()
                await host.wait()
            for task in readers:
                await task
        crashed = any("app: stopped" in s or "MemoryError" in s for s in lines)
        heaps, modules = _parse_heap(lines)
        fakes = [i for i, s in enumerate(lines) if s.startswith("[heap] fakes=")]
        pools = [i for i, s in enumerate(lines) if s.startswith("qstr pool:")]
        fakes_q = None  # the interned names' part of fakes= (pools and text; some are the firmware's too)
        if fakes and any(i < fakes[0] for i in pools) and any(i > fakes[0] for i in pools):
            q = [int(lines[i].rsplit("n_total_bytes=", 1)[1]) for i in pools]
            k = len([i for i in pools if i < fakes[0]])
            fakes_q = q[k] - q[k - 1]
        names = []  # the verbose dump: one Q(name) a line (a name may hold a newline), up to the next [heap] line
        if "[heap] names:" in lines:
            i = lines.index("[heap] names:") + 2
            j = next((k for k in range(i, len(lines)) if lines[k].startswith(("[heap]", "[host]"))), len(lines))
            names = [q[:-1] for q in ("\n" + "\n".join(lines[i:j])).split("\nQ(")[1:]]
        return {"ok": done and not crashed, "rc": proc.returncode, "lines": lines, "heaps": heaps, "modules": modules,
                "fakes": int(lines[fakes[0]].split("=", 1)[1]) if fakes else None, "fakes_q": fakes_q, "names": names,
                "transactions": txs}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- figures
def smallest_heap(run, lo=16 * 1024, hi=HEAP_HI):
    """The smallest -X heapsize (to STEP) at which REPEATS sessions in a row complete.
    Returns (size, failure text at the size below) or (None, reason)."""
    def passes(n):
        for _ in range(REPEATS):
            r = asyncio.run(run(n))
            if not r["ok"]:
                return False, r
        return True, None

    ok, r = passes(hi)
    if not ok:
        return None, "fails even at %d: %s" % (hi, _why(r))
    last_fail = None
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // 256 * 256
        ok, r = passes(mid)
        if ok:
            hi = mid
        else:
            lo, last_fail = mid, r
    return hi, _why(last_fail) if last_fail else ""


def _why(r):
    if r is None:
        return ""
    for line in reversed(r["lines"]):
        if "Error" in line:
            return line.strip()[:120]
    return "exit %s" % r["rc"]


def module_costs(image, modules, extra_path=(), preload=(), pools=None, stdin=None):
    """Heap each module holds once imported (its own code and objects; a module imported
    by another is charged to itself: modules are imported dependencies first; `preload`
    modules are imported before, uncharged). The qstr pool grows in doubling steps, charged
    to the module whose names fill it: a few KB of noise between neighbours. `pools`, a
    dict, gets each module's share of that growth (micropython.qstr_info() before and after
    the import; names and pool steps): the cost minus it compares between two versions.
    stdin: the micropython processes' (the esp32 image's: the thin machine's wire)."""
    cmd, env = image.command("/dev/null", None, extra_path)
    pre_imports = "".join("__import__(%r)\n" % m for m in preload)
    probe = ("import gc,sys\n" + pre_imports + "b=set(sys.modules)\n__import__(%r)\n"
             "print(len([m for m in sys.modules if m not in b]))\n")
    deps = {}
    for m in modules:
        r = subprocess.run(cmd[:-2] + ["-c", cmd[-1].rsplit("import startup", 1)[0]
                                       + probe % m], env=env, stdin=stdin, capture_output=True, text=True,
                           timeout=60)
        deps[m] = int(r.stdout.strip() or 0) if r.returncode == 0 else None
    order = sorted((m for m in modules if deps[m] is not None), key=lambda m: (deps[m], m))
    measure = ("    gc.collect()\n    micropython.qstr_info()\n    a=gc.mem_alloc()\n    __import__(m)\n    gc.collect()\n"
               "    b=gc.mem_alloc()\n    micropython.qstr_info()\n    print('@',m,b-a)\n")
    pre = cmd[-1].rsplit("import startup", 1)[0]
    # Resident modules: one process, dependencies first. On-demand ones (preload given): each
    # in its own process, as it loads at idle.
    groups = [[m] for m in order] if preload else [order]
    costs = {}
    for group in groups:
        script = "import gc,sys,micropython\n" + pre_imports + "for m in %r:\n" % (group,) + measure
        r = subprocess.run(cmd[:-2] + ["-c", pre + script], env=env, stdin=stdin, capture_output=True, text=True,
                           timeout=60)
        qstr_bytes = []
        for line in r.stdout.splitlines():
            if line.startswith("qstr pool:"):
                qstr_bytes.append(int(line.rsplit("n_total_bytes=", 1)[1]))
            elif line.startswith("@ "):
                _, m, n = line.split()
                costs[m] = int(n)
                if pools is not None and len(qstr_bytes) >= 2:
                    pools[m] = qstr_bytes[-1] - qstr_bytes[-2]
    return costs, [m for m in modules if deps[m] is None]


def device_modules(mpy_dir):
    """Every module of an image (discovered, not listed), dotted names."""
    found = []
    for dirpath, _, files in os.walk(mpy_dir):
        for f in files:
            if f.endswith(".mpy"):
                rel = os.path.relpath(os.path.join(dirpath, f), mpy_dir)[:-4].replace(os.sep, ".")
                found.append(rel[:-9] if rel.endswith(".__init__") else rel)
    return sorted(found)


POOL_NOTE = ("  (second column: the same without the names the import interned; the qstr pool grows in"
             " steps charged to whichever module crosses one: the figure to compare between versions)")


def _cost_line(name, costs, pools, tail=""):
    """One module's heap, and the same without the qstr pool growth its import caused."""
    if name in costs:
        n, p = costs[name], pools.get(name, 0)
    else:  # a total
        n, p = sum(costs.values()), sum(pools.get(m, 0) for m in costs)
    return ("  %-24s %6d B  %6d B %s" % (name, n, n - p, tail)).rstrip()


def kb(n):
    return "-" if n is None else "%.1f KB" % (n / 1024)


def target_line(name, value):
    t = TARGETS.get(name)
    b = BEFORE.get(name)
    s = ""
    if b is not None:
        s += "  (before: %s)" % kb(b)
    if t is not None:
        s += "  target <= %s: %s" % (kb(t), "met" if value is not None and value <= t else "NOT met")
    return s


def heading(s):
    print("\n== %s ==" % s)
    sys.stdout.flush()


def tls_material(work):
    sys.path.insert(0, os.path.join(ROOT, "host_tests"))
    import ssl
    from ws_servers import make_self_signed
    made = make_self_signed(work)
    if made is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(made[0], made[1])
    der = os.path.join(work, "ca.der")  # MicroPython's mbedTLS loads a DER file (a PEM one: "invalid cert")
    with open(der, "wb") as f:
        f.write(ssl.PEM_cert_to_DER_cert(made[2].decode()))
    return ctx, der


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="retained heap and module costs only, no bisection")
    ap.add_argument("--modes", default="py,mpy,romfs", help="loading modes of the sim board (default py,mpy,romfs)")
    ap.add_argument("--no-esp32", action="store_true", help="skip the esp32-devkitc image on the host fakes")
    ap.add_argument("--esp32-lo", type=int, default=16 * 1024, help="esp32 bisection lower bound (bytes)")
    ap.add_argument("--esp32-hi", type=int, default=HEAP_HI, help="esp32 bisection upper bound (bytes)")
    ap.add_argument("--only", choices=("sim", "esp32"), help="run only the sim board part or only the esp32 part")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="ocpp-benchmem-img-")
    figures = {}
    try:
        if args.only != "esp32":
            sim_part(args, work, figures)
        if args.only != "sim" and not args.no_esp32:
            esp32_part(args, work, figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def sim_part(args, work, figures):
    images = {m: Image(m, "sim", work) for m in args.modes.split(",")}
    heading("sim board: retained heap after gc.collect() during a whole session (ws://)")
    resident = None
    for mode, image in images.items():
        r = asyncio.run(sim_session(image, report=True))
        idle = [h["alloc"] for h in r["heaps"] if h["booted"] and not h["tx"]]
        idle_v = min(idle) if idle else None
        peak = max(h["alloc"] for h in r["heaps"]) if r["heaps"] else None
        if image.image_size and idle_v is not None:
            idle_v -= image.image_size  # the image: in the heap here, in flash on a device
            peak -= image.image_size
        figures["sim %s idle" % mode] = idle_v
        figures["sim %s peak" % mode] = peak
        extra = " (over the image, %d B, which the unix port holds in the heap)" % image.image_size if image.image_size else ""
        last = r["heaps"][-1] if r["heaps"] else {}
        if "qstr" in last:
            extra += "; interned names (qstrs, never freed): %d, %s" % (last["n_qstr"], kb(last["qstr"]))
        print("%-22s idle %s%s" % (image.label(), kb(idle_v), target_line("sim %s idle" % mode, idle_v)))
        print("%-22s peak %s%s%s" % ("", kb(peak), target_line("sim %s peak" % mode, peak), extra))
        if not r["ok"]:
            print("   session did not complete: %s" % _why(r))
        if mode == "mpy":
            resident = r["modules"]
    if "mpy" in images and resident:
        image = images["mpy"]
        own = set(device_modules(image.mpy_dir)) | {"ocpp16", "net", "evse", "hal"}
        res = [m for m in resident if m in own]
        heading("resident modules (in sys.modules once the charger is idle), heap each holds (.mpy)")
        pools = {}
        costs, _ = module_costs(image, res, pools=pools)
        print(POOL_NOTE)
        for m in sorted(costs, key=lambda m: -costs[m]):
            print(_cost_line(m, costs, pools))
        print(_cost_line("total", costs, pools, "in %d modules" % len(costs)))
        demand = [m for m in device_modules(image.mpy_dir) if m not in resident and m != "startup"]
        heading("on-demand modules (imported when needed, then unloaded), heap each holds while loaded")
        costs, failed = module_costs(image, demand, preload=res)
        for m in sorted(costs, key=lambda m: -costs[m]):
            print("  %-24s %6d B" % (m, costs[m]))
        if failed:
            print("  not importable alone on the unix port: %s" % ", ".join(failed))
    if not args.quick:
        heading("smallest -X heapsize completing %d sessions in a row (bisection to %d B)" % (REPEATS, STEP))
        for mode, image in images.items():
            n, why = smallest_heap(lambda h, image=image: sim_session(image, heapsize=h))
            figures["sim %s heap" % mode] = n
            line = "sim, %-20s %s%s" % (image.label(), kb(n), target_line("sim %s heap" % mode, n))
            if mode == "romfs" and n is not None:
                over = n - image.image_size
                figures["sim romfs heap over image"] = over
                line += "\n     of which the image itself %d B: %s over it%s" % (
                    image.image_size, kb(over), target_line("sim romfs heap over image", over))
            print(line + ("\n     (one step below: %s)" % why if why else ""))
            sys.stdout.flush()
        if "mpy" in images:
            tls = tls_material(work)
            if tls is None:
                print("wss://: no certificate tool (cryptography or openssl) on this host")
            else:
                n, why = smallest_heap(lambda h: sim_session(images["mpy"], heapsize=h, tls=tls))
                ws = figures.get("sim mpy heap")
                figures["sim mpy wss heap"] = n
                print("sim, .mpy from a folder, over wss://: %s%s; TLS (mbedTLS allocates from the GC heap on the"
                      " unix port, outside it on the ESP32) accounts for %s"
                      % (kb(n), target_line("sim mpy wss heap", n), kb(n - ws) if n and ws else "-"))


def fakes_only_names(esp, fakes_dir, names):
    """The session's names that only the thin fakes (machine, network, ntptime of
    host_tests/fakes/wire) and the -c start intern: in a thin fake's .mpy qstr table, or its
    folder's or a file's path, and in the table of no firmware module the session loaded (a
    module loaded from the image folder leaves its file name, "hal/esp32/ntp.mpy", among the
    names: the on-demand ones it loaded and dropped count too)."""
    fw, fk = set(), set()
    seen = set(names)
    for mod in device_modules(esp.mpy_dir):
        rel = mod.replace(".", "/") + ".mpy"
        if not os.path.exists(os.path.join(esp.mpy_dir, rel)):
            rel = rel[:-4] + "/__init__.mpy"
        if rel in seen:
            fw.update(bench_qstr.mpy_qstrs(os.path.join(esp.mpy_dir, rel)))
    for f in os.listdir(fakes_dir):
        if f.endswith(".mpy"):
            fk.update(bench_qstr.mpy_qstrs(os.path.join(fakes_dir, f)))
    wire = wire_path(esp, fakes_dir)
    return [n for n in names if n not in fw and (n in fk or n.startswith(wire) or n == "-c")]


def pool_bytes(sizes):
    """Heap that qstr pools of these sizes take (64-bit unix port: per entry a pointer, a 2-byte
    hash and a 1-byte length, QSTR_ENTRY_BYTES; a small header; 32-byte GC blocks)."""
    return sum((n * QSTR_ENTRY_BYTES + 40 + 31) // 32 * 32 for n in sizes)


def fakes_pools(n, fakes_n):
    """The qstr pools (sizes) a session of n names holds only because fakes_n of them are the fakes'."""
    return bench_qstr.pool_capacity(n)[1][len(bench_qstr.pool_capacity(n - fakes_n)[1]):]


def names_esp32(r, fakes_n):
    """The esp32 session's interned names, the fakes' share, and whether the pools the session
    needs are the firmware's doing or the fakes' (a pool is paid whole by the name that crosses)."""
    n = max((h.get("n_qstr", 0) for h in r["heaps"]), default=0)
    if not n or fakes_n is None:
        return
    cap, sizes = bench_qstr.pool_capacity(n)
    own_cap, own_sizes = bench_qstr.pool_capacity(n - fakes_n)
    line = ("interned names (qstrs, never freed): %d in the session, %d of them only the thin fakes' and the"
            " -c start's (on a device `machine` and `network` are C, their names in flash): %d the"
            " firmware's; pools of %s entries" % (n, fakes_n, n - fakes_n, "+".join(map(str, sizes))))
    if len(own_sizes) < len(sizes):
        line += ("; the firmware's names alone fit %d of them: the %s-entry pool (%s) is the fakes' cost"
                 % (len(own_sizes), "+".join(map(str, sizes[len(own_sizes):])), kb(pool_bytes(sizes[len(own_sizes):]))))
    else:
        line += "; the firmware's names alone need as many pools (%d names fewer would spare the %d-entry one)" % (
            n - fakes_n - (own_cap - own_sizes[-1]), own_sizes[-1])
    print(line)


def esp32_part(args, work, figures):
    """The esp32-devkitc image on the host fakes: retained heap, the fakes' share of it (a device
    has none of them), the heap of each resident module, and (not --quick) the smallest heap.
    In the micropython heap the fakes are only the thin machine, network and ntptime of
    host_tests/fakes/wire and their handles: the host fakes and the device models (MFRC522,
    SDM120, the EV's pilot) run in a CPython process at the other end of their wire."""
    esp = Image("mpy", "esp32-devkitc", work)
    fakes = compile_dir(WIRE_FAKES, os.path.join(work, "wire"))
    heading("esp32-devkitc .mpy on the host fakes (device models out of process): retained heap after"
            " gc.collect() during a session (real time)")
    r = asyncio.run(esp32_session(esp, fakes, linger_s=3.5))
    devices = esp32_devices_cost(esp, fakes)
    # The fakes' share of a sample: the thin fakes' code and objects (fakes= without the names it
    # interned: the names they share with the firmware are the firmware's), their handles on the
    # peripherals, the text of the names only they intern, and the qstr pools those names alone
    # make the session hold. The device models are in the CPython process: nothing of them here.
    only = fakes_only_names(esp, fakes, r["names"]) if r["names"] else None
    code_share = (r["fakes"] or 0) - (r["fakes_q"] or 0) + (devices or 0)
    text = sum(len(n) + 1 for n in only or ())

    def share(h):
        return code_share + text + (pool_bytes(fakes_pools(h["n_qstr"], len(only))) if only and "n_qstr" in h else 0)
    idle = [h for h in r["heaps"] if h["booted"] and not h["tx"]]
    peak = max(r["heaps"], key=lambda h: h["alloc"]) if r["heaps"] else None
    idle_h = min(idle, key=lambda h: h["alloc"]) if idle else None
    peak_share = share(peak) if peak else code_share
    figures["esp32 fakes"] = peak_share
    print("host fakes' own retained heap at the peak %s: the thin machine, network and ntptime (each bus"
          " operation goes over a socket to the device models, which run in a CPython process) %s (and %s of"
          " names, some the firmware's too), their handles on the peripherals (Pin, PWM, ADC, SPI, UART, WDT,"
          " WLAN) %s, the %s names only they intern %s, the qstr pools they alone make the session hold %s;"
          " none of it exists on a device" % (kb(peak_share), kb(code_share - (devices or 0)), kb(r["fakes_q"]), kb(devices),
                                   "-" if only is None else len(only), kb(text), kb(peak_share - code_share - text)))
    for name, h in (("idle", idle_h), ("peak", peak)):
        v = None if h is None else h["alloc"]
        figures["esp32 mpy %s" % name] = None if v is None else v - share(h)
        print("retained %-4s %s, without the fakes %s" % (name, kb(v), kb(None if v is None else v - share(h))))
    if not r["ok"]:
        print("   session did not complete: %s" % _why(r))
    own = set(device_modules(esp.mpy_dir)) | {"ocpp16", "net", "evse", "hal", "hal.esp32"}
    res = [m for m in r["modules"] if m in own]
    heading("esp32-devkitc resident modules (in sys.modules at the end of a session), heap each holds (.mpy)")
    pools = {}
    with WireHost() as host:
        costs, _ = module_costs(esp, list(FAKE_MODULES) + res, extra_path=(wire_path(esp, fakes),), pools=pools,
                                stdin=host.wire)
    print(POOL_NOTE)
    for group, names in (("firmware", res), ("thin fakes", FAKE_MODULES)):
        got = sorted((m for m in names if m in costs), key=lambda m: -costs[m])
        for m in got:
            print(_cost_line(m, costs, pools))
        print(_cost_line(group + " total", {m: costs[m] for m in got}, pools, "in %d modules" % len(got)))
    code = sum(costs[m] for m in res if m in costs)
    names = sum(pools.get(m, 0) for m in res if m in costs)
    if peak is not None:
        fw = peak["alloc"] - peak_share
        print("of the retained peak without the fakes (%s): the resident firmware modules %s (%s of it the names"
              " they intern), the rest, %s, is the charger's state, buffers and tasks and the names the"
              " on-demand modules leave" % (kb(fw), kb(code), kb(names), kb(fw - code)))
    names_esp32(r, None if only is None else len(only))
    if args.quick:
        return
    heading("esp32-devkitc: smallest -X heapsize completing %d sessions in a row (bisection to %d B)" % (REPEATS, STEP))
    n, why = smallest_heap(lambda h: esp32_session(esp, fakes, heapsize=h), lo=args.esp32_lo, hi=args.esp32_hi)
    figures["esp32 mpy heap"] = n
    dev = None if n is None else n - peak_share
    figures["esp32 mpy heap without fakes"] = dev
    print("esp32-devkitc on the host fakes, .mpy from a folder: %s%s" % (kb(n), target_line("esp32 mpy heap", n))
          + "\n     of which the thin fakes hold %s (the device models run in a CPython process; a device has"
            " none of them): %s for the firmware%s" % (
              kb(peak_share), kb(dev), "" if dev is None else "  target <= %s: %s" % (
                  kb(TARGETS["esp32 mpy heap"]), "met" if dev <= TARGETS["esp32 mpy heap"] else "NOT met"))
          + ("\n     (one step below: %s)" % why if why else ""))


if __name__ == "__main__":
    main()
