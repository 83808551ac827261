//! PostgreSQL clients reading Sluice's catalog over the wire: psql's describe commands
//! (`\d`, `\dt`, `\dv`, `\dm`, `\d name`, `\d+ name`, `\l`, `\dn`) and SQLAlchemy's
//! reflection (`inspect(engine)` through psycopg2). A client that is not installed is
//! skipped with a message, unless CI=true, where it must run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The objects the clients describe.
const SETUP: &str = "
    CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(10,2), ts TIMESTAMP,
                    flag BOOLEAN DEFAULT true);
    CREATE VIEW v AS SELECT id, name FROM t;
    CREATE MATERIALIZED VIEW mv AS SELECT name, count(*) AS n FROM t GROUP BY name;
";

/// psql 15 (Debian's, else the first on PATH).
fn psql() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin/psql");
    if debian.is_file() {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("psql"))
        .find(|candidate| candidate.is_file())
}

/// Run one psql command against the server; its output. Fails on any error message.
async fn run_psql(psql: &Path, port: u16, command: &str) -> String {
    let mut process = Command::new(psql);
    process
        .args(["-X", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "sluice", "-d", "sluice", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", command])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PAGER", "cat")
        .env("COLUMNS", "200");
    let output = tokio::task::spawn_blocking(move || process.output())
        .await
        .expect("psql task")
        .expect("psql runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "psql -c '{command}' failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// Assert that `output` has a line containing all of `parts` (in any spacing).
fn assert_line(output: &str, parts: &[&str]) {
    let found = output
        .lines()
        .any(|line| parts.iter().all(|part| line.contains(part)));
    assert!(found, "no line with {parts:?} in:\n{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands() {
    let psql = psql();
    if !common::require(psql.is_some(), "psql") {
        return;
    }
    let psql = psql.expect("checked above");
    let server = common::start_server().await;
    let port = server.local_addr().port();
    run_psql(&psql, port, SETUP).await;

    let all = run_psql(&psql, port, "\\d").await;
    assert!(all.contains("List of relations"), "{all}");
    assert_line(&all, &["public", "| t ", "| table", "| sluice"]);
    assert_line(&all, &["public", "| v ", "| view"]);
    assert_line(&all, &["public", "| mv ", "| materialized view"]);

    let tables = run_psql(&psql, port, "\\dt").await;
    assert_line(&tables, &["public", "| t ", "| table"]);
    assert!(!tables.contains("| v "), "{tables}");
    let views = run_psql(&psql, port, "\\dv").await;
    assert_line(&views, &["public", "| v ", "| view"]);
    assert!(!views.contains("| t "), "{views}");
    let materialized = run_psql(&psql, port, "\\dm").await;
    assert_line(&materialized, &["public", "| mv ", "| materialized view"]);

    let table = run_psql(&psql, port, "\\d t").await;
    assert!(table.contains("Table \"public.t\""), "{table}");
    assert_line(&table, &["id", "| integer", "not null"]);
    assert_line(&table, &["name", "| text", "not null"]);
    assert_line(&table, &["amount", "| numeric(10,2)"]);
    assert_line(&table, &["ts", "| timestamp without time zone"]);
    assert_line(&table, &["flag", "| boolean", "true"]);
    assert!(table.contains("Indexes:"), "{table}");
    assert_line(&table, &["\"t_pkey\" PRIMARY KEY, btree (id)"]);

    let table_plus = run_psql(&psql, port, "\\d+ t").await;
    assert_line(&table_plus, &["Column", "Type", "Storage"]);
    assert_line(&table_plus, &["name", "| text", "extended"]);
    assert!(table_plus.contains("Access method: heap"), "{table_plus}");

    let view = run_psql(&psql, port, "\\d+ v").await;
    assert!(view.contains("View \"public.v\""), "{view}");
    assert_line(&view, &["id", "| integer"]);
    assert!(view.contains("View definition:"), "{view}");
    assert!(view.contains("SELECT id, name FROM t;"), "{view}");

    let materialized_view = run_psql(&psql, port, "\\d+ mv").await;
    assert!(
        materialized_view.contains("Materialized view \"public.mv\""),
        "{materialized_view}"
    );
    assert_line(&materialized_view, &["n", "| bigint"]);
    assert!(
        materialized_view.contains("SELECT name, count(*) AS n FROM t GROUP BY name;"),
        "{materialized_view}"
    );

    let catalog_table = run_psql(&psql, port, "\\d pg_catalog.pg_class").await;
    assert!(
        catalog_table.contains("Table \"pg_catalog.pg_class\""),
        "{catalog_table}"
    );
    assert_line(&catalog_table, &["relkind", "| \"char\"", "not null"]);

    let databases = run_psql(&psql, port, "\\l").await;
    assert_line(&databases, &["sluice", "| sluice", "| UTF8"]);
    let schemas = run_psql(&psql, port, "\\dn").await;
    assert_line(&schemas, &["public", "| sluice"]);
    assert!(!schemas.contains("pg_catalog"), "{schemas}");

    server.shutdown().await;
}

/// SQLAlchemy reflection through psycopg2; prints `ok` when every check holds.
const SQLALCHEMY_SCRIPT: &str = r#"
import sys
from sqlalchemy import MetaData, Table, create_engine, inspect, text

port = sys.argv[1]
engine = create_engine(f"postgresql+psycopg2://sluice@127.0.0.1:{port}/sluice")
with engine.connect() as connection:
    for statement in [
        "CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(10,2), flag BOOLEAN DEFAULT true)",
        "CREATE VIEW v AS SELECT id, name FROM t",
        "CREATE MATERIALIZED VIEW mv AS SELECT name, count(*) AS n FROM t GROUP BY name",
    ]:
        connection.execute(text(statement))
    connection.commit()

inspector = inspect(engine)
assert inspector.get_table_names() == ["t"], inspector.get_table_names()
assert inspector.get_view_names() == ["v"], inspector.get_view_names()
assert inspector.get_materialized_view_names() == ["mv"], inspector.get_materialized_view_names()

columns = inspector.get_columns("t")
described = [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in columns]
expected = [
    ("id", "INTEGER", False, None),
    ("name", "TEXT", False, None),
    ("amount", "NUMERIC(10, 2)", True, None),
    ("flag", "BOOLEAN", True, "true"),
]
assert described == expected, described

view_columns = [(c["name"], str(c["type"])) for c in inspector.get_columns("mv")]
assert view_columns == [("name", "TEXT"), ("n", "BIGINT")], view_columns

primary_key = inspector.get_pk_constraint("t")
assert primary_key["constrained_columns"] == ["id"], primary_key
assert primary_key["name"] == "t_pkey", primary_key
assert inspector.get_foreign_keys("t") == [], inspector.get_foreign_keys("t")
assert inspector.get_indexes("t") == [], inspector.get_indexes("t")
assert "SELECT id, name FROM t" in inspector.get_view_definition("v")

table = Table("t", MetaData(), autoload_with=engine)
assert [c.name for c in table.columns] == ["id", "name", "amount", "flag"], table.columns
assert [c.name for c in table.primary_key.columns] == ["id"]
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_reflection() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let available = common::succeeds("python3", &["-c", "import sqlalchemy, psycopg2"], dir);
    if !common::require(available, "python modules sqlalchemy and psycopg2") {
        return;
    }
    let server = common::start_server().await;
    let port = server.local_addr().port().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", SQLALCHEMY_SCRIPT, &port])
            .output()
    })
    .await
    .expect("python task")
    .expect("python3 runs");
    server.shutdown().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "SQLAlchemy reflection failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
