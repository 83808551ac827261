//! The `kafka` and `upsert-kafka` connectors (Flink's option names and semantics), over the
//! pure-Rust `rskafka` client.
//!
//! Source (`kafka`): reads one topic, all of its partitions by explicit assignment (no
//! consumer group is joined; `properties.group.id` is accepted and unused), decodes each record
//! value as one JSON object into the table's physical columns and fills the requested metadata
//! columns (`timestamp`, `partition`, `offset`, `topic`, `key`). Records with a null value are
//! skipped (as Flink's JSON format does). Undecodable records follow the table's
//! [`BadRowPolicy`], located as `topic/partition@offset`. The source is unbounded unless
//! `scan.bounded.mode` says where to stop; it waits at most ~100 ms per poll.
//!
//! Source (`upsert-kafka`): reads the topic as a changelog keyed by the table's primary key
//! (the record key, a JSON object of the key columns). It keeps the last row per key and emits
//! [`SourceEvent::Changes`]: a new value for a key retracts the key's previous row and inserts
//! the new one; a tombstone (null value) retracts the key's row.
//!
//! Positions: [`Source::offset`] is a JSON object `{"topic": .., "offsets": {partition: next
//! offset}}` counting only records already returned to the caller. [`Source::seek`] resumes
//! there; for `upsert-kafka` it first replays the topic up to those offsets without emitting, to
//! rebuild the per-key state the emitted changes were based on.
//!
//! Sink (`kafka`): append-only; each inserted row (repeated by its weight) becomes one record
//! whose value is the JSON row and whose key is the JSON of `key.fields` (if any); a negative
//! weight is an error. Sink (`upsert-kafka`): per primary key, the last inserted row of a batch
//! is written as the key's value and a key that is only deleted gets a tombstone; records are
//! partitioned by Kafka's murmur2 hash of the key bytes so a key's updates stay ordered.
//!
//! Invariants: every produced batch has exactly [`SourceSpec::schema`]; offsets only advance
//! over records that were returned (as rows, bad rows, or skipped tombstones); nothing that
//! comes from the broker or the options panics.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::json::ReaderBuilder;
use futures::future::join_all;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::{Record, RecordAndOffset};
use rskafka::BackoffConfig;
use serde::{Deserialize, Serialize};
use sluice_storage::RowCodec;

use super::format::{FormatOptions, RowEncoder, RowFormat, TimestampStandard};
use super::{
    BadRow, BadRowPolicy, ConnectorOptions, Sink, SinkSpec, Source, SourceCounters, SourceEvent,
    SourceSpec,
};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

/// How long one poll waits for new records on the broker.
const FETCH_MAX_WAIT_MS: i32 = 100;
/// Upper bound of bytes per partition fetch.
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;
/// Records produced in one request are kept below this many (approximate) bytes, under the
/// broker's default `message.max.bytes` (1 MiB).
const PRODUCE_MAX_BYTES: usize = 768 * 1024;
/// How long the client keeps retrying a failing broker operation before giving up.
const BROKER_DEADLINE: Duration = Duration::from_secs(30);
/// Bad-row raw text is cut to this many bytes.
const MAX_RAW_BYTES: usize = 1024;

/// Options of the JSON format that both connectors accept (with `json.`, `value.json.` and
/// `key.json.` prefixes).
const JSON_FORMAT_OPTIONS: &[&str] = &[
    "fail-on-missing-field",
    "ignore-parse-errors",
    "timestamp-format.standard",
    "map-null-key.mode",
    "map-null-key.literal",
    "encode.decimal-as-plain-number",
    "encode.ignore-null-fields",
];

/// Connector-specific options (besides `properties.*` and the JSON format options).
const KAFKA_OPTIONS: &[&str] = &[
    "topic",
    "topic-pattern",
    "format",
    "key.format",
    "key.fields",
    "key.fields-prefix",
    "value.format",
    "value.fields-include",
    "scan.startup.mode",
    "scan.startup.specific-offsets",
    "scan.startup.timestamp-millis",
    "scan.bounded.mode",
    "scan.bounded.specific-offsets",
    "scan.bounded.timestamp-millis",
    "scan.topic-partition-discovery.interval",
    "scan.parallelism",
    "sink.partitioner",
    "sink.parallelism",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "sink.buffer-flush.max-rows",
    "sink.buffer-flush.interval",
];

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// Which columns the record value holds (`value.fields-include`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueFields {
    /// Every physical column, key columns included (Flink's default).
    All,
    /// Every physical column but the key columns.
    ExceptKey,
}

/// Settings of one JSON format instance (value or key).
#[derive(Debug, Clone)]
struct JsonSettings {
    /// `flexible-json`: a value that does not fit its column's type reads as NULL instead of
    /// making the record bad (the record is still bad if the column is NOT NULL).
    flexible: bool,
    fail_on_missing_field: bool,
    ignore_parse_errors: bool,
    /// `json.timestamp-format.standard`: `SQL` (`2020-12-30 12:13:14.123`, the default) or
    /// `ISO-8601` (`2020-12-30T12:13:14.123`). Reading accepts both.
    iso_timestamps: bool,
    /// `json.encode.ignore-null-fields`: omit null fields when writing.
    ignore_null_fields: bool,
}

impl JsonSettings {
    /// The settings of format `format` whose options carry `prefix` (`json.`, `value.json.`
    /// or `key.json.`).
    fn from_options(
        connector: &str,
        format: &str,
        options: &ConnectorOptions,
        prefixes: &[&str],
    ) -> Result<Self> {
        let flexible = match format.trim().to_ascii_lowercase().as_str() {
            "json" => false,
            "flexible-json" => true,
            other => {
                return Err(RuntimeError::Connector(format!(
                    "connector '{connector}' supports the formats 'json' and 'flexible-json', not '{other}'"
                )))
            }
        };
        let lookup = |name: &str| -> Option<(String, &str)> {
            prefixes.iter().find_map(|prefix| {
                let key = format!("{prefix}{name}");
                options.get(&key).map(|value| (key, value))
            })
        };
        let flag = |name: &str| -> Result<bool> {
            match lookup(name) {
                None => Ok(false),
                Some((key, value)) => parse_bool(&key, value),
            }
        };
        let fail_on_missing_field = flag("fail-on-missing-field")?;
        let ignore_parse_errors = flag("ignore-parse-errors")?;
        if fail_on_missing_field && ignore_parse_errors {
            return Err(RuntimeError::Connector(
                "the JSON options 'fail-on-missing-field' and 'ignore-parse-errors' cannot both be true"
                    .into(),
            ));
        }
        let iso_timestamps = match lookup("timestamp-format.standard") {
            None => false,
            Some((key, value)) => match value.trim().to_ascii_uppercase().as_str() {
                "SQL" => false,
                "ISO-8601" => true,
                _ => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{value}' for option '{key}' (expected SQL or ISO-8601)"
                    )))
                }
            },
        };
        if let Some((key, value)) = lookup("map-null-key.mode") {
            if !value.trim().eq_ignore_ascii_case("FAIL") {
                return Err(RuntimeError::Connector(format!(
                    "option '{key}' = '{value}' is not supported (maps with null keys always fail)"
                )));
            }
        }
        Ok(Self {
            flexible,
            fail_on_missing_field,
            ignore_parse_errors,
            iso_timestamps,
            ignore_null_fields: flag("encode.ignore-null-fields")?,
        })
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(RuntimeError::Connector(format!(
            "invalid value '{value}' for option '{key}' (expected true or false)"
        ))),
    }
}

fn parse_i64(key: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse()
        .map_err(|_| RuntimeError::Connector(format!("invalid value '{value}' for option '{key}'")))
}

/// Where a source starts reading each partition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StartPosition {
    Earliest,
    Latest,
    /// Listed partitions start at the given offsets, the others at the earliest offset.
    Specific(BTreeMap<i32, i64>),
    /// The first offset whose record timestamp is at or after these epoch milliseconds.
    Timestamp(i64),
}

