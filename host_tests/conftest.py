# Puts firmware/ on the path the way the device filesystem lays it out
# (modules at the root), and tools/ for the host-side helpers.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "tools"), os.path.join(ROOT, "host_tests")):
    if p not in sys.path:
        sys.path.insert(0, p)
