"""Docker: which engine (endpoint), the SDK client and its errors (engine), who holds a host
port (ports), and the one labelled service container Postgres and Vault are made as (service)."""
