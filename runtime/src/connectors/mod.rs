//! Connectors: sources that produce rows for a table and sinks that consume a query's changes.
//!
//! A table declared with `WITH ('connector' = '...', ...)` gets its connector from
//! [`create_source`] (when a continuous query reads it) or [`create_sink`] (when a continuous
//! query writes into it with `INSERT INTO .. SELECT`). Each connector validates its options and
//! names any it does not know.
//!
//! Sources are append-only: they produce [`SourceEvent::Batch`]es of new rows whose schema is
//! exactly [`SourceSpec::schema`] (physical columns, then the requested metadata columns, in the
//! table's order). Rows that cannot be decoded are handled by the table's [`BadRowPolicy`]:
//! `fail` stops the source with an error naming the file/partition and line/offset, `skip`
//! drops them and counts them, `dead-letter` returns them in [`SourceEvent::Batch::bad_rows`]
//! (the database stores them in a dead-letter table) and counts them.
//!
//! Sinks receive consolidated change batches (weights ±n) in the sink table's schema.

pub mod blackhole;
pub mod datagen;
pub mod duration;
pub mod filesystem;
pub mod format;
pub mod jdbc;
pub mod kafka;
pub mod nexmark;
pub mod parallel;
pub mod print;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{FieldRef, SchemaRef};

use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

/// The `WITH (...)` options of a table, keys as written (Flink keys are lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorOptions {
    options: BTreeMap<String, String>,
}

impl ConnectorOptions {
    pub fn new(options: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            options: options.into_iter().collect(),
        }
    }

    /// The connector name (`'connector'` option), if any.
    pub fn connector(&self) -> Option<&str> {
        self.get("connector")
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }

    /// A required option, or an error naming it.
    pub fn required(&self, connector: &str, key: &str) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            RuntimeError::Connector(format!(
                "connector '{connector}' requires the option '{key}'"
            ))
        })
    }

    /// An option parsed with `FromStr`, or `default` when absent.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|_| {
                RuntimeError::Connector(format!("invalid value '{value}' for option '{key}'"))
            }),
        }
    }

    /// Error naming every option that is neither in `known` nor matches one of the `prefixes`
    /// (e.g. `fields.` for datagen). Options every table accepts (`connector`, `bad-rows`,
    /// ...) are always allowed.
    pub fn check_known(&self, connector: &str, known: &[&str], prefixes: &[&str]) -> Result<()> {
        let unknown: Vec<&str> = self
            .options
            .keys()
            .map(String::as_str)
            .filter(|key| {
                !COMMON_OPTIONS.contains(key)
                    && !known.contains(key)
                    && !prefixes.iter().any(|p| key.starts_with(p))
            })
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::Connector(format!(
                "unsupported option{} for connector '{connector}': {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

/// Options any connector table accepts; interpreted by the database, not the connector.
pub const COMMON_OPTIONS: &[&str] = &[
    "connector",
    "bad-rows",
    "bad-rows.table",
    "scan.watermark.idle-timeout",
    "sluice.forward",
];

/// What to do with an input row that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadRowPolicy {
    /// Stop the source with an error (Flink's default).
    #[default]
    Fail,
    /// Drop the row and count it.
    Skip,
    /// Hand the row to the database's dead-letter table and count it.
    DeadLetter,
}

impl BadRowPolicy {
    /// From the table options: `'bad-rows' = 'fail' | 'skip' | 'dead-letter'`, or Flink's
    /// `'json.ignore-parse-errors' = 'true'` / `'csv.ignore-parse-errors' = 'true'` (skip).
    pub fn from_options(options: &ConnectorOptions) -> Result<Self> {
        if let Some(policy) = options.get("bad-rows") {
            return match policy.trim().to_ascii_lowercase().as_str() {
                "fail" => Ok(Self::Fail),
                "skip" => Ok(Self::Skip),
                "dead-letter" | "dead_letter" => Ok(Self::DeadLetter),
                other => Err(RuntimeError::Connector(format!(
                    "invalid value '{other}' for option 'bad-rows' (expected fail, skip or dead-letter)"
                ))),
            };
        }
        for key in ["json.ignore-parse-errors", "csv.ignore-parse-errors"] {
            if options.get(key).map(|v| v.eq_ignore_ascii_case("true")) == Some(true) {
                return Ok(Self::Skip);
            }
        }
        Ok(Self::Fail)
    }
}

/// A column the source must produce from record metadata (`METADATA FROM 'timestamp'`).
#[derive(Debug, Clone)]
pub struct MetadataColumn {
    pub field: FieldRef,
    /// The metadata key, e.g. `timestamp`, `partition`, `offset`, `topic`.
    pub key: String,
}

/// What a source must produce.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Table name, for error messages and logs.
    pub table: String,
    /// Exact schema of produced batches: the table's physical columns followed by its metadata
    /// columns (computed columns are evaluated by the database afterwards).
    pub schema: SchemaRef,
    /// The metadata columns (also the last fields of `schema`, in this order).
    pub metadata: Vec<MetadataColumn>,
    pub options: ConnectorOptions,
    pub bad_rows: BadRowPolicy,
    /// Preferred number of rows per batch.
    pub batch_size: usize,
    /// Primary key column indices into `schema` (the table's `PRIMARY KEY`), empty if none.
    /// Changelog sources such as `upsert-kafka` require one: it identifies the row a record
    /// updates or deletes.
    pub primary_key: Vec<usize>,
}

/// An input row that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Where it came from: `file.json:17`, `topic/0@42`.
    pub location: String,
    /// The raw text (lossy UTF-8), truncated to a reasonable size.
    pub raw: String,
    pub error: String,
}

