"""Which Postgres the stack runs: a Docker container or a local cluster (postgres.backend).

`docker` and `local` are taken as said. `auto` (the default) picks, and says why:
1. a local cluster whose server is running stays in use (switching would leave it
   holding the port, and its data behind);
2. docker when an engine answers (one `GET /_ping` on its socket, no SDK import);
3. otherwise local.
"""

from __future__ import annotations

from dataclasses import dataclass

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.pglocal import server

CHOICES = ("auto", "docker", "local")


@dataclass(frozen=True)
class Choice:
    name: str  # "docker" or "local"
    why: str  # for the summary line and status

    @property
    def local(self) -> bool:
        return self.name == "local"


def engine_answers() -> tuple[bool, str]:
    """Whether the Docker engine answers, and where it is (for messages)."""
    from tasks.lib.postgres import endpoint, engine_api

    try:
        where = endpoint.resolve().describe()
    except endpoint.EndpointError as e:
        return False, str(e)
    answer = engine_api.ping(timeout=1.0)
    if answer is None:  # not a unix socket: the SDK asks
        from tasks.lib.postgres import engine

        try:
            engine.client()
            answer = True
        except Exit:
            answer = False
    return bool(answer), where


def choose(c) -> Choice:
    setting = config.choice(c, "postgres", "backend", CHOICES)
    if setting != "auto":
        return Choice(setting, f"postgres.backend={setting} from {config.origin(c, 'postgres', 'backend')}")
    running = server.running_cluster(server.base_dir(c))
    if running is not None:
        return Choice("local", f"postgres.backend=auto: the local cluster in {programs.display_path(running)} is running")
    answers, where = engine_answers()
    if answers:
        why = f"postgres.backend=auto: a Docker engine answers at {where}"
        kept = server.made_clusters(server.base_dir(c))
        if kept:  # data a user may look for: say where it is and how to get back to it
            why += f" (the stopped local cluster in {programs.display_path(kept[0])} is kept: postgres.backend=local uses it)"
        return Choice("docker", why)
    return Choice("local", f"postgres.backend=auto: no Docker engine answers at {where}")