/// Where a bounded source stops (exclusive end offsets, resolved when it connects).
#[derive(Debug, Clone, PartialEq, Eq)]
enum EndPosition {
    Unbounded,
    Latest,
    /// Listed partitions end at the given offsets; the others are unbounded.
    Specific(BTreeMap<i32, i64>),
    Timestamp(i64),
}

/// `partition:0,offset:42;partition:1,offset:300`.
fn parse_specific_offsets(key: &str, value: &str) -> Result<BTreeMap<i32, i64>> {
    let invalid = |detail: &str| {
        RuntimeError::Connector(format!(
            "invalid value '{value}' for option '{key}' ({detail}; expected e.g. 'partition:0,offset:42;partition:1,offset:300')"
        ))
    };
    let mut offsets = BTreeMap::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut partition = None;
        let mut offset = None;
        for part in entry.split(',') {
            let (name, number) = part.split_once(':').ok_or_else(|| invalid(entry))?;
            match name.trim() {
                "partition" => {
                    partition = Some(
                        number
                            .trim()
                            .parse::<i32>()
                            .map_err(|_| invalid("bad partition"))?,
                    )
                }
                "offset" => {
                    offset = Some(
                        number
                            .trim()
                            .parse::<i64>()
                            .map_err(|_| invalid("bad offset"))?,
                    )
                }
                _ => return Err(invalid(entry)),
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) if p >= 0 && o >= 0 => {
                offsets.insert(p, o);
            }
            _ => return Err(invalid(entry)),
        }
    }
    if offsets.is_empty() {
        return Err(invalid("no offsets"));
    }
    Ok(offsets)
}

/// How the `kafka` sink picks a partition (`sink.partitioner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partitioner {
    /// Records with a key: murmur2 hash of the key (Kafka's default partitioner); without a key:
    /// round robin.
    Default,
    /// Every record to the first partition (Flink: one partition per sink task; we run one).
    Fixed,
    RoundRobin,
}

/// Options shared by the source and the sink of one table.
#[derive(Debug, Clone)]
struct KafkaConfig {
    /// `kafka` or `upsert-kafka`.
    connector: &'static str,
    upsert: bool,
    table: String,
    topic: String,
    bootstrap_servers: Vec<String>,
    compression: Compression,
    value_format: JsonSettings,
    key_format: Option<JsonSettings>,
    /// Indices of the key columns among the physical columns.
    key_fields: Vec<usize>,
    value_fields: ValueFields,
}

