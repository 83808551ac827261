//! The `jdbc` sink against a real PostgreSQL server.
//!
//! Each test starts its own PostgreSQL (Debian's `postgresql-15`: `initdb` and `pg_ctl` from
//! `$PG_BIN`, `/usr/lib/postgresql/15/bin`, or `PATH`) in a temporary directory, on a free
//! loopback port, as the `postgres` OS user when run as root; it is stopped when the test ends.
//! Without the binaries the tests print a loud skip message and pass, except under `CI=true`,
//! where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray, ListArray, RecordBatch,
    StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType, Field, Fields, Int32Type, IntervalMonthDayNano, IntervalUnit, Schema, TimeUnit,
};
use sluice_runtime::connectors::jdbc::JdbcSink;
use sluice_runtime::connectors::{create_sink, ConnectorOptions, Sink, SinkSpec};
use sluice_runtime::ChangeBatch;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

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

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return has_server_binaries(&dir).then_some(dir);
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if has_server_binaries(&debian) {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| has_server_binaries(d))
}

/// `program`, run as the `postgres` OS user when we are root (PostgreSQL refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A PostgreSQL cluster in a temp dir, stopped and removed on drop.
struct TempPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TempPostgres {
    /// Start a cluster, or `None` (after a loud message) when PostgreSQL is missing outside CI.
    fn start(test: &str) -> Option<Self> {
        let Some(bin) = binaries() else {
            let message = "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15 or set PG_BIN";
            if in_ci() {
                panic!("{test}: {message}");
            }
            eprintln!("\n*** SKIPPED {test}: {message} ***\n");
            return None;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("sluice-jdbc-{}-{test}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut cluster = TempPostgres { bin, dir, port: 0 };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres failed");
        }
        let data = cluster.dir.join("data");
        let mut initialized = false;
        let mut last_error = String::new();
        for locale in ["C.UTF-8", "C"] {
            let _ = std::fs::remove_dir_all(&data);
            let output = as_postgres(&cluster.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
                .arg(format!("--locale={locale}"))
                .output()
                .expect("initdb");
            if output.status.success() {
                initialized = true;
                break;
            }
            last_error = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(initialized, "initdb failed: {last_error}");
        for _ in 0..3 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC",
                cluster.dir.display()
            );
            let output = as_postgres(&cluster.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["-o", &options, "-w", "-t", "60", "-l"])
                .arg(cluster.dir.join("log"))
                .arg("start")
                .output()
                .expect("pg_ctl");
            if output.status.success() {
                cluster.port = port;
                return Some(cluster);
            }
            last_error = std::fs::read_to_string(cluster.dir.join("log")).unwrap_or_default();
        }
        panic!("{test}: pg_ctl start failed: {last_error}");
    }

    fn url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    async fn client(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                self.port
            ),
            NoTls,
        )
        .await
        .expect("connect");
        tokio::spawn(connection);
        client
    }
}

macro_rules! postgres_or_skip {
    ($test:expr) => {
        match TempPostgres::start($test) {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

/// Rows of a query as `a|b|c` text (NULL for null), in the query's order.
async fn rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .expect("query")
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

fn options(pairs: &[(&str, &str)]) -> ConnectorOptions {
    ConnectorOptions::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn order_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("item", DataType::Utf8, true),
        Field::new("qty", DataType::Int32, true),
    ]))
}

fn spec(
    cluster: &TempPostgres,
    table: &str,
    primary_key: Vec<usize>,
    extra: &[(&str, &str)],
) -> SinkSpec {
    let url = cluster.url();
    let mut pairs = vec![
        ("connector", "jdbc"),
        ("url", url.as_str()),
        ("table-name", table),
        ("username", "postgres"),
        ("password", "unused-with-trust"),
        ("driver", "org.postgresql.Driver"),
    ];
    pairs.extend_from_slice(extra);
    SinkSpec {
        table: format!("sink_{table}"),
        schema: order_schema(),
        primary_key,
        options: options(&pairs),
    }
}

