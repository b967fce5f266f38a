"""db.*: seeding and resetting the local dev database."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("db")