impl KafkaConfig {
    /// Validate the options of a table with `physical` columns; `primary_key` indexes them.
    fn new(
        table: &str,
        options: &ConnectorOptions,
        physical: &Schema,
        primary_key: &[usize],
    ) -> Result<Self> {
        let (connector, upsert) = match options.connector() {
            Some(name) if name.eq_ignore_ascii_case("upsert-kafka") => ("upsert-kafka", true),
            _ => ("kafka", false),
        };
        let mut known: Vec<String> = KAFKA_OPTIONS.iter().map(|s| s.to_string()).collect();
        for prefix in [
            "json.",
            "value.json.",
            "key.json.",
            "flexible-json.",
            "value.flexible-json.",
            "key.flexible-json.",
        ] {
            known.extend(JSON_FORMAT_OPTIONS.iter().map(|o| format!("{prefix}{o}")));
        }
        let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
        options.check_known(connector, &known_refs, &["properties."])?;

        if options.get("topic-pattern").is_some() {
            return Err(RuntimeError::Connector(format!(
                "connector '{connector}': 'topic-pattern' is not supported; name one 'topic'"
            )));
        }
        let topic = options.required(connector, "topic")?.trim().to_string();
        if topic.contains(';') {
            return Err(RuntimeError::Connector(format!(
                "connector '{connector}' reads or writes one topic; '{topic}' lists several"
            )));
        }
        if topic.is_empty() {
            return Err(RuntimeError::Connector(format!(
                "connector '{connector}': option 'topic' is empty"
            )));
        }
        let bootstrap_servers: Vec<String> = options
            .required(connector, "properties.bootstrap.servers")?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if bootstrap_servers.is_empty() {
            return Err(RuntimeError::Connector(format!(
                "connector '{connector}': option 'properties.bootstrap.servers' is empty"
            )));
        }
        let mut compression = Compression::NoCompression;
        for (key, value) in options.iter() {
            match key {
                "properties.bootstrap.servers" => {}
                "properties.group.id" => tracing::debug!(
                    table,
                    "kafka: 'properties.group.id' is accepted; partitions are assigned explicitly"
                ),
                "properties.compression.type" => {
                    compression = match value.trim().to_ascii_lowercase().as_str() {
                        "none" => Compression::NoCompression,
                        "gzip" => Compression::Gzip,
                        "zstd" => Compression::Zstd,
                        "lz4" => Compression::Lz4,
                        "snappy" => Compression::Snappy,
                        other => {
                            return Err(RuntimeError::Connector(format!(
                        "'properties.compression.type' = '{other}' is not supported (none, gzip, zstd, lz4 or snappy)"
                    )))
                        }
                    }
                }
                key if key.starts_with("properties.") => {
                    tracing::debug!(table, option = key, "kafka: property accepted and ignored")
                }
                _ => {}
            }
        }

        let format = options.get("format");
        let value_format_name = options.get("value.format");
        let value_format_name =
            match (upsert, format, value_format_name) {
                (true, Some(_), _) => return Err(RuntimeError::Connector(
                    "connector 'upsert-kafka' takes 'key.format' and 'value.format', not 'format'"
                        .into(),
                )),
                (_, Some(_), Some(_)) => {
                    return Err(RuntimeError::Connector(format!(
                        "connector '{connector}': set either 'format' or 'value.format', not both"
                    )))
                }
                (_, Some(f), None) | (_, None, Some(f)) => f,
                (_, None, None) => {
                    return Err(RuntimeError::Connector(format!(
                        "connector '{connector}' requires the option '{}'",
                        if upsert { "value.format" } else { "format" }
                    )))
                }
            };
        let value_format = JsonSettings::from_options(
            connector,
            value_format_name,
            options,
            &[
                "value.json.",
                "json.",
                "value.flexible-json.",
                "flexible-json.",
            ],
        )?;
        let key_format = match options.get("key.format") {
            Some(name) => Some(JsonSettings::from_options(
                connector,
                name,
                options,
                &["key.json.", "key.flexible-json."],
            )?),
            None if upsert => {
                return Err(RuntimeError::Connector(
                    "connector 'upsert-kafka' requires the option 'key.format'".into(),
                ))
            }
            None => None,
        };
        if options.get("key.fields-prefix").is_some() {
            return Err(RuntimeError::Connector(format!(
                "connector '{connector}': 'key.fields-prefix' is not supported"
            )));
        }

        let key_fields = if upsert {
            if options.get("key.fields").is_some() {
                return Err(RuntimeError::Connector(
                    "connector 'upsert-kafka' keys records by the PRIMARY KEY; remove 'key.fields'"
                        .into(),
                ));
            }
            if primary_key.is_empty() {
                return Err(RuntimeError::Connector(format!(
                    "table {table}: connector 'upsert-kafka' requires a PRIMARY KEY"
                )));
            }
            if let Some(bad) = primary_key.iter().find(|&&i| i >= physical.fields().len()) {
                return Err(RuntimeError::Connector(format!(
                    "table {table}: primary key column #{bad} is not a physical column"
                )));
            }
            primary_key.to_vec()
        } else {
            match options.get("key.fields") {
                Some(list) => {
                    if key_format.is_none() {
                        return Err(RuntimeError::Connector(
                            "connector 'kafka': 'key.fields' requires 'key.format'".into(),
                        ));
                    }
                    list.split(';')
                        .map(str::trim)
                        .filter(|name| !name.is_empty())
                        .map(|name| {
                            physical.index_of(name).map_err(|_| {
                                RuntimeError::Connector(format!(
                                    "table {table}: 'key.fields' names '{name}', which is not a physical column"
                                ))
                            })
                        })
                        .collect::<Result<Vec<usize>>>()?
                }
                None => {
                    if key_format.is_some() {
                        return Err(RuntimeError::Connector(
                            "connector 'kafka': 'key.format' requires 'key.fields'".into(),
                        ));
                    }
                    Vec::new()
                }
            }
        };
        let value_fields = match options.get("value.fields-include") {
            None => ValueFields::All,
            Some(v) => match v.trim().to_ascii_uppercase().as_str() {
                "ALL" => ValueFields::All,
                "EXCEPT_KEY" => {
                    if key_fields.is_empty() {
                        return Err(RuntimeError::Connector(format!(
                            "connector '{connector}': 'value.fields-include' = 'EXCEPT_KEY' requires key fields"
                        )));
                    }
                    ValueFields::ExceptKey
                }
                _ => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{v}' for option 'value.fields-include' (expected ALL or EXCEPT_KEY)"
                    )))
                }
            },
        };
        Ok(Self {
            connector,
            upsert,
            table: table.to_string(),
            topic,
            bootstrap_servers,
            compression,
            value_format,
            key_format,
            key_fields,
            value_fields,
        })
    }

    /// Physical column indices held by the record value.
    fn value_columns(&self, physical_len: usize) -> Vec<usize> {
        (0..physical_len)
            .filter(|i| self.value_fields == ValueFields::All || !self.key_fields.contains(i))
            .collect()
    }

    async fn client(&self) -> Result<Client> {
        ClientBuilder::new(self.bootstrap_servers.clone())
            .client_id("sluice")
            .backoff_config(BackoffConfig {
                deadline: Some(BROKER_DEADLINE),
                ..BackoffConfig::default()
            })
            .build()
            .await
            .map_err(|e| {
                RuntimeError::Connector(format!(
                    "table {}: cannot connect to kafka at {}: {e}",
                    self.table,
                    self.bootstrap_servers.join(",")
                ))
            })
    }

    /// The topic's partitions, in order; an error if the topic does not exist.
    async fn partitions(&self, client: &Client) -> Result<Vec<i32>> {
        let topics = client
            .list_topics()
            .await
            .map_err(|e| self.broker_error("listing topics", e))?;
        let topic = topics
            .into_iter()
            .find(|t| t.name == self.topic)
            .ok_or_else(|| {
                RuntimeError::Connector(format!(
                    "table {}: kafka topic '{}' does not exist at {}",
                    self.table,
                    self.topic,
                    self.bootstrap_servers.join(",")
                ))
            })?;
        if topic.partitions.is_empty() {
            return Err(RuntimeError::Connector(format!(
                "table {}: kafka topic '{}' has no partitions",
                self.table, self.topic
            )));
        }
        Ok(topic.partitions.into_iter().collect())
    }

    fn broker_error(&self, action: &str, error: rskafka::client::error::Error) -> RuntimeError {
        RuntimeError::Connector(format!(
            "table {}: kafka topic '{}': {action} failed: {error}",
            self.table, self.topic
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON rows
// ---------------------------------------------------------------------------------------------

/// Decodes JSON objects (one per input) into rows of a fixed schema, isolating bad inputs.
#[derive(Debug)]
struct JsonRowDecoder {
    schema: SchemaRef,
    settings: JsonSettings,
}

/// Rows decoded from some of the inputs: row `i` of `batch` came from input `inputs[i]`
/// (ascending).
struct DecodedRows {
    batch: RecordBatch,
    inputs: Vec<usize>,
    /// Inputs that failed, with the reason.
    failed: Vec<(usize, String)>,
}

impl JsonRowDecoder {
    fn new(schema: SchemaRef, settings: JsonSettings) -> Self {
        Self { schema, settings }
    }

    /// Check that an input is one well-formed JSON object (and, if asked, has every field).
    fn check(&self, input: &[u8]) -> std::result::Result<(), String> {
        let first = input.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err("expected a JSON object".into());
        }
        if self.settings.fail_on_missing_field {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(input).map_err(|e| format!("invalid JSON: {e}"))?;
            if let Some(field) = self
                .schema
                .fields()
                .iter()
                .find(|f| !object.contains_key(f.name()))
            {
                return Err(format!("missing field '{}'", field.name()));
            }
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(input)
                .map_err(|e| format!("invalid JSON: {e}"))?;
        }
        Ok(())
    }

    /// Decode all of `inputs` into one batch, or fail as a whole.
    fn decode_all(&self, inputs: &[&[u8]]) -> std::result::Result<RecordBatch, String> {
        let mut decoder = ReaderBuilder::new(self.schema.clone())
            .with_batch_size(inputs.len().max(1))
            // As Flink: numbers and booleans are accepted for VARCHAR columns (as their text).
            .with_coerce_primitive(true)
            .with_ignore_type_conflicts(self.settings.flexible)
            .build_decoder()
            .map_err(|e| e.to_string())?;
        for input in inputs {
            let read = decoder.decode(input).map_err(|e| e.to_string())?;
            let newline = decoder.decode(b"\n").map_err(|e| e.to_string())?;
            if read != input.len() || newline != 1 {
                return Err("trailing data after the JSON object".into());
            }
        }
        if decoder.has_partial_record() {
            return Err("incomplete JSON object".into());
        }
        let batch = decoder
            .flush()
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone()));
        if batch.num_rows() != inputs.len() {
            return Err(format!(
                "expected {} JSON objects, found {}",
                inputs.len(),
                batch.num_rows()
            ));
        }
        Ok(batch)
    }

    /// Decode each input as one row; inputs that fail are reported, not fatal.
    fn decode(&self, inputs: &[&[u8]]) -> Result<DecodedRows> {
        let mut failed = Vec::new();
        let mut candidates = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            match self.check(input) {
                Ok(()) => candidates.push(i),
                Err(error) => failed.push((i, error)),
            }
        }
        let candidate_inputs: Vec<&[u8]> = candidates.iter().map(|&i| inputs[i]).collect();
        if let Ok(batch) = self.decode_all(&candidate_inputs) {
            return Ok(DecodedRows {
                batch,
                inputs: candidates,
                failed,
            });
        }
        // Slow path: some input has a value the schema rejects; find which, one by one.
        let mut good = Vec::new();
        let mut batches = Vec::new();
        for i in candidates {
            match self.decode_all(&[inputs[i]]) {
                Ok(batch) => {
                    good.push(i);
                    batches.push(batch);
                }
                Err(error) => failed.push((i, error)),
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        let batch = concat_batches(&self.schema, &batches)?;
        Ok(DecodedRows {
            batch,
            inputs: good,
            failed,
        })
    }
}

/// Encodes rows as JSON objects, one byte vector per row, with the shared
/// [`RowEncoder`](super::format::RowEncoder) (Flink's timestamp forms: `SQL` or `ISO-8601`,
/// TIMESTAMP_LTZ in UTC with `Z`).
#[derive(Debug)]
struct JsonRowEncoder {
    options: FormatOptions,
}

impl JsonRowEncoder {
    fn new(settings: &JsonSettings) -> Self {
        let mut options = FormatOptions::new(if settings.flexible {
            RowFormat::FlexibleJson
        } else {
            RowFormat::Json
        });
        options.timestamp_standard = if settings.iso_timestamps {
            TimestampStandard::Iso8601
        } else {
            TimestampStandard::Sql
        };
        options.json_ignore_null_fields = settings.ignore_null_fields;
        Self { options }
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        if batch.num_columns() == 0 {
            return Ok(vec![b"{}".to_vec(); batch.num_rows()]);
        }
        RowEncoder::new(batch.schema(), self.options.clone())?.encode_rows(batch)
    }
}

fn project(batch: &RecordBatch, columns: &[usize]) -> Result<RecordBatch> {
    Ok(batch.project(columns)?)
}

fn lossy(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_RAW_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Source
// ---------------------------------------------------------------------------------------------

/// The checkpointed position of a source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct SourcePosition {
    topic: String,
    /// Next offset to read, per partition.
    offsets: BTreeMap<i32, i64>,
}

/// One partition being read.
#[derive(Debug)]
struct PartitionReader {
    partition: i32,
    client: Arc<PartitionClient>,
    /// Next offset to fetch.
    fetch_offset: i64,
    /// Exclusive end for bounded reads.
    end_offset: Option<i64>,
    /// Fetched records not yet returned.
    buffer: VecDeque<RecordAndOffset>,
    /// `upsert-kafka` after a seek: records below this offset only rebuild state.
    replay_until: i64,
}

impl PartitionReader {
    fn fetch_done(&self) -> bool {
        self.end_offset.is_some_and(|end| self.fetch_offset >= end)
    }
}

/// What happened to one record during decoding.
#[derive(Debug, Clone)]
enum Outcome {
    /// Row `n` of the decoded batch.
    Row(usize),
    /// `upsert-kafka`: a null value (delete of its key).
    Tombstone,
    /// `kafka`: a null value, ignored.
    Skipped,
    /// Cannot be decoded.
    Bad { raw: String, error: String },
}

/// Taken records, decoded.
struct DecodedRecords {
    /// The rows of the records that decoded, in record order, in the source schema.
    batch: RecordBatch,
    /// Per record, what became of it.
    outcomes: Vec<Outcome>,
    /// Per record, its encoded key (`upsert-kafka` records whose key decoded).
    keys: Vec<Option<Vec<u8>>>,
}

/// The per-key state of an `upsert-kafka` source.
struct UpsertState {
    key_codec: RowCodec,
    row_codec: RowCodec,
    /// Encoded key -> encoded current row (all columns of the source schema).
    rows: HashMap<Vec<u8>, Vec<u8>>,
}

/// Reads a Kafka topic for a `kafka` or `upsert-kafka` table.
pub struct KafkaSource {
    config: KafkaConfig,
    spec: SourceSpec,
    physical: SchemaRef,
    value_columns: Vec<usize>,
    value_decoder: JsonRowDecoder,
    key_decoder: Option<JsonRowDecoder>,
    start: StartPosition,
    end: EndPosition,
    bad_rows: BadRowPolicy,
    counters: Arc<SourceCounters>,
    /// Held so the connection pool stays up while partition clients exist.
    client: Option<Client>,
    readers: Vec<PartitionReader>,
    /// Next offset per partition after the records returned so far.
    positions: BTreeMap<i32, i64>,
    /// A position to resume from, applied when (re)connecting.
    pending_seek: Option<BTreeMap<i32, i64>>,
    upsert: Option<UpsertState>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("table", &self.spec.table)
            .field("topic", &self.config.topic)
            .field("positions", &self.positions)
            .finish()
    }
}

