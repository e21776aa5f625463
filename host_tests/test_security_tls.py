# Security profiles 1-3 over real TLS on 127.0.0.1 (a CPython ssl server inside the
# embedded CSMS), the whole charger on CPython and on real micropython: the upgrade from
# profile 1 to 2 with a root installed over OCPP, the fallback when the new profile cannot
# connect, a wrong host name and an expired server certificate refused (security events
# in the log on flash), and profile 3 with a client certificate issued from the charger's
# own CSR, checked by the server with CERT_REQUIRED. Every frame schema-checked.
import asyncio
import binascii
import ipaddress
import os
import ssl
import tempfile

import pytest
from cryptography import x509
from ocpp.v16 import call

import pkitools as pk
import scenario as S

RUNTIMES = ("cpython", "micropython")
KEY = "charger-password-16"
HEX_KEY = "00112233445566778899aabbccddeeff01234567"  # 20 bytes as 40 hex digits
SCN = [{"at": 3, "do": "plug"}, {"at": 1500, "do": "end"}]


class Tls:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root_key, self.root = pk.root("CSMS Root")
        self.other_key, self.other = pk.root("Other Root")
        self.server_key = pk.ec_key()
        self.ca_key = pk.ec_key()  # issues charger certificates
        self.ca = pk.issue(pk.name("Charger CA", "Example CPO"), self.ca_key.public_key(), self.root.subject,
                           self.root_key, ca=True, path_len=0)

    def server(self, hostnames=("localhost",), expired=False, client_ca=None):
        sans = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        kw = {"not_before": pk.NOW - 9 * pk.DAY, "not_after": pk.NOW - pk.DAY} if expired else {}
        cert = pk.issue(pk.name(hostnames[0]), self.server_key.public_key(), self.root.subject, self.root_key,
                        sans=sans, **kw)
        path = os.path.join(self.tmp, "server-%d.pem" % len(os.listdir(self.tmp)))
        with open(path, "wb") as f:
            f.write(pk.pem(cert) + pk.key_pem(self.server_key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(path)
        if client_ca is not None:  # the charger CA and its root (MicroPython sends the leaf alone)
            ctx.load_verify_locations(cadata=pk.pem(client_ca, self.root).decode())
            ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


def pem(c):
    return pk.pem(c).decode()


def session(runtime, tls, server_ctx, script, cfg, passwords=None, workdir=None):
    result = {}
    kw = {"ssl": server_ctx, "url_host": "localhost", "passwords": passwords}

    async def wrapped(csms, st):
        await script(csms, st, result)
        result["done"] = True
    station, lines, rc = asyncio.run(S.run_session(runtime, SCN, script=wrapped if script else None, speed=50,
                                                   extra_cfg=cfg, csms_kwargs=kw, workdir=workdir, echo=bool(os.environ.get("ECHO"))))
    frames = S.firmware_frames(station)
    assert S.check_schemas(station) == len(frames)
    return station, lines, result


async def wait_connects(csms, n, timeout=60):
    for _ in range(timeout * 10):
        if len(csms.peer_certs) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("only %d connections" % len(csms.peer_certs))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_profile_1_to_2_with_an_installed_root_then_3_with_a_certificate_from_the_charger(runtime, tmp_path):
    tls = Tls(str(tmp_path))
    server_ctx = tls.server(client_ca=tls.ca)
    passwords = {"CP1": KEY}

    async def script(csms, st, result):
        await csms.wait_for("BootNotification")
        # profile 1 over wss (unverified until a root is installed); no root: 2 is refused
        r = await st.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))
        assert r.status == "Rejected"
        r = await st.call(call.InstallCertificate(certificate_type="CentralSystemRootCertificate", certificate=pem(tls.root)))
        assert r.status == "Accepted"
        assert (await st.call(call.ChangeConfiguration(key="AuthorizationKey", value=HEX_KEY))).status == "Accepted"
        csms.passwords["CP1"] = binascii.unhexlify(HEX_KEY)  # the hex form is decoded for Basic auth
        assert (await st.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))).status == "Accepted"
        await wait_connects(csms, 2)
        st = csms.stations["CP1"]
        r = await st.call(call.GetConfiguration(key=["SecurityProfile"]))
        assert r.configuration_key[0]["value"] == "2"
        # the last CSMS root is what the profile 2 link trusts: not deleted
        r = await st.call(call.GetInstalledCertificateIds(certificate_type="CentralSystemRootCertificate"))
        h = r.certificate_hash_data[0]
        r = await st.call(call.DeleteCertificate(certificate_hash_data=h))
        assert r.status == "Failed"
        # profile 3: the charger makes its key and CSR, the CPO CA signs it
        assert (await st.call(call.ChangeConfiguration(key="SecurityProfile", value="3"))).status == "Rejected"
        assert (await st.call(call.ChangeConfiguration(key="CpoName", value="Example CPO"))).status == "Accepted"
        assert (await st.call(call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"))).status == "Accepted"
        m = await csms.wait_for("SignCertificate", timeout=60)
        cert = pk.sign_csr(m[3]["csr"].encode(), tls.ca_key, tls.ca)
        r = await st.call(call.CertificateSigned(certificate_chain=pem(cert) + pem(tls.ca)))
        assert r.status == "Accepted"
        server_ctx.verify_mode = ssl.CERT_REQUIRED  # from now on a connection needs a client certificate
        csms.passwords = None  # profile 3 authenticates with the certificate, no Basic auth
        assert (await st.call(call.ChangeConfiguration(key="SecurityProfile", value="3"))).status == "Accepted"
        await wait_connects(csms, 3)
        st = csms.stations["CP1"]
        r = await st.call(call.GetConfiguration(key=["SecurityProfile"]))
        assert r.configuration_key[0]["value"] == "3"
        result["cert"] = cert

    station, lines, result = session(runtime, tls, server_ctx, script,
                                     {"security_profile": 1, "authorization_key": KEY, "serial": "SN-7"}, passwords)
    assert result.get("done"), "\n".join(lines[-60:])
    peers = [p for _cp, p in station.csms.peer_certs]
    assert peers[0] is None and peers[1] is None  # profiles 1 and 2: no client certificate
    subject = dict(x[0] for x in peers[2]["subject"])
    assert subject == {"organizationName": "Example CPO", "commonName": "SN-7"}
    assert "PRIVATE KEY" not in "\n".join(lines)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_new_profile_that_cannot_connect_falls_back_to_the_previous_one(runtime, tmp_path):
    tls = Tls(str(tmp_path))
    server_ctx = tls.server()

    async def script(csms, st, result):
        await csms.wait_for("BootNotification")
        r = await st.call(call.InstallCertificate(certificate_type="CentralSystemRootCertificate", certificate=pem(tls.other)))
        assert r.status == "Accepted"  # a root that did not issue the server certificate
        assert (await st.call(call.ChangeConfiguration(key="SecurityProfile", value="2"))).status == "Accepted"
        ev = await csms.wait_for(pred=lambda m: m[0] == 2 and m[2] == "SecurityEventNotification"
                                 and m[3]["type"] == "InvalidCentralSystemCertificate", timeout=90)
        st = csms.stations["CP1"]
        r = await st.call(call.GetConfiguration(key=["SecurityProfile"]))
        assert r.configuration_key[0]["value"] == "1"
        result["event"] = ev

    station, lines, result = session(runtime, tls, server_ctx, script,
                                     {"security_profile": 1, "authorization_key": KEY}, {"CP1": KEY})
    assert result.get("done"), "\n".join(lines[-60:])


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("fault", ["wrong host name", "expired", "wrong root"])
def test_profile_2_refuses_a_bad_server_certificate(runtime, fault, tmp_path):
    tls = Tls(str(tmp_path))
    server_ctx = tls.server(hostnames=("other.example",) if fault == "wrong host name" else ("localhost",),
                            expired=fault == "expired")
    ca = tls.file("ca.pem", pk.pem(tls.other if fault == "wrong root" else tls.root))
    work = tempfile.mkdtemp(prefix="ocpp-tls-")
    # the charger never gets an OCPP connection: run it alone and read its security log
    lines = asyncio.run(run_alone(runtime, work, server_ctx, ca))
    with open(os.path.join(work, "data", "security.log")) as f:
        log = f.read()
    assert "InvalidCentralSystemCertificate" in log, "\n".join(lines[-30:])
    assert not [l for l in lines if "BootNotification" in l and "->" in l]


async def run_alone(runtime, work, server_ctx, ca):
    import sim
    from csms import Csms
    async with Csms(ssl=server_ctx, url_host="localhost") as csms:
        cfg = sim.write_config(work, csms.url, "CP1", 50, [{"at": 60, "do": "end"}],
                               {"security_profile": 2, "authorization_key": KEY, "ca_cert": ca})
        cmd, env = sim.firmware_command(runtime, cfg)
        rc, lines = await sim.run_firmware(cmd, env, out=None, timeout=120)
        assert not csms.stations
    return lines
