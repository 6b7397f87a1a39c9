#!/usr/bin/env bash
# Installs the benchmarks' npm packages (the load generator's `ws`, the Node
# contender's `socket.io`) from the committed lockfiles, only where
# node_modules is missing or older than the lockfile.  `make bench` calls it.
# Without node/npm it says so and exits 0: run.py then skips the Node
# contender, and refuses the end-to-end part (the load generator is Node).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v npm >/dev/null 2>&1; then
    echo "setup_node: npm not found; install Node.js 18+ to run the end-to-end benchmarks" >&2
    exit 0
fi

for dir in "$here/loadgen" "$here/node_server"; do
    marker="$dir/node_modules/.package-lock.json"
    if [ ! -f "$marker" ] || [ "$dir/package-lock.json" -nt "$marker" ]; then
        echo "setup_node: npm ci in ${dir#"$here/"}" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
done
