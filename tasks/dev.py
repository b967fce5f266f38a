"""dev.*: the whole local stack in one command."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("dev")
ns.configure({"dev": {"state_dir": ".inv"}})
