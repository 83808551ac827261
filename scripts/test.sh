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
    # The binary runs with a memory budget of 1 byte per stateful operator, so every join,
    # aggregate, window and top-N of the suite spills all its keys to disk after every batch
    # and reads them back (the in-process runs above use the default budget); /metrics must
    # show the spills.
    # Two ports the system reports free; a server that still cannot listen (another process
    # took a port in between) is started again on new ones.
    server=
    for _ in 1 2 3; do
        read -r port http < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
        "$CARGO_TARGET_DIR/debug/sluice" serve --in-memory --listen "127.0.0.1:$port" \
            --http "127.0.0.1:$http" --operator-memory-bytes 1 >/tmp/sluice-slt-bin.log 2>&1 &
        server=$!
        for _ in $(seq 1 50); do
            (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            kill -0 "$server" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$server" 2>/dev/null && break
        cat /tmp/sluice-slt-bin.log
        server=
    done
    if [ -z "$server" ]; then
        echo "sluice serve did not start for the sqllogictest-bin run" >&2
        exit 1
    fi
    trap 'kill $server 2>/dev/null || true' EXIT
    bash sql-tests/run-with-bin.sh 127.0.0.1 "$port"
    python3 - "$http" <<'PY'
import sys, urllib.request
metrics = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
          if line.startswith(("sluice_spilled_entries_total", "sluice_reloaded_entries_total"))}
print(f"slt run with a 1-byte operator budget: {values}")
if values.get("sluice_spilled_entries_total", 0) == 0 or values.get("sluice_reloaded_entries_total", 0) == 0:
    sys.exit("the sqllogictest run with a 1-byte operator budget spilled nothing")
PY
else
    echo "sqllogictest binary not installed: skipped the run with sqllogictest-bin"
    echo "(install it with: cargo install --locked sqllogictest-bin)"
fi
