import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_pyfunc_call(pyfuncitem):
    """Portable tests may be `async def` (mp_runner awaits them on micropython):
    run those in a fresh event loop on CPython too."""
    import asyncio
    import inspect
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None
