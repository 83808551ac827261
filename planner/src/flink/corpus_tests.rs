//! Tests over real Flink scripts: the Nexmark queries (`testdata/nexmark`, from
//! nexmark/nexmark, Apache-2.0) and DataSQRL compiled plans (`testdata/datasqrl`, the
//! `flink-sql-no-functions.sql` sections of DataSQRL/sqrl's DAGPlannerTest snapshots,
//! Apache-2.0). Every statement must split, parse or rewrite, and come out as SQL that
//! sqlparser reads; a few statements have structure checked in detail. One test plans
//! converted DDL through a real `Session`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::dialect::{GenericDialect, PostgreSqlDialect};
use datafusion::sql::sqlparser::parser::Parser;

use super::*;
use crate::{Database, Session, StatementResult};

fn testdata(folder: &str) -> Vec<(String, String)> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/flink/testdata")
        .join(folder);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sql"))
        .map(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().to_string())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            (name, text)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", directory.display());
    files
}

fn nexmark(name: &str) -> String {
    testdata("nexmark")
        .into_iter()
        .find(|(file, _)| file == name)
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// `${VAR}` placeholders are filled at deploy time; tests fill them with plain names.
fn fill_placeholders(sql: &str) -> String {
    sql.replace("${NEXMARK_TABLE}", "datagen")
}

fn parses_as_postgres(sql: &str) -> Result<(), String> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn parses_as_generic(sql: &str) -> Result<(), String> {
    Parser::parse_sql(&GenericDialect {}, sql)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// What became of one statement of a script.
#[derive(Debug)]
enum Outcome {
    Table,
    Function,
    Set,
    /// Rewritten SQL and its temporal joins.
    Statement(String, Vec<TemporalJoin>),
}

/// Run one statement through the front end and check the SQL it produces parses.
fn process(sql: &str, tables: &mut HashMap<String, FlinkCreateTable>) -> Result<Outcome, String> {
    if parse_set(sql).map_err(|error| error.to_string())?.is_some() {
        return Ok(Outcome::Set);
    }
    if parse_create_function(sql)
        .map_err(|error| error.to_string())?
        .is_some()
    {
        return Ok(Outcome::Function);
    }
    if let Some(table) = parse_create_table(sql).map_err(|error| error.to_string())? {
        let table = match &table.like {
            Some(like) => {
                let base = tables
                    .get(&like.table)
                    .ok_or_else(|| format!("LIKE of unknown table {}", like.table))?;
                table.merge_like(base).map_err(|error| error.to_string())?
            }
            None => table,
        };
        parses_as_generic(&table.physical_sql)
            .map_err(|error| format!("{error} in {}", table.physical_sql))?;
        tables.insert(table.name.clone(), table);
        return Ok(Outcome::Table);
    }
    let (text, joins) = extract_temporal_joins(sql).map_err(|error| error.to_string())?;
    let text = fill_placeholders(&text);
    parses_as_postgres(&text).map_err(|error| format!("{error} in {text}"))?;
    Ok(Outcome::Statement(text, joins))
}

#[test]
fn every_nexmark_statement_goes_through() {
    let mut tables = HashMap::new();
    let mut statements = 0;
    // DDL first, so that later scripts see the tables.
    let mut files = testdata("nexmark");
    files.sort_by_key(|(name, _)| !name.starts_with("ddl_gen.sql"));
    for (name, script) in files {
        for statement in split_script(&script).unwrap_or_else(|error| panic!("{name}: {error}")) {
            statements += 1;
            if let Err(error) = process(&statement.sql, &mut tables) {
                panic!("{name}: {error}\n{}", statement.sql);
            }
        }
    }
    assert!(statements >= 50, "only {statements} statements");
}

#[test]
fn nexmark_datagen_table_structure() {
    let script = nexmark("ddl_gen.sql");
    let statements = split_script(&script).expect("splits");
    assert_eq!(statements.len(), 1);
    let table = parse_create_table(&statements[0].sql)
        .expect("parses")
        .expect("is a table");
    assert_eq!(table.name, "datagen");
    let names: Vec<&str> = table
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["event_type", "person", "auction", "bid", "datetime"]
    );
    let FlinkColumnKind::Physical {
        sql_type,
        data_type,
        ..
    } = &table.columns[1].kind
    else {
        panic!("person is physical: {:?}", table.columns[1]);
    };
    assert_eq!(
        sql_type,
        "STRUCT<id BIGINT, name VARCHAR, emailaddress VARCHAR, creditcard VARCHAR, \
         city VARCHAR, state VARCHAR, datetime TIMESTAMP(3), extra VARCHAR>"
    );
    assert!(matches!(data_type, FlinkType::Row(fields) if fields.len() == 8));
    let FlinkColumnKind::Computed { expr } = &table.columns[4].kind else {
        panic!("datetime is computed: {:?}", table.columns[4]);
    };
    assert!(expr.starts_with("CASE"), "{expr}");
    assert!(
        expr.contains("WHEN event_type = 0 THEN person.datetime"),
        "{expr}"
    );
    assert!(expr.ends_with("END"), "{expr}");
    let watermark = table.watermark.as_ref().expect("a watermark");
    assert_eq!(watermark.column, "datetime");
    assert_eq!(watermark.expr, "datetime - INTERVAL '4' SECOND");
    let watermark_at = statements[0]
        .sql
        .find("WATERMARK")
        .map(|at| statements[0].sql[..at].chars().count() + 1);
    assert_eq!(Some(watermark.position), watermark_at);
    assert_eq!(table.primary_key, None);
    assert_eq!(
        table.options,
        [
            ("connector", "nexmark"),
            ("first-event.rate", "${TPS}"),
            ("next-event.rate", "${TPS}"),
            ("events.num", "${EVENTS_NUM}"),
            ("person.proportion", "${PERSON_PROPORTION}"),
            ("auction.proportion", "${AUCTION_PROPORTION}"),
            ("bid.proportion", "${BID_PROPORTION}"),
        ]
        .map(|(key, value)| (key.to_string(), value.to_string()))
    );
    assert!(!table.physical_sql.contains("WATERMARK"));
    assert!(!table.physical_sql.contains("CASE"));
    assert!(table
        .physical_sql
        .starts_with("CREATE TABLE datagen (event_type INT, person STRUCT<id BIGINT"));
}

#[test]
fn nexmark_partitioned_sink_and_side_input() {
    let q10 = split_script(&nexmark("q10.sql")).expect("splits");
    let table = parse_create_table(&q10[0].sql)
        .expect("parses")
        .expect("is a table");
    assert_eq!(table.partitioned_by, ["dt", "hm"]);
    assert_eq!(
        table.options[6],
        (
            "partition.time-extractor.timestamp-pattern".to_string(),
            "$dt $hm:00".to_string()
        )
    );
    let q13 = split_script(&nexmark("q13.sql")).expect("splits");
    let side_input = parse_create_table(&q13[0].sql)
        .expect("parses")
        .expect("is a table");
    assert_eq!(
        side_input.physical_sql,
        "CREATE TABLE side_input (\"key\" BIGINT, value VARCHAR)"
    );
    let (text, joins) = extract_temporal_joins(&q13[2].sql).expect("rewrites");
    assert_eq!(joins.len(), 1);
    assert_eq!(joins[0].table_alias_or_name, "s");
    assert_eq!(joins[0].table_name, "side_input");
    assert_eq!(joins[0].time_expr, "B.p_time");
    assert!(
        text.contains("JOIN side_input AS S\nON mod(B.auction, 10000) = S.key"),
        "{text}"
    );
    let q14 = split_script(&nexmark("q14.sql")).expect("splits");
    let function = parse_create_function(&q14[0].sql)
        .expect("parses")
        .expect("is a function");
    assert_eq!(function.name, "count_char");
    assert_eq!(
        function.class_name,
        "com.github.nexmark.flink.udf.CountChar"
    );
}

#[test]
fn nexmark_window_tvfs_rewrite_into_parsable_sql() {
    let mut rewritten = 0;
    for (name, script) in testdata("nexmark") {
        for statement in split_script(&script).expect("splits") {
            let upper = statement.sql.to_ascii_uppercase();
            if !upper.contains("TABLE(") {
                continue;
            }
            let text = rewrite_window_tvfs(&statement.sql)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(text.contains("sluice_"), "{name}: {text}");
            assert!(!text.contains("DESCRIPTOR"), "{name}: {text}");
            parses_as_postgres(&text).unwrap_or_else(|error| panic!("{name}: {error}\n{text}"));
            rewritten += 1;
        }
    }
    // q5 (two HOPs), q7, q8 (two TUMBLEs), q12.
    assert_eq!(rewritten, 4);
    let q8 = split_script(&nexmark("q8.sql")).expect("splits");
    let text = rewrite_statement(&q8[1].sql).expect("rewrites");
    assert!(
        text.contains("FROM sluice_tumble('person', 'datetime', INTERVAL '10' SECOND)\n"),
        "{text}"
    );
    assert!(
        text.contains("FROM sluice_tumble('auction', 'datetime', INTERVAL '10' SECOND)\n"),
        "{text}"
    );
}

#[test]
fn kafka_table_with_metadata_and_key() {
    let sql = "CREATE TEMPORARY TABLE IF NOT EXISTS `default_catalog`.`default_database`.`Orders` (
        `id` BIGINT NOT NULL,
        `customerId` BIGINT NOT NULL COMMENT 'who ordered',
        `entries` ROW(`productid` BIGINT NOT NULL, `discount` DOUBLE) NOT NULL ARRAY NOT NULL,
        `event_time` TIMESTAMP_LTZ(3) NOT NULL METADATA FROM 'timestamp',
        `partition` INT METADATA VIRTUAL,
        `offset` BIGINT METADATA VIRTUAL,
        `proc` AS PROCTIME(),
        `amount` AS CAST(`id` AS STRING) COMMENT 'as text',
        CONSTRAINT `pk` PRIMARY KEY (`id`, `customerId`) NOT ENFORCED,
        WATERMARK FOR `event_time` AS `event_time` - INTERVAL '0.001' SECOND
    ) COMMENT 'orders from kafka'
    WITH (
        'connector' = 'kafka',
        'topic' = 'orders',
        properties.bootstrap.servers = '${BOOTSTRAP}',
        'value.format' = 'json',
        'scan.startup.mode' = 'earliest-offset',
        'quote' = 'it''s'
    )";
    let table = parse_create_table(sql)
        .expect("parses")
        .expect("is a table");
    assert_eq!(table.name, "orders");
    assert!(table.temporary && table.if_not_exists);
    assert_eq!(table.comment.as_deref(), Some("orders from kafka"));
    assert_eq!(
        table.primary_key,
        Some(FlinkPrimaryKey {
            columns: vec!["id".into(), "customerid".into()],
            enforced: false
        })
    );
    assert_eq!(table.columns[1].comment.as_deref(), Some("who ordered"));
    assert_eq!(
        table.columns[3].kind,
        FlinkColumnKind::Metadata {
            data_type: FlinkType::Scalar("TIMESTAMP(3) WITH TIME ZONE".into()),
            sql_type: "TIMESTAMP(3) WITH TIME ZONE".into(),
            key: "timestamp".into(),
            is_virtual: false,
        }
    );
    assert!(matches!(
        &table.columns[4].kind,
        FlinkColumnKind::Metadata { key, is_virtual: true, .. } if key == "partition"
    ));
    assert_eq!(
        table.columns[6].kind,
        FlinkColumnKind::Computed {
            expr: "PROCTIME()".into()
        }
    );
    assert_eq!(
        table.columns[7].kind,
        FlinkColumnKind::Computed {
            expr: "CAST(id AS VARCHAR)".into()
        }
    );
    assert_eq!(table.columns[7].comment.as_deref(), Some("as text"));
    let watermark = table.watermark.as_ref().expect("a watermark");
    assert_eq!(watermark.column, "event_time");
    assert_eq!(watermark.expr, "event_time - INTERVAL '0.001' SECOND");
    assert_eq!(table.options[2].0, "properties.bootstrap.servers");
    assert_eq!(table.options[2].1, "${BOOTSTRAP}");
    assert_eq!(table.options[5].1, "it's");
    assert_eq!(
        table.physical_sql,
        "CREATE TABLE IF NOT EXISTS orders (id BIGINT NOT NULL, customerid BIGINT NOT NULL, \
         entries STRUCT<productid BIGINT, discount DOUBLE PRECISION>[] NOT NULL, \
         event_time TIMESTAMP(3) WITH TIME ZONE, \"partition\" INT, \"offset\" BIGINT, \
         PRIMARY KEY (id, customerid))"
    );
    parses_as_generic(&table.physical_sql).expect("physical DDL parses");
}

