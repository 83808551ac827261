//! Tests of the file, datagen, print and blackhole connectors: exact batches for JSON and CSV
//! files of every column type, bad rows under each policy, tailing, offsets, datagen's
//! determinism / bounds / rate, and the print format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, ListArray, RecordBatch, StringArray, StructArray, TimestampMillisecondArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Fields, Float32Type, Float64Type, Int32Type,
    Int64Type, Schema, SchemaRef, TimeUnit,
};
use chrono::NaiveDate;
use sluice_runtime::connectors::format::{encode_json_rows, FormatOptions, RowDecoder, RowFormat};
use sluice_runtime::connectors::print::PrintSink;
use sluice_runtime::connectors::{
    create_sink, create_source, BadRow, BadRowPolicy, ConnectorOptions, MetadataColumn, Sink,
    SinkSpec, Source, SourceEvent, SourceSpec,
};
use sluice_runtime::{ChangeBatch, RuntimeError};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "sluice-connectors-{name}-{}-{nanos}-{unique}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn append(&self, name: &str, contents: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.0.join(name))
            .unwrap();
        file.write_all(contents.as_bytes()).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(pairs: &[(&str, &str)]) -> ConnectorOptions {
    ConnectorOptions::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn source_spec(
    schema: SchemaRef,
    pairs: &[(&str, &str)],
    bad_rows: BadRowPolicy,
    batch_size: usize,
) -> SourceSpec {
    SourceSpec {
        table: "t".into(),
        schema,
        metadata: vec![],
        options: options(pairs),
        bad_rows,
        batch_size,
        primary_key: vec![],
    }
}

fn sink_spec(schema: SchemaRef, pairs: &[(&str, &str)], primary_key: Vec<usize>) -> SinkSpec {
    SinkSpec {
        table: "out".into(),
        schema,
        primary_key,
        options: options(pairs),
    }
}

/// Poll a source until `End` (at most 10 s); the rows and bad rows it produced.
async fn read_to_end(source: &mut Box<dyn Source>) -> (Vec<RecordBatch>, Vec<BadRow>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut batches = Vec::new();
    let mut bad = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "source did not end");
        match source.next().await.unwrap() {
            SourceEvent::Batch { rows, bad_rows } => {
                batches.push(rows);
                bad.extend(bad_rows);
            }
            SourceEvent::Idle => {}
            SourceEvent::End => return (batches, bad),
            SourceEvent::Changes { .. } => panic!("an append-only source produced retractions"),
            SourceEvent::Round { .. } => panic!("a source of one split produced a round"),
        }
    }
}

fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(schema, batches).unwrap()
}

fn error_text(result: Result<Box<dyn Source>, RuntimeError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(error) => error.to_string(),
    }
}

fn millis(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32, ms: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|date| date.and_hms_milli_opt(h, min, s, ms))
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn days(y: i32, m: u32, d: u32) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    (NaiveDate::from_ymd_opt(y, m, d).unwrap() - epoch).num_days() as i32
}

fn address_fields() -> Fields {
    Fields::from(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("zip", DataType::Int32, true),
    ])
}

/// Every supported kind of column: scalars, timestamps with and without zone, ARRAY, ROW.
fn all_types_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("score", DataType::Float64, true),
        Field::new("day", DataType::Date32, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new(
            "ts_ltz",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new_list("tags", Field::new("item", DataType::Utf8, true), true),
        Field::new("address", DataType::Struct(address_fields()), true),
    ]))
}

/// The three rows the JSON and CSV fixtures below describe.
fn all_types_expected(schema: &SchemaRef) -> RecordBatch {
    let ts = millis(2020, 7, 22, 12, 34, 56, 789);
    let tag_values = StringArray::from(vec!["x", "y", "z"]);
    let tags = ListArray::new(
        Arc::new(Field::new("item", DataType::Utf8, true)),
        arrow::buffer::OffsetBuffer::from_lengths([2, 1, 0]),
        Arc::new(tag_values),
        Some(arrow::buffer::NullBuffer::from(vec![true, true, false])),
    );
    let address = StructArray::new(
        address_fields(),
        vec![
            Arc::new(StringArray::from(vec![Some("Oslo"), Some("Lima"), None])) as ArrayRef,
            Arc::new(Int32Array::from(vec![Some(150), None, None])),
        ],
        Some(arrow::buffer::NullBuffer::from(vec![true, true, false])),
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(StringArray::from(vec![Some("a"), Some("b, c"), None])),
        Arc::new(
            Decimal128Array::from(vec![Some(1250), Some(300), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        Arc::new(Float64Array::from(vec![Some(1.5), Some(2.5), None])),
        Arc::new(Date32Array::from(vec![
            Some(days(2020, 7, 22)),
            Some(days(2020, 7, 23)),
            None,
        ])),
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(ts),
            Some(ts + 1000),
            None,
        ])),
        Arc::new(
            TimestampMillisecondArray::from(vec![Some(ts), Some(ts + 2000), None])
                .with_timezone("UTC"),
        ),
        Arc::new(tags),
        Arc::new(address),
    ];
    RecordBatch::try_new(schema.clone(), columns).unwrap()
}