impl KafkaSource {
    /// Validate the options of a `kafka` or `upsert-kafka` table and prepare to read it. Does
    /// not connect: the first [`Source::next`] does.
    pub fn new(spec: SourceSpec) -> Result<Self> {
        let total = spec.schema.fields().len();
        let physical_len = total.checked_sub(spec.metadata.len()).ok_or_else(|| {
            RuntimeError::Internal(format!(
                "table {}: more metadata columns than columns",
                spec.table
            ))
        })?;
        let physical = Arc::new(Schema::new(spec.schema.fields()[..physical_len].to_vec()));
        let config = KafkaConfig::new(&spec.table, &spec.options, &physical, &spec.primary_key)?;
        for column in &spec.metadata {
            match column.key.as_str() {
                "timestamp" => {
                    if !matches!(column.field.data_type(), DataType::Timestamp(_, _)) {
                        return Err(RuntimeError::Connector(format!(
                            "table {}: metadata 'timestamp' must be a TIMESTAMP or TIMESTAMP_LTZ column, not {}",
                            spec.table,
                            column.field.data_type()
                        )));
                    }
                }
                "partition" | "offset" | "topic" | "key" => {}
                "headers" => {
                    return Err(RuntimeError::Connector(format!(
                        "table {}: kafka metadata 'headers' is not supported yet",
                        spec.table
                    )))
                }
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "table {}: unknown kafka metadata key '{other}' (supported: timestamp, partition, offset, topic, key)",
                        spec.table
                    )))
                }
            }
        }
        let options = &spec.options;
        let startup_keys = [
            "scan.startup.mode",
            "scan.startup.specific-offsets",
            "scan.startup.timestamp-millis",
        ];
        if config.upsert {
            if let Some(key) = startup_keys.iter().find(|k| options.get(k).is_some()) {
                return Err(RuntimeError::Connector(format!(
                    "connector 'upsert-kafka' always reads the topic from the earliest offset; remove '{key}'"
                )));
            }
        }
        let start = match options.get("scan.startup.mode").map(|m| m.trim().to_ascii_lowercase()) {
            None => StartPosition::Earliest,
            Some(mode) => match mode.as_str() {
                "earliest-offset" => StartPosition::Earliest,
                "latest-offset" => StartPosition::Latest,
                "group-offsets" => {
                    tracing::warn!(
                        table = %spec.table,
                        "kafka: 'group-offsets' is read as 'earliest-offset' (no consumer group is joined; checkpoints keep the offsets)"
                    );
                    StartPosition::Earliest
                }
                "specific-offsets" => StartPosition::Specific(parse_specific_offsets(
                    "scan.startup.specific-offsets",
                    options.required("kafka", "scan.startup.specific-offsets")?,
                )?),
                "timestamp" => StartPosition::Timestamp(parse_i64(
                    "scan.startup.timestamp-millis",
                    options.required("kafka", "scan.startup.timestamp-millis")?,
                )?),
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{other}' for option 'scan.startup.mode' (expected earliest-offset, latest-offset, group-offsets, specific-offsets or timestamp)"
                    )))
                }
            },
        };
        let end = match options.get("scan.bounded.mode").map(|m| m.trim().to_ascii_lowercase()) {
            None => EndPosition::Unbounded,
            Some(mode) => match mode.as_str() {
                "unbounded" => EndPosition::Unbounded,
                "latest-offset" => EndPosition::Latest,
                "specific-offsets" => EndPosition::Specific(parse_specific_offsets(
                    "scan.bounded.specific-offsets",
                    options.required(config.connector, "scan.bounded.specific-offsets")?,
                )?),
                "timestamp" => EndPosition::Timestamp(parse_i64(
                    "scan.bounded.timestamp-millis",
                    options.required(config.connector, "scan.bounded.timestamp-millis")?,
                )?),
                "group-offsets" => {
                    return Err(RuntimeError::Connector(
                        "'scan.bounded.mode' = 'group-offsets' is not supported (no consumer group is joined)"
                            .into(),
                    ))
                }
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{other}' for option 'scan.bounded.mode' (expected unbounded, latest-offset, specific-offsets or timestamp)"
                    )))
                }
            },
        };
        if options
            .get("scan.topic-partition-discovery.interval")
            .is_some()
        {
            tracing::debug!(
                table = %spec.table,
                "kafka: partitions are discovered when the source connects; 'scan.topic-partition-discovery.interval' is ignored"
            );
        }
        let mut bad_rows = spec.bad_rows;
        if bad_rows == BadRowPolicy::Fail && config.value_format.ignore_parse_errors {
            bad_rows = BadRowPolicy::Skip;
        }
        let value_columns = config.value_columns(physical_len);
        let value_decoder = JsonRowDecoder::new(
            Arc::new(physical.project(&value_columns)?),
            config.value_format.clone(),
        );
        let needs_key = config.upsert || config.value_fields == ValueFields::ExceptKey;
        let key_decoder = match (&config.key_format, needs_key) {
            (Some(settings), true) => Some(JsonRowDecoder::new(
                Arc::new(physical.project(&config.key_fields)?),
                settings.clone(),
            )),
            _ => None,
        };
        let upsert = if config.upsert {
            let key_schema = Arc::new(physical.project(&config.key_fields)?);
            Some(UpsertState {
                key_codec: RowCodec::for_schema(&key_schema)?,
                row_codec: RowCodec::for_schema(&spec.schema)?,
                rows: HashMap::new(),
            })
        } else {
            None
        };
        Ok(Self {
            config,
            physical,
            value_columns,
            value_decoder,
            key_decoder,
            start,
            end,
            bad_rows,
            counters: Arc::new(SourceCounters::default()),
            client: None,
            readers: Vec::new(),
            positions: BTreeMap::new(),
            pending_seek: None,
            upsert,
            spec,
        })
    }

    async fn resolve(&self, client: &PartitionClient, at: OffsetAt) -> Result<i64> {
        client
            .get_offset(at)
            .await
            .map_err(|e| self.config.broker_error("looking up an offset", e))
    }

    /// The offset after the last record (the high watermark). Besides asking for the latest
    /// offset, this fetches at that offset (waiting at most 1 ms; tansu 0.6 answers a 0 ms
    /// fetch with an empty response) and takes the high watermark the fetch reports, if
    /// larger: tansu 0.6 answers the offset lookup with the base offset of the last record
    /// batch plus one.
    async fn latest(&self, client: &PartitionClient) -> Result<i64> {
        let listed = self.resolve(client, OffsetAt::Latest).await?;
        match client.fetch_records(listed, 0..64 * 1024, 1).await {
            Ok((_, high_watermark)) => Ok(listed.max(high_watermark)),
            Err(e) => {
                tracing::debug!(
                    table = %self.config.table,
                    error = %e,
                    "kafka: high watermark check failed; using the listed latest offset"
                );
                Ok(listed)
            }
        }
    }

    /// The offset of the first record at or after `millis` (the end if there is none).
    async fn resolve_timestamp(&self, client: &PartitionClient, millis: i64) -> Result<i64> {
        let at = rskafka::chrono::DateTime::from_timestamp_millis(millis).ok_or_else(|| {
            RuntimeError::Connector(format!("timestamp {millis} ms is out of range"))
        })?;
        let offset = self.resolve(client, OffsetAt::Timestamp(at)).await?;
        if offset >= 0 {
            Ok(offset)
        } else {
            self.latest(client).await
        }
    }

    /// Connect, discover partitions, and position each reader (seek target, else startup mode).
    async fn connect(&mut self) -> Result<()> {
        let client = self.config.client().await?;
        let partitions = self.config.partitions(&client).await?;
        let seek = self.pending_seek.take();
        let mut readers = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let partition_client = Arc::new(
                client
                    .partition_client(
                        self.config.topic.clone(),
                        partition,
                        UnknownTopicHandling::Retry,
                    )
                    .await
                    .map_err(|e| self.config.broker_error("connecting to a partition", e))?,
            );
            let sought = seek.as_ref().and_then(|s| s.get(&partition).copied());
            let (fetch_offset, replay_until) = match (sought, self.upsert.is_some()) {
                (Some(offset), true) => (
                    self.resolve(&partition_client, OffsetAt::Earliest).await?,
                    offset,
                ),
                (Some(offset), false) => (offset, 0),
                (None, _) => {
                    let offset = match &self.start {
                        StartPosition::Earliest => {
                            self.resolve(&partition_client, OffsetAt::Earliest).await?
                        }
                        StartPosition::Latest => self.latest(&partition_client).await?,
                        StartPosition::Specific(offsets) => match offsets.get(&partition) {
                            Some(offset) => *offset,
                            None => self.resolve(&partition_client, OffsetAt::Earliest).await?,
                        },
                        StartPosition::Timestamp(millis) => {
                            self.resolve_timestamp(&partition_client, *millis).await?
                        }
                    };
                    (offset, 0)
                }
            };
            let end_offset = match &self.end {
                EndPosition::Unbounded => None,
                EndPosition::Latest => Some(self.latest(&partition_client).await?),
                EndPosition::Specific(offsets) => offsets.get(&partition).copied(),
                EndPosition::Timestamp(millis) => {
                    Some(self.resolve_timestamp(&partition_client, *millis).await?)
                }
            };
            // The checkpoint position: where emitting resumes.
            self.positions
                .insert(partition, fetch_offset.max(replay_until));
            readers.push(PartitionReader {
                partition,
                client: partition_client,
                fetch_offset,
                end_offset,
                buffer: VecDeque::new(),
                replay_until,
            });
        }
        self.readers = readers;
        self.client = Some(client);
        Ok(())
    }

    /// Fetch from every partition that has nothing buffered and may have more, concurrently.
    async fn fetch(&mut self) -> Result<()> {
        let requests: Vec<_> = self
            .readers
            .iter()
            .enumerate()
            .filter(|(_, r)| r.buffer.is_empty() && !r.fetch_done())
            .map(|(index, reader)| {
                let client = Arc::clone(&reader.client);
                let offset = reader.fetch_offset;
                async move {
                    let result = client
                        .fetch_records(offset, 1..FETCH_MAX_BYTES, FETCH_MAX_WAIT_MS)
                        .await;
                    (index, result)
                }
            })
            .collect();
        for (index, result) in join_all(requests).await {
            let reader = &mut self.readers[index];
            match result {
                Ok((records, _high_watermark)) => {
                    for record in records {
                        if record.offset < reader.fetch_offset {
                            continue;
                        }
                        if reader.end_offset.is_some_and(|end| record.offset >= end) {
                            reader.fetch_offset = reader.end_offset.unwrap_or(record.offset);
                            break;
                        }
                        reader.fetch_offset = record.offset + 1;
                        reader.buffer.push_back(record);
                    }
                }
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    let earliest = reader
                        .client
                        .get_offset(OffsetAt::Earliest)
                        .await
                        .map_err(|e| self.config.broker_error("looking up an offset", e))?;
                    let latest = reader
                        .client
                        .get_offset(OffsetAt::Latest)
                        .await
                        .map_err(|e| self.config.broker_error("looking up an offset", e))?;
                    let reset = if reader.fetch_offset < earliest {
                        earliest
                    } else {
                        latest
                    };
                    tracing::warn!(
                        table = %self.config.table,
                        topic = %self.config.topic,
                        partition = reader.partition,
                        offset = reader.fetch_offset,
                        reset,
                        "kafka: offset out of range; continuing from the nearest available offset"
                    );
                    reader.fetch_offset = reset;
                    if let Some(position) = self.positions.get_mut(&reader.partition) {
                        if *position < reset && reader.buffer.is_empty() {
                            *position = reset;
                        }
                    }
                }
                Err(e) => return Err(self.config.broker_error("fetching records", e)),
            }
        }
        Ok(())
    }

    /// Up to `batch_size` buffered records, in partition order, as (partition, record).
    fn take_buffered(&mut self) -> Vec<(i32, RecordAndOffset)> {
        let limit = self.spec.batch_size.max(1);
        let mut taken = Vec::new();
        for reader in &mut self.readers {
            while taken.len() < limit {
                match reader.buffer.pop_front() {
                    Some(record) => taken.push((reader.partition, record)),
                    None => break,
                }
            }
        }
        taken
    }

    fn location(&self, partition: i32, offset: i64) -> String {
        format!("{}/{partition}@{offset}", self.config.topic)
    }

    /// Decode taken records into rows of the source schema; returns the batch, the outcome
    /// per record and, for `upsert-kafka`, the encoded key per record.
    fn decode_records(&self, records: &[(i32, RecordAndOffset)]) -> Result<DecodedRecords> {
        let n = records.len();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let mut keys: Vec<Option<Vec<u8>>> = vec![None; n];
        let upsert = self.upsert.is_some();
        if !upsert {
            for (i, (_, record)) in records.iter().enumerate() {
                if record.record.value.is_none() {
                    outcomes[i] = Some(Outcome::Skipped);
                }
            }
        }

        // Keys, where the table reads columns from them or needs them as identity.
        let mut key_batch: Option<(RecordBatch, Vec<Option<usize>>)> = None;
        if let Some(decoder) = &self.key_decoder {
            let mut inputs: Vec<&[u8]> = Vec::new();
            let mut owners: Vec<usize> = Vec::new();
            for (i, (_, record)) in records.iter().enumerate() {
                if outcomes[i].is_some() {
                    continue;
                }
                match &record.record.key {
                    Some(key) => {
                        inputs.push(key);
                        owners.push(i);
                    }
                    None => {
                        outcomes[i] = Some(Outcome::Bad {
                            raw: record
                                .record
                                .value
                                .as_deref()
                                .map(lossy)
                                .unwrap_or_default(),
                            error: "the record has no key, but the table reads its key".into(),
                        })
                    }
                }
            }
            let decoded = decoder.decode(&inputs)?;
            for (input, error) in decoded.failed {
                let i = owners[input];
                outcomes[i] = Some(Outcome::Bad {
                    raw: lossy(inputs[input]),
                    error: format!("key: {error}"),
                });
            }
            let mut key_row_of = vec![None; n];
            for (row, &input) in decoded.inputs.iter().enumerate() {
                key_row_of[owners[input]] = Some(row);
            }
            if let Some(state) = &self.upsert {
                let encoded = state
                    .key_codec
                    .encode(decoded.batch.columns(), decoded.batch.num_rows())?;
                for (row, &input) in decoded.inputs.iter().enumerate() {
                    keys[owners[input]] = Some(encoded.row(row).to_vec());
                }
            }
            key_batch = Some((decoded.batch, key_row_of));
        }

        // Values.
        let mut inputs: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<usize> = Vec::new();
        for (i, (_, record)) in records.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            match &record.record.value {
                Some(value) => {
                    inputs.push(value);
                    owners.push(i);
                }
                None => outcomes[i] = Some(Outcome::Tombstone),
            }
        }
        let decoded = self.value_decoder.decode(&inputs)?;
        for (input, error) in decoded.failed {
            outcomes[owners[input]] = Some(Outcome::Bad {
                raw: lossy(inputs[input]),
                error,
            });
        }
        let rows: Vec<usize> = decoded.inputs.iter().map(|&input| owners[input]).collect();
        for (row, &i) in rows.iter().enumerate() {
            outcomes[i] = Some(Outcome::Row(row));
        }

        // Physical columns in table order, then metadata.
        let physical_len = self.physical.fields().len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.spec.schema.fields().len());
        for column in 0..physical_len {
            if let Some(position) = self.value_columns.iter().position(|&c| c == column) {
                columns.push(decoded.batch.column(position).clone());
                continue;
            }
            let position = self
                .config
                .key_fields
                .iter()
                .position(|&c| c == column)
                .ok_or_else(|| {
                    RuntimeError::Internal(format!(
                        "kafka: column #{column} is neither key nor value"
                    ))
                })?;
            let (batch, key_row_of) = key_batch.as_ref().ok_or_else(|| {
                RuntimeError::Internal("kafka: key columns without a key decoder".into())
            })?;
            let indices = rows
                .iter()
                .map(|&i| {
                    key_row_of[i].map(|r| r as u32).ok_or_else(|| {
                        RuntimeError::Internal("kafka: decoded value without a decoded key".into())
                    })
                })
                .collect::<Result<Vec<u32>>>()?;
            columns.push(take(
                batch.column(position),
                &UInt32Array::from(indices),
                None,
            )?);
        }
        for (m, column) in self.spec.metadata.iter().enumerate() {
            let field = self.spec.schema.field(physical_len + m);
            let array: ArrayRef = match column.key.as_str() {
                "timestamp" => {
                    let tz = match field.data_type() {
                        DataType::Timestamp(_, tz) => tz.clone(),
                        _ => None,
                    };
                    Arc::new(
                        TimestampMillisecondArray::from_iter_values(
                            rows.iter()
                                .map(|&i| records[i].1.record.timestamp.timestamp_millis()),
                        )
                        .with_timezone_opt(tz),
                    )
                }
                "partition" => Arc::new(Int32Array::from_iter_values(
                    rows.iter().map(|&i| records[i].0),
                )),
                "offset" => Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|&i| records[i].1.offset),
                )),
                "topic" => Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|_| self.config.topic.as_str()),
                )),
                "key" => Arc::new(BinaryArray::from_iter(
                    rows.iter().map(|&i| records[i].1.record.key.as_deref()),
                )),
                other => {
                    return Err(RuntimeError::Internal(format!(
                        "kafka: unchecked metadata key '{other}'"
                    )))
                }
            };
            let array = if array.data_type() == field.data_type() {
                array
            } else {
                cast(&array, field.data_type()).map_err(|e| {
                    RuntimeError::Connector(format!(
                        "table {}: kafka metadata '{}' cannot be read as {}: {e}",
                        self.spec.table,
                        column.key,
                        field.data_type()
                    ))
                })?
            };
            columns.push(array);
        }
        let batch = RecordBatch::try_new(self.spec.schema.clone(), columns)?;
        let outcomes = outcomes
            .into_iter()
            .map(|o| {
                o.ok_or_else(|| RuntimeError::Internal("kafka: record without an outcome".into()))
            })
            .collect::<Result<Vec<Outcome>>>()?;
        Ok(DecodedRecords {
            batch,
            outcomes,
            keys,
        })
    }

    /// Collect bad rows under the table's policy (an error under `fail`).
    fn handle_bad_rows(&self, bad: Vec<BadRow>) -> Result<Vec<BadRow>> {
        if bad.is_empty() {
            return Ok(bad);
        }
        match self.bad_rows {
            BadRowPolicy::Fail => {
                let first = &bad[0];
                Err(RuntimeError::Connector(format!(
                    "table {}: cannot decode kafka record {}: {} (value: {}); set 'bad-rows' to 'skip' or 'dead-letter' to continue past such records",
                    self.spec.table, first.location, first.error, first.raw
                )))
            }
            BadRowPolicy::Skip => {
                self.counters.add_bad_rows(bad.len() as u64);
                Ok(Vec::new())
            }
            BadRowPolicy::DeadLetter => {
                self.counters.add_bad_rows(bad.len() as u64);
                Ok(bad)
            }
        }
    }

    /// Turn taken records into an event and advance the positions past them.
    fn process(&mut self, records: Vec<(i32, RecordAndOffset)>) -> Result<SourceEvent> {
        let bytes: usize = records
            .iter()
            .map(|(_, r)| r.record.approximate_size())
            .sum();
        let DecodedRecords {
            batch,
            outcomes,
            keys,
        } = self.decode_records(&records)?;
        let replaying: Vec<bool> = records
            .iter()
            .map(|(partition, record)| {
                self.readers
                    .iter()
                    .find(|r| r.partition == *partition)
                    .is_some_and(|r| record.offset < r.replay_until)
            })
            .collect();
        let mut bad = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            if let Outcome::Bad { raw, error } = outcome {
                if !replaying[i] {
                    let (partition, record) = &records[i];
                    bad.push(BadRow {
                        location: self.location(*partition, record.offset),
                        raw: raw.clone(),
                        error: error.clone(),
                    });
                }
            }
        }
        let bad = self.handle_bad_rows(bad)?;
        for (partition, record) in &records {
            let floor = self
                .readers
                .iter()
                .find(|r| r.partition == *partition)
                .map_or(0, |r| r.replay_until);
            self.positions
                .insert(*partition, (record.offset + 1).max(floor));
        }
        self.counters.add_bytes(bytes as u64);

        let Some(state) = self.upsert.as_mut() else {
            self.counters.add_rows(batch.num_rows() as u64);
            return Ok(SourceEvent::Batch {
                rows: batch,
                bad_rows: bad,
            });
        };
        let encoded = state.row_codec.encode(batch.columns(), batch.num_rows())?;
        let mut out_rows: Vec<Vec<u8>> = Vec::new();
        let mut weights: Vec<i64> = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            let key = match (&keys[i], outcome) {
                (Some(key), Outcome::Row(_) | Outcome::Tombstone) => key.clone(),
                _ => continue,
            };
            let previous = match outcome {
                Outcome::Row(row) => {
                    let new_row = encoded.row(*row).to_vec();
                    let previous = state.rows.insert(key, new_row.clone());
                    if previous.as_deref() == Some(new_row.as_slice()) {
                        continue;
                    }
                    if !replaying[i] {
                        out_rows.push(new_row);
                        weights.push(1);
                    }
                    previous
                }
                _ => state.rows.remove(&key),
            };
            if let (Some(previous), false) = (previous, replaying[i]) {
                out_rows.push(previous);
                weights.push(-1);
            }
        }
        let data = state
            .row_codec
            .decode_batch(&self.spec.schema, out_rows.iter().map(Vec::as_slice))?;
        let data = RecordBatch::try_new(self.spec.schema.clone(), data.columns().to_vec())?;
        self.counters.add_rows(data.num_rows() as u64);
        Ok(SourceEvent::Changes {
            changes: ChangeBatch::new(data, Int64Array::from(weights))?,
            bad_rows: bad,
        })
    }
}

