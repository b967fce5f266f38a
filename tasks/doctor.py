"""`inv doctor`: what the local stack needs and whether it is there.

Mechanisms: tasks/lib/doctor.py (the checks).
"""

from invoke import Exit

from tasks.taskdef import task


@task(load_env=False)
def doctor(c):
    """Check what the local stack needs: Docker, image, port, tools, .env, keys."""
    from tasks.lib import doctor as checks

    rows = checks.collect(c)
    print(checks.render(rows))
    failed = [r.check for r in rows if r.status == checks.FAIL]
    if failed:
        raise Exit(f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}")
    warned = sum(r.status == checks.WARN for r in rows)
    print(f"doctor: all required checks pass ({warned} warning(s))")
