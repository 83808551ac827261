#!/usr/bin/env python3
"""Write seed inputs for the fuzz targets into OUT/sql_frontend and OUT/wire_decoder.

SQL seeds: the statements of each sql-tests/slt file as one script, plus the statements
real clients send (/work/shared/clients/queries_*.sql when present). Wire seeds: real
message sequences (SSLRequest, StartupMessage, simple Query, Parse/Bind/Describe/Execute/
Sync, Flush, Close, Terminate) around a few of those statements.

Usage: python3 fuzz/make_seeds.py OUT   (from the repository root)
"""
import glob
import hashlib
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/h-fuzz-seeds"
sql_dir = os.path.join(out, "sql_frontend")
wire_dir = os.path.join(out, "wire_decoder")
os.makedirs(sql_dir, exist_ok=True)
os.makedirs(wire_dir, exist_ok=True)


def save(directory, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def slt_statements(path):
    """The SQL of each `statement`/`query` record of an .slt file."""
    statements, current, in_sql = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("statement") or line.startswith("query"):
            current, in_sql = [], True
        elif in_sql and (line == "" or line == "----"):
            if current:
                statements.append("\n".join(current))
            current, in_sql = [], False
        elif in_sql:
            current.append(line)
    if in_sql and current:
        statements.append("\n".join(current))
    return statements


all_statements = []
for path in sorted(glob.glob("sql-tests/slt/*.slt")):
    statements = [s for s in slt_statements(path) if "connector" not in s.lower()]
    all_statements.extend(statements)
    script = ";\n".join(statements)
    if 0 < len(script) <= 8000:
        save(sql_dir, script)

client_queries = []
for path in sorted(glob.glob("/work/shared/clients/queries_*.sql")):
    text = open(path, encoding="utf-8").read()
    for chunk in text.split(";\n"):
        lines = [l for l in chunk.splitlines() if not l.startswith("--")]
        sql = "\n".join(lines).strip()
        if sql:
            client_queries.append(sql)
for sql in client_queries:
    save(sql_dir, sql)

for sql in [
    "SELECT s, count(*) AS n FROM t GROUP BY s HAVING count(*) > 1",
    "SELECT * FROM tv JOIN u ON tv.k = u.k",
    "SELECT * FROM mv WHERE s = 'a'",
    "INSERT INTO t VALUES (9, 'z', 1, now()); DELETE FROM t WHERE k = 1; SELECT * FROM mv",
    "CREATE MATERIALIZED VIEW m2 AS SELECT k, row_number() OVER (PARTITION BY s ORDER BY v) AS rn FROM t",
    "SELECT CAST('1 day' AS INTERVAL) * 1000000000",
    "SELECT k FROM t WHERE k IN (SELECT k FROM u) ORDER BY k LIMIT 1 OFFSET 1",
    "EXPLAIN CREATE MATERIALIZED VIEW m3 AS SELECT s, max(v) FROM t GROUP BY s",
    "SELECT window_start, count(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY window_start",
    "SELECT * FROM t FOR SYSTEM_TIME AS OF t.ts",
    "SET 'table.exec.mini-batch.enabled' = 'true'",
    "SELECT `k` FROM `t`",
    "EXECUTE STATEMENT SET BEGIN INSERT INTO t SELECT * FROM t; END",
    "SELECT unnest(tags) FROM u",
    "SELECT 1::int2 + 32767::int2",
    "SELECT DATE '2024-02-30'",
    "SELECT ((((((((((1))))))))))",
]:
    save(sql_dir, sql)


# Wire messages (protocol 3.0).
def message(kind, body=b""):
    return kind + struct.pack("!i", len(body) + 4) + body


def cstring(s):
    return s.encode() + b"\0"


ssl_request = struct.pack("!ii", 8, 80877103)
startup_body = struct.pack("!i", 196608) + cstring("user") + cstring("sluice") + cstring("database") + cstring("sluice") + cstring("client_encoding") + cstring("UTF8") + b"\0"
startup = struct.pack("!i", len(startup_body) + 4) + startup_body
cancel = struct.pack("!iiii", 16, 80877102, 1000, 1234)
terminate = message(b"X")
sync = message(b"S")
flush = message(b"H")


def query(sql):
    return message(b"Q", cstring(sql))


def parse(name, sql, types=()):
    return message(b"P", cstring(name) + cstring(sql) + struct.pack("!h", len(types)) + b"".join(struct.pack("!i", t) for t in types))


def bind(portal, statement, params=(), param_formats=(), result_formats=()):
    body = cstring(portal) + cstring(statement)
    body += struct.pack("!h", len(param_formats)) + b"".join(struct.pack("!h", f) for f in param_formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return message(b"B", body)


def describe(kind, name):
    return message(b"D", kind + cstring(name))


def execute(portal, max_rows=0):
    return message(b"E", cstring(portal) + struct.pack("!i", max_rows))


def close(kind, name):
    return message(b"C", kind + cstring(name))


prelude = startup
create = query("CREATE TABLE t (k INT PRIMARY KEY, s TEXT); INSERT INTO t VALUES (1, 'a')")
seeds = [
    ssl_request + startup + terminate,
    startup + query("SELECT 1") + terminate,
    startup + create + query("SELECT * FROM t") + terminate,
    startup + create + parse("s1", "SELECT s FROM t WHERE k = $1", [23]) + describe(b"S", "s1") + sync
    + bind("", "s1", [struct.pack("!i", 1)], [1], [1]) + execute("") + sync + close(b"S", "s1") + sync + terminate,
    startup + create + parse("", "SELECT s FROM t WHERE k = $1") + describe(b"S", "") + flush
    + bind("p", "", [b"1"], [0], [0]) + describe(b"P", "p") + execute("p", 1) + sync + terminate,
    startup + parse("", "SELEC 1") + bind("", "") + execute("") + sync + query("SELECT 2") + terminate,
    startup + query("BEGIN") + query("SELECT 1/0") + query("ROLLBACK") + terminate,
    startup + query("") + terminate,
    cancel,
    ssl_request + ssl_request,
    startup + message(b"p", cstring("password")) + terminate,
    startup + message(b"d", b"data") + message(b"c") + message(b"f", cstring("fail")) + terminate,
]
for sql in client_queries[:20] + all_statements[:20]:
    seeds.append(prelude + query(sql) + parse("", sql) + bind("", "") + describe(b"P", "") + execute("") + sync + terminate)
for seed in seeds:
    save(wire_dir, seed)

print(f"{len(os.listdir(sql_dir))} SQL seeds, {len(os.listdir(wire_dir))} wire seeds in {out}")
