# Run by host_tests/test_tls_ca.py under micropython and python3: a wss:// echo through
# firmware/net/ws.py with the TLS context firmware/net/tls.py builds from a CA file.
# Usage: tls_ca_client.py URL CAFILE; prints "RESULT ..." lines.
import sys
import asyncio

from net import tls, ws


def out(*a):
    print("RESULT", *a)


async def main(url, cafile):
    out("certs", len(tls.load_ca(cafile)))
    ctx = tls.context(cafile)
    try:
        c = await ws.connect(url, ssl=ctx, timeout_ms=5000)
    except ws.WebSocketError as e:
        out("refused", str(e))
        return
    await c.send("over tls")
    out("echo", await c.recv())
    await c.close()
    out("closed", c.close_code)


asyncio.run(main(sys.argv[1], sys.argv[2]))
out("done")
