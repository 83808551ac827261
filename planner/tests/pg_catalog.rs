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
    (
        "ON CONFLICT DO NOTHING",
        "DML, not a catalog query: Sluice's INSERT has no ON CONFLICT clause",
    ),
    (
        "CLOSE ALL",
        "asyncpg's pool reset: CLOSE ALL / UNLISTEN * are session statements Sluice does \
         not accept yet (pg_advisory_unlock_all() itself is checked below)",
    ),
    (
        "SAVEPOINT",
        "transaction savepoints (psycopg 3 around its hstore probe) are session statements",
    ),
    (
        "RELEASE",
        "transaction savepoints (psycopg 3 around its hstore probe) are session statements",
    ),
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
            ScalarValue::List(ScalarValue::new_list_nullable(&values, element.data_type()))
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
    let prepared = session
        .prepare(&query.sql)
        .await
        .map_err(|e| e.to_string())?;
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
    assert!(
        queries.len() > 60,
        "only {} captured queries",
        queries.len()
    );
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
}

/// A PostgreSQL 15 in a temp dir on a free port (as `sql-tests` starts one), stopped and
/// removed on drop. `None` (with a message) when the server binaries are missing, unless
/// CI=true, where that fails.
struct Oracle {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program` run as the `postgres` OS user when we are root (PostgreSQL refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn postgres_binaries() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| has(d));
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if has(&debian) {
        return Some(debian);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|d| has(d))
}

impl Oracle {
    fn start() -> Option<Oracle> {
        let Some(bin) = postgres_binaries() else {
            assert!(
                !in_ci(),
                "PostgreSQL 15 (initdb, pg_ctl) is required under CI"
            );
            eprintln!("skipped: PostgreSQL server binaries (initdb, pg_ctl) not found");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir =
            std::env::temp_dir().join(format!("sluice-pg-catalog-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of {dir:?} failed");
        }
        let data = dir.join("data");
        let output = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "sluice", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .output()
            .expect("initdb runs");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {}",
            dir.display()
        );
        let output = as_postgres(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(dir.join("log"))
            .arg("start")
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let oracle = Oracle { dir, bin, port };
        oracle.run("postgres", "CREATE DATABASE sluice");
        Some(oracle)
    }

    /// Run SQL with psql; rows of `\x1f`-separated fields (NULL is empty, booleans t/f).
    fn run(&self, database: &str, sql: &str) -> Vec<Vec<String>> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "sluice",
                "-d",
                database,
            ])
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-F",
                "\u{1f}",
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "PostgreSQL failed on {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split('\u{1f}').map(str::to_string).collect())
            .collect()
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Catalog queries whose rows must equal PostgreSQL's for the objects of [`SETUP`]
/// (no relation OIDs: those differ by design).
const ORACLE_QUERIES: &[&str] = &[
    "SELECT c.relname, c.relkind, c.relnatts, c.relhasindex, c.relpersistence, c.relhasrules,
            c.relreplident, am.amname, c.relispopulated, c.relchecks, c.relhassubclass
     FROM pg_class c LEFT JOIN pg_am am ON am.oid = c.relam
     WHERE c.relnamespace = 2200 ORDER BY c.relname",
    "SELECT c.relname, a.attname, a.attnum, a.atttypid, a.atttypmod,
            format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, a.attlen,
            a.attbyval, a.attalign, a.attstorage, a.attndims, a.attcollation, a.attisdropped,
            a.attidentity, a.attgenerated, a.attislocal, a.attinhcount
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 2200 AND a.attnum > 0 ORDER BY c.relname, a.attnum",
    "SELECT c.relname, d.adnum, pg_get_expr(d.adbin, d.adrelid)
     FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid ORDER BY 1, 2",
    "SELECT t.relname, i.relname, x.indnatts, x.indnkeyatts, x.indisunique, x.indisprimary,
            x.indisvalid, x.indisclustered, x.indimmediate, array_to_string(x.indkey, ' '),
            array_to_string(x.indclass, ' '), array_to_string(x.indcollation, ' '),
            pg_get_indexdef(x.indexrelid), pg_get_indexdef(x.indexrelid, 1, true)
     FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
     WHERE t.relnamespace = 2200",
    "SELECT con.conname, con.contype, con.condeferrable, con.condeferred, con.convalidated,
            array_to_string(con.conkey, ','), c.relname, i.relname, pg_get_constraintdef(con.oid),
            con.connamespace
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
     JOIN pg_class i ON i.oid = con.conindid WHERE con.connamespace = 2200",
    "SELECT r.rulename, c.relname, r.ev_type, r.is_instead
     FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = 2200
     ORDER BY c.relname",
    "SELECT schemaname, tablename, hasindexes FROM pg_tables WHERE schemaname = 'public'",
    "SELECT schemaname, viewname FROM pg_views WHERE schemaname = 'public'",
    "SELECT schemaname, matviewname, ispopulated FROM pg_matviews",
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type,
            character_maximum_length, numeric_precision, numeric_precision_radix, numeric_scale,
            datetime_precision, udt_schema, udt_name, is_identity, is_generated, dtd_identifier
     FROM information_schema.columns WHERE table_schema = 'public'
     ORDER BY table_name, ordinal_position",
    "SELECT table_catalog, table_schema, table_name, table_type
     FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    "SELECT constraint_type, table_name, is_deferrable, initially_deferred
     FROM information_schema.table_constraints WHERE table_schema = 'public'
     ORDER BY constraint_type, constraint_name",
    "SELECT constraint_name, table_name, column_name, ordinal_position
     FROM information_schema.key_column_usage WHERE table_schema = 'public'",
    "SELECT catalog_name, schema_name FROM information_schema.schemata ORDER BY schema_name",
    "SELECT nspname FROM pg_namespace ORDER BY nspname",
    "SELECT datname, pg_encoding_to_char(encoding), datcollate, datctype
     FROM pg_database WHERE datname = current_database()",
    "SELECT format_type(o, m), format_type(o, NULL)
     FROM (VALUES (23, -1), (1043, 24), (1042, -1), (1042, 14), (1700, 655366), (1700, -1),
                  (1114, 3), (1184, -1), (1083, 6), (1266, 2), (1186, -1), (1186, 2147418115),
                  (1186, 470351871), (1009, -1), (1015, 24), (18, -1), (19, -1), (2205, -1),
                  (17, -1), (700, -1), (701, -1), (16, -1), (1082, -1), (2950, -1), (999999, -1))
          AS v(o, m)
     ORDER BY o, m",
    "SELECT 't'::regclass::text, 'pg_catalog.pg_class'::regclass::text,
            'pg_class'::regclass = 1259, 'int4'::regtype::text, to_regclass('nope'),
            pg_table_is_visible('t'::regclass), current_schema(),
            array_to_string(current_schemas(true), ','), pg_get_userbyid(10)",
];

/// PostgreSQL's `pg_type` rows for every type Sluice lists.
const TYPE_COLUMNS: &str = "oid, typname, typnamespace, typlen, typbyval, typtype, typcategory,
    typispreferred, typisdefined, typdelim, typrelid, typsubscript, typelem, typarray, typinput,
    typoutput, typreceive, typsend, typmodin, typmodout, typanalyze, typalign, typstorage,
    typnotnull, typbasetype, typtypmod, typndims, typcollation";

/// The rows only PostgreSQL returned and those only Sluice returned, in order.
fn row_differences(expected: &[Vec<String>], actual: &[Vec<String>]) -> String {
    let only = |a: &[Vec<String>], b: &[Vec<String>]| -> Vec<String> {
        a.iter()
            .enumerate()
            .filter(|(i, row)| b.get(*i) != Some(row))
            .map(|(i, row)| format!("  row {i}: {}", row.join(" | ")))
            .collect()
    };
    format!(
        "PostgreSQL ({} rows):\n{}\nSluice ({} rows):\n{}",
        expected.len(),
        only(expected, actual).join("\n"),
        actual.len(),
        only(actual, expected).join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_rows_match_postgresql() {
    let Some(oracle) = tokio::task::spawn_blocking(Oracle::start)
        .await
        .expect("oracle start")
    else {
        return;
    };
    oracle.run("sluice", SETUP);
    let (_database, mut session) = setup().await;
    let mut differences = vec![];
    for sql in ORACLE_QUERIES {
        let expected = oracle.run("sluice", sql);
        let actual = rows(&mut session, sql).await;
        if expected != actual {
            differences.push(format!(
                "--- {sql}\n{}",
                row_differences(&expected, &actual)
            ));
        }
    }
    let sluice_types = rows(
        &mut session,
        &format!("SELECT {TYPE_COLUMNS} FROM pg_type ORDER BY oid"),
    )
    .await;
    let oids: Vec<&str> = sluice_types.iter().map(|row| row[0].as_str()).collect();
    assert!(oids.len() > 80, "only {} types", oids.len());
    let postgres_types = oracle.run(
        "sluice",
        &format!(
            "SELECT {TYPE_COLUMNS} FROM pg_type WHERE oid IN ({}) ORDER BY oid",
            oids.join(", ")
        ),
    );
    if postgres_types != sluice_types {
        differences.push(format!(
            "--- pg_type\n{}",
            row_differences(&postgres_types, &sluice_types)
        ));
    }
    assert!(
        differences.is_empty(),
        "{} catalog queries differ from PostgreSQL:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// The single value of a one-row, one-column query.
async fn value(session: &mut Session, sql: &str) -> String {
    let found = rows(session, sql).await;
    assert_eq!(found.len(), 1, "{sql}: {found:?}");
    found[0].join("|")
}

async fn error_of(session: &mut Session, sql: &str) -> (String, String) {
    let (_, error) = session.execute(sql).await;
    let error = error.unwrap_or_else(|| panic!("{sql} should fail"));
    (error.sqlstate().to_string(), error.to_string())
}

#[tokio::test]
async fn catalog_follows_ddl_at_once() {
    let (_database, mut session) = setup().await;
    let t = relation_oid(&mut session, "t").await;
    let count = "SELECT count(*) FROM pg_class WHERE relnamespace = 2200";
    assert_eq!(value(&mut session, count).await, "4"); // t, t_pkey, v, mv
    let (_, error) = session
        .execute("CREATE TABLE u (a BIGINT, b TEXT, PRIMARY KEY (b, a)); DROP VIEW v")
        .await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(value(&mut session, count).await, "5"); // + u, u_pkey - v
    assert_eq!(relation_oid(&mut session, "t").await, t, "OIDs are stable");
    assert_eq!(
        value(
            &mut session,
            "SELECT pg_get_constraintdef(con.oid) || ' ' || array_to_string(con.conkey, ',')
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
             WHERE c.relname = 'u'"
        )
        .await,
        "PRIMARY KEY (b, a) 2,1"
    );
    assert_eq!(
        value(
            &mut session,
            "SELECT count(*) FROM pg_views WHERE viewname = 'v'"
        )
        .await,
        "0"
    );
    // A relation created again is a new object with a new OID.
    let (_, error) = session
        .execute("DROP TABLE u; CREATE TABLE u (x INT)")
        .await;
    assert!(error.is_none(), "{error:?}");
    let columns = "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                   WHERE attrelid = 'u'::regclass AND attnum > 0";
    assert_eq!(value(&mut session, columns).await, "x");
    assert_eq!(
        value(
            &mut session,
            "SELECT count(*) FROM pg_index WHERE indrelid = 'u'::regclass"
        )
        .await,
        "0"
    );
}

#[tokio::test]
async fn names_resolve_as_in_postgresql() {
    let (_database, mut session) = setup().await;
    // Unqualified catalog names search pg_catalog first, even over a user table.
    let (_, error) = session
        .execute("CREATE TABLE pg_am (x INT); INSERT INTO pg_am VALUES (7)")
        .await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        value(&mut session, "SELECT amname FROM pg_am WHERE oid = 2").await,
        "heap"
    );
    assert_eq!(value(&mut session, "SELECT x FROM public.pg_am").await, "7");
    // A CTE shadows a catalog name.
    assert_eq!(
        value(
            &mut session,
            "WITH pg_class AS (SELECT 1 AS relname) SELECT relname FROM pg_class"
        )
        .await,
        "1"
    );
    // information_schema is reached qualified only, as in PostgreSQL.
    assert_eq!(
        value(
            &mut session,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'"
        )
        .await,
        "1"
    );
    let (sqlstate, _) = error_of(&mut session, "SELECT * FROM tables").await;
    assert_eq!(sqlstate, "42P01");
    // Catalog relations describe themselves.
    assert_eq!(
        value(
            &mut session,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'pg_catalog.pg_class'::regclass AND attname = 'relkind'"
        )
        .await,
        "\"char\""
    );
}

#[tokio::test]
async fn catalog_functions_answer_like_postgresql() {
    let (_database, mut session) = setup().await;
    let checks: &[(&str, &str)] = &[
        (
            "SELECT pg_get_viewdef('v'::regclass, true)",
            " SELECT id, name FROM t;",
        ),
        (
            "SELECT pg_get_viewdef('mv')",
            " SELECT name, count(*) AS n FROM t GROUP BY name;",
        ),
        (
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index",
            "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
        ),
        (
            "SELECT pg_get_constraintdef(oid, true) FROM pg_constraint",
            "PRIMARY KEY (id)",
        ),
        (
            "SELECT current_database(), current_schema()",
            "sluice|public",
        ),
        (
            "SELECT array_to_string(current_schemas(false), ',')",
            "public",
        ),
        (
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 't'",
            "sluice",
        ),
        ("SELECT pg_encoding_to_char(6)", "UTF8"),
        ("SELECT has_table_privilege('t', 'SELECT')", "t"),
        ("SELECT to_regclass('no_such_table') IS NULL", "t"),
        (
            "SELECT to_regtype('hstore') IS NULL, to_regtype('integer')",
            "t|23",
        ),
        ("SELECT obj_description(1259, 'pg_class') IS NULL", "t"),
        ("SELECT col_description('t'::regclass, 1) IS NULL", "t"),
        ("SELECT 'mv'::regclass::text, 0::regclass::text", "mv|-"),
        (
            "SELECT 11::regnamespace::text, 1009::regtype::text",
            "pg_catalog|text[]",
        ),
        ("SELECT current_setting('server_version_num')", "150000"),
        ("SELECT set_config('jit', 'off', false)", "off"),
        ("SELECT pg_advisory_unlock_all() IS NULL", "t"),
        (
            "SELECT json_build_object('a', 1, 'b', 'x')",
            "{\"a\" : 1, \"b\" : \"x\"}",
        ),
        ("SELECT array_upper(ARRAY[4, 5, 6], 1)", "3"),
        ("SELECT current_user, session_user", "sluice|sluice"),
    ];
    for (sql, expected) in checks {
        assert_eq!(value(&mut session, sql).await, *expected, "{sql}");
    }
    let version = value(&mut session, "SELECT version()").await;
    assert!(version.starts_with("PostgreSQL 15.0 "), "{version}");
    let (sqlstate, message) = error_of(&mut session, "SELECT 'no_such_table'::regclass").await;
    assert_eq!(sqlstate, "42P01", "{message}");
    let (_, message) = error_of(&mut session, "SELECT (SELECT relname FROM pg_class)").await;
    assert!(message.contains("more than one row"), "{message}");
    let (_, message) = error_of(&mut session, "SELECT current_setting('no_such_setting')").await;
    assert!(
        message.contains("unrecognized configuration parameter"),
        "{message}"
    );
}

#[tokio::test]
async fn prepared_catalog_queries_infer_parameter_types() {
    let (_database, mut session) = setup().await;
    let prepared = session
        .prepare("SELECT c.oid, c.relkind FROM pg_class c WHERE c.relname = $1")
        .await
        .expect("prepared");
    assert_eq!(prepared.parameter_types, vec![Some(DataType::Utf8)]);
    let schema = prepared.schema.clone().expect("a query");
    // OIDs are tagged so the wire type is `oid`, relkind so it is `"char"`.
    assert_eq!(
        schema
            .field(0)
            .metadata()
            .get("pg.oid_alias")
            .map(String::as_str),
        Some("oid")
    );
    assert!(schema.field(1).metadata().contains_key("pg.char"));
    let result = session
        .execute_prepared(
            &prepared,
            Some(ParamValues::from(vec![ScalarValue::from("v")])),
        )
        .await
        .expect("runs");
    let Some(StatementResult::Query { batches, .. }) = result else {
        panic!("no rows");
    };
    assert_eq!(batches_text(&batches)[0][1], "v");
}

/// Catalog scans never wait for the database lock their statement holds: catalog queries
/// interleaved with DDL from other sessions, and a CREATE TABLE AS over the catalog (which
/// holds the write lock while it scans), all finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_reads_do_not_deadlock_with_writers() {
    let (database, mut session) = setup().await;
    let work = async move {
        let mut tasks = vec![];
        for writer in 0..2 {
            let mut session = Session::new(Arc::clone(&database));
            tasks.push(tokio::spawn(async move {
                for round in 0..20 {
                    let name = format!("w{writer}_{round}");
                    let (_, error) = session
                        .execute(&format!(
                            "CREATE TABLE {name} (k INT PRIMARY KEY, v TEXT); \
                             CREATE VIEW {name}_v AS SELECT k FROM {name}"
                        ))
                        .await;
                    assert!(error.is_none(), "{error:?}");
                    if round % 2 == 0 {
                        let (_, error) = session
                            .execute(&format!("DROP VIEW {name}_v; DROP TABLE {name}"))
                            .await;
                        assert!(error.is_none(), "{error:?}");
                    }
                }
            }));
        }
        for _ in 0..2 {
            let mut session = Session::new(Arc::clone(&database));
            tasks.push(tokio::spawn(async move {
                for _ in 0..20 {
                    let (_, error) = session
                        .execute(
                            "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
                             FROM pg_class c LEFT JOIN pg_constraint con ON con.conrelid = c.oid
                             WHERE c.relnamespace = 2200;
                             SELECT count(*) FROM information_schema.columns",
                        )
                        .await;
                    assert!(error.is_none(), "{error:?}");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task finished");
        }
        // A catalog scan while the statement holds the write lock.
        let (_, error) = session
            .execute(
                "CREATE TABLE snapshot AS SELECT relname FROM pg_class
                 WHERE relkind = 'r' AND relnamespace = 2200",
            )
            .await;
        assert!(error.is_none(), "{error:?}");
        // 10 tables survive per writer, plus t (and snapshot itself, registered after the
        // scan); each has its primary key.
        let count = rows(&mut session, "SELECT count(*) FROM snapshot").await;
        assert_eq!(count, vec![vec!["21".to_string()]]);
        let keys = rows(
            &mut session,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'p'",
        )
        .await;
        assert_eq!(keys, vec![vec!["21".to_string()]]);
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), work)
        .await
        .expect("catalog queries and DDL finish without deadlock");
}

/// Non-aggregating scalar subqueries (which catalog queries use, and DataFusion plans only
/// when they aggregate) return the single value, NULL for no row, and fail for several.
#[tokio::test]
async fn scalar_subqueries_return_one_value_or_null() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let (_, error) = session
        .execute(
            "CREATE TABLE a (k INT, flag BOOLEAN); CREATE TABLE b (k INT, v TEXT);
             INSERT INTO a VALUES (1, true), (2, true), (3, false), (4, true);
             INSERT INTO b VALUES (1, 'one'), (3, 'three'), (4, 'four'), (4, 'again')",
        )
        .await;
    assert!(error.is_none(), "{error:?}");
    let found = rows(
        &mut session,
        "SELECT a.k, (SELECT b.v FROM b WHERE b.k = a.k AND a.flag) FROM a
         WHERE a.k < 4 ORDER BY a.k",
    )
    .await;
    let expected: Vec<Vec<String>> = [["1", "one"], ["2", ""], ["3", ""]]
        .iter()
        .map(|row| row.iter().map(|v| v.to_string()).collect())
        .collect();
    assert_eq!(found, expected);
    let (_, message) = error_of(
        &mut session,
        "SELECT a.k, (SELECT b.v FROM b WHERE b.k = a.k) FROM a",
    )
    .await;
    assert!(message.contains("more than one row"), "{message}");
}