/// What a source reports when polled.
#[derive(Debug)]
pub enum SourceEvent {
    /// New rows (possibly zero rows when only bad rows were found).
    Batch {
        rows: RecordBatch,
        bad_rows: Vec<BadRow>,
    },
    /// Several batches of new rows to deliver together, in order, as one step of event time:
    /// a watermark derived from them applies only after the last (one round of a
    /// [`parallel::ParallelSource`], whose splits' batches interleave in event time).
    Round {
        batches: Vec<RecordBatch>,
        bad_rows: Vec<BadRow>,
    },
    /// Changes with retractions, for changelog sources (e.g. `upsert-kafka`: an update is the
    /// retraction of the key's previous row plus the new row; a tombstone retracts the row).
    /// `changes.data` has exactly [`SourceSpec::schema`].
    Changes {
        changes: ChangeBatch,
        bad_rows: Vec<BadRow>,
    },
    /// No data available right now; poll again later (the source is idle).
    Idle,
    /// A bounded source has produced everything.
    End,
}

impl SourceEvent {
    /// Whether the source may produce more after this event (not after `End`).
    pub fn continues(&self) -> bool {
        !matches!(self, SourceEvent::End)
    }
}

/// A source's event with the source's position just after it (see [`Source::offset`]).
pub type PositionedEvent = (Result<SourceEvent>, Option<Vec<u8>>);

/// Poll `source` on a task of its own, up to `ahead` events ahead of the receiver: reading
/// and decoding (or generating) the next batches overlaps with the receiver's work, on
/// another core. Each event travels with the position just after it, so the receiver can
/// record the offset of what it consumed. The task stops after the source ends or fails, when
/// the receiver is dropped, or when aborted.
pub fn read_ahead(
    source: Box<dyn Source>,
    ahead: usize,
) -> (
    tokio::sync::mpsc::Receiver<PositionedEvent>,
    tokio::task::AbortHandle,
) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<PositionedEvent>(ahead.max(1));
    let task = tokio::spawn(pump(source, sender));
    (receiver, task.abort_handle())
}

