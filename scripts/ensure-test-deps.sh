#!/usr/bin/env bash
# Installs what the test suite needs outside the venv, on a fresh Debian
# machine: the redis-server binary (the message-queue tests start their own
# instance on a free port) and the Node packages in tests/js (socket.io-client
# for the JavaScript-client tests). Idempotent, and silent when everything is
# already there. `make test` calls it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
js_dir="$repo/tests/js"
stamp="$js_dir/node_modules/.ensure-test-deps.sha256"

say() { echo "ensure-test-deps: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        say "need root (or sudo) to run: $*"
        return 1
    fi
}

# apt-get install, refreshing the package lists only when they are missing
# or too stale to fetch from (a fresh image often ships without lists).
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        say "apt-get not found; install $* by hand"
        return 1
    fi
    local need_update=0 pkg
    for pkg in "$@"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || need_update=1
    done
    export DEBIAN_FRONTEND=noninteractive
    if [ "$need_update" -eq 1 ]; then
        say "apt-get update"
        as_root apt-get update -qq
    fi
    say "apt-get install $*"
    if ! as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        say "install failed; refreshing package lists and retrying"
        as_root apt-get update -qq
        as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    fi
}

# Debian starts a package's service on install; the tests run their own Redis
# on a free port, so keep the system one from starting (only when no
# policy-rc.d exists already; ours is removed again on exit).
install_without_starting_services() {
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_install "$@"
    if [ "$created" -eq 1 ]; then
        rm -f "$policy"
        trap - EXIT
    fi
}

if ! command -v redis-server >/dev/null 2>&1; then
    install_without_starting_services redis-server
    command -v redis-server >/dev/null 2>&1 || {
        say "redis-server still not on PATH after installing"
        exit 1
    }
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi

# node_modules is current when it was installed from the present package.json
# and package-lock.json; the stamp records their hash at install time.
deps_hash() {
    cat "$js_dir/package.json" "$js_dir/package-lock.json" 2>/dev/null \
        | sha256sum | cut -d' ' -f1
}

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(deps_hash)" ] \
        || [ ! -f "$js_dir/package-lock.json" ]; then
    cd "$js_dir"
    if [ -f package-lock.json ]; then
        say "npm ci in tests/js"
        npm ci --no-audit --no-fund --loglevel=error >&2
    else
        say "npm install in tests/js (no package-lock.json)"
        npm install --no-audit --no-fund --loglevel=error >&2
    fi
    deps_hash >"$stamp"
fi