#[test]
fn not_a_flink_table_definition() {
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "SELECT 1",
        "CREATE OR REPLACE TABLE t AS SELECT 1",
        "INSERT INTO t VALUES (1)",
    ] {
        assert_eq!(parse_create_table(sql).expect("no error"), None, "{sql}");
    }
    assert_eq!(
        parse_create_function("CREATE FUNCTION f(a INT) RETURNS INT AS 'x'").ok(),
        Some(None)
    );
    assert_eq!(parse_set("SET search_path = public").ok(), Some(None));
    assert_eq!(
        parse_set("SET 'table.exec.state.ttl' = '1 h'").ok(),
        Some(Some(("table.exec.state.ttl".into(), "1 h".into())))
    );
    // PostgreSQL column options travel verbatim into the physical DDL.
    let table = parse_create_table(
        "CREATE TABLE t (id INT PRIMARY KEY, n INT DEFAULT 0 NOT NULL, CHECK (n >= 0))",
    )
    .expect("parses")
    .expect("is a table");
    assert_eq!(
        table.physical_sql,
        "CREATE TABLE t (id INT, n INT NOT NULL DEFAULT 0, PRIMARY KEY (id), CHECK (n >= 0))"
    );
    assert_eq!(table.primary_key.map(|key| key.enforced), Some(true));
}

