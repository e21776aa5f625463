# The UpdateFirmware job (run by the app as a background task, unloaded when it ends): waits
# for retrieveDate, downloads with retries (an ESP32 app image straight into the next OTA
# partition, an application bundle into a staging file that a retry resumes), waits until
# no transaction runs, installs, reboots. Every step is in data_dir/fw.json before it starts,
# so a power cut resumes or repeats it; statuses go out through ocpp16.fw_state.notify.
# A SignedUpdateFirmware's file is hashed as it arrives and installed only when its signature
# verifies (ocpp16.fwsign); its installDateTime is waited for.
from compat import const
import log
import store
from net import fetch
from ocpp16 import fw_state

PART = "fw.part"          # the bundle being downloaded, in data_dir
POLL_MS = 1000            # how often the job looks at the clock / the transactions
_REBOOT_DRAIN_MS = const(10000)  # after Installing: wait at most this long for it to be sent
IMAGE_MAGIC = 0xE9        # ESP32 app image (hal.esp32.ota)
# Modules this job imports for its work, forgotten when it ends (on-demand rule).
HELPERS = ("net.fetch", "bundle", "hal.esp32.ota", "appboot", "ocpp16.fwsign")
_HASH_CHUNK = const(1024)  # bytes read at a time when a resumed download re-hashes what is staged


def _bundle():
    import bundle
    return bundle


class Sink:
    """Where a download goes, decided by its first bytes: an ESP32 app image to the OTA
    writer, a bundle to the staging file (appended to when the server resumes). With
    signed=True, .digest (fwsign.FileDigest) is the SHA-256 of the whole file so far."""

    def __init__(self, part, offset, free, alive=None, signed=False):
        self.alive = alive        # alive() false: a newer UpdateFirmware replaced this one
        self.signed = signed
        self.digest = None
        self.part = part
        self.offset = offset
        self.free = free
        self.total = None
        self.start = 0
        self.head = b""
        self.kind = None
        self.ota = None
        self.f = None

    def begin(self, total, start):
        self.total = total
        self.start = start
        if self.signed:
            from ocpp16 import fwsign
            self.digest = fwsign.FileDigest()
            if start:
                self._rehash(start)
        if start:
            self.kind = "bundle"
            self.f = open(self.part, "ab")

    def _rehash(self, upto):
        """Feed the digest the first `upto` bytes already staged (a resumed download)."""
        buf = bytearray(_HASH_CHUNK)
        mv = memoryview(buf)
        with open(self.part, "rb") as f:
            left = upto
            while left > 0:
                n = f.readinto(buf)
                if not n:
                    raise fetch.TransferError("staged download shorter than the resume offset")
                n = min(n, left)
                self.digest.update(mv[:n])
                left -= n

    def write(self, data):
        if self.alive is not None and not self.alive():
            raise fetch.TransferError("replaced by a newer UpdateFirmware")
        if self.digest is not None:
            self.digest.update(data)
        if self.kind is None:
            self.head += bytes(data)
            if self.head[0] != IMAGE_MAGIC and len(self.head) < len(_bundle().MAGIC):
                return
            self._choose()
            data, self.head = self.head, b""
        if self.ota is not None:
            self.ota.write(data)
        else:
            self.f.write(data)

    def _choose(self):
        if self.head[0] == IMAGE_MAGIC:
            if self.total is None:
                raise fetch.TransferError("an app image download needs its size (no Content-Length / SIZE)")
            from hal.esp32 import ota
            self.kind = "image"
            self.ota = ota.OtaUpdate(self.total)
            return
        b = _bundle()
        if self.head[:len(b.MAGIC)] != b.MAGIC:
            raise b.BundleError("neither an ESP32 app image nor an application bundle (starts %r)" % self.head[:12])
        self.kind = "bundle"
        if self.total is not None and self.free is not None and self.free < 2 * self.total + b.SPARE_BYTES:
            raise b.NoSpace("no space left: %d bytes free, a %d-byte bundle needs %d" % (
                self.free, self.total, 2 * self.total + b.SPARE_BYTES))
        self.f = open(self.part, "wb")

    def close(self):
        if self.f is not None:
            f, self.f = self.f, None
            f.close()


class _Progress:
    """Logs a download's progress at each quarter (the flash log shows how far it got)."""

    def __init__(self):
        self.mark = 1

    def __call__(self, done, total):
        if total and done * 4 >= total * self.mark and self.mark <= 4:
            log.info("firmware: downloaded %d of %d bytes", done, total)
            while done * 4 >= total * self.mark:
                self.mark += 1


def _free(path):
    return store.real_fs.free(path)


def _current(cp, st):
    return cp.fw_update is st


async def _download(app, st, part):
    cp = app.cp
    offset = 0
    if st.get("kind") == "bundle":
        offset = max(store.real_fs.size(part), 0)   # resume what an earlier attempt staged
    sink = Sink(part, offset, _free(cp.data_dir), lambda: _current(cp, st), signed=bool(st.get("sig")))
    ssl = None
    if st["loc"].startswith("https:"):
        import app as app_module
        ssl = app_module._rare("applink", "tls_context", app.cfg)  # applink for the call
    try:
        await fetch.download(st["loc"], sink, offset, _Progress(), ssl)
    finally:
        sink.close()
        if sink.kind is not None and st.get("kind") != sink.kind:
            st["kind"] = sink.kind
    if sink.kind is None:
        raise fetch.TransferError("empty download")
    if sink.kind == "image":
        st["target"] = sink.ota.finish(activate=False)
    else:
        st["version"] = _bundle().verify(part)["version"]
    return sink.digest.digest() if sink.digest is not None else None


