# Runs firmware/net/ws.py under the real micropython command against a test server
# started by host_tests/test_ws_micropython.py. Usage: micropython ws_mp_client.py MODE URL [ARG]
# Prints one "RESULT ..." line per observation; the pytest side asserts on them.
import sys
import asyncio
import gc
import hashlib
import binascii

from net import ws


VERBOSE = False


def out(*a):
    print("RESULT", *a)


def digest(data):
    if isinstance(data, str):
        data = data.encode()
    return binascii.hexlify(hashlib.sha1(data).digest()).decode()


async def echo(url):
    c = await ws.connect(url)
    out("subprotocol", c.subprotocol)
    await c.send('[2,"1","Heartbeat",{}]')
    out("echo", await c.recv())
    await c.send("gr\u00fc\u00dfe \u20ac")
    out("utf8", await c.recv() == "gr\u00fc\u00dfe \u20ac")
    await c.close()
    out("closed", c.close_code)


async def ping(url):
    c = await ws.connect(url)
    out("message", await c.recv())
    await c.ping(b"mp-ping")
    out("message", await c.recv())
    out("pongs", c.pongs)
    await c.close()


async def frag(url):
    c = await ws.connect(url)
    m = await c.recv()
    out("text", len(m), digest(m))
    b = await c.recv()
    out("binary", type(b).__name__, digest(b))
    out("pongs", c.pongs)
    await c.close()


async def big(url):
    gc.collect()
    out("heap_free_before", gc.mem_free())
    c = await ws.connect(url, max_message=72 * 1024)
    m = await c.recv()
    out("received", len(m), digest(m))
    t = asyncio.ticks()
    await c.send(m)
    out("send_ms", asyncio.ticks_diff(asyncio.ticks(), t))
    m = None
    out("sent", 1, 2, 3, 4)  # overwrites stale value-stack slots that still point at the message
    gc.collect()
    if VERBOSE:
        import micropython
        micropython.mem_info(1)
    b = await c.recv()
    out("binary", len(b), digest(b))
    await c.send(b)
    b = None
    out("ack", await c.recv())
    await c.close()
    gc.collect()
    out("heap_free_after", gc.mem_free())


async def toobig(url):
    c = await ws.connect(url)
    try:
        await c.recv()
        out("toobig", "no error")
    except ws.MessageTooBig as e:
        out("toobig", e.closed, e.size, bytes(e.head[:20]).decode(), str(e))
    e = None
    gc.collect()
    out("next", await c.recv())
    try:
        await c.recv()
    except ws.MessageTooBig as e:
        out("huge", e.closed, c.close_code)


async def drop(url):
    c = await ws.connect(url)
    out("message", await c.recv())
    try:
        await c.recv()
        out("drop", "no error")
    except ws.ConnectionClosed as e:
        out("drop", e.code)


async def heap(url):
    gc.collect()
    before = gc.mem_alloc()
    c = await ws.connect(url)
    gc.collect()
    connected = gc.mem_alloc()
    await c.send("x" * 100)
    await c.recv()
    gc.collect()
    out("heap", connected - before, gc.mem_alloc() - before)
    await c.close()


async def wss(url, cafile):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(cafile, "rb") as f:
        ctx.load_verify_locations(cadata=f.read())
    gc.collect()
    before = gc.mem_alloc()
    c = await ws.connect(url, ssl=ctx)
    gc.collect()
    out("tls_heap", gc.mem_alloc() - before)
    await c.send("over tls")
    out("echo", await c.recv())
    big = "t" * 30000  # several TLS records: exercises reads straight into the message buffer
    await c.send(big)
    out("big_echo", await c.recv() == big)
    await c.close()
    try:
        await ws.connect(url, ssl=True)
        out("default_ctx", "connected?!")
    except ws.WebSocketError as e:
        out("default_ctx", "refused")


MODES = {"echo": echo, "ping": ping, "frag": frag, "big": big, "toobig": toobig, "drop": drop, "heap": heap,
         "wss": wss}

if __name__ == "__main__":
    mode = sys.argv[1]
    if "-v" in sys.argv:  # debugging: heap maps
        sys.argv.remove("-v")
        VERBOSE = True
    asyncio.run(MODES[mode](*sys.argv[2:]))
    out("done")
