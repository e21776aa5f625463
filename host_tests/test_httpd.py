# net/httpd.py and net/dns.py on real sockets under the `micropython` command: an oversized
# request, a slow client, malformed headers and a wrong password are each refused with
# their status; the captive DNS answers A queries for any name and ignores malformed packets.
import socket
import subprocess
import time

import pytest

import mpy

TIMEOUT_MS = 600   # the server's request deadline in this test (the firmware's is 5000)


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def server():
    port, dport = free_port(), free_port(socket.SOCK_DGRAM)
    proc = mpy.popen([mpy.HOST_TESTS + "/httpd_server.py", str(port), str(TIMEOUT_MS), str(dport)],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "READY", line + proc.stdout.read()
    yield port, dport
    proc.terminate()
    proc.wait(5)


def exchange(port, data, pause_s=None, read_timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        if pause_s is None:
            s.sendall(data)
        else:
            import select
            for b in data:  # dribble; stop as soon as the server has answered
                if select.select([s], [], [], pause_s)[0]:
                    break
                s.sendall(bytes([b]))
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(reply):
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply[9:12])


def auth(pw):
    import base64
    return b"Authorization: Basic " + base64.b64encode(b"admin:" + pw) + b"\r\n"


def test_right_password_gets_the_page_and_wrong_or_missing_gets_401(server):
    port, _ = server
    ok = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + auth(b"right-password") + b"\r\n")
    assert status_of(ok) == 200 and ok.endswith(b"<p>hello</p>")
    assert b"Content-Length: 12\r\n" in ok and b"Connection: close" in ok
    bad = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + auth(b"wrong-password") + b"\r\n")
    assert status_of(bad) == 401 and b'WWW-Authenticate: Basic realm="test"' in bad
    assert status_of(exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == 401
    garbage = exchange(port, b"GET / HTTP/1.1\r\nAuthorization: Basic %%%notbase64\r\n\r\n")
    assert status_of(garbage) == 401


def test_oversized_head_and_body_are_refused(server):
    port, _ = server
    big = b"GET / HTTP/1.1\r\nX-Fill: " + b"a" * 5000 + b"\r\n\r\n"
    assert status_of(exchange(port, big)) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(40)) + b"\r\n"
    assert status_of(exchange(port, many)) == 431
    body = b"POST /echo HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"a=1&" * 100
    assert status_of(exchange(port, body)) == 413


def test_slow_client_is_cut_off_after_the_request_deadline(server):
    port, _ = server
    t0 = time.monotonic()
    reply = exchange(port, b"GET / HTTP/1.1\r\nHost: slow\r\n", pause_s=0.05)  # ~1.5 s of dribbling
    assert status_of(reply) == 408
    assert time.monotonic() - t0 < 5
    # A client that says nothing at all is dropped too.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    data = s.recv(4096)
    s.close()
    assert status_of(data) == 408 and time.monotonic() - t0 < 3


@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET noslash HTTP/1.1\r\n\r\n",
    b"GET / SPDY/3\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
    b"POST /echo HTTP/1.1\r\n\r\n",
])
def test_malformed_requests_get_400(server, req):
    port, _ = server
    assert status_of(exchange(port, req)) == 400


def test_unknown_method_405_and_form_decoding(server):
    port, _ = server
    assert status_of(exchange(port, b"DELETE / HTTP/1.1\r\n\r\n")) == 405
    body = b"csms_url=ws%3A%2F%2Fh%3A9000%2Focpp&id=CP+1&bad=%zz&utf=%C3%A9"
    reply = exchange(port, b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    import json
    got = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert got == {"csms_url": "ws://h:9000/ocpp", "id": "CP 1", "bad": "%zz", "utf": "\u00e9"}


def test_server_survives_all_of_that(server):
    port, _ = server
    assert status_of(exchange(port, b"GET / HTTP/1.1\r\n" + auth(b"right-password") + b"\r\n")) == 200


# ---------------------------------------------------------------- captive DNS
def query(name, qtype=1, qid=0x1234):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + q + qtype.to_bytes(2, "big") + b"\x00\x01"


def ask(dport, pkt, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, ("127.0.0.1", dport))
        return s.recvfrom(1024)[0]
    except socket.timeout:
        return None
    finally:
        s.close()


@pytest.mark.parametrize("name", ["connectivitycheck.gstatic.com", "captive.apple.com", "x", "a.b.c.d.e.example"])
def test_dns_answers_every_a_query_with_the_ap_address(server, name):
    _, dport = server
    r = ask(dport, query(name, qid=0xBEEF))
    assert r is not None
    assert r[:2] == b"\xbe\xef" and r[2] & 0x80 and r[3] & 0x0F == 0  # our id, a response, NOERROR
    assert r[4:8] == b"\x00\x01\x00\x01"                              # 1 question, 1 answer
    assert r[-4:] == bytes([192, 168, 4, 1]) and r[-6:-4] == b"\x00\x04"
    # the answer parses with an independent decoder
    import dns_check
    assert dns_check.a_records(r) == [(name, "192.168.4.1")]


def test_dns_aaaa_gets_an_empty_answer(server):
    _, dport = server
    r = ask(dport, query("example.com", qtype=28))
    assert r is not None and r[6:8] == b"\x00\x00" and r[2] & 0x80


@pytest.mark.parametrize("pkt", [
    b"", b"\x00", b"\x12\x34\x01\x00\x00\x01",                    # too short
    query("x")[:-3],                                              # question cut
    b"\x12\x34\x81\x80" + query("x")[4:],                         # a response, not a query
    b"\x12\x34\x01\x00\x00\x02" + query("x")[6:],                 # claims 2 questions
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer in qname
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" + b"a" * 10,          # label runs off the end
    b"\x12\x34\x01\x00\x00\x01" + b"\x00" * 600,                  # over 512 bytes
])
def test_dns_ignores_malformed_packets_and_keeps_serving(server, pkt):
    _, dport = server
    assert ask(dport, pkt, timeout=0.3) is None
    assert ask(dport, query("still.alive")) is not None
