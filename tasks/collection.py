"""The root namespace: combines the task modules; overrides nothing."""

from invoke import Collection

from tasks import billing, db, dev, doctor, elixir, infra, lint, workos

ns = Collection()
for module in (infra, elixir, db, dev, billing, workos, lint):
    ns.add_collection(module.ns)
    # Pre-tasks run with the root's configuration only: every module's defaults are merged here.
    ns.configure(module.ns.configuration())
ns.add_task(doctor.doctor)
