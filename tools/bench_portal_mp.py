# Run by tools/bench_portal.py under `micropython` on the .mpy build: heap retained by the
# setup portal (modules imported; then AP, DNS and HTTP server running after serving its page).
#   micropython bench_portal_mp.py WORKDIR HTTP_PORT DNS_PORT
import gc
import sys

import asyncio


async def main(work, port, dport):
    gc.collect()
    base = gc.mem_alloc()
    import network
    import portal
    from net import dns
    gc.collect()
    imported = gc.mem_alloc() - base
    network.reset_fakes()
    network.access_points["garage"] = "wifi-password-1"
    task = asyncio.create_task(portal.run(work + "/config.json", network, None, {"esp32-devkitc": ("esp32", 32)},
                                          None, None, "bench", port=port, dns_port=dport, bind="127.0.0.1"))
    await asyncio.sleep(0.2)
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await w.drain()
    page = b""
    while True:
        chunk = await r.read(1024)
        if not chunk:
            break
        page += chunk
    w.close()
    await asyncio.sleep(0.1)
    gc.collect()
    running = gc.mem_alloc() - base
    print("portal_imported=%d portal_running=%d page_bytes=%d" % (imported, running, len(page)))
    task.cancel()


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
