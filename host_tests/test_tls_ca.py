# ca_cert as a PEM file (one certificate, or several with the CSMS's among them) or as
# DER, against a real wss:// server on 127.0.0.1, on CPython and MicroPython (whose ssl
# takes DER only: net/tls.py converts). A CA file that is not a certificate is refused
# when config.json is checked at boot, with a message naming the key.
import os
import ssl
import subprocess
import sys

import pytest

import mpy
import ws_servers as S

SCRIPT = os.path.join(mpy.HOST_TESTS, "tls_ca_client.py")


async def echo(conn):
    async for msg in conn:
        await conn.send(msg)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    (d / "server").mkdir()
    (d / "a").mkdir()
    (d / "b").mkdir()
    made = S.make_self_signed(d / "server")
    if made is None:
        pytest.skip("neither the cryptography package nor the openssl CLI is available to make a certificate")
    certfile, keyfile, pem = made
    others = [S.make_self_signed(d / n, names=("other-ca-" + n,))[2] for n in ("a", "b")]
    files = {"one.pem": pem, "several.pem": others[0] + b"\n" + pem + others[1],
             "one.der": ssl.PEM_cert_to_DER_cert(pem.decode()), "other.pem": others[0] + others[1]}
    paths = {}
    for name, data in files.items():
        paths[name] = str(d / name)
        with open(paths[name], "wb") as f:
            f.write(data)
    return certfile, keyfile, paths


def run(runtime, url, cafile):
    if runtime == "micropython":
        r = mpy.run([SCRIPT, url, cafile], timeout=60)
    else:
        env = dict(os.environ, PYTHONPATH=mpy.FIRMWARE)
        r = subprocess.run([sys.executable, SCRIPT, url, cafile], capture_output=True, text=True, timeout=60, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = [l.split(" ", 1)[1] for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert res[-1] == "done", out
    return res[:-1], out


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_pem_one_and_several_and_der_ca_verify_a_real_wss_server(certs, runtime):
    certfile, keyfile, paths = certs
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    with S.websockets_server(echo, subprotocols=["ocpp1.6"], ssl=server_ctx) as srv:
        url = "wss://localhost:%d/ocpp/CP1" % srv.port
        for name, n in (("one.pem", 1), ("several.pem", 3), ("one.der", 1)):
            res, out = run(runtime, url, paths[name])
            assert res == ["certs %d" % n, "echo over tls", "closed 1000"], (name, out)
        res, out = run(runtime, url, paths["other.pem"])  # the CSMS's CA is not among them
        assert res[0] == "certs 2" and res[1].startswith("refused "), out
        assert "\n" not in res[1]


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
def test_bad_ca_file_refused_at_boot_naming_the_key(tmp_path, runtime):
    bad = tmp_path / "ca.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    junk = tmp_path / "ca.der"
    junk.write_bytes(b"\x01\x02\x03 not DER")
    script = ("import devconfig\n"
              "for p in %r:\n"
              "    try:\n"
              "        devconfig.check_files({'ca_cert': p})\n"
              "        print('RESULT accepted')\n"
              "    except devconfig.ConfigError as e:\n"
              "        print('RESULT', e)\n" % ([str(bad), str(junk), str(tmp_path / "missing.pem")],))
    if runtime == "micropython":
        r = mpy.run(["-c", script], timeout=60)
    else:
        env = dict(os.environ, PYTHONPATH=mpy.FIRMWARE)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    res = [l.split(" ", 1)[1] for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert res == ["config.json: ca_cert: %s: PEM certificate 1 is not valid base64" % bad,
                   "config.json: ca_cert: %s: neither a PEM certificate file nor one DER certificate" % junk,
                   "config.json: ca_cert: file %s not found on the device (copy it: mpremote fs cp <file> :%s)"
                   % (tmp_path / "missing.pem", tmp_path / "missing.pem")], r.stdout + r.stderr


@pytest.mark.parametrize("runtime", ("cpython", "micropython"))
@pytest.mark.parametrize("ca", ("several.pem", "one.der"))
def test_whole_firmware_boots_and_charges_over_wss_with_the_ca_file(certs, runtime, ca):
    import asyncio
    import scenario as SC
    certfile, keyfile, paths = certs
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    session = [{"at": 3, "do": "card", "id": "04A2B3C4"}, {"at": 5, "do": "plug"},
               {"at": 30, "do": "unplug"}, {"at": 32, "do": "end"}]
    station, lines, rc = asyncio.run(SC.run_session(runtime, session, speed=20, extra_cfg={"ca_cert": paths[ca]},
                                                    csms_kwargs={"ssl": server_ctx, "url_host": "localhost"}))
    out = "\n".join(lines)
    assert rc == 0, out[-3000:]
    assert "link: connected to wss://localhost:" in out and "invalid cert" not in out
    assert SC.check_schemas(station) == sum(1 for d, _ in station.frames if d == "in")
    (tx,) = station.transactions.values()
    assert tx["stop"] is not None
