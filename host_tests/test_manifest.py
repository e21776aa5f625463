# boards/manifest.py run the way MicroPython's tools/manifestfile.py runs a manifest (its
# folder as the working directory, the manifest API as globals): it must freeze exactly the
# modules tools/mpy.py puts on a board of that kind, main.py under the stub's name, and the
# frozen files must compile with mpy-cross.
import os
import subprocess

import boardinfo

MANIFEST = os.path.join(boardinfo.ROOT, "boards", "manifest.py")


class Options:
    def __init__(self, **kw):
        self._kw = kw
        self._defaults = {}

    def defaults(self, **kw):
        self._defaults = kw

    def __getattr__(self, name):
        return self._kw.get(name, self._defaults.get(name))


def run_manifest(**kw):
    frozen = {}
    included = []

    def module(module_path, base_path="."):
        full = os.path.join(os.path.abspath(base_path), module_path)
        assert os.path.exists(full), full
        frozen[module_path] = full

    prev = os.getcwd()
    os.chdir(os.path.dirname(MANIFEST))
    try:
        with open(MANIFEST) as f:
            exec(f.read(), {"options": Options(**kw), "include": included.append, "module": module})
    finally:
        os.chdir(prev)
    return frozen, included


def test_esp32_manifest_freezes_what_a_board_runs():
    mpy = boardinfo.mpy_tool()
    frozen, included = run_manifest()
    assert included == ["$(PORT_DIR)/boards/manifest.py"]
    expected = {("startup.py" if rel == "main.py" else rel) for rel in mpy.source_files(boardinfo.FIRMWARE, "esp32")}
    assert set(frozen) == expected
    assert "hal/esp32/pilot.py" in frozen and not [m for m in frozen if m.startswith("hal/sim/")]
    with open(frozen["startup.py"]) as a, open(os.path.join(boardinfo.FIRMWARE, "main.py")) as b:
        assert a.read() == b.read()


def test_other_kinds_and_every_frozen_file_compiles(tmp_path):
    mpy = boardinfo.mpy_tool()
    frozen, _ = run_manifest(kind="sim")
    assert "hal/sim/__init__.py" in frozen and not [m for m in frozen if m.startswith("hal/esp32/")]
    exe = mpy.mpy_cross_exe()
    for rel, full in frozen.items():
        r = subprocess.run([exe, "-march=xtensawin", "-o", str(tmp_path / "x.mpy"), full], capture_output=True, text=True)
        assert r.returncode == 0, (rel, r.stderr)