#[tokio::test]
async fn json_file_with_every_type_decodes_exactly() {
    let dir = TempDir::new("json-types");
    // Row 1: SQL timestamps, a decimal as a string, an unknown field. Row 2: ISO-8601
    // timestamps, numbers as strings. Row 3: only the key, and no final newline.
    let path = dir.write(
        "data.json",
        concat!(
            r#"{"id":1,"name":"a","price":"12.50","ok":true,"score":1.5,"day":"2020-07-22","ts":"2020-07-22 12:34:56.789","ts_ltz":"2020-07-22 12:34:56.789Z","tags":["x","y"],"address":{"city":"Oslo","zip":150},"extra":{"ignored":true}}"#,
            "\n\n",
            r#"{"id":"2","name":"b, c","price":3,"ok":false,"score":"2.5","day":"2020-07-23","ts":"2020-07-22T12:34:57.789","ts_ltz":"2020-07-22T12:34:58.789Z","tags":["z"],"address":{"city":"Lima"}}"#,
            "\n",
            r#"{"id":3}"#
        ),
    );
    let schema = all_types_schema();
    let mut source = create_source(source_spec(
        schema.clone(),
        &[
            ("connector", "filesystem"),
            ("path", path.to_str().unwrap()),
            ("format", "json"),
        ],
        BadRowPolicy::Fail,
        100,
    ))
    .unwrap();
    let (batches, bad) = read_to_end(&mut source).await;
    assert!(bad.is_empty());
    assert_eq!(concat(&schema, &batches), all_types_expected(&schema));
    let counters = source.counters();
    assert_eq!(counters.rows.load(Ordering::Relaxed), 3);
    assert_eq!(counters.bad_rows.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn csv_file_with_every_type_decodes_exactly() {
    let dir = TempDir::new("csv-types");
    let path = dir.write(
        "data.csv",
        concat!(
            "id|name|price|ok|score|day|ts|ts_ltz|tags|address\n",
            "# a comment line\n",
            "1|a|12.50|true|1.5|2020-07-22|2020-07-22 12:34:56.789|2020-07-22 12:34:56.789Z|x;y|Oslo;150\n",
            "2|\"b, c\"|3|false|2.5|2020-07-23|2020-07-22T12:34:57.789|2020-07-22T12:34:58.789Z|z|Lima;\r\n",
            "3|N/A||||||||"
        ),
    );
    let schema = all_types_schema();
    let mut source = create_source(source_spec(
        schema.clone(),
        &[
            ("connector", "filesystem"),
            ("path", path.to_str().unwrap()),
            ("format", "csv"),
            ("csv.field-delimiter", "|"),
            ("csv.ignore-first-line", "true"),
            ("csv.allow-comments", "true"),
            ("csv.null-literal", "N/A"),
        ],
        BadRowPolicy::Fail,
        100,
    ))
    .unwrap();
    let (batches, bad) = read_to_end(&mut source).await;
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(concat(&schema, &batches), all_types_expected(&schema));
}

#[tokio::test]
async fn directory_reads_visible_files_in_name_order_with_metadata() {
    let dir = TempDir::new("directory");
    dir.write("b.json", "{\"id\":3}\n{\"id\":4}\n");
    dir.write("a.json", "{\"id\":1}\n{\"id\":2}\n");
    dir.write(".hidden.json", "{\"id\":100}\n");
    dir.write("_temporary.json", "{\"id\":200}\n");
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    dir.write("nested/c.json", "{\"id\":300}\n");

    let name_field = Arc::new(Field::new("file_name", DataType::Utf8, true));
    let schema = Arc::new(Schema::new(vec![
        Arc::new(Field::new("id", DataType::Int64, true)),
        name_field.clone(),
    ]));
    let mut spec = source_spec(
        schema.clone(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "json"),
        ],
        BadRowPolicy::Fail,
        1,
    );
    spec.metadata = vec![MetadataColumn {
        field: name_field,
        key: "file.name".into(),
    }];
    let mut source = create_source(spec).unwrap();
    let (batches, _) = read_to_end(&mut source).await;
    assert_eq!(batches.len(), 4, "batch_size 1 gives one batch per line");
    let all = concat(&schema, &batches);
    let ids: Vec<i64> = all.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    let names: Vec<&str> = all.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, vec!["a.json", "a.json", "b.json", "b.json"]);
}