fn changes(rows: &[(i64, Option<&str>, Option<i32>, i64)]) -> ChangeBatch {
    let data = RecordBatch::try_new(
        order_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap();
    ChangeBatch::new(data, Int64Array::from_iter_values(rows.iter().map(|r| r.3))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_updates_and_deletes_reach_the_table() {
    let cluster = postgres_or_skip!("upserts_updates_and_deletes_reach_the_table");
    let admin = cluster.client().await;
    admin
        .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text, qty int)")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "orders", vec![0], &[])).unwrap();
    sink.write(&changes(&[
        (1, Some("apple"), Some(3), 1),
        (2, Some("pear"), Some(1), 1),
        (3, Some("fig"), None, 1),
    ]))
    .await
    .unwrap();
    // Update 1 (-old +new of one key in one batch), delete 2.
    sink.write(&changes(&[
        (1, Some("apple"), Some(3), -1),
        (1, Some("apple"), Some(5), 1),
        (2, Some("pear"), Some(1), -1),
    ]))
    .await
    .unwrap();
    sink.flush().await.unwrap();
    assert_eq!(
        rows(&admin, "SELECT id, item, qty FROM orders ORDER BY id").await,
        vec!["1|apple|5", "3|fig|NULL"]
    );

    // Across flushes and batches: re-insert 2, delete then re-insert 3 (the last change
    // wins), update 1 and delete it in a later batch.
    sink.write(&changes(&[
        (2, Some("pear"), Some(9), 1),
        (3, Some("fig"), None, -1),
    ]))
    .await
    .unwrap();
    sink.write(&changes(&[
        (3, Some("fig"), Some(2), 1),
        (1, Some("apple"), Some(5), -1),
        (1, Some("kiwi"), Some(1), 1),
    ]))
    .await
    .unwrap();
    sink.write(&changes(&[(1, Some("kiwi"), Some(1), -1)]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    assert_eq!(
        rows(&admin, "SELECT id, item, qty FROM orders ORDER BY id").await,
        vec!["2|pear|9", "3|fig|2"]
    );
    // Flushing with nothing pending is a no-op.
    sink.flush().await.unwrap();

    // A composite key and a schema-qualified table name.
    admin
        .batch_execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.lines (id bigint, item text, qty int, PRIMARY KEY (id, item))",
        )
        .await
        .unwrap();
    let mut lines = create_sink(spec(&cluster, "shop.lines", vec![0, 1], &[])).unwrap();
    lines
        .write(&changes(&[
            (1, Some("a"), Some(1), 1),
            (1, Some("b"), Some(2), 1),
            (2, Some("a"), Some(3), 1),
        ]))
        .await
        .unwrap();
    lines
        .write(&changes(&[
            (1, Some("b"), Some(2), -1),
            (2, Some("a"), Some(3), -1),
            (2, Some("a"), Some(4), 1),
        ]))
        .await
        .unwrap();
    lines.flush().await.unwrap();
    assert_eq!(
        rows(
            &admin,
            "SELECT id, item, qty FROM shop.lines ORDER BY id, item"
        )
        .await,
        vec!["1|a|1", "2|a|4"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffers_and_writes_many_rows_per_flush() {
    let cluster = postgres_or_skip!("buffers_and_writes_many_rows_per_flush");
    let admin = cluster.client().await;
    admin
        .batch_execute("CREATE TABLE big (id bigint PRIMARY KEY, item text, qty int)")
        .await
        .unwrap();
    // Only explicit flushes: 2500 rows (several multi-row statements) in one transaction.
    let mut sink = JdbcSink::new(spec(
        &cluster,
        "big",
        vec![0],
        &[
            ("sink.buffer-flush.max-rows", "0"),
            ("sink.buffer-flush.interval", "0"),
        ],
    ))
    .unwrap();
    let many: Vec<(i64, Option<&str>, Option<i32>, i64)> = (0..2500)
        .map(|i| (i, Some("x"), Some(i as i32), 1))
        .collect();
    sink.write(&changes(&many)).await.unwrap();
    assert_eq!(sink.pending_changes(), 2500);
    assert_eq!(rows(&admin, "SELECT count(*) FROM big").await, vec!["0"]);
    sink.flush().await.unwrap();
    assert_eq!(sink.pending_changes(), 0);
    assert_eq!(
        rows(&admin, "SELECT count(*), sum(qty) FROM big").await,
        vec![format!("2500|{}", (0..2500).sum::<i64>())]
    );

    // With max-rows 100, a write that brings 100 or more pending changes flushes them.
    admin.batch_execute("TRUNCATE big").await.unwrap();
    let mut sink = JdbcSink::new(spec(
        &cluster,
        "big",
        vec![0],
        &[
            ("sink.buffer-flush.max-rows", "100"),
            ("sink.buffer-flush.interval", "1 h"),
        ],
    ))
    .unwrap();
    let first: Vec<_> = (0..60).map(|i| (i, Some("y"), None, 1)).collect();
    sink.write(&changes(&first)).await.unwrap();
    assert_eq!(rows(&admin, "SELECT count(*) FROM big").await, vec!["0"]);
    let second: Vec<_> = (60..120).map(|i| (i, Some("y"), None, 1)).collect();
    sink.write(&changes(&second)).await.unwrap();
    assert_eq!(rows(&admin, "SELECT count(*) FROM big").await, vec!["120"]);

    // With an interval, a write after the interval flushes even below max-rows.
    admin.batch_execute("TRUNCATE big").await.unwrap();
    let mut sink = JdbcSink::new(spec(
        &cluster,
        "big",
        vec![0],
        &[
            ("sink.buffer-flush.max-rows", "1000"),
            ("sink.buffer-flush.interval", "50 ms"),
        ],
    ))
    .unwrap();
    sink.write(&changes(&[(1, Some("z"), None, 1)]))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    sink.write(&changes(&[(2, Some("z"), None, 1)]))
        .await
        .unwrap();
    assert_eq!(rows(&admin, "SELECT count(*) FROM big").await, vec!["2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_without_a_primary_key_and_rejects_deletes() {
    let cluster = postgres_or_skip!("appends_without_a_primary_key_and_rejects_deletes");
    let admin = cluster.client().await;
    admin
        .batch_execute("CREATE TABLE log (id bigint, item text, qty int, note text DEFAULT 'd')")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "log", vec![], &[])).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 2), (2, None, None, 1)]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    assert_eq!(
        rows(&admin, "SELECT id, item, qty, note FROM log ORDER BY id").await,
        vec!["1|a|1|d", "1|a|1|d", "2|NULL|NULL|d"]
    );
    let error = sink
        .write(&changes(&[(1, Some("a"), Some(1), -1)]))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("PRIMARY KEY"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_missing_tables_columns_and_keys() {
    let cluster = postgres_or_skip!("reports_missing_tables_columns_and_keys");
    let admin = cluster.client().await;
    let mut sink = create_sink(spec(&cluster, "nowhere", vec![0], &[])).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 1)]))
        .await
        .unwrap();
    let error = sink.flush().await.unwrap_err().to_string();
    assert!(error.contains("'nowhere' does not exist"), "{error}");

    admin
        .batch_execute("CREATE TABLE narrow (id bigint PRIMARY KEY, item text)")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "narrow", vec![0], &[])).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 1)]))
        .await
        .unwrap();
    let error = sink.flush().await.unwrap_err().to_string();
    assert!(error.contains("no column 'qty'"), "{error}");

    // Upserting needs a unique index on the key.
    admin
        .batch_execute("CREATE TABLE nokey (id bigint, item text, qty int)")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "nokey", vec![0], &[])).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 1)]))
        .await
        .unwrap();
    let error = sink.flush().await.unwrap_err().to_string();
    assert!(error.contains("ON CONFLICT"), "{error}");

    // A value PostgreSQL rejects fails at once with its message.
    admin
        .batch_execute("CREATE TABLE small (id bigint PRIMARY KEY, item varchar(2), qty int)")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "small", vec![0], &[])).unwrap();
    sink.write(&changes(&[(1, Some("too long"), Some(1), 1)]))
        .await
        .unwrap();
    let error = sink.flush().await.unwrap_err().to_string();
    assert!(error.contains("too long"), "{error}");

    // Nothing listens: connecting is retried, then fails.
    let mut unreachable = spec(&cluster, "orders", vec![0], &[("sink.max-retries", "1")]);
    unreachable.options = options(&[
        ("connector", "jdbc"),
        (
            "url",
            &format!("postgresql://127.0.0.1:{}/postgres", free_port()),
        ),
        ("table-name", "orders"),
        ("username", "postgres"),
        ("sink.max-retries", "1"),
    ]);
    let mut sink = create_sink(unreachable).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 1)]))
        .await
        .unwrap();
    let error = sink.flush().await.unwrap_err().to_string();
    assert!(error.contains("gave up after 1 retries"), "{error}");

    // Options are checked when the sink is created.
    let mut bogus = spec(&cluster, "orders", vec![0], &[]);
    bogus.options = options(&[
        ("connector", "jdbc"),
        ("url", "jdbc:postgresql://localhost/db"),
        ("table-name", "t"),
        ("username", "u"),
        ("lookup.cache", "none"),
    ]);
    let error = create_sink(bogus)
        .err()
        .expect("unknown option")
        .to_string();
    assert!(error.contains("lookup.cache"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_losing_the_connection() {
    let cluster = postgres_or_skip!("reconnects_after_losing_the_connection");
    let admin = cluster.client().await;
    admin
        .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text, qty int)")
        .await
        .unwrap();
    let mut sink = create_sink(spec(&cluster, "orders", vec![0], &[])).unwrap();
    sink.write(&changes(&[(1, Some("a"), Some(1), 1)]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    let killed = rows(
        &admin,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sluice'",
    )
    .await;
    assert_eq!(killed, vec!["1"]);
    sink.write(&changes(&[(2, Some("b"), Some(2), 1)]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    assert_eq!(
        rows(&admin, "SELECT id, item, qty FROM orders ORDER BY id").await,
        vec!["1|a|1", "2|b|2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_and_array_types_round_trip() {
    let cluster = postgres_or_skip!("scalar_and_array_types_round_trip");
    let admin = cluster.client().await;
    admin
        .batch_execute(
            "CREATE TABLE types (
                id int PRIMARY KEY, i16 smallint, i64 bigint, f32 real, f64 double precision,
                dec numeric(10,2), flag boolean, txt text, vc varchar(20), day date,
                ts timestamp(3), tstz timestamptz, bin bytea, ints int[], texts text[],
                doc jsonb, span interval)",
        )
        .await
        .unwrap();
    let point_fields = Fields::from(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, true),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("i16", DataType::Int16, true),
        Field::new("i64", DataType::Int64, true),
        Field::new("f32", DataType::Float32, true),
        Field::new("f64", DataType::Float64, true),
        Field::new("dec", DataType::Decimal128(10, 2), true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("txt", DataType::Utf8, true),
        Field::new("vc", DataType::Utf8, true),
        Field::new("day", DataType::Date32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "tstz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("bin", DataType::Binary, true),
        Field::new(
            "ints",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
            true,
        ),
        Field::new(
            "texts",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
        Field::new("doc", DataType::Struct(point_fields.clone()), true),
        Field::new("span", DataType::Interval(IntervalUnit::MonthDayNano), true),
    ]));
    // 2024-02-29 = day 19782; 12:34:56.789 that day in microseconds.
    let micros = 19_782i64 * 86_400_000_000 + (12 * 3600 + 34 * 60 + 56) * 1_000_000 + 789_000;
    let texts_values = StringArray::from(vec![Some("a"), Some("b c"), Some("q\"x"), None]);
    let texts = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Utf8, true)),
        arrow::buffer::OffsetBuffer::from_lengths([4, 0]),
        Arc::new(texts_values),
        Some(vec![true, false].into()),
    );
    let doc = StructArray::new(
        point_fields,
        vec![
            Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("x\"y"), None])),
        ],
        Some(vec![true, false].into()),
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 2])),
        Arc::new(Int16Array::from(vec![Some(-7), None])),
        Arc::new(Int64Array::from(vec![Some(9_007_199_254_740_993), None])),
        Arc::new(Float32Array::from(vec![Some(1.5), None])),
        Arc::new(Float64Array::from(vec![Some(0.1), Some(f64::INFINITY)])),
        Arc::new(
            Decimal128Array::from(vec![Some(-1234), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        Arc::new(StringArray::from(vec![Some("he said \"hi\"\n\\"), None])),
        Arc::new(StringArray::from(vec![Some("ünïcode"), None])),
        Arc::new(Date32Array::from(vec![Some(19_782), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(micros), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(micros), None]).with_timezone("UTC")),
        Arc::new(BinaryArray::from(vec![Some(&[0u8, 255, 16][..]), None])),
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
        ])),
        Arc::new(texts),
        Arc::new(doc),
        Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(IntervalMonthDayNano::new(14, 3, 3_723_500_000_000)),
            None,
        ])),
    ];
    let data = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let url = cluster.url();
    let mut sink = create_sink(SinkSpec {
        table: "types".into(),
        schema,
        primary_key: vec![0],
        options: options(&[
            ("connector", "jdbc"),
            (
                "url",
                &format!("{url}?user=postgres&ApplicationName=types-test"),
            ),
            ("table-name", "types"),
        ]),
    })
    .unwrap();
    sink.write(&ChangeBatch::inserts(data)).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(
        rows(
            &admin,
            "SELECT id, i16, i64, f32, f64, dec, flag, txt, vc, day, ts, tstz, encode(bin, 'hex'), \
             ints, texts, doc, span FROM types ORDER BY id"
        )
        .await,
        vec![
            "1|-7|9007199254740993|1.5|0.1|-12.34|t|he said \"hi\"\n\\|ünïcode|2024-02-29|\
             2024-02-29 12:34:56.789|2024-02-29 12:34:56.789+00|00ff10|{1,NULL,3}|\
             {a,\"b c\",\"q\\\"x\",NULL}|{\"a\": 1, \"b\": \"x\\\"y\"}|1 year 2 mons 3 days 01:02:03.5"
                .to_string(),
            format!("2|NULL|NULL|NULL|Infinity{}", "|NULL".repeat(12)),
        ]
    );
}
