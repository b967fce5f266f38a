"""workos.*: the WorkOS credentials the JumpCloud directory sync needs."""

from invoke import Collection

from tasks.taskdef import task


@task(help={"request": "also make one authenticated GET to WORKOS_BASE_URL to prove the credentials work"})
def check(c, request=False):
    """Check the WorkOS settings (WORKOS_API_KEY, WORKOS_CLIENT_ID, WORKOS_BASE_URL)."""
    from tasks.lib import workos

    workos.check(c, request)


ns = Collection("workos", check)
ns.configure(
    {
        "workos": {
            "timeout": 10.0,
            # A cheap authenticated read: the Directory Sync list the portal relies on.
            "check_path": "/directories?limit=1",
        }
    }
)
