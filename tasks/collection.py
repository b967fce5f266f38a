"""The root namespace: combines the task modules; overrides nothing."""

from invoke import Collection

from tasks import billing, db, dev, doctor, elixir, infra, lint, workos

ns = Collection()
for module in (infra, elixir, db, dev, billing, workos, lint):
    ns.add_collection(module.ns)
    # Pre-tasks run with the root's configuration only, so every module's
    # declared defaults must be merged here, not just attached to its collection.
    ns.configure(module.ns.configuration())
ns.add_task(doctor.doctor)
