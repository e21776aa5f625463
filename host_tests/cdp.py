# Test helper (CPython only): drives Debian's headless `chromium` over the Chrome DevTools
# protocol with the pinned `websockets` package (no Playwright, no browser download).
# One page per Browser; navigation waits for the load event.
import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request

import websockets

START_TIMEOUT_S = 30    # chromium writes DevToolsActivePort within this
LOAD_TIMEOUT_S = 15     # a page must finish loading within this


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    async def start(self, width=480, height=900):
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium not found (make test installs Debian's chromium)")
        self.profile = tempfile.mkdtemp(prefix="cdp-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if loop.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            await asyncio.sleep(0.05)
        port = int(open(port_file).read().split()[0])

        def targets():
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                return json.loads(r.read())
        page = [t for t in await asyncio.to_thread(targets) if t["type"] == "page"][0]
        self.ws = await websockets.connect(page["webSocketDebuggerUrl"], max_size=2 ** 25)
        self.ids = itertools.count(1)
        self.waiting = {}
        self.events = []
        self.event_seen = asyncio.Event()
        self.reader = asyncio.create_task(self._read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        return self

    async def _read(self):
        async for raw in self.ws:
            m = json.loads(raw)
            if "id" in m:
                fut = self.waiting.pop(m["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(m)
            else:
                self.events.append(m)
                self.event_seen.set()

    async def send(self, method, **params):
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[i] = fut
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        m = await asyncio.wait_for(fut, LOAD_TIMEOUT_S)
        if "error" in m:
            raise RuntimeError("%s: %s" % (method, m["error"]))
        return m["result"]

    async def wait_event(self, method, timeout=LOAD_TIMEOUT_S):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    del self.events[:i + 1]
                    return e
            self.event_seen.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("no %s within %s s" % (method, timeout))
            try:
                await asyncio.wait_for(self.event_seen.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def headers(self, **h):
        await self.send("Network.enable")
        await self.send("Network.setExtraHTTPHeaders", headers=h)

    async def goto(self, url):
        """Navigate and wait for the load event; returns the page's elapsed ms (Navigation Timing)."""
        del self.events[:]
        r = await self.send("Page.navigate", url=url)
        if r.get("errorText"):
            raise RuntimeError("navigate %s: %s" % (url, r["errorText"]))
        await self.wait_event("Page.loadEventFired")
        return await self.eval("performance.getEntriesByType('navigation')[0].duration")

    async def eval(self, expr):
        r = await self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s" % r["exceptionDetails"].get("text"))
        return r["result"].get("value")

    async def submit(self, selector="form"):
        """Press the form's submit button (a real click event) and wait for the next page."""
        del self.events[:]
        await self.eval("document.querySelector(%s).querySelector('[type=submit]').click()" % json.dumps(selector))
        await self.wait_event("Page.loadEventFired")

    async def fill(self, values):
        for k, v in values.items():
            await self.eval("(function(){var e=document.getElementById(%s); e.value=%s; "
                            "e.dispatchEvent(new Event('input',{bubbles:true}));})()" % (json.dumps(k), json.dumps(v)))

    async def text(self, element_id):
        return await self.eval("(function(){var e=document.getElementById(%s); return e ? e.textContent : null;})()"
                               % json.dumps(element_id))

    async def screenshot(self, path):
        r = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    async def close_async(self):
        try:
            self.reader.cancel()
            await self.ws.close()
        except Exception:
            pass
        self.close()

    def close(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(getattr(self, "profile", ""), ignore_errors=True)
