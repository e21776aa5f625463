"""make bench, interned names: which qstrs a whole charging session leaves in the heap
(MicroPython never frees them), module by module, and where the next qstr pool starts.
The unix port, like the ESP32 port, chains qstr pools that double in size (20, 40, ...,
640, 1280 entries); a session that needs one entry more than the pools so far hold pays
for a whole new pool (1280 entries: about 18 KB on this 64-bit port, 8 KB on the ESP32).
Prints figures; asserts nothing.

  .venv/bin/python tools/bench_qstr.py          (the 12 modules that add most)
  .venv/bin/python tools/bench_qstr.py --all    (every module, with its names)
"""
import asyncio
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_memory  # noqa: E402
import sim  # noqa: E402

# A task started beside the firmware that prints every interned name, in creation order.
SPY = ("import asyncio,micropython\n_r=asyncio.run\n"
       "async def _spy():\n    while True:\n        await asyncio.sleep(0.5)\n"
       "        print('[qstr-dump]')\n        micropython.qstr_info(1)\n"
       "def _run(c):\n    async def both():\n        asyncio.create_task(_spy())\n        return await c\n"
       "    return _r(both())\nasyncio.run=_run\n")
SPY_NAMES = ("_spy", "both", "[qstr-dump]", "-c")  # the probe's own names, not the firmware's
SHOW = 12  # modules listed by qstr count


def read_uint(b, i):
    u = 0
    while True:
        c = b[i]
        i += 1
        u = (u << 7) | (c & 0x7F)
        if not c & 0x80:
            return u, i


def mpy_qstrs(path):
    """The names an .mpy file (format 6) interns when loaded: its qstr table, static ones excluded."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:2] != b"M\x06":
        raise SystemExit("%s: not an .mpy of format 6" % path)
    n_qstr, i = read_uint(b, 4)
    _, i = read_uint(b, i)
    out = []
    for _ in range(n_qstr):
        n, i = read_uint(b, i)
        if n & 1:
            continue  # a static qstr: in every firmware's ROM pool
        n >>= 1
        out.append(b[i:i + n].decode())
        i += n + 1
    return out


def pool_capacity(n):
    """Entries the dynamic pools hold once `n` names are interned, and the pools' sizes."""
    sizes, cap = [], 0
    size = 20
    while cap < n:
        sizes.append(size)
        cap += size
        size *= 2
    return cap, sizes


def session_names(image):
    """The dynamic qstrs at the last dump of a whole bench session, in creation order."""
    boot = sim.MPY_BOOT
    sim.MPY_BOOT = SPY + boot
    try:
        r = asyncio.run(bench_memory.sim_session(image))
    finally:
        sim.MPY_BOOT = boot
    lines = r["lines"]
    marks = [i for i, line in enumerate(lines) if line.startswith("[qstr-dump]")]
    if not marks:
        raise SystemExit("no qstr dump: the session ended at once (%s)" % bench_memory._why(r))
    names = []
    for line in lines[marks[-1] + 1:]:
        m = re.match(r"\s*Q\((.*)\)$", line)
        if m:
            names.append(m.group(1))
    # qstr_info(1) lists the newest pool first, each pool's names oldest first: back to
    # creation order, pool by pool from the oldest (20 entries) at the end of the dump.
    pools, size, end = [], 20, len(names)
    while end > 0:
        pools.append(names[max(0, end - size):end])
        end -= size
        size *= 2
    names = [n for pool in pools for n in pool]
    return r["ok"], [n for n in names if n not in SPY_NAMES]


def main():
    work = tempfile.mkdtemp(prefix="ocpp-benchqstr-")
    try:
        image = bench_memory.Image("mpy", "sim", work)
        ok, names = session_names(image)
        tables = {}
        for mod in bench_memory.device_modules(image.mpy_dir):
            rel = mod.replace(".", os.sep)
            path = os.path.join(image.mpy_dir, rel + ".mpy")
            if not os.path.exists(path):
                path = os.path.join(image.mpy_dir, rel, "__init__.mpy")
            tables[mod] = set(mpy_qstrs(path))
        # Modules in the order they were first loaded (their file names are interned on import):
        # a name is charged to the first loaded module whose table holds it.
        # (relative to the image folder, as on a device: tools/sim.py runs the firmware in it)
        order = []
        for n in names:
            if n.endswith(".mpy"):
                rel = n[:-4].replace("/", ".")
                rel = rel[:-9] if rel.endswith(".__init__") else rel
                if rel in tables and rel not in order:
                    order.append(rel)
        owner = {}
        everything = "--all" in sys.argv[1:]
        for n in names:
            if n.endswith(".mpy") and not everything:
                continue
            for mod in order:
                t = tables[mod]
                if n in t:
                    owner.setdefault(mod, []).append(n)
                    break
            else:
                owner.setdefault("(made at run time: paths, module names, joined strings)", []).append(n)
        cap, sizes = pool_capacity(len(names))
        chars = sum(len(n) + 1 for n in names)
        print("\n== interned names (qstrs) a whole sim session leaves (.mpy from a folder, ws://) ==")
        print("%d names, %d bytes of text%s" % (len(names), chars, "" if ok else " (the session did not complete)"))
        print("dynamic pools %s entries: room for %d; the last pool is %d%% used"
              % ("+".join(str(s) for s in sizes), cap, 100 * (len(names) - (cap - sizes[-1])) // sizes[-1]))
        below = cap - sizes[-1]
        print("%d names fewer (%d or less) would not need the last pool of %d entries (~%d KB here, ~%d KB on the ESP32)"
              % (len(names) - below, below, sizes[-1], sizes[-1] * 14 // 1024, sizes[-1] * 7 // 1024))
        print("%d names more (%d or more) would need a new pool of %d entries (~%d KB here, ~%d KB on the ESP32): the margin"
              % (cap - len(names) + 1, cap + 1, sizes[-1] * 2, sizes[-1] * 2 * 14 // 1024, sizes[-1] * 2 * 7 // 1024))
        paths = [n for n in names if n.endswith(".mpy")]
        print("module file names (__file__, one qstr per module loaded): %d" % len(paths))
        print("names each module added (charged to the first loaded module that holds them):")
        everything = "--all" in sys.argv[1:]
        for mod in sorted(owner, key=lambda m: -len(owner[m]))[:None if everything else SHOW]:
            print("  %-28s %4d" % (mod, len(owner[mod])))
            if everything:
                print("      " + " ".join(owner[mod]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
