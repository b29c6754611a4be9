#!/usr/bin/env bash
# Validate docker-compose.yml with a real Compose implementation, without a Docker engine:
# `docker-compose config -q` parses, interpolates and schema-checks the file and exits
# non-zero when it is invalid. Installs Debian's docker-compose (1.29) when it is absent.
# Also runs Compose v2 (`docker compose`) when that plugin is installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "compose-check: docker-compose not found, installing Debian's package"
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "compose-check: need root (or sudo) to apt-get install docker-compose" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq docker-compose >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp .env.example "$tmp/example.env"

# The secrets come from the env file only, not from whatever this shell has exported.
SECRETS=(REDIS_PASSWORD FLOWER_USER FLOWER_PASSWORD JUPYTER_TOKEN)
unset_secrets=()
for secret in "${SECRETS[@]}"; do unset_secrets+=(-u "$secret"); done

check() {  # check NAME COMPOSE-COMMAND...
    local name=$1
    shift
    echo "compose-check: $name: $("$@" version --short 2>/dev/null || echo '?')"
    env "${unset_secrets[@]}" "$@" --env-file "$tmp/example.env" -f docker-compose.yml config -q
    echo "compose-check: $name: docker-compose.yml is valid with .env.example"
    # Each secret on its own: with it missing from the env file, compose must refuse.
    for secret in "${SECRETS[@]}"; do
        grep -v "^$secret=" "$tmp/example.env" >"$tmp/without.env"
        if env "${unset_secrets[@]}" "$@" --env-file "$tmp/without.env" -f docker-compose.yml \
            config -q >"$tmp/out" 2>&1; then
            echo "compose-check: $name: accepted docker-compose.yml without $secret set;" \
                "write every use of it as \${$secret:?message}" >&2
            exit 1
        fi
    done
    echo "compose-check: $name: refuses to run when any of ${SECRETS[*]} is missing, as it should"
}

check docker-compose docker-compose
if docker compose version >/dev/null 2>&1; then
    check "docker compose" docker compose
fi
echo "compose-check: OK"
