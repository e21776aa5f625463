# tools/mpy.py: which modules are compiled, for which architecture, into which layout;
# the mip package.json stays in step with firmware/.
import json
import os
import shutil
import subprocess

import pytest

import boardinfo
mpy = boardinfo.mpy_tool()


def _boards(tmp_path, **boards):
    d = tmp_path / "boards"
    d.mkdir()
    for name, b in boards.items():
        (d / (name + ".json")).write_text(json.dumps(b))
    return str(d)


@pytest.mark.parametrize("board,march", [
    ({"kind": "esp32"}, "xtensawin"),
    ({"kind": "esp32", "chip": "esp32s3"}, "xtensawin"),
    ({"kind": "esp32", "chip": "esp32c3"}, "rv32imc"),
    ({"kind": "esp32", "chip": "esp32c6"}, "rv32imc"),
    ({"kind": "esp8266"}, "xtensa"),
    ({"kind": "sim"}, None),
])
def test_mpy_cross_gets_the_board_architecture(tmp_path, monkeypatch, board, march):
    boards = _boards(tmp_path, b=board)
    seen = []
    real_run = subprocess.run

    def recording_run(cmd, **kw):
        seen.append(cmd)
        return real_run(cmd, **kw)

    monkeypatch.setattr(mpy.subprocess, "run", recording_run)
    files = mpy.build("b", str(tmp_path / "out"), boards_dir=boards, quiet=True)
    assert seen and len(seen) == len(files) - 1  # every module went through mpy-cross; the stub did not
    for cmd in seen:
        marches = [a for a in cmd if a.startswith("-march=")]
        assert marches == ([] if march is None else ["-march=" + march])
        assert cmd[1] == "-s" and not os.path.isabs(cmd[2])  # tracebacks name "hal/board.py", not a host path


def test_build_layout_entry_stub_and_packages_keep_their_folders(tmp_path):
    out = tmp_path / "out"
    files = mpy.build("sim", str(out), quiet=True)
    paths = [f[0] for f in files]
    assert [p for p in paths if p.endswith(".py")] == ["main.py"]
    sources = mpy.source_files(kind="sim")
    want = [("startup.mpy" if p == "main.py" else p[:-3] + ".mpy") for p in sources] + ["main.py"]
    assert sorted(want) == sorted(paths)
    assert "hal/__init__.mpy" in paths
    for rel, local, size, sha in files:
        assert os.path.getsize(local) == size > 0
        assert local == str(out / rel)
        assert mpy.sha256_of(local) == sha
    assert open(out / "log.mpy", "rb").read(1) == b"M"  # an .mpy header
    assert (out / "main.py").read_text() == mpy.ENTRY_STUB


def test_entry_stub_starts_the_compiled_main_with_less_heap(tmp_path):
    """One reason for the stub: measure the smallest heap that imports the entry point
    from source (compiler running) and compiled, under the real micropython command.
    main.py is only the resident loop now (the boot is bringup.py), so the compiler's
    share is about 1 KB (it was 29 KB); the stub's other reason is appboot: startup.mpy
    comes from the application folder it selects."""
    import mpy as mpyrun
    out = tmp_path / "out"
    mpy.build("sim", str(out), quiet=True)
    src_dir = tmp_path / "src"
    shutil.copytree(out, src_dir)
    os.remove(src_dir / "startup.mpy")
    shutil.copyfile(os.path.join(boardinfo.FIRMWARE, "main.py"), src_dir / "startup.py")

    def min_heap(folder):
        lo, hi = 4000, 400000
        while hi - lo > 128:
            mid = (lo + hi) // 2
            r = mpyrun.run(["-c", "import startup"], heapsize=mid, cwd=str(folder), env={"MICROPYPATH": ".frozen:" + str(folder)})
            if r.returncode == 0:
                hi = mid
            else:
                lo = mid
        return hi

    compiled, source = min_heap(out), min_heap(src_dir)
    print("entry point: min heap compiled %d B, from source %d B" % (compiled, source))
    assert compiled < source