#[test]
fn like_merges_the_base_definition() {
    let base = parse_create_table(
        "CREATE TEMPORARY TABLE `Sink__schema` (`id` BIGINT NOT NULL, `ts` TIMESTAMP(3),
         `k` AS `id` + 1, WATERMARK FOR `ts` AS `ts`) WITH ('connector' = 'datagen', 'rows' = '5')",
    )
    .expect("parses")
    .expect("is a table");
    let sink = parse_create_table(
        "CREATE TABLE `Sink` (PRIMARY KEY (`id`) NOT ENFORCED)
         WITH ('connector' = 'print') LIKE `Sink__schema`",
    )
    .expect("parses")
    .expect("is a table");
    assert_eq!(
        sink.like,
        Some(FlinkLike {
            table: "sink__schema".into(),
            options: vec![]
        })
    );
    let merged = sink.merge_like(&base).expect("merges");
    let names: Vec<&str> = merged
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["id", "ts", "k"]);
    assert_eq!(
        merged.options,
        [("connector", "print"), ("rows", "5")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert!(merged.watermark.is_some());
    assert_eq!(
        merged.physical_sql,
        "CREATE TABLE sink (id BIGINT NOT NULL, ts TIMESTAMP(3), PRIMARY KEY (id))"
    );
    let excluding = parse_create_table(
        "CREATE TABLE s2 (x INT) LIKE `Sink__schema` (EXCLUDING ALL INCLUDING GENERATED)",
    )
    .expect("parses")
    .expect("is a table");
    let merged = excluding.merge_like(&base).expect("merges");
    let names: Vec<&str> = merged
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["id", "ts", "k", "x"]);
    assert!(merged.options.is_empty() && merged.watermark.is_none());
    let clash = parse_create_table("CREATE TABLE s3 (id INT) LIKE `Sink__schema`")
        .expect("parses")
        .expect("is a table");
    assert!(clash.merge_like(&base).is_err());
}

