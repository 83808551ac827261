//! The `filesystem` connector: a source reading JSON or CSV lines from a file or a directory,
//! optionally tailing it, and a sink appending JSON or CSV lines to a file.
//!
//! Source options (Flink's names): `path` (a file, or a directory whose regular files are read
//! in name order; names starting with `.` or `_` are ignored), `format` and the format options
//! of [`super::format`], and `source.monitor-interval` (a Flink duration such as `'1 s'`).
//! Without a monitor interval the source is bounded: it reads every file once and ends. With
//! one it is unbounded: after reading everything it looks every interval for new files and for
//! lines appended to files it already read, and never ends.
//!
//! Metadata columns (Flink's keys): `file.path`, `file.name` (STRING), `file.size` (BIGINT)
//! and `file.modification-time` (TIMESTAMP_LTZ(3)).
//!
//! Invariants of the source:
//! - Only whole lines are consumed while monitoring: a last line without `\n` is left for a
//!   later poll (it may still be being written). A bounded source reads it as a row at the end
//!   of the file.
//! - Each event holds the rows of at most `batch_size` consecutive lines of one file. The
//!   [`Source::offset`] after an event is, per file name, the byte offset and line count just
//!   past the last line consumed; [`Source::seek`] to it resumes exactly after that line.
//! - File I/O uses `tokio::fs`; decoding a batch runs inline (it is bounded by `batch_size`).
//! - A file that shrinks below its read offset is assumed rewritten and is read again from the
//!   start (with a warning).
//!
//! Sink options: `path` (a file, or an existing directory in which `part-0.json` /
//! `part-0.csv` is written), `format` and the format options. The sink appends; it accepts only
//! inserts (a row with weight `n` is written `n` times) and fails on a delete, since a file
//! cannot retract a line. `flush` flushes the buffered lines and syncs the file.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::time::Instant;

use super::duration::parse_duration;
use super::format::{FormatOptions, RowDecoder, RowEncoder, RowFormat, FORMAT_OPTION_KEYS};
use super::{Sink, SinkSpec, Source, SourceCounters, SourceEvent, SourceSpec};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

const CONNECTOR: &str = "filesystem";
/// Bytes read from a file at a time.
const READ_BLOCK: usize = 256 * 1024;
/// Longest a `next()` call waits before reporting `Idle`.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(100);

/// Metadata a file source can attach to each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileMetadata {
    Path,
    Name,
    Size,
    ModificationTime,
}

impl FileMetadata {
    fn parse(key: &str) -> Result<Self> {
        match key {
            "file.path" => Ok(Self::Path),
            "file.name" => Ok(Self::Name),
            "file.size" => Ok(Self::Size),
            "file.modification-time" => Ok(Self::ModificationTime),
            other => Err(RuntimeError::Connector(format!(
                "connector 'filesystem' has no metadata key '{other}' (supported: file.path, file.name, file.size, file.modification-time)"
            ))),
        }
    }
}

/// How far one file has been read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FileProgress {
    /// Bytes consumed (always just after a `\n`, or the end of a bounded file).
    offset: u64,
    /// Lines consumed, for line numbers in errors.
    line: u64,
}

