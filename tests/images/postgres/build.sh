#!/usr/bin/env bash
# Builds a Postgres image from Debian packages and imports it into the local Docker
# engine, for machines with no image registry (see README, "Tests").
# Usage: tests/images/postgres/build.sh [TAG]   (default fz-dev-postgres:local)
set -euo pipefail

tag=${1:-fz-dev-postgres:local}
here=$(cd "$(dirname "$0")" && pwd)

# The image records a hash of what it was built from; a change rebuilds it.
rev=$(cat "$here/build.sh" "$here/entrypoint.sh" | sha256sum | cut -c1-16)
if docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$tag" 2>/dev/null | grep -qx "FZ_IMAGE_REV=$rev"; then
    echo "image $tag is up to date"
    exit 0
fi

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
    echo "error: no Debian mirror found in /etc/apt; set DEBIAN_MIRROR" >&2
    exit 1
fi

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm (postgresql-15) into $rootfs"
debootstrap --variant=minbase --include=postgresql-15 bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    {
        tail -n 20 "$rootfs.log" >&2
        exit 1
    }
rm -f "$rootfs.log"
install -m 0755 "$here/entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
# The Debian package creates a cluster of its own; the entrypoint makes ours.
rm -rf "$rootfs/var/lib/postgresql/15" "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    -c 'CMD ["postgres"]' \
    -c 'EXPOSE 5432' \
    -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c "ENV FZ_IMAGE_REV=$rev" \
    - "$tag" >/dev/null
echo "imported $tag"
