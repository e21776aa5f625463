# The "[heap]" lines of a sim board whose config.json sets sim.heap_report_s (read by
# tools/bench_memory.py): retained heap after a collection, the modules loaded, the interned
# names. app.py imports it for each report and drops it; a device never runs it.
import gc
import sys


def report(app):
    sys.modules.pop(__name__, None)  # the reporter is not part of the charger it reports on
    n = len(sys.modules)
    if getattr(app, "heap_modules", None) != n:  # each time the set changes
        app.heap_modules = n
        print("[heap] modules=" + ",".join(sorted(sys.modules)))
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        cp = app.cp
        print("[heap] alloc=%d free=%d booted=%d tx=%d" % (gc.mem_alloc(), gc.mem_free(),
              cp.boot_status == "Accepted", len(cp.tx)))
        try:
            import micropython
            micropython.qstr_info()  # "qstr pool: ... n_total_bytes=N": interned names never freed
        except (ImportError, AttributeError):
            pass
