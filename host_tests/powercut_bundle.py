# Under micropython: an application-bundle install on real LittleFS (vfs.VfsLfs2) over a RAM
# flash that loses power at its k-th program/erase, for every k of the install: staging the
# download (fw.part, in download-sized chunks), the unpack into a new folder, the marker
# switch. After each cut the same bytes are remounted ("reboot") and appboot chooses what
# runs: it must be the old version whole or the new one whole, never a mix or nothing; then
# the install is retried after the reboot and must end in the new version.
# Usage: powercut_bundle.py BUNDLE_FILE [step [unsafe]]. Prints "cut points tried: N of M".
import hashlib
import sys

import appboot
import bundle
import powercut

BLOCKS = 48              # 192 KB flash
POINT = "/pc"
ROOT = POINT + "/apps"
PART = POINT + "/data/fw.part"
CHUNK = 1024             # net.fetch.CHUNK: how the download reaches the staging file
OLD = {"version.py": b'VERSION = "0.1.0"\n', "app.py": b"OLD = True\n" * 300}


def sha(b):
    return "".join("%02x" % x for x in hashlib.sha256(b).digest())


def base_image():
    dev = powercut.CutBlockDevice.formatted(BLOCKS)
    powercut.mount(dev, POINT)
    import os
    for d in (ROOT, ROOT + "/app1", POINT + "/data"):
        os.mkdir(d)
    for name in OLD:
        with open(ROOT + "/app1/" + name, "wb") as f:
            f.write(OLD[name])
    appboot.write(ROOT, {"run": "app1", "prev": "", "trial": 0})
    powercut.umount(POINT)
    return dev


def install(data):
    """What the update job does with a download: stage it, verify it, unpack and switch."""
    with open(PART, "wb") as f:
        for i in range(0, len(data), CHUNK):
            f.write(data[i:i + CHUNK])
    bundle.verify(PART)
    folder = bundle.next_folder(ROOT)
    return bundle.install(PART, ROOT, folder)


def check(new_manifest):
    """appboot's choice after the reboot: the old folder intact, or the new folder whole."""
    sys.path[:] = BOOT_PATH
    m = appboot.select(ROOT)
    assert m is not None and m.get("run"), "no version to boot: %r" % (m,)
    folder = ROOT + "/" + m["run"]
    if m["run"] == "app1":
        want = [(n, len(OLD[n]), sha(OLD[n])) for n in OLD]
        kind = "old"
    else:
        want = [tuple(e) for e in new_manifest["files"]]
        kind = "new"
    for name, size, digest in want:
        with open(folder + "/" + name, "rb") as f:
            got = f.read()
        assert len(got) == size and sha(got) == digest, "%s version: %s is damaged" % (kind, name)
    return kind


def attempt(image, cut_at, data, manifest):
    dev = image.copy(cut_at)
    powercut.mount(dev, POINT)
    cut = False
    try:
        install(data)
    except Exception:
        if not dev.dead:
            raise
        cut = True
    finally:
        powercut.umount(POINT)
    after = dev.reboot()
    dev.data = None
    powercut.mount(after, POINT)
    try:
        kind = check(manifest)
        if kind == "old":
            # the job resumes after the reboot: the install is repeated and must succeed
            install(data)
            assert check(manifest) == "new", "retry after the cut did not switch"
    finally:
        powercut.umount(POINT)
    return cut, dev.ops, kind


BOOT_PATH = list(sys.path)


def main(argv):
    with open(argv[1], "rb") as f:
        data = f.read()
    step = int(argv[2]) if len(argv) > 2 else 1
    if len(argv) > 3 and argv[3] == "unsafe":
        # The checker's own test: switching before unpacking must be caught.
        orig = bundle.install

        def unsafe(path, root, folder=None, free=None):
            appboot.write(root, {"run": folder, "prev": "app1", "trial": 1, "boots": 0})
            return orig(path, root, folder, free)
        bundle.install = unsafe
    manifest = bundle.parse_head(data)[0]
    image = base_image()
    cut, total, kind = attempt(image, None, data, manifest)
    assert not cut and kind == "new"
    tried = failed = 0
    kinds = {"old": 0, "new": 0}
    for k in range(1, total + 1, step):
        try:
            cut, _, kind = attempt(image, k, data, manifest)
            assert cut, "no cut at write %d" % k
            kinds[kind] += 1
        except Exception as e:
            failed += 1
            print("FAIL cut at write %d of %d: %r" % (k, total, e))
            if failed > 5:
                break
        tried += 1
    print("booted after the cut: old %d, new %d" % (kinds["old"], kinds["new"]))
    print("cut points tried: %d of %d" % (tried, (total + step - 1) // step))
    print("writes in the install: %d, failures %d" % (total, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv))
