#!/usr/bin/env bash
# Run every sql-tests/slt/*.slt file with the sqllogictest binary against a running server:
#
#   bash sql-tests/run-with-bin.sh [HOST [PORT]]      (default 127.0.0.1 5433)
#
# Install the binary with `cargo install --locked sqllogictest-bin` (--locked matters: it
# pins the tokio-postgres whose error text includes the server's message, which the files'
# `statement error <regex>` lines match). Each file runs with --engine postgres (simple
# protocol) and --engine postgres-extended. The files share the server, so each one drops
# what it creates; a file that fails half-way may leave objects behind for later files.
#
# Environment: SLT_USER / SLT_DB (default sluice / sluice), SLT_FILTER=substring (only files
# whose name contains it), SLT_DIR (default sql-tests/slt), SLT_REWRITE_MV=1 to rewrite
# MATERIALIZED VIEW to VIEW first (for running the files against PostgreSQL itself).
# Exits non-zero when any file fails.
set -euo pipefail
host="${1:-127.0.0.1}"
port="${2:-5433}"
user="${SLT_USER:-sluice}"
db="${SLT_DB:-sluice}"
here="$(cd "$(dirname "$0")" && pwd)"
# Default: the shared suite and the Sluice-only streaming files (Flink dialect).
dirs="${SLT_DIR:-$here/slt $here/slt-streaming}"

if ! command -v sqllogictest >/dev/null 2>&1; then
    echo "sqllogictest not found: cargo install --locked sqllogictest-bin" >&2
    exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

files=()
for file in $(for d in $dirs; do ls "$d"/*.slt 2>/dev/null; done); do
    [ -e "$file" ] || continue
    name="$(basename "$file")"
    if [ -n "${SLT_FILTER:-}" ] && [[ "$name" != *"$SLT_FILTER"* ]]; then
        continue
    fi
    if [ "${SLT_REWRITE_MV:-0}" = 1 ]; then
        sed -E 's/(CREATE|DROP)[[:space:]]+MATERIALIZED[[:space:]]+VIEW/\1 VIEW/g' "$file" >"$work/$name"
        files+=("$work/$name")
    else
        files+=("$file")
    fi
done
if [ ${#files[@]} -eq 0 ]; then
    echo "no .slt files in $dirs${SLT_FILTER:+ matching $SLT_FILTER}" >&2
    exit 2
fi

passed=0
failed=0
for engine in postgres postgres-extended; do
    for file in "${files[@]}"; do
        if RUST_BACKTRACE=0 sqllogictest --engine "$engine" -h "$host" -p "$port" -d "$db" -u "$user" "$file" >"$work/out" 2>&1; then
            passed=$((passed + 1))
        else
            echo "FAILED ($engine): $(basename "$file")"
            cat "$work/out"
            failed=$((failed + 1))
        fi
    done
done
echo "sqllogictest-bin: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
