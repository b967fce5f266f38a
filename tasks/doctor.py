"""`inv doctor`: what the local stack needs and whether it is there (tasks/lib/doctor.py)."""

from tasks.taskdef import task


@task(load_env=False)
def doctor(c):
    """Check what the local stack needs: Docker, image, port, tools, .env, keys."""
    from tasks.lib import doctor as checks

    checks.report(c)
