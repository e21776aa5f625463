# Serves net/httpd.py on 127.0.0.1 under `micropython` (or CPython) for the plain HTTP tests:
# "/" needs Basic auth with password "right-password", "/echo" returns the form it got.
#   micropython httpd_server.py PORT TIMEOUT_MS DNS_PORT
import sys

import asyncio
import json

from net import dns, httpd

PASSWORD = "right-password"


def handle(req):
    if req.path == "/echo":
        return httpd.response(200, json.dumps(httpd.parse_form(req.body)), "application/json")
    if not httpd.same(httpd.basic_password(req), PASSWORD):
        return httpd.unauthorized("test")
    if req.path == "/":
        return httpd.response(200, "<p>hello</p>")
    return httpd.response(404, "no", "text/plain")


async def main(port, timeout_ms, dns_port):
    server = await httpd.Server(handle, "127.0.0.1", port, timeout_ms).start()
    responder = dns.Responder("192.168.4.1", dns_port, "127.0.0.1")
    responder.open()
    asyncio.create_task(responder.run())
    print("READY")
    last = None
    while True:
        await asyncio.sleep(0.2)
        line = "stats served=%d refused=%s dns=%d/%d" % (server.served, sorted(server.refused.items()),
                                                          responder.answered, responder.ignored)
        if last != line:
            last = line
            print(line)


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
