"""`inv doctor`: what the stack needs and whether it is there."""

from tasks.taskdef import task


@task
def doctor(c):
    """Check what the local stack needs (Docker, image, port, tools, .env)."""