fn id_name_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

const BAD_JSON: &str = concat!(
    "{\"id\":1,\"name\":\"a\"}\n",
    "{\"id\":2,\"name\":\"b\"}\n",
    "{\"id\":\"three\",\"name\":\"c\"}\n",
    "{\"id\":4,\"name\":\"d\"}\n",
    "{\"name\":\"no id\"}\n",
    "{\"id\":6,\n",
    "{\"id\":7,\"name\":\"g\"}\n",
);

fn bad_json_source(dir: &TempDir, policy: BadRowPolicy) -> Box<dyn Source> {
    let path = dir.write("bad.json", BAD_JSON);
    create_source(source_spec(
        id_name_schema(),
        &[
            ("connector", "filesystem"),
            ("path", path.to_str().unwrap()),
            ("format", "json"),
        ],
        policy,
        100,
    ))
    .unwrap()
}

#[tokio::test]
async fn bad_row_fail_names_file_and_line() {
    let dir = TempDir::new("bad-fail");
    let mut source = bad_json_source(&dir, BadRowPolicy::Fail);
    let error = loop {
        match source.next().await {
            Ok(SourceEvent::End) => panic!("expected a failure"),
            Ok(_) => {}
            Err(error) => break error.to_string(),
        }
    };
    assert!(error.contains("bad.json line 3"), "{error}");
    assert!(error.contains("three"), "{error}");
}

#[tokio::test]
async fn bad_row_skip_counts_and_keeps_good_rows() {
    let dir = TempDir::new("bad-skip");
    let mut source = bad_json_source(&dir, BadRowPolicy::Skip);
    let (batches, bad) = read_to_end(&mut source).await;
    assert!(bad.is_empty());
    let all = concat(&id_name_schema(), &batches);
    let ids: Vec<i64> = all.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![1, 2, 4, 7]);
    let counters = source.counters();
    assert_eq!(counters.bad_rows.load(Ordering::Relaxed), 3);
    assert_eq!(counters.rows.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn bad_row_dead_letter_returns_raw_lines() {
    let dir = TempDir::new("bad-dead-letter");
    let mut source = bad_json_source(&dir, BadRowPolicy::DeadLetter);
    let (batches, bad) = read_to_end(&mut source).await;
    assert_eq!(concat(&id_name_schema(), &batches).num_rows(), 4);
    assert_eq!(bad.len(), 3);
    assert!(bad[0].location.ends_with("bad.json line 3"), "{:?}", bad[0]);
    assert_eq!(bad[0].raw, "{\"id\":\"three\",\"name\":\"c\"}");
    assert!(bad[1].location.ends_with("bad.json line 5"));
    assert!(bad[1].error.contains("NOT NULL"), "{}", bad[1].error);
    assert!(bad[2].location.ends_with("bad.json line 6"));
    assert_eq!(bad[2].raw, "{\"id\":6,");
    assert_eq!(source.counters().bad_rows.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn csv_bad_rows_are_isolated() {
    let dir = TempDir::new("csv-bad");
    let path = dir.write("bad.csv", "1,a\n2,b,extra\nx,c\n4,d\n,e\n");
    let mut source = create_source(source_spec(
        id_name_schema(),
        &[
            ("connector", "filesystem"),
            ("path", path.to_str().unwrap()),
            ("format", "csv"),
        ],
        BadRowPolicy::DeadLetter,
        100,
    ))
    .unwrap();
    let (batches, bad) = read_to_end(&mut source).await;
    let all = concat(&id_name_schema(), &batches);
    let ids: Vec<i64> = all.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![1, 4]);
    let lines: Vec<&str> = bad.iter().map(|b| b.raw.as_str()).collect();
    assert_eq!(lines, vec!["2,b,extra", "x,c", ",e"]);
    assert!(
        bad[0].error.contains("number of fields"),
        "{}",
        bad[0].error
    );
    assert!(bad[1].error.contains("'x'"), "{}", bad[1].error);
    assert!(bad[2].error.contains("NOT NULL"), "{}", bad[2].error);
}

#[test]
fn flexible_json_nulls_type_conflicts_and_json_rejects_them() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("label", DataType::Utf8, true),
    ]));
    let chunk = b"{\"id\":\"oops\",\"label\":42}\n{\"id\":2,\"label\":true}\n";
    let location = |i: usize| format!("record {i}");

    let flexible = RowDecoder::new(
        schema.clone(),
        FormatOptions::new(RowFormat::FlexibleJson),
        BadRowPolicy::Skip,
    )
    .unwrap();
    let decoded = flexible.decode_lines(chunk, &location).unwrap();
    assert_eq!(decoded.bad_count, 0);
    let ids = decoded.rows.column(0).as_primitive::<Int64Type>();
    assert!(ids.is_null(0));
    assert_eq!(ids.value(1), 2);
    let labels: Vec<Option<&str>> = decoded.rows.column(1).as_string::<i32>().iter().collect();
    assert_eq!(labels, vec![Some("42"), Some("true")]);

    let strict = RowDecoder::new(
        schema,
        FormatOptions::new(RowFormat::Json),
        BadRowPolicy::DeadLetter,
    )
    .unwrap();
    let decoded = strict.decode_lines(chunk, &location).unwrap();
    assert_eq!(decoded.rows.num_rows(), 1);
    assert_eq!(decoded.bad_rows.len(), 1);
    assert_eq!(decoded.bad_rows[0].location, "record 0");
}

