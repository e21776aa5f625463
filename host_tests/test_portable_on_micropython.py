# Runs every module in host_tests/portable under the real micropython command
# (pytest runs the same modules on CPython directly).
import os

import pytest

import mpy

PORTABLE = os.path.join(mpy.HOST_TESTS, "portable")
MODULES = sorted(f[:-3] for f in os.listdir(PORTABLE) if f.startswith("test_") and f.endswith(".py"))


@pytest.mark.parametrize("module", MODULES)
def test_portable_module_on_micropython(module):
    r = mpy.run([os.path.join(mpy.HOST_TESTS, "mp_runner.py"), module], extra_path=(PORTABLE, mpy.HOST_TESTS), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    last = [l for l in out.splitlines() if l.endswith("failed")][-1]
    assert " 0 passed" not in " " + last, out
