#!/usr/bin/env bash
# Run every .slt file with the sqllogictest binary (cargo install --locked sqllogictest-bin)
# against a running Sluice server: bash sql-tests/run-with-bin.sh HOST PORT
# Each file runs with --engine postgres and --engine postgres-extended. Files share the
# server, so each file drops what it creates.
set -euo pipefail
host="${1:-127.0.0.1}"
port="${2:-5433}"
dir="$(cd "$(dirname "$0")" && pwd)/slt"
status=0
passed=0
failed=0
for engine in postgres postgres-extended; do
    for file in "$dir"/*.slt; do
        if ! RUST_BACKTRACE=0 sqllogictest --engine "$engine" -h "$host" -p "$port" -d sluice -u sluice "$file" >/tmp/slt-bin.out 2>&1; then
            echo "FAILED ($engine): $file"
            cat /tmp/slt-bin.out
            status=1
            failed=$((failed + 1))
        else
            passed=$((passed + 1))
        fi
    done
done
echo "sqllogictest-bin: $passed passed, $failed failed"
exit $status
