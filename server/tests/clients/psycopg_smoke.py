"""psycopg 3 against a running Sluice: DDL, parameterized DML, a maintained view, errors.

Usage: python3 psycopg_smoke.py PORT. Exits non-zero with a message on any mismatch.
"""
import sys
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

port = int(sys.argv[1])
conn = psycopg.connect(host="127.0.0.1", port=port, user="sluice", dbname="sluice")
conn.autocommit = False  # psycopg then sends BEGIN/COMMIT around statements, as apps do

with conn.cursor() as cur:
    cur.execute("CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner TEXT, balance DECIMAL(12,2), active BOOLEAN)")
    cur.execute(
        "CREATE MATERIALIZED VIEW balances AS "
        "SELECT owner, count(*) AS accounts, sum(balance) AS total FROM accounts WHERE active GROUP BY owner"
    )
    cur.executemany(
        "INSERT INTO accounts VALUES (%s, %s, %s, %s)",
        [(1, "ann", Decimal("10.50"), True), (2, "ann", Decimal("4.50"), True), (3, "bob", Decimal("7.00"), False)],
    )
    conn.commit()

    cur.execute("SELECT owner, accounts, total FROM balances ORDER BY owner")
    rows = cur.fetchall()
    assert rows == [("ann", 2, Decimal("15.00"))], rows

    cur.execute("UPDATE accounts SET active = %s WHERE id = %s", (True, 3))
    cur.execute("DELETE FROM accounts WHERE id = %s", (1,))
    conn.commit()
    cur.execute("SELECT owner, accounts, total FROM balances ORDER BY owner")
    rows = cur.fetchall()
    assert rows == [("ann", 1, Decimal("4.50")), ("bob", 1, Decimal("7.00"))], rows

    # Server-side prepared statements (psycopg prepares on repetition or prepare=True).
    for account in (2, 3):
        cur.execute("SELECT owner FROM accounts WHERE id = %s", (account,), prepare=True)
        assert cur.fetchone()[0] in ("ann", "bob")

    try:
        cur.execute("SELECT * FROM no_such_table")
        raise AssertionError("expected an error")
    except psycopg.errors.UndefinedTable:
        conn.rollback()

    # JSONB columns: psycopg's Jsonb parameters (binary, OID 3802) in, parsed values out in
    # the text and the binary format.
    cur.execute("CREATE TABLE docs (id BIGINT PRIMARY KEY, body JSONB)")
    cur.execute("INSERT INTO docs VALUES (%s, %s)", (1, Jsonb({"a": [1, 2], "b": None})))
    cur.execute("INSERT INTO docs VALUES (%s, %s)", (2, '{"a": []}'))
    conn.commit()
    cur.execute("SELECT body, jsonb_extract(body, '$.a[1]') FROM docs ORDER BY id")
    assert cur.fetchall() == [({"a": [1, 2], "b": None}, "2"), ({"a": []}, None)]
    cur.execute("SELECT jsonb_array_agg(body) FROM docs", binary=True)
    assert sorted(cur.fetchone()[0], key=len) == [{"a": []}, {"a": [1, 2], "b": None}]
    assert cur.description[0].type_code == 3802
    try:
        cur.execute("INSERT INTO docs VALUES (%s, %s)", (3, "{not json"))
        raise AssertionError("expected an error")
    except psycopg.errors.InvalidTextRepresentation:
        conn.rollback()

    # MAP columns (Flink DDL): PostgreSQL has no map type, so maps are jsonb objects keyed by
    # the keys' text, in the text and the binary format, nested in rows and arrays too.
    cur.execute(
        "CREATE TABLE `Prefs` (`id` BIGINT NOT NULL, `attrs` MAP<STRING, INT>, "
        "`by_day` ARRAY<MAP<INT, STRING>>, PRIMARY KEY (`id`) NOT ENFORCED)"
    )
    cur.execute(
        "INSERT INTO prefs VALUES (1, MAP['Seats', 5, 'plan', 2], ARRAY[MAP[1, 'mon']]), "
        "(2, NULL, NULL)"
    )
    conn.commit()
    for binary in (False, True):
        cur.execute("SELECT id, attrs, by_day FROM prefs ORDER BY id", binary=binary)
        assert cur.fetchall() == [
            (1, {"Seats": 5, "plan": 2}, [{"1": "mon"}]),
            (2, None, None),
        ]
        assert [d.type_code for d in cur.description] == [20, 3802, 3802]
    cur.execute("SELECT attrs['Seats'] FROM prefs WHERE id = 1")
    assert cur.fetchone()[0] == 5
    cur.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'prefs'::regclass AND attname = 'attrs'"
    )
    assert cur.fetchone()[0] == "jsonb"
    conn.commit()

    cur.execute("SHOW timezone")
    assert cur.fetchone()[0] == "UTC"

conn.close()
print("psycopg smoke test passed")