def _signature(app, st, digest):
    """None when the signature over the download verifies (fwsign.check), else the reason;
    the signing certificate is checked again (a root may have been deleted meanwhile)."""
    cp = app.cp
    now = app.clock.now()
    if digest is None:
        return "no digest"
    from ocpp16 import fwsign
    verdict = fwsign.check(st["cert"], fwsign.manufacturer_roots(cp),
                           cp.clock.epoch(now) if cp.clock.known() else None, digest, st["sig"])
    if verdict == "SignatureVerified":
        return None
    return "signing certificate no longer valid" if verdict == "InvalidCertificate" else "signature does not verify"


def _failed_attempt(st, e):
    """Forget a staged bundle the server cannot resume from a wrong byte; keep a partial one."""
    b = _bundle()
    if isinstance(e, b.BundleError) and not isinstance(e, b.NoSpace):
        st.pop("kind", None)


async def run(app, gen):
    try:
        await _run(app, gen)
    finally:
        from ocpp16 import profiles
        profiles.unload(HELPERS)


async def _run(app, gen):
    cp = app.cp
    st = cp.fw_update
    if not st or st.get("gen") != gen:
        return
    part = cp.data_dir + "/" + PART
    signed = bool(st.get("sig"))
    if signed and st["phase"] == "scheduled" and cp.clock.epoch(app.clock.now()) < st["at"]:
        fw_state.notify(cp, "DownloadScheduled")
    while st["phase"] == "scheduled" and cp.clock.epoch(app.clock.now()) < st["at"]:
        await app.clock.sleep_ms(POLL_MS)
        if not _current(cp, st):
            return
    if st["phase"] in ("scheduled", "downloading"):
        while True:
            st["phase"] = "downloading"
            fw_state.save(cp)
            fw_state.notify(cp, "Downloading")
            try:
                digest = await _download(app, st, part)
                if not _current(cp, st):
                    return
                break
            except Exception as e:  # TransferError, OtaError, BundleError, OSError (flash full)
                if not _current(cp, st):
                    return
                st["tries"] += 1
                _failed_attempt(st, e)
                log.warning("firmware: download attempt %d failed: %s", st["tries"], e)
                if isinstance(e, _bundle().NoSpace) or st["tries"] > st["retries"]:
                    _remove(part)
                    fw_state.finish(cp, "DownloadFailed")
                    return
                fw_state.save(cp)
                await app.clock.sleep_ms(st["interval"] * 1000)
                if not _current(cp, st):
                    return
        if signed:
            # checked before "downloaded" is on flash: a power cut here downloads (resumes) again
            why = _signature(app, st, digest)
            if why is not None:
                log.error("firmware: %s: not installed", why)
                fw_state.notify(cp, "Downloaded")
                cp.security_event("InvalidFirmwareSignature", app.clock.now(), why)
                _remove(part)
                fw_state.finish(cp, "InvalidSignature")
                return
            st["verified"] = True
        st["phase"] = "downloaded"
        fw_state.save(cp)
        fw_state.notify(cp, "Downloaded")
        if signed:
            fw_state.notify(cp, "SignatureVerified")
    if signed and not st.get("verified"):
        _remove(part)   # never install a signed request's file whose signature was not verified
        fw_state.finish(cp, "InstallVerificationFailed")
        return
    if st["phase"] in ("downloaded", "install_scheduled") and st.get("install_at"):
        # installDateTime: charging goes on meanwhile (not a HOLD phase)
        if cp.clock.epoch(app.clock.now()) < st["install_at"]:
            st["phase"] = "install_scheduled"
            fw_state.save(cp)
            fw_state.notify(cp, "InstallScheduled")
        while cp.clock.epoch(app.clock.now()) < st["install_at"]:
            await app.clock.sleep_ms(POLL_MS)
            if not _current(cp, st):
                return
    if st["phase"] in ("downloaded", "install_scheduled", "waiting"):
        st["phase"] = "waiting"
        fw_state.save(cp)
        while cp.tx:   # new transactions are refused meanwhile (fw_state.may_start)
            await app.clock.sleep_ms(POLL_MS)
            if not _current(cp, st):
                return
    fw_state.notify(cp, "Installing")
    try:
        _install(app, st, part)
    except Exception as e:  # OtaError, BundleError, OSError (no space)
        log.error("firmware: install failed: %r", e)
        _remove(part)
        fw_state.finish(cp, "InstallationFailed")
        return
    _remove(part)
    if signed:
        fw_state.notify(cp, "InstallRebooting")
    t0 = app.clock.now()
    while not cp.idle() and app.clock.now() - t0 < _REBOOT_DRAIN_MS:
        await app.clock.sleep_ms(100)
    log.info("firmware: installed into %s: rebooting", st.get("target"))
    cp.reboot = "Hard"


def _install(app, st, part):
    cp = app.cp
    if st["kind"] == "image":
        st["phase"] = "installing"
        fw_state.save(cp)
        from hal.esp32 import ota
        ota.activate(st["target"])
    else:
        b = _bundle()
        root = app.cfg.get("apps_dir") or (cp.data_dir + "/apps")
        store.makedirs(root)
        st["root"] = root
        st["target"] = b.next_folder(root)
        st["phase"] = "installing"
        fw_state.save(cp)
        b.install(part, root, st["target"], _free(root))
    st["phase"] = "rebooting"
    fw_state.save(cp)


def _remove(path):
    try:
        import os
        os.remove(path)
    except OSError:
        pass
