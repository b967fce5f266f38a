"""workos.*: the WorkOS credentials the JumpCloud directory sync needs."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("workos")
ns.configure({"workos": {"timeout": 10.0}})