#[test]
fn nested_not_null_fields_are_checked() {
    let inner = Fields::from(vec![Field::new("x", DataType::Int32, false)]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("r", DataType::Struct(inner), true),
        Field::new_list("l", Field::new("item", DataType::Int32, false), true),
    ]));
    let decoder = RowDecoder::new(
        schema,
        FormatOptions::new(RowFormat::Json),
        BadRowPolicy::DeadLetter,
    )
    .unwrap();
    let chunk = concat!(
        "{\"r\":{\"x\":1},\"l\":[1,2]}\n",
        "{\"r\":{},\"l\":[1]}\n",
        "{\"r\":null,\"l\":[1,null]}\n",
        "{\"r\":null,\"l\":null}\n",
    );
    let decoded = decoder
        .decode_lines(chunk.as_bytes(), &|i| format!("line {}", i + 1))
        .unwrap();
    assert_eq!(decoded.rows.num_rows(), 2);
    let errors: Vec<(&str, &str)> = decoded
        .bad_rows
        .iter()
        .map(|b| (b.location.as_str(), b.error.as_str()))
        .collect();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].0, "line 2");
    assert!(errors[0].1.contains("'r.x'"), "{}", errors[0].1);
    assert_eq!(errors[1].0, "line 3");
    assert!(errors[1].1.contains("'l[]'"), "{}", errors[1].1);
}

/// Poll a monitored source until `rows` holds `want` rows and it then reported `Idle` three
/// times (so nothing more is pending); at most 5 s.
async fn poll_rows(source: &mut Box<dyn Source>, rows: &mut Vec<RecordBatch>, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut idles = 0;
    while rows.iter().map(RecordBatch::num_rows).sum::<usize>() < want || idles < 3 {
        assert!(
            Instant::now() < deadline,
            "tailing did not deliver {want} rows"
        );
        match source.next().await.unwrap() {
            SourceEvent::Batch {
                rows: batch,
                bad_rows,
            } => {
                assert!(bad_rows.is_empty());
                rows.push(batch);
            }
            SourceEvent::Idle => idles += 1,
            SourceEvent::End => panic!("a monitored source never ends"),
            SourceEvent::Changes { .. } => panic!("an append-only source produced retractions"),
            SourceEvent::Round { .. } => panic!("a source of one split produced a round"),
        }
    }
}

#[tokio::test]
async fn tailing_reads_appended_lines_and_new_files_but_no_partial_line() {
    let dir = TempDir::new("tail");
    dir.write(
        "a.json",
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n{\"id\":3,\"na",
    );
    let schema = id_name_schema();
    let mut source = create_source(source_spec(
        schema.clone(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "json"),
            ("source.monitor-interval", "100 ms"),
        ],
        BadRowPolicy::Fail,
        100,
    ))
    .unwrap();

    let mut rows: Vec<RecordBatch> = Vec::new();
    poll_rows(&mut source, &mut rows, 2).await;
    assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);

    dir.append("a.json", "me\":\"c\"}\n{\"id\":4,\"name\":\"d\"}\n");
    dir.write("b.json", "{\"id\":5,\"name\":\"e\"}\n");
    poll_rows(&mut source, &mut rows, 5).await;
    let all = concat(&schema, &rows);
    let ids: Vec<i64> = all.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    let names: Vec<&str> = all.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, vec!["a", "b", "c", "d", "e"]);
}