#[test]
fn malformed_ddl_reports_positions() {
    let position = |sql: &str| {
        let error = parse_create_table(sql).expect_err(sql);
        assert!(
            matches!(error, crate::PlanError::Syntax { .. }),
            "{error:?}"
        );
        error.position()
    };
    // Unterminated string: where it starts.
    assert_eq!(
        position("CREATE TABLE t (a INT) WITH ('connector' = 'kafka)"),
        Some(44)
    );
    // Missing `)` after the options: at the end of the input.
    assert_eq!(position("CREATE TABLE t (a INT) WITH ('a' = 'b'"), Some(39));
    // Missing `,` between options.
    assert_eq!(
        position("CREATE TABLE t (a INT) WITH ('a' = 'b' 'c' = 'd')"),
        Some(40)
    );
    // WATERMARK FOR without AS: at the token where AS was expected.
    assert_eq!(
        position("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts ts - INTERVAL '1' SECOND)"),
        Some(51)
    );
    // WATERMARK FOR .. AS without an expression.
    assert_eq!(
        position("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS)"),
        Some(53)
    );
    // Unclosed column list.
    assert_eq!(position("CREATE TABLE t (a INT, b ROW<x INT>"), Some(36));
    // A bad type inside a ROW.
    assert_eq!(position("CREATE TABLE t (b ROW<x INT, y>)"), Some(31));
    // A computed column without an expression.
    assert_eq!(position("CREATE TABLE t (a INT, b AS , c INT)"), Some(29));
    // Unsupported types name the column.
    let error = parse_create_table("CREATE TABLE t (m RAW('x.Y', 'AA=='))").expect_err("raw");
    assert!(error.to_string().contains("column \"m\""), "{error}");
    let error = parse_create_table("CREATE TABLE t (a INT, PRIMARY KEY (b) NOT ENFORCED)")
        .expect_err("unknown key");
    assert!(
        matches!(error, crate::PlanError::UndefinedColumn(_)),
        "{error:?}"
    );
}