/// [`read_ahead`] on an OS thread of its own (named `name`) instead of a task of the shared
/// runtime: for CPU-bound sources (generators) that must not wait for a runtime worker while
/// the dataflow occupies them. The thread stops after the source ends or fails, or once the
/// receiver is dropped (at its next event).
pub fn read_ahead_on_thread(
    source: Box<dyn Source>,
    ahead: usize,
    name: String,
) -> Result<tokio::sync::mpsc::Receiver<PositionedEvent>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<PositionedEvent>(ahead.max(1));
    let io_error = |context: &str, source| RuntimeError::Io {
        context: context.to_string(),
        source,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| io_error("starting a source thread's runtime", e))?;
    std::thread::Builder::new()
        .name(name)
        .spawn(move || runtime.block_on(pump(source, sender)))
        .map_err(|e| io_error("starting a source thread", e))?;
    Ok(receiver)
}

/// Send `source`'s events with their positions until it ends or fails, or nobody receives.
async fn pump(mut source: Box<dyn Source>, sender: tokio::sync::mpsc::Sender<PositionedEvent>) {
    loop {
        let event = source.next().await;
        let last = !event.as_ref().is_ok_and(SourceEvent::continues);
        if sender.send((event, source.offset())).await.is_err() || last {
            break;
        }
    }
}

/// Counters a source maintains; shared so the database can show them while it runs.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub rows: AtomicU64,
    pub bad_rows: AtomicU64,
    pub bytes: AtomicU64,
}

impl SourceCounters {
    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_bad_rows(&self, n: u64) {
        self.bad_rows.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }
}

/// A source of rows for one table. Polled by one task; must not block the async runtime for
/// long (do file and network I/O with tokio, or `spawn_blocking` for heavy decoding).
#[async_trait::async_trait]
pub trait Source: Send {
    /// The next event. Implementations wait a short while (at most ~100 ms) for data and
    /// return [`SourceEvent::Idle`] if none arrives, so the caller can advance idle
    /// watermarks and check for shutdown.
    async fn next(&mut self) -> Result<SourceEvent>;

    /// The current read position, opaque, for checkpoints (issue #3); `None` if not
    /// resumable.
    fn offset(&self) -> Option<Vec<u8>> {
        None
    }

    /// Resume from a position previously returned by [`Source::offset`].
    fn seek(&mut self, _offset: &[u8]) -> Result<()> {
        Err(RuntimeError::Connector(
            "this source cannot resume from an offset".into(),
        ))
    }

    fn counters(&self) -> Arc<SourceCounters>;
}

impl SourceSpec {
    /// DataSQRL's `kafka-safe`/`upsert-kafka-safe`: the plain connector, skipping bad rows
    /// unless a policy is given.
    fn renamed_safe(mut self) -> Self {
        let connector = self
            .options
            .connector()
            .map(|c| c.trim_end_matches("-safe").to_string());
        if let Some(connector) = connector {
            self.options.options.insert("connector".into(), connector);
        }
        if self.options.get("bad-rows").is_none() {
            self.bad_rows = BadRowPolicy::Skip;
        }
        self
    }
}

impl SinkSpec {
    /// DataSQRL's `kafka-safe`/`upsert-kafka-safe` sinks: the plain connector.
    fn renamed_safe(mut self) -> Self {
        let connector = self
            .options
            .connector()
            .map(|c| c.trim_end_matches("-safe").to_string());
        if let Some(connector) = connector {
            self.options.options.insert("connector".into(), connector);
        }
        self
    }
}

/// What a sink consumes.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub table: String,
    pub schema: SchemaRef,
    /// Primary key column indices (upsert sinks key by these), empty if none.
    pub primary_key: Vec<usize>,
    pub options: ConnectorOptions,
}

/// A destination for a continuous query's changes.
#[async_trait::async_trait]
pub trait Sink: Send {
    /// Write consolidated changes (positive weights insert, negative delete; an update arrives
    /// as a delete and an insert of the same key in one batch).
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()>;

