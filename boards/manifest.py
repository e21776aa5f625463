# Frozen firmware: the modules tools/mpy.py puts on a board (the same list, from
# mpy.source_files) compiled into a custom MicroPython image, where their bytecode, constants
# and names stay in flash. firmware/main.py is frozen as `startup`, started by the /main.py
# stub of `make mpy` (copy build/<board>/main.py to the board). Build (README "Custom image"):
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/this/repo/boards/manifest.py
# Another board kind: include("/path/to/repo/boards/manifest.py", kind="esp8266").
import os
import shutil
import sys
import tempfile

options.defaults(kind="esp32")  # noqa: F821 (the manifest API: options, include, module)
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 the port's own frozen modules (asyncio, ...)

HERE = os.getcwd()  # manifestfile.py runs a manifest with its own folder as the working directory
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import boardinfo  # noqa: E402

mpy = boardinfo.mpy_tool()  # tools/mpy.py: one list of what a board runs

FIRMWARE = os.path.join(ROOT, "firmware")
for rel in mpy.source_files(FIRMWARE, options.kind):  # noqa: F821
    if rel == mpy.ENTRY:
        # The entry point under the name the stub imports (a frozen "main" would be
        # shadowed by /main.py itself, which comes first on sys.path).
        entry_dir = tempfile.mkdtemp(prefix="ocpp-frozen-")
        shutil.copy(os.path.join(FIRMWARE, rel), os.path.join(entry_dir, mpy.ENTRY_MODULE + ".py"))
        module(mpy.ENTRY_MODULE + ".py", base_path=entry_dir)  # noqa: F821
    else:
        module(rel, base_path=FIRMWARE)  # noqa: F821
sys.path.remove(os.path.join(ROOT, "tools"))