/// Each DataSQRL plan's Flink script goes through the front end. The statements listed in
/// `KNOWN_GAPS` use SQL that sqlparser's PostgreSQL dialect does not read; they are checked
/// to still fail that way, so the list stays true.
#[test]
fn every_datasqrl_statement_goes_through() {
    const KNOWN_GAPS: &[(&str, &str)] = &[
        // Catalog statements are for the planner to accept (USE of Flink's default catalog)
        // or refuse (other catalogs); they have no PostgreSQL form.
        ("createTableCatalog.sql", "CREATE CATALOG"),
        ("createTableCatalog.sql", "USE CATALOG"),
        ("importScriptExternalTest.sql", "USE CATALOG"),
    ];
    let mut failures = Vec::new();
    let mut statements = 0;
    let mut sets = 0;
    let mut windows = 0;
    let mut temporal = 0;
    for (name, script) in testdata("datasqrl") {
        let split = match split_script(&script) {
            Ok(split) => split,
            Err(error) => {
                failures.push(format!("{name}: split: {error}"));
                continue;
            }
        };
        sets += usize::from(
            split
                .iter()
                .any(|statement| statement.statement_set.is_some()),
        );
        let mut tables = HashMap::new();
        for statement in split {
            statements += 1;
            match process(&statement.sql, &mut tables) {
                Ok(Outcome::Statement(text, joins)) => {
                    windows += usize::from(text.contains("sluice_"));
                    temporal += joins.len();
                }
                Ok(_) => {}
                Err(error) => {
                    let known = KNOWN_GAPS
                        .iter()
                        .any(|(file, needle)| name == *file && statement.sql.contains(needle));
                    if !known {
                        failures.push(format!("{name}: {error}\n{}", statement.sql));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for (file, needle) in KNOWN_GAPS {
        let (_, script) = testdata("datasqrl")
            .into_iter()
            .find(|(name, _)| name == file)
            .unwrap_or_else(|| panic!("no {file}"));
        let statement = split_script(&script)
            .expect("splits")
            .into_iter()
            .find(|statement| statement.sql.contains(needle))
            .unwrap_or_else(|| panic!("{file} has no {needle}"));
        assert!(
            process(&statement.sql, &mut HashMap::new()).is_err(),
            "{file}: {needle} goes through now: remove it from KNOWN_GAPS"
        );
    }
    assert!(statements > 500, "only {statements} statements");
    assert_eq!(sets, 69, "every plan has a statement set");
    assert!(windows >= 10, "{windows} window TVFs");
    assert_eq!(temporal, 7, "temporal joins");
}

/// Statements that use `word` as an identifier in every position a rewritten backquoted
/// identifier can take.
fn identifier_probes(word: &str) -> Vec<(bool, String)> {
    vec![
        (
            false,
            format!("SELECT {word}, t.{word}, {word} + 1, -{word} FROM t"),
        ),
        (
            false,
            format!("SELECT {word} FROM t WHERE {word} = 1 AND {word} IS NULL"),
        ),
        (false, format!("SELECT a AS {word}, a {word} FROM t")),
        (
            false,
            format!("SELECT * FROM {word}, t AS {word}, t {word}"),
        ),
        (
            false,
            format!("SELECT {word}.a FROM t {word} JOIN u ON {word}.a = u.{word}"),
        ),
        (
            false,
            format!("SELECT {word}(a) FROM t GROUP BY {word} ORDER BY {word}"),
        ),
        (false, format!("INSERT INTO {word} SELECT {word} FROM t")),
        (
            false,
            format!("CREATE TABLE {word} ({word} INT, PRIMARY KEY ({word}))"),
        ),
        (false, format!("CREATE VIEW {word} AS SELECT 1 AS {word}")),
        (true, format!("CREATE TABLE t (c STRUCT<{word} INT>)")),
        (
            true,
            format!("CREATE TABLE {word} ({word} INT, PRIMARY KEY ({word}))"),
        ),
    ]
}

/// Whether `word` reads back unquoted exactly as it does quoted, in every probe.
fn safe_unquoted(word: &str) -> bool {
    let quoted = format!("\"{word}\"");
    identifier_probes(word)
        .into_iter()
        .zip(identifier_probes(&quoted))
        .all(|((generic, plain), (_, quoted))| {
            let parse = |sql: &str| {
                if generic {
                    Parser::parse_sql(&GenericDialect {}, sql)
                } else {
                    Parser::parse_sql(&PostgreSqlDialect {}, sql)
                }
            };
            match (parse(&plain), parse(&quoted)) {
                (Ok(plain), Ok(quoted)) => {
                    let plain: Vec<String> = plain.iter().map(|s| s.to_string()).collect();
                    let quoted: Vec<String> = quoted
                        .iter()
                        .map(|s| s.to_string().replace('"', ""))
                        .collect();
                    plain == quoted
                }
                _ => false,
            }
        })
}

/// Every sqlparser keyword that `render_identifier` writes plain reads back as the same
/// identifier (this keeps `lex::RESERVED` true when sqlparser changes).
#[test]
fn plain_identifiers_read_back_unchanged() {
    let mut unsafe_words = Vec::new();
    for keyword in datafusion::sql::sqlparser::keywords::ALL_KEYWORDS {
        let word = keyword.to_ascii_lowercase();
        if render_identifier(&word) == word && !safe_unquoted(&word) {
            unsafe_words.push(word);
        }
    }
    assert!(
        unsafe_words.is_empty(),
        "add to lex::RESERVED: {unsafe_words:?}"
    );
    for word in [
        "price",
        "bid",
        "datagen",
        "event_type",
        "window_start",
        "datetime",
    ] {
        assert!(safe_unquoted(word), "{word}");
    }
}

/// No prefix or suffix of real statements makes any entry point panic: truncated input
/// only ever gives errors.
#[test]
fn truncated_input_never_panics() {
    let datasqrl = testdata("datasqrl")
        .into_iter()
        .find(|(name, _)| name == "createTableLike.sql")
        .map(|(_, text)| text)
        .unwrap_or_default();
    let texts = [
        nexmark("ddl_gen.sql"),
        nexmark("q5.sql"),
        nexmark("q13.sql"),
        datasqrl.chars().take(2000).collect(),
        "CREATE TABLE t (a ARRAY<ROW<x INT, y MAP<STRING, ARRAY<INT>>>>, b TIMESTAMP_LTZ(3) \
         METADATA FROM 'ts' VIRTUAL, PRIMARY KEY (a) NOT ENFORCED) LIKE s (EXCLUDING ALL) \
         ; SELECT * FROM TABLE(SESSION(DATA => TABLE t PARTITION BY (a, b), TIMECOL => \
         DESCRIPTOR(ts), GAP => INTERVAL '1' SECOND)) JOIN u FOR SYSTEM_TIME AS OF t.ts v ON \
         CAST(x AS ROW<a STRING>) BETWEEN ASYMMETRIC INTERVAL -1 DAY AND VALUES ROW(1)"
            .to_string(),
    ];
    for text in &texts {
        // Every cut of the short text; every 7th of the long ones (debug builds are slow).
        let stride = if text.len() > 600 { 7 } else { 1 };
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(at, _)| at)
            .step_by(stride)
            .chain([text.len()])
            .collect();
        for &at in &boundaries {
            for piece in [&text[..at], &text[at..]] {
                let _ = split_script(piece);
                let _ = parse_create_table(piece);
                let _ = parse_create_function(piece);
                let _ = parse_set(piece);
                let _ = rewrite_statement(piece);
                let _ = extract_temporal_joins(piece);
                let _ = rewrite_window_tvfs(piece);
                let _ = parse_type(piece);
            }
        }
    }
}

#[tokio::test]
async fn converted_physical_ddl_creates_tables() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let datagen = parse_create_table(&nexmark("ddl_gen.sql"))
        .expect("parses")
        .expect("is a table");
    let events = parse_create_table(
        "CREATE TABLE `Events` (
            `id` BIGINT NOT NULL,
            `tags` ARRAY<STRING>,
            `items` ROW(`sku` STRING, `qty` INT) NOT NULL ARRAY,
            `nested` ARRAY<ROW<`x` INT, `y` ARRAY<DOUBLE>>>,
            `at` TIMESTAMP_LTZ(3),
            `local` TIMESTAMP(3) WITH LOCAL TIME ZONE,
            `plain` TIMESTAMP(3),
            `price` DECIMAL(23, 3),
            `tiny` TINYINT,
            `raw` BYTES,
            `day` DATE,
            `span` INTERVAL DAY TO SECOND,
            `doc` RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AAA='),
            `name` VARCHAR(2147483647) CHARACTER SET `UTF-16LE`,
            `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
            `proc` AS PROCTIME(),
            PRIMARY KEY (`id`) NOT ENFORCED,
            WATERMARK FOR `at` AS `at` - INTERVAL '1' SECOND
        ) WITH ('connector' = 'kafka')",
    )
    .expect("parses")
    .expect("is a table");
    for table in [&datagen, &events] {
        let (_, error) = session.execute(&table.physical_sql).await;
        assert!(error.is_none(), "{}: {error:?}", table.physical_sql);
        let (results, error) = session
            .execute(&format!("SELECT * FROM {}", render_identifier(&table.name)))
            .await;
        assert!(error.is_none(), "{error:?}");
        let Some(StatementResult::Query { schema, .. }) = results.first() else {
            panic!("no result for {}", table.name);
        };
        let stored: Vec<&str> = table
            .columns
            .iter()
            .filter(|column| !matches!(column.kind, FlinkColumnKind::Computed { .. }))
            .map(|column| column.name.as_str())
            .collect();
        let names: Vec<&str> = schema
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        assert_eq!(names, stored);
    }
    let (results, _) = session.execute("SELECT * FROM events").await;
    let Some(StatementResult::Query { schema, .. }) = results.first() else {
        panic!("no result");
    };
    let data_type = |name: &str| {
        schema
            .field_with_name(name)
            .map(|field| field.data_type().clone())
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let utc = Some("+00:00".into());
    assert_eq!(
        data_type("at"),
        DataType::Timestamp(TimeUnit::Millisecond, utc.clone())
    );
    assert_eq!(
        data_type("local"),
        DataType::Timestamp(TimeUnit::Millisecond, utc)
    );
    assert_eq!(
        data_type("plain"),
        DataType::Timestamp(TimeUnit::Millisecond, None)
    );
    assert_eq!(data_type("price"), DataType::Decimal128(23, 3));
    assert_eq!(data_type("tiny"), DataType::Int8);
    assert_eq!(data_type("raw"), DataType::Binary);
    // JSON documents are stored as their text in a column marked as JSON, as the JSON
    // functions return them.
    assert_eq!(data_type("doc"), DataType::Utf8);
    assert!(schema
        .field_with_name("doc")
        .is_ok_and(crate::streaming::json::is_json));
    assert!(
        matches!(data_type("tags"), DataType::List(field) if field.data_type() == &data_type("name"))
    );
    let DataType::List(item) = data_type("items") else {
        panic!("items is a list");
    };
    let DataType::Struct(fields) = item.data_type() else {
        panic!("items holds structs");
    };
    let names: Vec<&str> = fields.iter().map(|field| field.name().as_str()).collect();
    assert_eq!(names, ["sku", "qty"]);
    let DataType::List(nested) = data_type("nested") else {
        panic!("nested is a list");
    };
    assert!(matches!(nested.data_type(), DataType::Struct(fields)
        if matches!(fields[1].data_type(), DataType::List(_))));
    let datagen_schema = session.execute("SELECT person FROM datagen").await.0;
    let Some(StatementResult::Query { schema, .. }) = datagen_schema.first() else {
        panic!("no result");
    };
    let DataType::Struct(fields) = schema.field(0).data_type() else {
        panic!("person is a struct");
    };
    assert_eq!(fields[6].name(), "datetime");
    assert_eq!(
        fields[6].data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, None)
    );
}
