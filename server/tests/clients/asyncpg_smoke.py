"""asyncpg against a running Sluice: named prepared statements with Flush, binary results,
fetchval (Execute with max_rows=1), executemany, a maintained view, and result types that
make asyncpg introspect them (arrays, records).

Usage: python3 asyncpg_smoke.py PORT. Exits non-zero with a message on any mismatch.
"""
import asyncio
import sys

import asyncpg


async def main(port: int) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="sluice", database="sluice")
    await conn.execute("CREATE TABLE readings (id BIGINT PRIMARY KEY, sensor TEXT, value DOUBLE PRECISION, ok BOOLEAN)")
    await conn.execute(
        "CREATE MATERIALIZED VIEW per_sensor AS "
        "SELECT sensor, count(*) AS n, max(value) AS top FROM readings WHERE ok GROUP BY sensor"
    )
    await conn.executemany(
        "INSERT INTO readings VALUES ($1, $2, $3, $4)",
        [(1, "a", 1.5, True), (2, "a", 4.0, True), (3, "b", 2.0, False)],
    )
    rows = await conn.fetch("SELECT sensor, n, top FROM per_sensor ORDER BY sensor")
    assert [tuple(r) for r in rows] == [("a", 2, 4.0)], rows

    await conn.execute("UPDATE readings SET ok = $1 WHERE id = $2", True, 3)
    await conn.execute("DELETE FROM readings WHERE id = $1", 2)
    rows = await conn.fetch("SELECT sensor, n, top FROM per_sensor ORDER BY sensor")
    assert [tuple(r) for r in rows] == [("a", 1, 1.5), ("b", 1, 2.0)], rows

    assert await conn.fetchval("SELECT count(*) FROM readings WHERE value > $1", 1.0) == 2
    row = await conn.fetchrow("SELECT id, sensor, ok FROM readings WHERE id = $1", 3)
    assert tuple(row) == (3, "b", True), row

    statement = await conn.prepare("SELECT sensor FROM readings WHERE id = $1")
    assert await statement.fetchval(1) == "a"

    # Types asyncpg has no built-in codec for (int8[], float8[], records, arrays of records)
    # make it introspect them with its typeinfo_tree query over pg_type, whose parameter is
    # an oid[] it must be told about.
    rows = await conn.fetch(
        "SELECT sensor, array_agg(id ORDER BY id) AS ids, array_agg(value ORDER BY id) AS vals "
        "FROM readings GROUP BY sensor ORDER BY sensor"
    )
    assert [tuple(r) for r in rows] == [("a", [1], [1.5]), ("b", [3], [2.0])], rows
    assert await conn.fetchval("SELECT $1::bigint[] AS p", [5, None, 7]) == [5, None, 7]
    assert await conn.fetchval("SELECT named_struct('n', 1, 's', 'x')") == (1, "x")
    assert await conn.fetchval("SELECT [named_struct('n', 2)]") == [(2,)]
    # jsonb results arrive as their text (asyncpg's default jsonb codec).
    assert await conn.fetchval("SELECT to_jsonb($1::text)", '{"a": [1]}') == '{"a":[1]}'
    names = await conn.fetch(
        "SELECT typname FROM pg_type WHERE oid = ANY($1::oid[]) ORDER BY typname", [20, 1016]
    )
    assert [r[0] for r in names] == ["_int8", "int8"], names

    try:
        await conn.fetch("SELECT * FROM nothing_here")
        raise AssertionError("expected an error")
    except asyncpg.exceptions.UndefinedTableError:
        pass
    assert await conn.fetchval("SELECT 41 + 1") == 42
    await conn.close()
    print("asyncpg smoke test passed")


asyncio.run(main(int(sys.argv[1])))