/// The serialized source offset.
#[derive(Debug, Serialize, Deserialize)]
struct SavedOffsets {
    files: Vec<SavedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedFile {
    file: String,
    offset: u64,
    line: u64,
}

/// The file being read.
struct OpenFile {
    name: String,
    path: PathBuf,
    file: tokio::fs::File,
    /// Bytes from the file's progress offset on, read but not consumed yet.
    buffer: Vec<u8>,
    /// Number of `\n` in `buffer`.
    newlines: usize,
    /// The last read returned no bytes.
    at_end: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// Reads JSON or CSV lines from files; see the module documentation.
pub struct FileSystemSource {
    table: String,
    root: PathBuf,
    root_is_dir: bool,
    decoder: RowDecoder,
    schema: SchemaRef,
    metadata: Vec<FileMetadata>,
    monitor_interval: Option<Duration>,
    batch_size: usize,
    files: BTreeMap<String, FileProgress>,
    /// Files with unread bytes, in name order.
    pending: VecDeque<String>,
    current: Option<OpenFile>,
    scanned: bool,
    next_scan: Instant,
    counters: Arc<SourceCounters>,
}

impl FileSystemSource {
    /// Validate the options and check that `path` exists.
    pub fn new(spec: SourceSpec) -> Result<Self> {
        let mut known = vec!["path", "source.monitor-interval"];
        known.extend_from_slice(FORMAT_OPTION_KEYS);
        spec.options.check_known(CONNECTOR, &known, &[])?;
        let path = spec.options.required(CONNECTOR, "path")?;
        let root = local_path(path);
        let metadata = std::fs::metadata(&root).map_err(|error| {
            RuntimeError::Connector(format!(
                "filesystem source for table {}: cannot read path '{}': {error}",
                spec.table, path
            ))
        })?;
        let monitor_interval = match spec.options.get("source.monitor-interval") {
            None => None,
            Some(text) => {
                let interval = parse_duration("source.monitor-interval", text)?;
                if interval.is_zero() {
                    return Err(RuntimeError::Connector(
                        "option 'source.monitor-interval' must be positive".into(),
                    ));
                }
                Some(interval)
            }
        };
        let physical_count = spec
            .schema
            .fields()
            .len()
            .checked_sub(spec.metadata.len())
            .ok_or_else(|| {
                RuntimeError::Internal(format!(
                    "table {} has more metadata columns than columns",
                    spec.table
                ))
            })?;
        let physical = Arc::new(Schema::new(spec.schema.fields()[..physical_count].to_vec()));
        let metadata_kinds = spec
            .metadata
            .iter()
            .map(|column| FileMetadata::parse(&column.key))
            .collect::<Result<Vec<_>>>()?;
        let format = FormatOptions::from_options(&spec.options, "")?;
        let decoder = RowDecoder::new(physical, format, spec.bad_rows)?;
        Ok(Self {
            table: spec.table,
            root,
            root_is_dir: metadata.is_dir(),
            decoder,
            schema: spec.schema,
            metadata: metadata_kinds,
            monitor_interval,
            batch_size: spec.batch_size.max(1),
            files: BTreeMap::new(),
            pending: VecDeque::new(),
            current: None,
            scanned: false,
            next_scan: Instant::now(),
            counters: Arc::new(SourceCounters::default()),
        })
    }

    fn io_error(&self, what: &str, path: &Path, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: format!(
                "filesystem source for table {}: {what} '{}'",
                self.table,
                path.display()
            ),
            source,
        }
    }

    /// The readable files under the root, in name order.
    async fn list_files(&self) -> Result<Vec<(String, PathBuf)>> {
        if !self.root_is_dir {
            let name = self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.root.display().to_string());
            return Ok(vec![(name, self.root.clone())]);
        }
        let mut entries = tokio::fs::read_dir(&self.root)
            .await
            .map_err(|e| self.io_error("cannot list directory", &self.root, e))?;
        let mut files = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| self.io_error("cannot list directory", &self.root, e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let path = entry.path();
            // Follows symbolic links; entries that vanish meanwhile are skipped.
            match tokio::fs::metadata(&path).await {
                Ok(metadata) if metadata.is_file() => files.push((name, path)),
                _ => {}
            }
        }
        files.sort();
        Ok(files)
    }

