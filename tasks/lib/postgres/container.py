"""The Postgres container's lifecycle: get-or-create-or-start, inspect, stop, remove, logs;
and telling a data volume whose first start was cut off (``diagnosis``).

Every failure a user can meet becomes one `Exit` line: what is wrong, which setting,
the fix. A container or volume is only ever changed when it carries our label
(spec.LABEL); a same-named one without it is refused, never touched.

What it builds on, one job per module: spec.py (what the container is made from),
attrs.py (reading a container), ports.py (who holds the host port), engine.py (the
Docker SDK), engine_api.py (the SDK-free warm path).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator

from invoke import Exit

from tasks.lib.masking import mask_text, secret_values
from tasks.lib.postgres import engine, engine_api, ports
from tasks.lib.postgres.attrs import Status, foreign_refusal, is_ours, mismatch, plan_text, status_of
from tasks.lib.postgres.spec import CONTAINER_LABEL_VALUE, LABEL, VOLUME_LABEL_VALUE, PostgresSpec, create_kwargs


def refuse_foreign(spec: PostgresSpec, doing: str) -> Exit:
    return foreign_refusal(spec.container, CONTAINER_LABEL_VALUE, "postgres.container", doing)


def inspect(spec: PostgresSpec) -> Status | None:
    """The container's state, image, published address, health and whether it is ours (read-only)."""
    cl = engine.client()
    with engine.docker_errors(f"inspecting container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        return None if ct is None else status_of(ct.attrs)


# ---------------------------------------------------------------------------
# bringing it up


def _start_error(spec: PostgresSpec, e: engine.StartFailed, log_text: str = "", removed: bool = False) -> Exit:
    """The engine refused to start the container: its reason, what became of the container, its log lines.

    ``removed``: the container was just made and is gone now, so `inv infra.logs` could
    show nothing; its last lines (``log_text``, read before removing it) are in the message.
    """
    text = e.short(400)
    if "port is already allocated" in text or "address already in use" in text:
        return Exit(ports.port_taken_message(spec, "another container or process (Docker: " + e.short(160) + ")"))
    text = text.rstrip(".?! ")
    if removed:
        message = (
            f"could not start container {spec.container}: {text}. The new container was removed (volume {spec.volume}"
            " kept). Fix: the cause above (often postgres.image or postgres.command), then `inv infra.up`"
        )
    else:
        message = (
            f"could not start container {spec.container}: {text}. Fix: the cause above (often postgres.command or the"
            f" data volume), then `inv infra.up`; the container is kept, so `inv infra.logs` shows its earlier output"
        )
    if log_text.strip():
        message += "\nLast log lines of the container:\n" + "\n".join("  " + ln for ln in log_text.splitlines())
    return Exit(message)


def _ensure_image(cl, spec: PostgresSpec) -> None:
    if engine.image_present(cl, spec.image):
        return
    print(f"pulling image {spec.image} (not present locally)...", flush=True)
    try:
        engine.pull_image(cl, spec.image)
    except engine.PullFailed as e:
        raise Exit(
            f"image {spec.image} is not present and pulling it failed: {e.short(160)}."
            f" Fix: `docker pull {spec.image}` (or build/load it), or set postgres.image (INVOKE_POSTGRES_IMAGE) to an image you have"
        )


def ensure_running(spec: PostgresSpec) -> Status:
    """Get, create or start our container (never a second one); Exit on anything in the way."""
    # Warm path: already running as configured, seen without importing the SDK.
    attrs = engine_api.container_attrs(spec.container)
    if attrs and is_ours(attrs) and not mismatch(spec, attrs) and attrs.get("State", {}).get("Status") == "running":
        return status_of(attrs, "reused")

    cl = engine.client()
    with engine.docker_errors(f"preparing container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        if ct is not None:
            if not is_ours(ct.attrs):
                raise refuse_foreign(spec, "use")
            problem = mismatch(spec, ct.attrs)
            if problem:
                raise Exit(problem)
            if ct.status == "running":
                return status_of(ct.attrs, "reused")
            if ct.status == "paused":
                ct.unpause()
                ct.reload()
                return status_of(ct.attrs, "started")
            ports.check_port(cl, spec)
            try:
                engine.start(ct)
            except engine.StartFailed as e:
                raise _start_error(spec, e, _logs_of(ct, spec, 20))
            return status_of(ct.attrs, "started")

        _ensure_image(cl, spec)
        ports.check_port(cl, spec)
        engine.ensure_volume(cl, spec.volume, labels={LABEL: VOLUME_LABEL_VALUE})
        try:
            ct = engine.create_container(cl, **create_kwargs(spec))
        except engine.Conflict:  # another `inv infra.up` won the race
            return ensure_running(spec)
        try:
            engine.start(ct)
        except engine.StartFailed as e:
            # Never leave a half-made container behind; the volume (data) stays. Its
            # output is read first: afterwards nothing (`inv infra.logs` included) can.
            output = _logs_of(ct, spec, 20)
            engine.remove_quietly(ct)
            raise _start_error(spec, e, output, removed=True)
        return status_of(ct.attrs, "created")


def plan(spec: PostgresSpec) -> str:
    """What ensure_running would do, from read-only inspection (for `inv --dry`)."""
    create = (
        f"would create container {spec.container} from image {spec.image} ({spec.origin('image')}),"
        f" volume {spec.volume} at {spec.data_dir}, {spec.address} -> 5432, command `{shlex.join(spec.command)}`"
    )
    try:
        status = inspect(spec)
    except Exit as e:
        return f"{create} (could not ask the engine: {e.message})"
    return plan_text(create, status, spec.container, LABEL)


# ---------------------------------------------------------------------------
# taking it down


def stop(spec: PostgresSpec) -> str:
    """Stop our container (data kept); returns what happened, for one line of output."""
    cl = engine.client()
    with engine.docker_errors(f"stopping container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        if ct is None:
            return f"container {spec.container} does not exist; nothing to stop"
        if not is_ours(ct.attrs):
            raise refuse_foreign(spec, "stop")
        if ct.status not in ("running", "paused", "restarting"):
            return f"container {spec.container} is already stopped ({ct.status}); data kept in volume {spec.volume}"
        ct.stop(timeout=20)
        return f"stopped container {spec.container}; data kept in volume {spec.volume}"


def remove(spec: PostgresSpec, volume: bool = True) -> list[str]:
    """Remove our container and (``volume``) our volume; returns one line per thing done or kept."""
    cl = engine.client()
    done = []
    with engine.docker_errors(f"removing container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        if ct is not None:
            if not is_ours(ct.attrs):
                raise refuse_foreign(spec, "remove")
            ct.remove(force=True)
            done.append(f"removed container {spec.container}")
        else:
            done.append(f"container {spec.container} does not exist")
        if volume:
            vol = engine.get_volume(cl, spec.volume)
            if vol is None:
                done.append(f"volume {spec.volume} does not exist")
            elif (vol.attrs.get("Labels") or {}).get(LABEL) == VOLUME_LABEL_VALUE:
                vol.remove(force=True)
                done.append(f"removed volume {spec.volume}")
            else:
                done.append(
                    f"kept volume {spec.volume}: it was not created by inv (no label {LABEL});"
                    f" remove it yourself if you mean to (docker volume rm {spec.volume})"
                )
    return done


# ---------------------------------------------------------------------------
# watching it


def logs_tail(spec: PostgresSpec, n: int = 20) -> str:
    """The container's last ``n`` log lines, secrets masked; '' when there is no container."""
    try:
        return "".join(read_logs(spec, n)).rstrip("\n")
    except Exception:  # logs are garnish on an error message; never fail because of them
        return ""


def _logs_of(ct, spec: PostgresSpec, n: int) -> str:
    """The last ``n`` log lines of container object ``ct``, masked; '' when there are none or on any error."""
    try:
        raw = ct.logs(tail=n, stdout=True, stderr=True)
    except Exception:  # garnish on an error message
        return ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
    return mask_text(text, secret_values({"DATABASE_PASSWORD": spec.password})).rstrip("\n")


def read_logs(spec: PostgresSpec, tail: int, follow: bool = False) -> Iterator[str]:
    """The container's log text (``follow``: streamed until it stops or Ctrl-C), masked."""
    cl = engine.client()
    with engine.docker_errors(f"reading logs of {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        if ct is None:
            raise Exit(f"container {spec.container} does not exist. Fix: `inv infra.up`")
        if not is_ours(ct.attrs):
            raise refuse_foreign(spec, "read")
        secrets = secret_values({"DATABASE_PASSWORD": spec.password})
        if not follow:
            raw = ct.logs(tail=tail, stdout=True, stderr=True)
            yield mask_text(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw), secrets)
            return
        for chunk in ct.logs(stream=True, follow=True, tail=tail, stdout=True, stderr=True):
            yield mask_text(chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk, secrets)


def alive_check(spec: PostgresSpec) -> Callable[[], str | None]:
    """A callable for wait_ready: the reason the container is gone or stopped, else None."""

    def check() -> str | None:
        try:
            status = inspect(spec)
        except Exit:
            return None
        if status is None:
            return f"container {spec.container} disappeared"
        if status.state in ("exited", "dead"):
            return f"container {spec.container} stopped ({status.state})"
        return None

    return check


# ---------------------------------------------------------------------------
# a first start that never finished

# initdb, re-run on a data directory a killed initdb left without PG_VERSION, refuses it;
# a server started on one killed before its control file was written cannot start.
_HALF_INIT_LOG_MARKERS = ("exists but is not empty", 'could not open file "global/pg_control"')
_LOOPBACK = ("127.0.0.1/32", "::1/128", "localhost", "127.0.0.1", "::1")


def only_loopback_hosts(pg_hba: str) -> bool:
    """True when pg_hba.conf admits TCP clients from loopback only: initdb's own file.

    The image's entrypoint appends `host all all all ...` right after initdb; a file
    without any wider host line is one whose first start was cut off before that.
    """
    for line in pg_hba.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields or not fields[0].startswith("host"):
            continue
        address = fields[3] if len(fields) > 3 else ""
        if address not in _LOOPBACK:
            return False
    return True


def read_data_file(spec: PostgresSpec, name: str) -> str | None:
    """A file of the running container's data directory (``$PGDATA``); None when it cannot be read."""
    try:
        cl = engine.client()
        ct = engine.get_container(cl, spec.container)
    except Exception:  # a diagnosis must not fail the error it explains
        return None
    if ct is None or not is_ours(ct.attrs) or ct.status != "running":
        return None
    script = 'cat -- "${PGDATA:-$FZ_DATA_DIR}/$FZ_FILE"'
    return engine.exec_output(ct, ["sh", "-c", script], environment={"FZ_DATA_DIR": spec.data_dir, "FZ_FILE": name})


def first_start_interrupted(spec: PostgresSpec, error: str, log_text: str) -> bool:
    """True when the data volume holds a cluster whose first start was cut off (initdb or right after it)."""
    if any(marker in (log_text or "") for marker in _HALF_INIT_LOG_MARKERS):
        return True
    if "no pg_hba.conf entry" in (error or "").lower():
        pg_hba = read_data_file(spec, "pg_hba.conf")
        return pg_hba is not None and only_loopback_hosts(pg_hba)
    return False


def half_initialised_hint(spec: PostgresSpec) -> str:
    return (
        f"the data volume {spec.volume} was left half-initialised (Postgres was stopped during its first start;"
        " it holds no data of yours): `inv infra.destroy --yes` then `inv infra.up`"
    )


def diagnosis(spec: PostgresSpec) -> Callable[[str, str], str | None]:
    """A callable for wait_ready's ``diagnose``: the half-initialised volume's hint, else None."""

    def diagnose(error: str, log_text: str) -> str | None:
        return half_initialised_hint(spec) if first_start_interrupted(spec, error, log_text) else None

    return diagnose