#[tokio::test]
async fn offsets_resume_after_the_last_line_read() {
    let dir = TempDir::new("offsets");
    dir.write("a.json", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
    dir.write("b.json", "{\"id\":4}\n{\"id\":5}");
    let schema = id_name_schema();
    let spec = source_spec(
        schema.clone(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "json"),
        ],
        BadRowPolicy::Fail,
        2,
    );
    let mut first = create_source(spec.clone()).unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match first.next().await.unwrap() {
            SourceEvent::Batch { rows, .. } => seen.push(rows),
            other => panic!("unexpected {other:?}"),
        }
    }
    let offset = first.offset().unwrap();

    let mut resumed = create_source(spec).unwrap();
    resumed.seek(&offset).unwrap();
    let (rest, _) = read_to_end(&mut resumed).await;
    let before: Vec<i64> = concat(&schema, &seen)
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    let after: Vec<i64> = concat(&schema, &rest)
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(before, vec![1, 2, 3]);
    assert_eq!(after, vec![4, 5]);
    assert!(resumed.seek(b"not json").is_err());
}

#[test]
fn unknown_option_and_missing_path_are_clear_errors() {
    let dir = TempDir::new("errors");
    let error = error_text(create_source(source_spec(
        id_name_schema(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "json"),
            ("scan.startup.mode", "earliest-offset"),
        ],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("'scan.startup.mode'"), "{error}");

    let missing = dir.path().join("missing.json");
    let error = error_text(create_source(source_spec(
        id_name_schema(),
        &[
            ("connector", "filesystem"),
            ("path", missing.to_str().unwrap()),
            ("format", "json"),
        ],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("missing.json"), "{error}");

    let error = error_text(create_source(source_spec(
        id_name_schema(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "avro"),
        ],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("avro"), "{error}");

    let error = error_text(create_source(source_spec(
        id_name_schema(),
        &[("connector", "datagen"), ("fields.nope.kind", "random")],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("fields.nope.kind"), "{error}");

    let nested = Arc::new(Schema::new(vec![Field::new(
        "address",
        DataType::Struct(address_fields()),
        true,
    )]));
    let error = error_text(create_source(source_spec(
        nested,
        &[("connector", "datagen")],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("'address'"), "{error}");

    let error = error_text(create_source(source_spec(
        id_name_schema(),
        &[("connector", "datagen"), ("fields.id.length", "5")],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("fields.id.length"), "{error}");
}

/// Random FLOAT and DOUBLE columns without bounds take Flink's default range (0 up to the
/// type's largest value), and bounds as wide as the type are fine.
#[tokio::test]
async fn datagen_floats_cover_wide_ranges() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("d", DataType::Float64, false),
        Field::new("f", DataType::Float32, false),
        Field::new("wide", DataType::Float64, false),
    ]));
    let options = [
        ("connector", "datagen"),
        ("number-of-rows", "200"),
        ("seed", "7"),
        ("fields.wide.min", "-1.7976931348623157e308"),
        ("fields.wide.max", "1.7976931348623157e308"),
    ];
    let mut source = create_source(source_spec(
        schema.clone(),
        &options,
        BadRowPolicy::Fail,
        64,
    ))
    .unwrap();
    let (batches, _) = read_to_end(&mut source).await;
    let rows = concat(&schema, &batches);
    assert_eq!(rows.num_rows(), 200);
    let d = rows.column(0).as_primitive::<Float64Type>();
    assert!(d.values().iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(
        d.values().iter().any(|v| *v > 1e300),
        "spread over the range"
    );
    let f = rows.column(1).as_primitive::<Float32Type>();
    assert!(f.values().iter().all(|v| v.is_finite() && *v >= 0.0));
    let wide = rows.column(2).as_primitive::<Float64Type>();
    assert!(wide.values().iter().all(|v| v.is_finite()));
    assert!(wide.values().iter().any(|v| *v < 0.0) && wide.values().iter().any(|v| *v > 0.0));

    let error = error_text(create_source(source_spec(
        schema,
        &[
            ("connector", "datagen"),
            ("fields.d.min", "2"),
            ("fields.d.max", "1"),
        ],
        BadRowPolicy::Fail,
        10,
    )));
    assert!(error.contains("fields.d.min"), "{error}");
}

fn datagen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("n", DataType::Int32, false),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("price", DataType::Decimal128(8, 2), true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new_list("tags", Field::new("item", DataType::Int32, true), true),
    ]))
}

fn datagen_options(seed: &str) -> Vec<(&'static str, String)> {
    vec![
        ("connector", "datagen".into()),
        ("rows-per-second", "1000000".into()),
        ("seed", seed.into()),
        ("fields.seq.kind", "sequence".into()),
        ("fields.seq.start", "10".into()),
        ("fields.seq.end", "509".into()),
        ("fields.n.min", "-5".into()),
        ("fields.n.max", "5".into()),
        ("fields.x.min", "0.5".into()),
        ("fields.x.max", "0.75".into()),
        ("fields.x.null-rate", "0.2".into()),
        ("fields.s.length", "8".into()),
        ("fields.price.min", "1.00".into()),
        ("fields.price.max", "2.50".into()),
        ("fields.day.max-past", "10 d".into()),
        ("fields.ts.max-past", "1 h".into()),
        ("fields.tags.length", "3".into()),
        ("fields.tags.min", "0".into()),
        ("fields.tags.max", "9".into()),
    ]
}

async fn datagen_rows(pairs: &[(&str, String)]) -> RecordBatch {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let schema = datagen_schema();
    let mut source =
        create_source(source_spec(schema.clone(), &pairs, BadRowPolicy::Fail, 64)).unwrap();
    let (batches, _) = read_to_end(&mut source).await;
    concat(&schema, &batches)
}

/// The batch without its time-dependent columns (`day`, `ts`).
fn without_time(batch: &RecordBatch) -> RecordBatch {
    batch.project(&[0, 1, 2, 3, 4, 5, 8]).unwrap()
}

#[tokio::test]
async fn datagen_is_deterministic_with_a_seed_and_respects_bounds() {
    let first = datagen_rows(&datagen_options("42")).await;
    let second = datagen_rows(&datagen_options("42")).await;
    let other = datagen_rows(&datagen_options("43")).await;
    assert_eq!(
        first.num_rows(),
        500,
        "the sequence 10..=509 bounds the source"
    );
    assert_eq!(without_time(&first), without_time(&second));
    assert_ne!(without_time(&first), without_time(&other));

    let seq: Vec<i64> = first
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(seq, (10..=509).collect::<Vec<i64>>());
    let n = first.column(1).as_primitive::<Int32Type>();
    assert!(n.values().iter().all(|v| (-5..=5).contains(v)));
    assert!(n.values().contains(&-5) && n.values().contains(&5));
    let x = first.column(2).as_primitive::<Float64Type>();
    assert!(x.iter().flatten().all(|v| (0.5..=0.75).contains(&v)));
    let nulls = x.null_count();
    assert!(
        (50..=150).contains(&nulls),
        "null-rate 0.2 of 500 gave {nulls}"
    );
    let s = first.column(3).as_string::<i32>();
    assert!(s
        .iter()
        .flatten()
        .all(|v| v.len() == 8 && v.chars().all(|c| c.is_ascii_hexdigit())));
    let price = first.column(4).as_primitive::<Decimal128Type>();
    assert!(price.values().iter().all(|v| (100..=250).contains(v)));
    let today = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400) as i32;
    let day = first.column(6).as_primitive::<Date32Type>();
    assert!(day
        .values()
        .iter()
        .all(|d| (today - 11..=today).contains(d)));
    let ts = first
        .column(7)
        .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(ts
        .values()
        .iter()
        .all(|t| (now_ms - 3_700_000..=now_ms).contains(t)));
    let tags = first.column(8).as_list::<i32>();
    assert!((0..tags.len()).all(|i| tags.value_length(i) == 3));
    let tag_values = tags.values().as_primitive::<Int32Type>();
    assert!(tag_values.values().iter().all(|v| (0..=9).contains(v)));
}

#[tokio::test]
async fn datagen_number_of_rows_and_seek_resume() {
    let mut pairs = datagen_options("7");
    pairs.push(("number-of-rows", "100".into()));
    let full = datagen_rows(&pairs).await;
    assert_eq!(full.num_rows(), 100);

    let pairs_ref: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let schema = datagen_schema();
    let spec = source_spec(schema.clone(), &pairs_ref, BadRowPolicy::Fail, 30);
    let mut first = create_source(spec.clone()).unwrap();
    let batch = loop {
        if let SourceEvent::Batch { rows, .. } = first.next().await.unwrap() {
            break rows;
        }
    };
    let offset = first.offset().unwrap();
    let mut resumed = create_source(spec).unwrap();
    resumed.seek(&offset).unwrap();
    let (rest, _) = read_to_end(&mut resumed).await;
    let rest = concat(&schema, &rest);
    assert_eq!(batch.num_rows() + rest.num_rows(), 100);
    assert_eq!(
        without_time(&rest),
        without_time(&full.slice(batch.num_rows(), rest.num_rows()))
    );
}

#[tokio::test]
async fn datagen_rate_is_roughly_respected() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let mut source = create_source(source_spec(
        schema,
        &[("connector", "datagen"), ("rows-per-second", "200")],
        BadRowPolicy::Fail,
        1000,
    ))
    .unwrap();
    let start = Instant::now();
    let mut rows = 0;
    let mut idles = 0;
    while start.elapsed() < Duration::from_secs(1) {
        match source.next().await.unwrap() {
            SourceEvent::Batch { rows: batch, .. } => rows += batch.num_rows(),
            SourceEvent::Idle => idles += 1,
            SourceEvent::End => panic!("an unbounded datagen never ends"),
            SourceEvent::Changes { .. } => panic!("datagen produced retractions"),
            SourceEvent::Round { .. } => panic!("datagen produced a round"),
        }
    }
    assert!(
        (120..=280).contains(&rows),
        "200 rows/s for 1 s gave {rows}"
    );
    assert_eq!(source.counters().rows.load(Ordering::Relaxed), rows as u64);
    assert!(
        idles <= 2,
        "a rate of 200 rows/s makes batches of 20 rows, not idles: {idles}"
    );

    // A rate below ten rows per second throttles with Idle.
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let mut slow = create_source(source_spec(
        schema,
        &[("connector", "datagen"), ("rows-per-second", "2")],
        BadRowPolicy::Fail,
        1000,
    ))
    .unwrap();
    assert!(matches!(slow.next().await.unwrap(), SourceEvent::Idle));
}

/// A writer tests can read back.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn print_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("x", DataType::Float64, true),
    ]))
}