    /// Find files with unread bytes and queue them in name order.
    async fn scan(&mut self) -> Result<()> {
        self.scanned = true;
        for (name, path) in self.list_files().await? {
            let size = match tokio::fs::metadata(&path).await {
                Ok(metadata) => metadata.len(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(self.io_error("cannot read", &path, error)),
            };
            let progress = self.files.entry(name.clone()).or_default();
            if size < progress.offset {
                tracing::warn!(
                    table = %self.table,
                    file = %path.display(),
                    "file shrank below its read offset; reading it again from the start"
                );
                *progress = FileProgress::default();
            }
            let reading = self.current.as_ref().is_some_and(|c| c.name == name);
            if size > progress.offset && !reading && !self.pending.contains(&name) {
                self.pending.push_back(name);
            }
        }
        Ok(())
    }

    async fn open(&self, name: &str) -> Result<Option<OpenFile>> {
        let path = if self.root_is_dir {
            self.root.join(name)
        } else {
            self.root.clone()
        };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io_error("cannot open", &path, error)),
        };
        let metadata = file
            .metadata()
            .await
            .map_err(|e| self.io_error("cannot read", &path, e))?;
        let offset = self.files.get(name).map_or(0, |p| p.offset);
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| self.io_error("cannot seek in", &path, e))?;
        Ok(Some(OpenFile {
            name: name.to_string(),
            path,
            file,
            buffer: Vec::new(),
            newlines: 0,
            at_end: false,
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }))
    }

    /// The next batch of the current file, or `None` when it has no more whole lines.
    async fn read_batch(&mut self) -> Result<Option<SourceEvent>> {
        let bounded = self.monitor_interval.is_none();
        let Some(current) = self.current.as_mut() else {
            return Ok(None);
        };
        while current.newlines < self.batch_size && !current.at_end {
            let mut block = vec![0u8; READ_BLOCK];
            let read = current
                .file
                .read(&mut block)
                .await
                .map_err(|source| RuntimeError::Io {
                    context: format!(
                        "filesystem source for table {}: cannot read '{}'",
                        self.table,
                        current.path.display()
                    ),
                    source,
                })?;
            if read == 0 {
                current.at_end = true;
            } else {
                current.newlines += block[..read].iter().filter(|b| **b == b'\n').count();
                current.buffer.extend_from_slice(&block[..read]);
            }
        }
        // Whole lines, up to batch_size; a bounded source also takes a final partial line.
        let mut end = 0;
        let mut lines = 0;
        for (i, byte) in current.buffer.iter().enumerate() {
            if *byte == b'\n' {
                end = i + 1;
                lines += 1;
                if lines == self.batch_size {
                    break;
                }
            }
        }
        if lines < self.batch_size && bounded && current.at_end && end < current.buffer.len() {
            end = current.buffer.len();
            lines += 1;
        }
        if end == 0 {
            return Ok(None);
        }
        let progress = self.files.get(&current.name).copied().unwrap_or_default();
        let chunk: Vec<u8> = current.buffer.drain(..end).collect();
        current.newlines -= chunk.iter().filter(|b| **b == b'\n').count();
        // The header line of a CSV file is not a row.
        let skip_header = progress.line == 0
            && self.decoder.options().csv.ignore_first_line
            && self.decoder.options().format == RowFormat::Csv;
        let body_start = if skip_header {
            chunk
                .iter()
                .position(|b| *b == b'\n')
                .map_or(chunk.len(), |i| i + 1)
        } else {
            0
        };
        let first_line = progress.line + 1 + u64::from(skip_header);
        let name = current.name.clone();
        let display = current.path.display().to_string();
        let location = |i: usize| format!("{display} line {}", first_line + i as u64);
        let decoded = match self.decoder.decode_lines(&chunk[body_start..], &location) {
            Ok(decoded) => decoded,
            Err(error) => {
                // Nothing was consumed: a retry reads the same lines again.
                self.current = None;
                return Err(error);
            }
        };

        let rows = self.with_metadata(decoded.rows)?;
        self.files.insert(
            name,
            FileProgress {
                offset: progress.offset + end as u64,
                line: progress.line + lines as u64,
            },
        );
        self.counters.add_bytes(end as u64);
        self.counters.add_rows(rows.num_rows() as u64);
        self.counters.add_bad_rows(decoded.bad_count);
        Ok(Some(SourceEvent::Batch {
            rows,
            bad_rows: decoded.bad_rows,
        }))
    }

    /// Append the requested metadata columns of the current file.
    fn with_metadata(&self, rows: RecordBatch) -> Result<RecordBatch> {
        let n = rows.num_rows();
        let Some(current) = self.current.as_ref() else {
            return Err(RuntimeError::Internal("no file is being read".into()));
        };
        let mut columns = rows.columns().to_vec();
        let metadata_fields = &self.schema.fields()[rows.num_columns()..];
        for (kind, field) in self.metadata.iter().zip(metadata_fields) {
            let value: ArrayRef = match kind {
                FileMetadata::Path => {
                    Arc::new(StringArray::from(vec![
                        current.path.display().to_string();
                        n
                    ]))
                }
                FileMetadata::Name => Arc::new(StringArray::from(vec![current.name.clone(); n])),
                FileMetadata::Size => Arc::new(Int64Array::from(vec![current.size as i64; n])),
                FileMetadata::ModificationTime => {
                    let millis = current
                        .modified
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64);
                    Arc::new(TimestampMillisecondArray::from(vec![millis; n]).with_timezone("UTC"))
                }
            };
            let value = if value.data_type() == field.data_type() {
                value
            } else {
                cast(&value, field.data_type()).map_err(|error| {
                    RuntimeError::Connector(format!(
                        "metadata column '{}' cannot have type {}: {error}",
                        field.name(),
                        field.data_type()
                    ))
                })?
            };
            columns.push(value);
        }
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }
}

#[async_trait::async_trait]
impl Source for FileSystemSource {
    async fn next(&mut self) -> Result<SourceEvent> {
        loop {
            if self.current.is_some() {
                if let Some(event) = self.read_batch().await? {
                    return Ok(event);
                }
                self.current = None;
                continue;
            }
            if let Some(name) = self.pending.pop_front() {
                self.current = self.open(&name).await?;
                continue;
            }
            if !self.scanned {
                self.scan().await?;
                self.next_scan = Instant::now() + self.monitor_interval.unwrap_or_default();
                continue;
            }
            let Some(interval) = self.monitor_interval else {
                return Ok(SourceEvent::End);
            };
            let now = Instant::now();
            if now >= self.next_scan {
                self.scan().await?;
                self.next_scan = now + interval;
                if !self.pending.is_empty() {
                    continue;
                }
            }
            let wait = self
                .next_scan
                .saturating_duration_since(Instant::now())
                .min(MAX_IDLE_WAIT);
            tokio::time::sleep(wait).await;
            return Ok(SourceEvent::Idle);
        }
    }

