#!/usr/bin/env bash
# Run every Sluice test: unit and property tests, the sqllogictest suite over the wire
# (in-process server, simple and extended protocol), the PostgreSQL 15 oracle run of the same
# suite, and, when the `sqllogictest` binary is installed, the suite against the real
# `sluice serve` binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sluice-target}"

# --all-targets resolves features as `cargo test` does, so dependencies build once.
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast

if command -v sqllogictest >/dev/null 2>&1; then
    port=$((20000 + RANDOM % 20000))
    "$CARGO_TARGET_DIR/debug/sluice" serve --in-memory --listen "127.0.0.1:$port" >/tmp/sluice-slt-bin.log 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do
        (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    bash sql-tests/run-with-bin.sh 127.0.0.1 "$port"
else
    echo "sqllogictest binary not installed: skipped the run with sqllogictest-bin"
    echo "(install it with: cargo install --locked sqllogictest-bin)"
fi