fn print_changes(ids: &[i64], names: &[Option<&str>], weights: &[i64]) -> ChangeBatch {
    let schema = print_schema();
    let ts = millis(2020, 1, 1, 0, 0, 0, 0);
    let n = ids.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(StringArray::from(names.to_vec())),
        Arc::new(TimestampMillisecondArray::from(
            (0..n).map(|i| ts + 1500 * i as i64).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(vec![Some(1.0); n])),
    ];
    ChangeBatch::new(
        RecordBatch::try_new(schema, columns).unwrap(),
        Int64Array::from(weights.to_vec()),
    )
    .unwrap()
}

#[tokio::test]
async fn print_formats_inserts_deletes_and_updates_like_flink() {
    let buffer = SharedBuffer::default();
    let spec = sink_spec(print_schema(), &[("connector", "print")], vec![]);
    let mut sink = PrintSink::with_writer(&spec, Box::new(buffer.clone())).unwrap();
    sink.write(&print_changes(
        &[1, 2, 3],
        &[Some("a"), None, Some("c")],
        &[1, -1, 2],
    ))
    .await
    .unwrap();
    assert_eq!(
        buffer.text(),
        concat!(
            "-D[2, null, 2020-01-01T00:00:01.500, 1.0]\n",
            "+I[1, a, 2020-01-01T00:00, 1.0]\n",
            "+I[3, c, 2020-01-01T00:00:03, 1.0]\n",
            "+I[3, c, 2020-01-01T00:00:03, 1.0]\n",
        )
    );

    let buffer = SharedBuffer::default();
    let spec = sink_spec(
        print_schema(),
        &[("connector", "print"), ("print-identifier", "orders")],
        vec![0],
    );
    let mut sink = PrintSink::with_writer(&spec, Box::new(buffer.clone())).unwrap();
    sink.write(&print_changes(
        &[1, 1, 2],
        &[Some("old"), Some("new"), Some("x")],
        &[-1, 1, -1],
    ))
    .await
    .unwrap();
    assert_eq!(
        buffer.text(),
        concat!(
            "orders> -U[1, old, 2020-01-01T00:00, 1.0]\n",
            "orders> -D[2, x, 2020-01-01T00:00:03, 1.0]\n",
            "orders> +U[1, new, 2020-01-01T00:00:01.500, 1.0]\n",
        )
    );

    let error = match create_sink(sink_spec(
        print_schema(),
        &[("connector", "print"), ("print.identifier", "x")],
        vec![],
    )) {
        Ok(_) => panic!("expected an error"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("'print.identifier'"), "{error}");
}

#[tokio::test]
async fn blackhole_counts_and_discards() {
    let mut sink = create_sink(sink_spec(
        print_schema(),
        &[("connector", "blackhole")],
        vec![],
    ))
    .unwrap();
    sink.write(&print_changes(&[1, 2], &[None, None], &[3, -2]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    let mut counted = sluice_runtime::connectors::blackhole::BlackholeSink::new(&sink_spec(
        print_schema(),
        &[("connector", "blackhole")],
        vec![],
    ))
    .unwrap();
    let rows = counted.rows();
    counted
        .write(&print_changes(&[1, 2], &[None, None], &[3, -2]))
        .await
        .unwrap();
    assert_eq!(rows.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn filesystem_sink_writes_json_lines_and_rejects_deletes() {
    let dir = TempDir::new("sink-json");
    let mut sink = create_sink(sink_spec(
        print_schema(),
        &[
            ("connector", "filesystem"),
            ("path", dir.path().to_str().unwrap()),
            ("format", "json"),
        ],
        vec![],
    ))
    .unwrap();
    sink.write(&print_changes(&[1, 2], &[Some("a"), None], &[1, 2]))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("part-0.json")).unwrap();
    assert_eq!(
        text,
        concat!(
            "{\"id\":1,\"name\":\"a\",\"ts\":\"2020-01-01 00:00:00\",\"x\":1.0}\n",
            "{\"id\":2,\"name\":null,\"ts\":\"2020-01-01 00:00:01.500\",\"x\":1.0}\n",
            "{\"id\":2,\"name\":null,\"ts\":\"2020-01-01 00:00:01.500\",\"x\":1.0}\n",
        )
    );
    let error = sink
        .write(&print_changes(&[1], &[Some("a")], &[-1]))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("filesystem sink cannot apply deletes: the query produces updates"),
        "{error}"
    );

    // ISO-8601 timestamps on request.
    let iso_path = dir.path().join("iso.json");
    let mut iso = create_sink(sink_spec(
        print_schema(),
        &[
            ("connector", "filesystem"),
            ("path", iso_path.to_str().unwrap()),
            ("format", "json"),
            ("json.timestamp-format.standard", "ISO-8601"),
        ],
        vec![],
    ))
    .unwrap();
    iso.write(&print_changes(&[1, 2], &[Some("a"), None], &[1, 1]))
        .await
        .unwrap();
    iso.flush().await.unwrap();
    let text = std::fs::read_to_string(&iso_path).unwrap();
    assert!(
        text.contains("\"ts\":\"2020-01-01T00:00:01.500\""),
        "{text}"
    );

    let rows = encode_json_rows(&print_changes(&[7], &[Some("q\nr")], &[1]).data).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        String::from_utf8(rows[0].clone()).unwrap(),
        "{\"id\":7,\"name\":\"q\\nr\",\"ts\":\"2020-01-01 00:00:00\",\"x\":1.0}"
    );
}

#[tokio::test]
async fn filesystem_sink_csv_round_trips_through_the_source() {
    let dir = TempDir::new("sink-csv");
    let schema = all_types_schema();
    let expected = all_types_expected(&schema);
    let path = dir.path().join("out.csv");
    let format_options = [
        ("format", "csv"),
        ("csv.ignore-first-line", "true"),
        ("csv.null-literal", "N/A"),
    ];
    let mut sink_options = vec![
        ("connector", "filesystem"),
        ("path", path.to_str().unwrap()),
    ];
    sink_options.extend_from_slice(&format_options);
    let mut sink = create_sink(sink_spec(schema.clone(), &sink_options, vec![])).unwrap();
    sink.write(&ChangeBatch::inserts(expected.clone()))
        .await
        .unwrap();
    sink.flush().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("id,name,price,ok,score,day,ts,ts_ltz,tags,address\n"),
        "{text}"
    );
    assert!(text.contains("2020-07-22 12:34:56.789Z"), "{text}");

    let mut source_options = vec![
        ("connector", "filesystem"),
        ("path", path.to_str().unwrap()),
    ];
    source_options.extend_from_slice(&format_options);
    let mut source = create_source(source_spec(
        schema.clone(),
        &source_options,
        BadRowPolicy::Fail,
        100,
    ))
    .unwrap();
    let (batches, _) = read_to_end(&mut source).await;
    assert_eq!(concat(&schema, &batches), expected);
}