def test_board_kind_leaves_out_the_other_drivers(tmp_path):
    fw = tmp_path / "fw"
    for rel in ("main.py", "compat.py", "hal/__init__.py", "hal/esp32/pilot.py", "hal/sim/__init__.py", "hal/esp32/README.md", "package.json"):
        p = fw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("X = 1\n")
    assert mpy.source_files(str(fw), "sim") == ["compat.py", "hal/__init__.py", "hal/sim/__init__.py", "main.py"]
    assert mpy.source_files(str(fw), "esp32") == ["compat.py", "hal/__init__.py", "hal/esp32/pilot.py", "main.py"]
    assert mpy.source_files(str(fw)) == ["compat.py", "hal/__init__.py", "hal/esp32/pilot.py", "hal/sim/__init__.py", "main.py"]


def test_stale_outputs_are_removed_and_output_is_deterministic(tmp_path):
    fw = tmp_path / "fw"
    (fw / "pkg").mkdir(parents=True)
    (fw / "main.py").write_text("import a\n")
    (fw / "a.py").write_text("A = 1\n")
    (fw / "pkg" / "b.py").write_text("B = 2\n")
    out = tmp_path / "out"
    first = mpy.build("sim", str(out), firmware=str(fw), quiet=True)
    assert (out / "pkg" / "b.mpy").exists()
    (fw / "pkg" / "b.py").unlink()
    second = mpy.build("sim", str(out), firmware=str(fw), quiet=True)
    assert not (out / "pkg").exists()
    assert [f[3] for f in first if f[0] == "a.mpy"] == [f[3] for f in second if f[0] == "a.mpy"]


def test_compile_error_names_the_file(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("")
    (fw / "broken.py").write_text("def f(:\n")
    with pytest.raises(mpy.BuildError) as e:
        mpy.build("sim", str(tmp_path / "out"), firmware=str(fw), quiet=True)
    assert "broken.py" in str(e.value)


def test_report_prints_each_module_and_the_total(tmp_path, capsys):
    files = mpy.build("sim", str(tmp_path / "out"))
    out = capsys.readouterr().out
    for rel, _, size, _ in files:
        assert "%s %7d B" % (rel, size) in " ".join(out.split(" ")) or rel in out
    assert "total" in out and ("%d B in %d files" % (sum(f[2] for f in files), len(files))) in out


def test_every_firmware_module_compiles_for_the_esp32(tmp_path):
    boards = _boards(tmp_path, esp={"kind": "esp32"})
    files = mpy.build("esp", str(tmp_path / "out"), boards_dir=boards, quiet=True)
    assert len(files) == len(mpy.source_files(kind="esp32")) + 1  # + the main.py stub


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(boardinfo.BoardFileError) as e:
        mpy.build("no-such-board", quiet=True)
    assert "no-such-board" in str(e.value) and "sim" in str(e.value)


def test_package_json_lists_every_firmware_source():
    with open(mpy.PACKAGE_JSON) as f:
        pkg = json.load(f)
    assert pkg == json.loads(mpy.package_json()), "firmware/package.json is stale: run `.venv/bin/python tools/mpy.py --board sim --package-json`"
    for dest, url in pkg["urls"]:
        assert dest == url and os.path.exists(os.path.join(boardinfo.FIRMWARE, url))


@pytest.mark.parametrize("chip", sorted(boardinfo.CHIPS))
def test_build_advice_names_a_micropython_download(chip):
    s = boardinfo.build_advice(chip)
    assert boardinfo.CHIPS[chip]["build"] in s and "https://micropython.org/download/" in s
    if chip == "esp32":
        assert "ESP32_GENERIC-OTA" in s


def test_unchanged_modules_are_not_recompiled(tmp_path, monkeypatch):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("import a\n")
    (fw / "a.py").write_text("A = 1\n")
    (fw / "b.py").write_text("B = 1\n")
    out = str(tmp_path / "out")
    mpy.build("sim", out, firmware=str(fw), quiet=True)
    seen = []
    real_run = subprocess.run

    def recording_run(cmd, **kw):
        seen.append(cmd[-1])
        return real_run(cmd, **kw)

    monkeypatch.setattr(mpy.subprocess, "run", recording_run)
    mpy.build("sim", out, firmware=str(fw), quiet=True)
    assert seen == []
    (fw / "b.py").write_text("B = 2\n")
    files = mpy.build("sim", out, firmware=str(fw), quiet=True)
    assert seen == [str(fw / "b.py")]
    assert dict((f[0], f[2]) for f in files)["b.mpy"] > 0
    os.remove(os.path.join(out, "a.mpy"))  # an output lost from the folder is rebuilt
    mpy.build("sim", out, firmware=str(fw), quiet=True)
    assert seen == [str(fw / "b.py"), str(fw / "a.py")]
