"""The Vault dev server the portal's acceptance tests call (elixir.test --acceptance).

spec.py: what the container is made from (vault.* settings); container.py: get, create,
start, stop, remove, status rows; health.py: readiness by `GET /v1/sys/health` (stdlib).
Docker goes through postgres/engine.py, the one home of the SDK.
"""