    /// Make everything written so far durable/visible at the destination.
    async fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Connectors with a source side.
pub const SOURCE_CONNECTORS: &[&str] = &[
    "filesystem",
    "datagen",
    "nexmark",
    "kafka",
    "upsert-kafka",
    "kafka-safe",
    "upsert-kafka-safe",
];
/// Source connectors whose rows are only ever inserted (files, generators, Kafka topics read
/// as streams). The others (`upsert-kafka`) are changelogs: a record may update or delete an
/// earlier row. A source added to [`SOURCE_CONNECTORS`] is a changelog until listed here.
pub const APPEND_ONLY_SOURCE_CONNECTORS: &[&str] =
    &["filesystem", "datagen", "nexmark", "kafka", "kafka-safe"];
/// Connectors with a sink side.
pub const SINK_CONNECTORS: &[&str] = &[
    "filesystem",
    "print",
    "blackhole",
    "kafka",
    "upsert-kafka",
    "jdbc",
    "jdbc-sqrl",
    "kafka-safe",
    "upsert-kafka-safe",
];

/// Create the source for a table, validating its options.
pub fn create_source(spec: SourceSpec) -> Result<Box<dyn Source>> {
    let connector = spec
        .options
        .connector()
        .ok_or_else(|| RuntimeError::Connector(format!("table {} has no connector", spec.table)))?
        .to_string();
    match connector.as_str() {
        "kafka" | "upsert-kafka" => Ok(Box::new(kafka::KafkaSource::new(spec)?)),
        // DataSQRL's variants of the Kafka connectors (which tolerate bad records).
        "kafka-safe" | "upsert-kafka-safe" => {
            Ok(Box::new(kafka::KafkaSource::new(spec.renamed_safe())?))
        }
        "filesystem" => Ok(Box::new(filesystem::FileSystemSource::new(spec)?)),
        "datagen" => Ok(Box::new(datagen::DataGenSource::new(spec)?)),
        "nexmark" => Ok(Box::new(nexmark::NexmarkSource::new(spec)?)),
        other => Err(unknown_connector(other, SOURCE_CONNECTORS, "source")),
    }
}

/// Create the source for a table read by a continuous query whose operators run in `splits`
/// instances: a generator that can divide its stream (`nexmark`, unless the table fixes its
/// own `split.index`) runs as that many splits on parallel tasks, delivered in rounds that
/// keep its order (see [`parallel`]); every other source runs as one.
pub fn create_split_source(spec: SourceSpec, splits: usize) -> Result<Box<dyn Source>> {
    let splittable = spec.options.connector() == Some("nexmark")
        && spec.options.get("split.index").is_none()
        && spec.options.get("split.count").is_none();
    if splits <= 1 || !splittable {
        return create_source(spec);
    }
    let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(splits);
    for index in 0..splits {
        let mut split = spec.clone();
        split
            .options
            .options
            .insert("split.index".into(), index.to_string());
        split
            .options
            .options
            .insert("split.count".into(), splits.to_string());
        sources.push(Box::new(nexmark::NexmarkSource::new(split)?));
    }
    Ok(Box::new(parallel::ParallelSource::new(sources)?))
}

/// Create the sink for a table, validating its options.
pub fn create_sink(spec: SinkSpec) -> Result<Box<dyn Sink>> {
    let connector = spec
        .options
        .connector()
        .ok_or_else(|| RuntimeError::Connector(format!("table {} has no connector", spec.table)))?
        .to_string();
    match connector.as_str() {
        "kafka" | "upsert-kafka" => Ok(Box::new(kafka::KafkaSink::new(spec)?)),
        "kafka-safe" | "upsert-kafka-safe" => {
            Ok(Box::new(kafka::KafkaSink::new(spec.renamed_safe())?))
        }
        // DataSQRL's own JDBC connector takes the same options.
        "jdbc" | "jdbc-sqrl" => Ok(Box::new(jdbc::JdbcSink::new(spec)?)),
        "filesystem" => Ok(Box::new(filesystem::FileSystemSink::new(spec)?)),
        "print" => Ok(Box::new(print::PrintSink::new(&spec)?)),
        "blackhole" => Ok(Box::new(blackhole::BlackholeSink::new(&spec)?)),
        other => Err(unknown_connector(other, SINK_CONNECTORS, "sink")),
    }
}

fn unknown_connector(name: &str, known: &[&str], side: &str) -> RuntimeError {
    RuntimeError::Connector(format!(
        "connector '{name}' cannot be used as a {side} (supported: {})",
        known.join(", ")
    ))
}