#[async_trait::async_trait]
impl Source for KafkaSource {
    async fn next(&mut self) -> Result<SourceEvent> {
        if self.client.is_none() || self.pending_seek.is_some() {
            self.connect().await?;
        }
        if self.readers.iter().all(|r| r.buffer.is_empty()) {
            self.fetch().await?;
        }
        let records = self.take_buffered();
        if records.is_empty() {
            let finished = self
                .readers
                .iter()
                .all(|r| r.fetch_done() && r.buffer.is_empty());
            return Ok(if finished {
                SourceEvent::End
            } else {
                SourceEvent::Idle
            });
        }
        self.process(records)
    }

    fn offset(&self) -> Option<Vec<u8>> {
        let offsets = match &self.pending_seek {
            Some(sought) => sought.clone(),
            None => self.positions.clone(),
        };
        serde_json::to_vec(&SourcePosition {
            topic: self.config.topic.clone(),
            offsets,
        })
        .ok()
    }

    fn seek(&mut self, offset: &[u8]) -> Result<()> {
        let position: SourcePosition = serde_json::from_slice(offset).map_err(|e| {
            RuntimeError::Connector(format!(
                "table {}: invalid kafka source position: {e}",
                self.spec.table
            ))
        })?;
        if position.topic != self.config.topic {
            return Err(RuntimeError::Connector(format!(
                "table {}: the saved position is for kafka topic '{}', but the table reads '{}'",
                self.spec.table, position.topic, self.config.topic
            )));
        }
        if let Some((partition, offset)) = position.offsets.iter().find(|(p, o)| **p < 0 || **o < 0)
        {
            return Err(RuntimeError::Connector(format!(
                "table {}: invalid kafka source position {partition}@{offset}",
                self.spec.table
            )));
        }
        self.readers.clear();
        self.positions = position.offsets.clone();
        if let Some(state) = self.upsert.as_mut() {
            state.rows.clear();
        }
        self.pending_seek = Some(position.offsets);
        Ok(())
    }