    fn offset(&self) -> Option<Vec<u8>> {
        let saved = SavedOffsets {
            files: self
                .files
                .iter()
                .map(|(file, progress)| SavedFile {
                    file: file.clone(),
                    offset: progress.offset,
                    line: progress.line,
                })
                .collect(),
        };
        serde_json::to_vec(&saved).ok()
    }

    fn seek(&mut self, offset: &[u8]) -> Result<()> {
        let saved: SavedOffsets = serde_json::from_slice(offset).map_err(|error| {
            RuntimeError::Connector(format!(
                "filesystem source for table {}: invalid offset: {error}",
                self.table
            ))
        })?;
        self.files = saved
            .files
            .into_iter()
            .map(|f| {
                (
                    f.file,
                    FileProgress {
                        offset: f.offset,
                        line: f.line,
                    },
                )
            })
            .collect();
        self.pending.clear();
        self.current = None;
        self.scanned = false;
        Ok(())
    }

    fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }
}

/// The rows of `changes` repeated by their weights; errors on a delete (weight < 0), naming
/// the connector. For sinks that can only append.
pub fn inserts_only(changes: &ChangeBatch, connector: &str) -> Result<RecordBatch> {
    let mut indices = Vec::with_capacity(changes.num_rows());
    let mut repeated = false;
    for (row, weight) in changes.weights.iter().enumerate() {
        let weight = weight
            .ok_or_else(|| RuntimeError::Internal("a change batch has a NULL weight".into()))?;
        if weight < 0 {
            return Err(RuntimeError::Connector(format!(
                "{connector} sink cannot apply deletes: the query produces updates"
            )));
        }
        let row = u32::try_from(row)
            .map_err(|_| RuntimeError::Internal("change batch too large".into()))?;
        repeated |= weight != 1;
        for _ in 0..weight {
            indices.push(row);
        }
    }
    if !repeated {
        return Ok(changes.data.clone());
    }
    Ok(take_record_batch(
        &changes.data,
        &UInt32Array::from(indices),
    )?)
}

/// Appends JSON or CSV lines to a file; see the module documentation.
pub struct FileSystemSink {
    table: String,
    path: PathBuf,
    encoder: RowEncoder,
    writer: tokio::io::BufWriter<tokio::fs::File>,
}

impl FileSystemSink {
    /// Validate the options and open (create or append to) the output file.
    pub fn new(spec: SinkSpec) -> Result<Self> {
        let mut known = vec!["path"];
        known.extend_from_slice(FORMAT_OPTION_KEYS);
        spec.options.check_known(CONNECTOR, &known, &[])?;
        let path = local_path(spec.options.required(CONNECTOR, "path")?);
        let format = FormatOptions::from_options(&spec.options, "")?;
        let path = if path.is_dir() {
            path.join(format!("part-0.{}", format.format.file_extension()))
        } else {
            path
        };
        let encoder = RowEncoder::new(spec.schema.clone(), format)?;
        let open_error = |source: std::io::Error| RuntimeError::Io {
            context: format!(
                "filesystem sink for table {}: cannot open '{}'",
                spec.table,
                path.display()
            ),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(open_error)?;
        let empty = file.metadata().map_err(open_error)?.len() == 0;
        if empty {
            if let Some(header) = encoder.csv_header()? {
                std::io::Write::write_all(&mut file, &header).map_err(open_error)?;
            }
        }
        Ok(Self {
            table: spec.table,
            path,
            encoder,
            writer: tokio::io::BufWriter::new(tokio::fs::File::from_std(file)),
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: format!(
                "filesystem sink for table {}: cannot write '{}'",
                self.table,
                self.path.display()
            ),
            source,
        }
    }
}

#[async_trait::async_trait]
impl Sink for FileSystemSink {
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let rows = inserts_only(changes, CONNECTOR)?;
        let bytes = self.encoder.encode(&rows)?;
        self.writer
            .write_all(&bytes)
            .await
            .map_err(|e| self.io_error(e))
    }

    async fn flush(&mut self) -> Result<()> {
        self.writer.flush().await.map_err(|e| self.io_error(e))?;
        self.writer
            .get_ref()
            .sync_data()
            .await
            .map_err(|e| self.io_error(e))
    }
}

/// A `path` option as a local path: Flink's `file:` URIs (`file:/data`, `file:///data`) name
/// local files too.
fn local_path(path: &str) -> PathBuf {
    match path.strip_prefix("file://") {
        Some(rest) => PathBuf::from(rest),
        None => PathBuf::from(path.strip_prefix("file:").unwrap_or(path)),
    }
}
