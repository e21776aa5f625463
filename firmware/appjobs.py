# The app's background jobs (ocpp16/profiles.py: a handler appends (module, args) to
# cp.jobs): each runs as its own task; a failure is logged, never fatal; its module is
# unloaded when it ends. app.py imports this when the core asks for a job and drops it
# at once: a running job's task keeps this small module until the job ends.
import asyncio

import log


def start(app):
    """A task for each job in cp.jobs, in App.job_tasks until it ends (the app cancels them
    when it stops)."""
    while app.cp.jobs:
        name, args = app.cp.jobs.pop(0)
        app.job_tasks.append(asyncio.create_task(run(app, name, args)))


async def run(app, name, args):
    from ocpp16 import profiles
    try:
        await profiles.load(name).run(app, args)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # ImportError, MemoryError, OSError: the job reports its own status
        log.error("job %s failed: %r", name, e)
    finally:
        profiles.unload(name)
        # Out of App.job_tasks: a done task kept there would hold its coroutine, so this
        # module's code, the job's arguments and its exception until the next job.
        app.job_tasks.remove(asyncio.current_task())