    fn counters(&self) -> Arc<SourceCounters> {
        Arc::clone(&self.counters)
    }
}

// ---------------------------------------------------------------------------------------------
// Sink
// ---------------------------------------------------------------------------------------------

/// Kafka's murmur2 (as in `org.apache.kafka.common.utils.Utils.murmur2`), so keys land in the
/// partitions a Java producer would choose.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition (index into the topic's partitions) Kafka's default partitioner picks.
fn partition_for_key(key: &[u8], partitions: usize) -> usize {
    ((murmur2(key) & 0x7fff_ffff) as usize) % partitions.max(1)
}

/// A record to produce: optional key bytes, optional value bytes (None is a tombstone).
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A connected producer: one client per partition.
struct Producer {
    _client: Client,
    partitions: Vec<Arc<PartitionClient>>,
}

/// Writes a table's changes to a Kafka topic (`kafka`: append-only; `upsert-kafka`: keyed).
pub struct KafkaSink {
    config: KafkaConfig,
    spec: SinkSpec,
    partitioner: Partitioner,
    value_columns: Vec<usize>,
    value_encoder: JsonRowEncoder,
    key_encoder: Option<JsonRowEncoder>,
    producer: Option<Producer>,
    next_round_robin: usize,
    /// `upsert-kafka` buffering (`sink.buffer-flush.*`): 0 rows means write through.
    buffer_max_rows: usize,
    buffer_interval: Option<Duration>,
    /// Pending keyed records, last write per key wins: key -> index in `pending`.
    pending_index: HashMap<Vec<u8>, usize>,
    pending: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pending_since: Option<Instant>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("table", &self.spec.table)
            .field("topic", &self.config.topic)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl KafkaSink {
    /// Validate the options of a `kafka` or `upsert-kafka` table. Does not connect: the first
    /// write does.
    pub fn new(spec: SinkSpec) -> Result<Self> {
        let config = KafkaConfig::new(
            &spec.table,
            &spec.options,
            spec.schema.as_ref(),
            &spec.primary_key,
        )?;
        let options = &spec.options;
        let partitioner = match options.get("sink.partitioner").map(|p| p.trim().to_ascii_lowercase()) {
            None => Partitioner::Default,
            Some(p) => match p.as_str() {
                "default" => Partitioner::Default,
                "fixed" => Partitioner::Fixed,
                "round-robin" => Partitioner::RoundRobin,
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{other}' for option 'sink.partitioner' (expected default, fixed or round-robin)"
                    )))
                }
            },
        };
        if config.upsert && partitioner != Partitioner::Default {
            return Err(RuntimeError::Connector(
                "connector 'upsert-kafka' partitions by key; 'sink.partitioner' must be 'default'"
                    .into(),
            ));
        }
        if let Some(guarantee) = options.get("sink.delivery-guarantee") {
            match guarantee.trim().to_ascii_lowercase().as_str() {
                "none" | "at-least-once" => {}
                "exactly-once" => {
                    return Err(RuntimeError::Connector(
                        "'sink.delivery-guarantee' = 'exactly-once' (Kafka transactions) is not supported; use 'at-least-once'"
                            .into(),
                    ))
                }
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{other}' for option 'sink.delivery-guarantee'"
                    )))
                }
            }
        }
        let buffer_max_rows = match options.get("sink.buffer-flush.max-rows") {
            None => 0,
            Some(v) => {
                usize::try_from(parse_i64("sink.buffer-flush.max-rows", v)?).map_err(|_| {
                    RuntimeError::Connector(format!(
                        "invalid value '{v}' for option 'sink.buffer-flush.max-rows'"
                    ))
                })?
            }
        };
        let buffer_interval = match options.get("sink.buffer-flush.interval") {
            None => None,
            Some(v) => Some(super::duration::parse_duration(
                "sink.buffer-flush.interval",
                v,
            )?)
            .filter(|d| !d.is_zero()),
        };
        if !config.upsert && (buffer_max_rows > 0 || buffer_interval.is_some()) {
            return Err(RuntimeError::Connector(
                "'sink.buffer-flush.*' options are for connector 'upsert-kafka'".into(),
            ));
        }
        if buffer_max_rows > 0 && buffer_interval.is_none()
            || buffer_max_rows == 0 && buffer_interval.is_some()
        {
            return Err(RuntimeError::Connector(
                "'sink.buffer-flush.max-rows' and 'sink.buffer-flush.interval' must both be set (or both be 0)"
                    .into(),
            ));
        }
        let value_columns = config.value_columns(spec.schema.fields().len());
        let value_encoder = JsonRowEncoder::new(&config.value_format);
        let key_encoder = config.key_format.as_ref().map(JsonRowEncoder::new);
        Ok(Self {
            config,
            spec,
            partitioner,
            value_columns,
            value_encoder,
            key_encoder,
            producer: None,
            next_round_robin: 0,
            buffer_max_rows,
            buffer_interval,
            pending_index: HashMap::new(),
            pending: Vec::new(),
            pending_since: None,
        })
    }

    async fn producer(&mut self) -> Result<&Producer> {
        if self.producer.is_none() {
            let client = self.config.client().await?;
            let ids = self.config.partitions(&client).await?;
            let mut partitions = Vec::with_capacity(ids.len());
            for id in ids {
                partitions.push(Arc::new(
                    client
                        .partition_client(
                            self.config.topic.clone(),
                            id,
                            UnknownTopicHandling::Retry,
                        )
                        .await
                        .map_err(|e| self.config.broker_error("connecting to a partition", e))?,
                ));
            }
            self.producer = Some(Producer {
                _client: client,
                partitions,
            });
        }
        self.producer
            .as_ref()
            .ok_or_else(|| RuntimeError::Internal("kafka producer missing".into()))
    }

    /// Produce `(key, value)` records, each to its partition, in order per partition.
    async fn produce(&mut self, records: Vec<KeyValue>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let partitioner = self.partitioner;
        let mut round_robin = self.next_round_robin;
        let compression = self.config.compression;
        let producer = self.producer().await?;
        let count = producer.partitions.len();
        let mut per_partition: Vec<Vec<Record>> = (0..count).map(|_| Vec::new()).collect();
        let now = rskafka::chrono::Utc::now();
        for (key, value) in records {
            let index = match (partitioner, &key) {
                (Partitioner::Fixed, _) => 0,
                (Partitioner::Default, Some(key)) => partition_for_key(key, count),
                (Partitioner::Default, None) | (Partitioner::RoundRobin, _) => {
                    round_robin = round_robin.wrapping_add(1);
                    round_robin % count
                }
            };
            per_partition[index].push(Record {
                key,
                value,
                headers: BTreeMap::new(),
                timestamp: now,
            });
        }
        let requests = per_partition
            .into_iter()
            .enumerate()
            .filter(|(_, records)| !records.is_empty())
            .map(|(index, records)| {
                let client = Arc::clone(&producer.partitions[index]);
                async move {
                    let mut chunk = Vec::new();
                    let mut chunk_bytes = 0;
                    for record in records {
                        let size = record.approximate_size() + 64;
                        if !chunk.is_empty() && chunk_bytes + size > PRODUCE_MAX_BYTES {
                            client
                                .produce(std::mem::take(&mut chunk), compression)
                                .await?;
                            chunk_bytes = 0;
                        }
                        chunk_bytes += size;
                        chunk.push(record);
                    }
                    client.produce(chunk, compression).await?;
                    Ok::<(), rskafka::client::error::Error>(())
                }
            });
        let results = join_all(requests).await;
        self.next_round_robin = round_robin;
        for result in results {
            result.map_err(|e| self.config.broker_error("producing records", e))?;
        }
        Ok(())
    }

    /// Encode the key columns (if any) of `batch`.
    fn encode_keys(&self, batch: &RecordBatch) -> Result<Option<Vec<Vec<u8>>>> {
        match &self.key_encoder {
            Some(encoder) if !self.config.key_fields.is_empty() => Ok(Some(
                encoder.encode(&project(batch, &self.config.key_fields)?)?,
            )),
            _ => Ok(None),
        }
    }

    async fn write_append(&mut self, changes: &ChangeBatch) -> Result<()> {
        if changes.weights.values().iter().any(|w| *w < 0) {
            return Err(RuntimeError::Connector(format!(
                "table {}: kafka sink cannot consume deletes/updates; use upsert-kafka",
                self.spec.table
            )));
        }
        let rows = changes.to_positive_rows()?;
        let values = self
            .value_encoder
            .encode(&project(&rows, &self.value_columns)?)?;
        let keys = self.encode_keys(&rows)?;
        let records = match keys {
            Some(keys) => keys
                .into_iter()
                .zip(values)
                .map(|(k, v)| (Some(k), Some(v)))
                .collect(),
            None => values.into_iter().map(|v| (None, Some(v))).collect(),
        };
        self.produce(records).await
    }

    async fn write_upsert(&mut self, changes: &ChangeBatch) -> Result<()> {
        let keys = self.encode_keys(&changes.data)?.ok_or_else(|| {
            RuntimeError::Internal("upsert-kafka sink without a key encoder".into())
        })?;
        // Per key: the last inserted row of the batch, else a delete.
        let mut last_insert: HashMap<&[u8], usize> = HashMap::new();
        for (row, weight) in changes.weights.values().iter().enumerate() {
            if *weight > 0 {
                last_insert.insert(keys[row].as_slice(), row);
            }
        }
        let mut inserted_rows: Vec<usize> = last_insert.values().copied().collect();
        inserted_rows.sort_unstable();
        let values = if inserted_rows.is_empty() {
            Vec::new()
        } else {
            let indices = UInt32Array::from_iter_values(inserted_rows.iter().map(|&r| r as u32));
            let taken = changes.take(&indices)?.data;
            self.value_encoder
                .encode(&project(&taken, &self.value_columns)?)?
        };
        let mut value_of: HashMap<usize, Vec<u8>> = inserted_rows.into_iter().zip(values).collect();
        let mut seen: HashMap<&[u8], ()> = HashMap::new();
        let mut records: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (row, weight) in changes.weights.values().iter().enumerate() {
            let key = keys[row].as_slice();
            if *weight == 0 || seen.contains_key(key) {
                continue;
            }
            seen.insert(key, ());
            let value = match last_insert.get(key) {
                Some(insert_row) => Some(value_of.remove(insert_row).ok_or_else(|| {
                    RuntimeError::Internal("upsert-kafka: missing encoded value".into())
                })?),
                None => None,
            };
            records.push((key.to_vec(), value));
        }
        for (key, value) in records {
            match self.pending_index.get(&key) {
                Some(&slot) => self.pending[slot].1 = value,
                None => {
                    self.pending_index.insert(key.clone(), self.pending.len());
                    self.pending.push((key, value));
                }
            }
        }
        if self.pending_since.is_none() && !self.pending.is_empty() {
            self.pending_since = Some(Instant::now());
        }
        let interval_due = match (self.buffer_interval, self.pending_since) {
            (Some(interval), Some(since)) => since.elapsed() >= interval,
            _ => false,
        };
        if self.buffer_max_rows == 0 || self.pending.len() >= self.buffer_max_rows || interval_due {
            self.flush_pending().await?;
        }
        Ok(())
    }

    async fn flush_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records: Vec<KeyValue> = self
            .pending
            .iter()
            .map(|(key, value)| (Some(key.clone()), value.clone()))
            .collect();
        self.produce(records).await?;
        self.pending.clear();
        self.pending_index.clear();
        self.pending_since = None;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if self.config.upsert {
            self.write_upsert(changes).await
        } else {
            self.write_append(changes).await
        }
    }

    async fn flush(&mut self) -> Result<()> {
        self.flush_pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    #[test]
    fn murmur2_matches_kafka() {
        // Reference values from Kafka's UtilsTest.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn parses_specific_offsets() {
        let offsets =
            parse_specific_offsets("k", "partition:0,offset:42;partition:1,offset:300").unwrap();
        assert_eq!(offsets, BTreeMap::from([(0, 42), (1, 300)]));
        assert!(parse_specific_offsets("k", "partition:0").is_err());
        assert!(parse_specific_offsets("k", "partition:x,offset:1").is_err());
        assert!(parse_specific_offsets("k", "").is_err());
    }

    fn decoder(fail_on_missing_field: bool) -> JsonRowDecoder {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        JsonRowDecoder::new(
            schema,
            JsonSettings {
                flexible: false,
                fail_on_missing_field,
                ignore_parse_errors: false,
                iso_timestamps: false,
                ignore_null_fields: false,
            },
        )
    }

    #[test]
    fn json_decoder_isolates_bad_rows() {
        let inputs: Vec<&[u8]> = vec![
            br#"{"id": 1, "name": "a"}"#,
            b"not json",
            br#"{"id": "x"}"#,
            br#"{"id": 4}"#,
            br#"[1]"#,
            br#"{"id": 6}{"id": 7}"#,
        ];
        let decoded = decoder(false).decode(&inputs).unwrap();
        assert_eq!(decoded.inputs, vec![0, 3]);
        assert_eq!(decoded.batch.num_rows(), 2);
        let failed: Vec<usize> = decoded.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 2, 4, 5]);
    }

    #[test]
    fn json_decoder_can_require_every_field() {
        let inputs: Vec<&[u8]> = vec![br#"{"id": 1, "name": null}"#, br#"{"id": 2}"#];
        let decoded = decoder(true).decode(&inputs).unwrap();
        assert_eq!(decoded.inputs, vec![0]);
        assert!(decoded.failed[0].1.contains("name"), "{:?}", decoded.failed);
    }

    #[test]
    fn json_encoder_writes_one_object_per_row() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap();
        let settings = decoder(false).settings;
        let rows = JsonRowEncoder::new(&settings).encode(&batch).unwrap();
        assert_eq!(rows[0], br#"{"id":1,"name":"a"}"#.to_vec());
        assert_eq!(rows[1], br#"{"id":2,"name":null}"#.to_vec());
    }
}
