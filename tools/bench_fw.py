# Firmware Management figures under the micropython command (make bench starts the HTTP
# server, tools/bench.py): download throughput of an ESP32 app image into the fake OTA
# partition, the peak retained heap during that download and during a diagnostics upload,
# flash bytes written per KB of firmware (image path: fake NOR flash; bundle path: LittleFS).
# Run: MICROPYPATH=.frozen:firmware:host_tests:host_tests/fakes micropython tools/bench_fw.py
#      IMAGE_URL UPLOAD_URL BUNDLE_FILE
import asyncio
import gc
import sys
import time

import esp32
from net import fetch
from ocpp16.fw_update import Sink

BUNDLE_FS_BLOCKS = 256  # 1 MB LittleFS, 4 KB blocks (the ESP32 layout)
SAMPLE_EVERY = 8       # chunks between two heap samples (a sample collects the garbage first)


class Peak:
    def __init__(self):
        gc.collect()
        self.base = gc.mem_alloc()
        self.peak = 0
        self.n = 0

    def __call__(self, done, total):
        self.n += 1
        if self.n % SAMPLE_EVERY == 0:
            gc.collect()
            self.peak = max(self.peak, gc.mem_alloc() - self.base)


async def image(url, blocks):
    esp32.reset_fakes(blocks)
    # 1) throughput, nothing sampled
    sink = Sink("/tmp/_bench_fw.part", 0, None)
    t0 = time.ticks_ms()
    n = await fetch.download(url, sink)
    label = sink.ota.finish(activate=False)
    ms = max(time.ticks_diff(time.ticks_ms(), t0), 1)
    print("image download into the fake partition %s: %d bytes in %d ms, %.0f KB/s (127.0.0.1, checks included)"
          % (label, n, ms, n / 1.024 / ms))
    print("flash per KB of image: %.0f bytes programmed, %.2f erase blocks (4 KB) per KB"
          % (esp32.stats["programmed"] * 1024 / n, esp32.stats["erases"] * 1024 / n))
    # 2) heap
    del sink
    esp32.reset_fakes(blocks)
    peak = Peak()
    sink = Sink("/tmp/_bench_fw.part", 0, None)
    await fetch.download(url, sink, 0, peak)
    sink.ota.finish(activate=False)
    print("peak retained heap during an image download: %d bytes above the idle heap" % peak.peak)


class Lines:
    """A diagnostics source like ocpp16.fw_diag.Selection, of `n` bytes of log lines."""

    def __init__(self, n):
        self.left = n
        self.line = b"2026-12-01T22:00:00Z [info] connector 1: Charging, 7360 W, 12.5 kWh so far\n"

    def read(self, k):
        k = min(k, self.left)
        self.left -= k
        return (self.line * (k // len(self.line) + 1))[:k]


async def upload(url, size):
    peak = Peak()
    t0 = time.ticks_ms()
    await fetch.upload(url, Lines(size), size, peak)
    ms = max(time.ticks_diff(time.ticks_ms(), t0), 1)
    print("diagnostics upload (HTTP PUT): %d bytes in %d ms, %.0f KB/s; peak retained heap %d bytes above idle"
          % (size, ms, size / 1.024 / ms, peak.peak))


def bundle_flash(path):
    import powercut
    import bundle
    with open(path, "rb") as f:
        data = f.read()
    dev = powercut.CutBlockDevice.formatted(BUNDLE_FS_BLOCKS)
    powercut.mount(dev, "/bfs")
    import os
    os.mkdir("/bfs/data")
    p0, e0 = dev.programmed, dev.erased
    with open("/bfs/data/fw.part", "wb") as f:
        for i in range(0, len(data), fetch.CHUNK):
            f.write(data[i:i + fetch.CHUNK])
    p1, e1 = dev.programmed, dev.erased
    bundle.install("/bfs/data/fw.part", "/bfs/apps")
    p2, e2 = dev.programmed, dev.erased
    st = os.statvfs("/bfs")
    used = (BUNDLE_FS_BLOCKS - st[3]) * st[0]
    powercut.umount("/bfs")
    kb = len(data) / 1024
    print("bundle of %d bytes on LittleFS: staging %.0f bytes programmed / %.2f erases per KB, "
          "unpack + verify + switch %.0f bytes / %.2f erases per KB" % (
              len(data), (p1 - p0) / kb, (e1 - e0) / kb, (p2 - p1) / kb, (e2 - e1) / kb))
    print("LittleFS in use after the install (staged bundle + unpacked folder): %d KB" % (used // 1024))


def main():
    img_url, up_url, bundle_path, blocks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    asyncio.run(image(img_url, blocks))
    asyncio.run(upload(up_url, 256 * 1024))
    bundle_flash(bundle_path)


main()
