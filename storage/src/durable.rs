//! Durable storage in RocksDB: the catalog log, the rows of base tables, and metadata.
//!
//! Layout (one column family each):
//! - `catalog`: the log of statements that changed the catalog, keyed by sequence number
//!   (8 bytes big-endian), value an opaque record (the planner's JSON).
//! - `rows`: the rows of durable tables, keyed by table id (8 bytes big-endian) followed by
//!   the memcomparable row key: the encoded primary key (value: the encoded row) for keyed
//!   tables, the encoded row itself (value: its multiplicity, 8 bytes little-endian) for tables
//!   without a key. Prefix order keeps one table's rows contiguous, so a scan or a drop is a
//!   range operation.
//! - `meta`: the data directory's format marker, named metadata (`n/..`) and the generation
//!   of the committed checkpoint.
//! - `checkpoint`: the last committed checkpoint's entries, keyed by `#`, its generation (8
//!   bytes big-endian) and the entry's key. A checkpoint is written entry by entry under the
//!   next generation, then committed by one atomic write that names it current and deletes
//!   every other key (older generations, or what a crash left of an uncommitted one): the
//!   entries never all sit in memory, and a crash leaves the previous checkpoint. (A
//!   directory without a generation holds entries keyed without the prefix, written as one
//!   batch by earlier versions; they are read as the checkpoint.) The streams of large
//!   operator state the entries refer to (see [`crate::state`]) are keyed by `$`, the
//!   generation that wrote them and the stream's id (8 bytes big-endian each) and the
//!   record's key; a checkpoint may refer to streams of earlier generations (state that did
//!   not change since), so the commit deletes exactly the streams the previous checkpoint
//!   referred to and this one does not (the list is in `meta`, committed with the
//!   generation).
//!
//! Every write is one RocksDB write batch (atomic), written to the WAL before it returns and,
//! with `sync_writes`, fsynced: a statement acknowledged to a client survives a crash.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};

use crate::error::{Result, StorageError};
use crate::state::{RecordVisitor, SharedSink, StateSink, StateSource, StreamBook, StreamRef};

const CATALOG: &str = "catalog";
const ROWS: &str = "rows";
const META: &str = "meta";
const CHECKPOINT: &str = "checkpoint";
const FAMILIES: [&str; 4] = [CATALOG, ROWS, META, CHECKPOINT];
const FORMAT_KEY: &[u8] = b"format";
const GENERATION_KEY: &[u8] = b"checkpoint-generation";
/// The streams the committed checkpoint refers to: (generation, id) pairs, 16 bytes each.
const STREAMS_KEY: &[u8] = b"checkpoint-streams";
/// Checkpoint keys: entries of a generation under `#`, streams under `$`, and entries of
/// checkpoints from before generations (names: `q/..`, `t/..`) above both.
const STREAMS_START: &[u8] = b"$";
const STREAMS_END: &[u8] = b"%";

/// The first key of checkpoint generation `generation`'s entries.
fn generation_prefix(generation: u64) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(9);
    prefix.push(b'#');
    prefix.extend_from_slice(&generation.to_be_bytes());
    prefix
}

/// A key above every checkpoint key (entry keys are names: far shorter than 64 bytes of
/// 0xff).
fn checkpoint_end() -> Vec<u8> {
    vec![0xff; 64]
}

/// The on-disk format. Row bytes use Arrow's row format, which Arrow does not promise to keep
/// across major versions: the marker names the Arrow major version, and a data directory
/// written with another one is refused at open instead of being misread. The number changes
/// with every change to how tables, the catalog or checkpointed operator state are written
/// (4: aggregate groups as self-contained entries, the encoding spilled groups share; 6: an
/// interval join's rows carry their expiry times; 7: an aggregate group's current output is
/// one encoded row).
pub const FORMAT: &str = "sluice-data-7;arrow-row-59";

/// How a data directory is opened.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// fsync the WAL on every write (a power loss loses nothing acknowledged). Without it a
    /// process crash still loses nothing: the WAL is written before a write returns.
    pub sync_writes: bool,
    /// Size of RocksDB's block cache, in bytes.
    pub cache_bytes: usize,
    /// How often the state of continuous queries is checkpointed, in milliseconds (0: only
    /// on `CHECKPOINT`).
    pub checkpoint_interval_ms: u64,
}

impl Default for DurableOptions {
    fn default() -> Self {
        Self {
            sync_writes: true,
            cache_bytes: 64 << 20,
            checkpoint_interval_ms: 5000,
        }
    }
}

/// One change to a durable table's rows: put `value` at `key`, or delete `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOp {
    Put(Box<[u8]>, Box<[u8]>),
    Delete(Box<[u8]>),
}

/// An open data directory.
pub struct Durable {
    db: DB,
    write: WriteOptions,
    path: PathBuf,
    checkpoints: CheckpointStats,
}

/// Checkpoints committed since the data directory was opened and the bytes they wrote.
#[derive(Debug, Default)]
struct CheckpointStats {
    committed: AtomicU64,
    last_bytes: AtomicU64,
    total_bytes: AtomicU64,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable").field("path", &self.path).finish()
    }
}

impl Durable {
    /// Open (or create) the data directory at `path`. Fails with a clear error when another
    /// process holds it, when it is corrupt, or when it was written in another format.
    pub fn open(path: &Path, options: &DurableOptions) -> Result<Arc<Self>> {
        std::fs::create_dir_all(path).map_err(|e| StorageError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_paranoid_checks(true);
        let mut table_options = BlockBasedOptions::default();
        let cache = Cache::new_lru_cache(options.cache_bytes).map_err(|e| open_error(path, &e))?;
        table_options.set_block_cache(&cache);
        table_options.set_bloom_filter(10.0, false);
        let families = FAMILIES.map(|name| {
            let mut cf = Options::default();
            cf.set_block_based_table_factory(&table_options);
            ColumnFamilyDescriptor::new(name, cf)
        });
        let db = DB::open_cf_descriptors(&db_options, path, families)
            .map_err(|e| open_error(path, &e))?;
        let mut write = WriteOptions::default();
        write.set_sync(options.sync_writes);
        let durable = Self {
            db,
            write,
            path: path.to_path_buf(),
            checkpoints: CheckpointStats::default(),
        };
        durable.check_format()?;
        Ok(Arc::new(durable))
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt(format!("column family {name} is missing")))
    }

    fn check_format(&self) -> Result<()> {
        let meta = self.cf(META)?;
        match self.db.get_cf(meta, FORMAT_KEY).map_err(rocks)? {
            Some(found) if found == FORMAT.as_bytes() => Ok(()),
            Some(found) => Err(StorageError::Format {
                path: self.path.display().to_string(),
                found: String::from_utf8_lossy(&found).into_owned(),
                expected: FORMAT.to_string(),
            }),
            None => {
                // A new directory, or one whose only writes never committed: either way it
                // holds no data yet.
                let has_catalog = self
                    .db
                    .iterator_cf(self.cf(CATALOG)?, IteratorMode::Start)
                    .next()
                    .is_some();
                if has_catalog {
                    return Err(StorageError::Corrupt(format!(
                        "{} has a catalog but no format marker",
                        self.path.display()
                    )));
                }
                self.db
                    .put_cf_opt(meta, FORMAT_KEY, FORMAT.as_bytes(), &self.write)
                    .map_err(rocks)
            }
        }
    }

    /// All catalog records in sequence order.
    pub fn catalog(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut records = Vec::new();
        for item in self.db.iterator_cf(self.cf(CATALOG)?, IteratorMode::Start) {
            let (key, value) = item.map_err(rocks)?;
            let seq = decode_u64(&key)
                .ok_or_else(|| StorageError::Corrupt("catalog key is not 8 bytes".into()))?;
            records.push((seq, value.into_vec()));
        }
        Ok(records)
    }

    /// Append catalog record `seq` and, atomically with it, delete the rows of `dropped`
    /// tables.
    pub fn append_catalog(&self, seq: u64, record: &[u8], dropped: &[u64]) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CATALOG)?, seq.to_be_bytes(), record);
        let rows = self.cf(ROWS)?;
        for &table in dropped {
            batch.delete_range_cf(rows, table.to_be_bytes().to_vec(), end_of(table));
        }
        self.db.write_opt(batch, &self.write).map_err(rocks)
    }

    /// Replace the stored checkpoint with `entries`: a crash leaves either the previous
    /// checkpoint or this one (see [`Durable::begin_checkpoint`]). (Tests; the planner writes
    /// entry by entry.)
    #[cfg(test)]
    fn write_checkpoint(self: &Arc<Self>, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let mut writer = self.begin_checkpoint()?;
        for (key, value) in entries {
            writer.put(key, value)?;
        }
        writer.commit()
    }

    /// Start writing a checkpoint (see the module documentation): entries written with
    /// [`CheckpointWriter::put`] replace the last checkpoint when
    /// [`CheckpointWriter::commit`] returns; until then, and after a crash before it, the
    /// last checkpoint stays.
    pub fn begin_checkpoint(self: &Arc<Self>) -> Result<CheckpointWriter> {
        let generation = self
            .checkpoint_generation()?
            .map_or(1, |g| g.saturating_add(1));
        // What an uncommitted checkpoint left at this generation: entries and streams.
        let cf = self.cf(CHECKPOINT)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, generation_prefix(generation), STREAMS_START.to_vec());
        batch.delete_range_cf(cf, stream_key(generation, 0), STREAMS_END.to_vec());
        let unsynced = unsynced_options();
        self.db.write_opt(batch, &unsynced).map_err(rocks)?;
        let previous = match self.db.get_cf(self.cf(META)?, STREAMS_KEY).map_err(rocks)? {
            Some(bytes) => decode_stream_list(&bytes)?,
            None => BTreeSet::new(),
        };
        let committed = generation.checked_sub(1).filter(|g| *g > 0);
        let streams = CheckpointStreams {
            durable: Arc::clone(self),
            book: StreamBook::new(generation, committed, previous),
            batch: WriteBatch::default(),
            unsynced: unsynced_options(),
            bytes: 0,
        };
        Ok(CheckpointWriter {
            durable: Arc::clone(self),
            prefix: generation_prefix(generation),
            generation,
            unsynced,
            streams: Arc::new(Mutex::new(streams)),
            bytes: 0,
        })
    }

    /// Checkpoints committed since the directory was opened, the bytes (keys and values of
    /// entries and stream records) the last one wrote, and the bytes all of them wrote.
    pub fn checkpoint_stats(&self) -> (u64, u64, u64) {
        let stats = &self.checkpoints;
        (
            stats.committed.load(Ordering::Relaxed),
            stats.last_bytes.load(Ordering::Relaxed),
            stats.total_bytes.load(Ordering::Relaxed),
        )
    }

    /// The generation of the committed checkpoint (`None`: none committed by generation).
    fn checkpoint_generation(&self) -> Result<Option<u64>> {
        match self
            .db
            .get_cf(self.cf(META)?, GENERATION_KEY)
            .map_err(rocks)?
        {
            None => Ok(None),
            Some(bytes) => decode_u64(&bytes).map(Some).ok_or_else(|| {
                StorageError::Corrupt("the checkpoint generation is not 8 bytes".into())
            }),
        }
    }

    /// One entry of the last checkpoint (a restart reads them one at a time).
    pub fn checkpoint_entry(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let full = match self.checkpoint_generation()? {
            Some(generation) => {
                let mut full = generation_prefix(generation);
                full.extend_from_slice(key);
                full
            }
            None => key.to_vec(),
        };
        self.db.get_cf(self.cf(CHECKPOINT)?, full).map_err(rocks)
    }

    /// The streams of the last checkpoint's entries (see [`crate::state`]).
    pub fn checkpoint_streams(self: &Arc<Self>) -> Result<Arc<dyn StateSource>> {
        Ok(Arc::new(CheckpointSource {
            durable: Arc::clone(self),
            committed: self.checkpoint_generation()?,
        }))
    }

    /// The entries of the last checkpoint. (Tests; a restart reads them one at a time with
    /// [`Durable::checkpoint_entry`].)
    #[cfg(test)]
    fn checkpoint(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let cf = self.cf(CHECKPOINT)?;
        let mut entries = Vec::new();
        let Some(generation) = self.checkpoint_generation()? else {
            // Written by an earlier version: every entry, without a prefix.
            for item in self.db.iterator_cf(cf, IteratorMode::Start) {
                let (key, value) = item.map_err(rocks)?;
                entries.push((key.into_vec(), value.into_vec()));
            }
            return Ok(entries);
        };
        let prefix = generation_prefix(generation);
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(generation_prefix(generation.saturating_add(1)));
        let iter =
            self.db
                .iterator_cf_opt(cf, options, IteratorMode::From(&prefix, Direction::Forward));
        for item in iter {
            let (key, value) = item.map_err(rocks)?;
            let Some(name) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            entries.push((name.to_vec(), value.into_vec()));
        }
        Ok(entries)
    }

    /// Apply `ops` to the rows of `table` atomically.
    pub fn write_rows(&self, table: u64, ops: &[RowOp]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows = self.cf(ROWS)?;
        let mut batch = WriteBatch::default();
        let mut key = Vec::new();
        for op in ops {
            key.clear();
            key.extend_from_slice(&table.to_be_bytes());
            match op {
                RowOp::Put(k, v) => {
                    key.extend_from_slice(k);
                    batch.put_cf(rows, &key, v);
                }
                RowOp::Delete(k) => {
                    key.extend_from_slice(k);
                    batch.delete_cf(rows, &key);
                }
            }
        }
        self.db.write_opt(batch, &self.write).map_err(rocks)
    }

    /// Delete every row of `table`.
    pub fn clear_rows(&self, table: u64) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(ROWS)?, table.to_be_bytes().to_vec(), end_of(table));
        self.db.write_opt(batch, &self.write).map_err(rocks)
    }

    /// Visit every row of `table` in key order: `(row key, value)`.
    pub fn scan_rows(&self, table: u64, mut visit: impl FnMut(&[u8], &[u8])) -> Result<()> {
        let prefix = table.to_be_bytes();
        let iter = self.db.iterator_cf(
            self.cf(ROWS)?,
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item.map_err(rocks)?;
            if !key.starts_with(&prefix) {
                break;
            }
            visit(&key[prefix.len()..], &value);
        }
        Ok(())
    }

    /// Point lookup of one row of `table`.
    pub fn get_row(&self, table: u64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut full = table.to_be_bytes().to_vec();
        full.extend_from_slice(key);
        self.db.get_cf(self.cf(ROWS)?, full).map_err(rocks)
    }

    /// A 64-bit number kept under `key` in the metadata (written with the WAL's sync
    /// setting, so it survives a crash once this returns).
    pub fn put_meta_i64(&self, key: &str, value: i64) -> Result<()> {
        self.db
            .put_cf_opt(
                self.cf(META)?,
                meta_key(key),
                value.to_be_bytes(),
                &self.write,
            )
            .map_err(rocks)
    }

    /// The number [`Durable::put_meta_i64`] last kept under `key`.
    pub fn meta_i64(&self, key: &str) -> Result<Option<i64>> {
        match self
            .db
            .get_cf(self.cf(META)?, meta_key(key))
            .map_err(rocks)?
        {
            None => Ok(None),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt(format!("metadata {key} is not 8 bytes")))?;
                Ok(Some(i64::from_be_bytes(bytes)))
            }
        }
    }

    /// Flush memtables and the WAL to disk (used by `CHECKPOINT`).
    pub fn flush(&self) -> Result<()> {
        for name in FAMILIES {
            self.db.flush_cf(self.cf(name)?).map_err(rocks)?;
        }
        self.db.flush_wal(true).map_err(rocks)
    }

    /// Approximate bytes on disk (SST files and live WAL).
    pub fn disk_bytes(&self) -> u64 {
        let mut total = 0;
        for name in FAMILIES {
            if let Ok(cf) = self.cf(name) {
                if let Ok(Some(bytes)) = self
                    .db
                    .property_int_value_cf(cf, "rocksdb.total-sst-files-size")
                {
                    total += bytes;
                }
            }
        }
        total
    }
}

/// A checkpoint being written (see [`Durable::begin_checkpoint`]).
pub struct CheckpointWriter {
    durable: Arc<Durable>,
    generation: u64,
    prefix: Vec<u8>,
    /// Entries go to the WAL unsynced: the commit's synced write makes them durable with it.
    unsynced: WriteOptions,
    streams: Arc<Mutex<CheckpointStreams>>,
    /// Bytes of the entries written.
    bytes: u64,
}

impl CheckpointWriter {
    /// Write one entry of the checkpoint (not visible until the commit).
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(&self.prefix);
        full.extend_from_slice(key);
        self.bytes += (full.len() + value.len()) as u64;
        let cf = self.durable.cf(CHECKPOINT)?;
        self.durable
            .db
            .put_cf_opt(cf, full, value, &self.unsynced)
            .map_err(rocks)
    }

    /// Where the entries' large state goes: streams of records committed with the entries
    /// (see [`crate::state::StateWriter::with_sink`]).
    pub fn streams(&self) -> SharedSink {
        self.streams.clone()
    }

    /// Make the entries written the checkpoint, in one atomic write that also deletes every
    /// other checkpoint key.
    pub fn commit(self) -> Result<()> {
        let durable = self.durable;
        let mut streams = self
            .streams
            .lock()
            .map_err(|_| StorageError::Io("checkpoint streams lock poisoned".into()))?;
        streams.flush()?;
        let cf = durable.cf(CHECKPOINT)?;
        let mut batch = WriteBatch::default();
        let meta = durable.cf(META)?;
        batch.put_cf(meta, GENERATION_KEY, self.generation.to_be_bytes());
        // Entries of other generations, and of checkpoints from before generations.
        batch.delete_range_cf(cf, Vec::new(), self.prefix.clone());
        let next = generation_prefix(self.generation.saturating_add(1));
        batch.delete_range_cf(cf, next, STREAMS_START.to_vec());
        batch.delete_range_cf(cf, STREAMS_END.to_vec(), checkpoint_end());
        // Streams the previous checkpoint referred to and this one does not.
        for (generation, id) in streams.book.held() {
            if !streams.book.referenced().contains(&(*generation, *id)) {
                batch.delete_range_cf(
                    cf,
                    stream_key(*generation, *id),
                    stream_end(*generation, *id),
                );
            }
        }
        let mut list = Vec::with_capacity(16 * streams.book.referenced().len());
        for (generation, id) in streams.book.referenced() {
            list.extend_from_slice(&generation.to_be_bytes());
            list.extend_from_slice(&id.to_be_bytes());
        }
        batch.put_cf(meta, STREAMS_KEY, list);
        durable.db.write_opt(batch, &durable.write).map_err(rocks)?;
        let bytes = self.bytes + streams.bytes;
        let stats = &durable.checkpoints;
        stats.committed.fetch_add(1, Ordering::Relaxed);
        stats.last_bytes.store(bytes, Ordering::Relaxed);
        stats.total_bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }
}

/// Writes without a WAL sync (a later synced write makes them durable).
fn unsynced_options() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(false);
    options
}

/// The first key of stream `id` of `generation`.
fn stream_key(generation: u64, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.extend_from_slice(STREAMS_START);
    key.extend_from_slice(&generation.to_be_bytes());
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The first key after stream `id` of `generation`.
fn stream_end(generation: u64, id: u64) -> Vec<u8> {
    match id.checked_add(1) {
        Some(next) => stream_key(generation, next),
        None => match generation.checked_add(1) {
            Some(next) => stream_key(next, 0),
            None => STREAMS_END.to_vec(),
        },
    }
}

/// A list of (generation, stream id) pairs as the commit stores it.
fn decode_stream_list(bytes: &[u8]) -> Result<BTreeSet<(u64, u64)>> {
    if !bytes.len().is_multiple_of(16) {
        return Err(StorageError::Corrupt(
            "the checkpoint's stream list is not a list of pairs".into(),
        ));
    }
    Ok(bytes
        .chunks_exact(16)
        .filter_map(|pair| Some((decode_u64(&pair[..8])?, decode_u64(&pair[8..])?)))
        .collect())
}

/// The streams of a checkpoint being written: records buffered in a write batch, written
/// (unsynced) whenever it holds a few megabytes and before the commit; and the book of the
/// streams the checkpoint and the committed one refer to.
struct CheckpointStreams {
    durable: Arc<Durable>,
    book: StreamBook,
    batch: WriteBatch,
    unsynced: WriteOptions,
    /// Bytes of the records written.
    bytes: u64,
}

/// Bytes of stream records buffered before they are written.
const STREAM_BATCH_BYTES: usize = 4 << 20;

impl CheckpointStreams {
    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.durable
            .db
            .write_opt(batch, &self.unsynced)
            .map_err(rocks)
    }
}

impl StateSink for CheckpointStreams {
    fn book(&self) -> &StreamBook {
        &self.book
    }

    fn book_mut(&mut self) -> &mut StreamBook {
        &mut self.book
    }

    fn put(&mut self, stream: u64, key: &[u8], value: &[u8]) -> Result<()> {
        let (generation, _) = self.book.generations();
        let mut full = stream_key(generation, stream);
        full.extend_from_slice(key);
        self.bytes += (full.len() + value.len()) as u64;
        self.batch.put_cf(self.durable.cf(CHECKPOINT)?, full, value);
        if self.batch.size_in_bytes() >= STREAM_BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

/// The streams of the committed checkpoint (none for one written before streams existed).
struct CheckpointSource {
    durable: Arc<Durable>,
    committed: Option<u64>,
}

impl StateSource for CheckpointSource {
    fn read_stream(&self, stream: StreamRef, each: &mut RecordVisitor<'_>) -> Result<()> {
        if self.committed.is_none_or(|c| stream.generation > c) {
            return Err(StorageError::Corrupt(format!(
                "the checkpoint refers to stream {} of generation {}, which it cannot hold",
                stream.id, stream.generation
            )));
        }
        let start = stream_key(stream.generation, stream.id);
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(stream_end(stream.generation, stream.id));
        let cf = self.durable.cf(CHECKPOINT)?;
        let iter = self.durable.db.iterator_cf_opt(
            cf,
            options,
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item.map_err(rocks)?;
            let Some(record) = key.strip_prefix(start.as_slice()) else {
                break;
            };
            each(record, &value)?;
        }
        Ok(())
    }
}

/// Named metadata lives beside the format marker, under a prefix of its own.
fn meta_key(key: &str) -> Vec<u8> {
    let mut full = b"n/".to_vec();
    full.extend_from_slice(key.as_bytes());
    full
}

/// The first key after every key of `table`.
fn end_of(table: u64) -> Vec<u8> {
    match table.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 9],
    }
}

fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Encode a multiplicity (the value of a row in a table without a key).
pub fn encode_weight(weight: i64) -> Box<[u8]> {
    Box::new(weight.to_le_bytes())
}

/// Decode a multiplicity written by [`encode_weight`].
pub fn decode_weight(bytes: &[u8]) -> Result<i64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt("row multiplicity is not 8 bytes".into()))?;
    Ok(i64::from_le_bytes(bytes))
}

fn rocks(error: rocksdb::Error) -> StorageError {
    let message = error.into_string();
    if message.starts_with("Corruption") {
        StorageError::Corrupt(message)
    } else {
        StorageError::Io(message)
    }
}

fn open_error(path: &Path, error: &rocksdb::Error) -> StorageError {
    let message = error.to_string();
    let path = path.display().to_string();
    if message.contains("lock file") || message.contains("LOCK") {
        StorageError::Locked { path, message }
    } else if message.starts_with("Corruption") {
        StorageError::Corrupt(format!("{path}: {message}"))
    } else {
        StorageError::Open { path, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(pairs: &[(&str, Option<&str>)]) -> Vec<RowOp> {
        pairs
            .iter()
            .map(|(k, v)| match v {
                Some(v) => RowOp::Put(k.as_bytes().into(), v.as_bytes().into()),
                None => RowOp::Delete(k.as_bytes().into()),
            })
            .collect()
    }

    fn rows(durable: &Durable, table: u64) -> Vec<(String, String)> {
        let mut out = Vec::new();
        durable
            .scan_rows(table, |k, v| {
                out.push((
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ))
            })
            .expect("scan");
        out
    }

    #[test]
    fn rows_and_catalog_survive_reopen() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        {
            let durable = Durable::open(dir.path(), &DurableOptions::default())?;
            durable.append_catalog(1, b"create a", &[])?;
            durable.append_catalog(2, b"create b", &[])?;
            durable.write_rows(1, &ops(&[("k1", Some("r1")), ("k2", Some("r2"))]))?;
            durable.write_rows(2, &ops(&[("k1", Some("other"))]))?;
            durable.write_rows(1, &ops(&[("k1", None), ("k3", Some("r3"))]))?;
            assert_eq!(durable.meta_i64("clock")?, None);
            durable.put_meta_i64("clock", 7)?;
            durable.put_meta_i64("clock", -3)?;
        }
        let durable = Durable::open(dir.path(), &DurableOptions::default())?;
        assert_eq!(
            durable.catalog()?,
            vec![(1, b"create a".to_vec()), (2, b"create b".to_vec())]
        );
        assert_eq!(
            rows(&durable, 1),
            vec![("k2".into(), "r2".into()), ("k3".into(), "r3".into())]
        );
        assert_eq!(rows(&durable, 2), vec![("k1".into(), "other".into())]);
        assert_eq!(durable.get_row(1, b"k3")?, Some(b"r3".to_vec()));
        assert_eq!(durable.get_row(1, b"k1")?, None);
        assert_eq!(durable.meta_i64("clock")?, Some(-3));
        // Dropping table 1 with the catalog record deletes its rows only.
        durable.append_catalog(3, b"drop a", &[1])?;
        assert!(rows(&durable, 1).is_empty());
        assert_eq!(rows(&durable, 2).len(), 1);
        durable.clear_rows(2)?;
        assert!(rows(&durable, 2).is_empty());
        Ok(())
    }

    #[test]
    fn a_second_open_is_refused_while_locked() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let _first = Durable::open(dir.path(), &DurableOptions::default())?;
        match Durable::open(dir.path(), &DurableOptions::default()) {
            Err(StorageError::Locked { .. }) => Ok(()),
            other => panic!("expected a lock error, got {other:?}"),
        }
    }

    #[test]
    fn another_format_is_refused() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        {
            let durable = Durable::open(dir.path(), &DurableOptions::default())?;
            let meta = durable.cf(META)?;
            durable
                .db
                .put_cf(meta, FORMAT_KEY, b"sluice-data-0")
                .map_err(rocks)?;
        }
        match Durable::open(dir.path(), &DurableOptions::default()) {
            Err(error @ StorageError::Format { .. }) => {
                assert!(error.to_string().contains("sluice-data-0"), "{error}");
                Ok(())
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn a_corrupt_directory_is_refused() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        {
            let durable = Durable::open(dir.path(), &DurableOptions::default())?;
            durable.write_rows(1, &ops(&[("k", Some("v"))]))?;
            durable.flush()?;
        }
        // Overwrite every SST file's contents with garbage.
        let mut damaged = 0;
        for entry in std::fs::read_dir(dir.path()).map_err(|e| StorageError::Io(e.to_string()))? {
            let path = entry.map_err(|e| StorageError::Io(e.to_string()))?.path();
            if path.extension().is_some_and(|e| e == "sst") {
                let len = std::fs::metadata(&path)
                    .map_err(|e| StorageError::Io(e.to_string()))?
                    .len();
                std::fs::write(&path, vec![0x5a; len as usize])
                    .map_err(|e| StorageError::Io(e.to_string()))?;
                damaged += 1;
            }
        }
        assert!(damaged > 0, "no SST file was written");
        let result = Durable::open(dir.path(), &DurableOptions::default())
            .and_then(|durable| durable.scan_rows(1, |_, _| {}));
        assert!(
            matches!(
                result,
                Err(StorageError::Corrupt(_) | StorageError::Open { .. })
            ),
            "expected a corruption error, got {result:?}"
        );
        Ok(())
    }

    #[test]
    fn checkpoints_commit_whole_and_replace_the_previous_one() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let entry = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        {
            let durable = Durable::open(dir.path(), &DurableOptions::default())?;
            // A directory of an earlier version: entries without a generation.
            let cf = durable.cf(CHECKPOINT)?;
            durable.db.put_cf(cf, b"q/old", b"1").map_err(rocks)?;
            assert_eq!(durable.checkpoint()?, vec![entry("q/old", "1")]);
            assert_eq!(durable.checkpoint_entry(b"q/old")?, Some(b"1".to_vec()));
            // The first checkpoint by generation replaces them.
            durable.write_checkpoint(&[entry("q/a", "2"), entry("t/b", "3")])?;
            assert_eq!(
                durable.checkpoint()?,
                vec![entry("q/a", "2"), entry("t/b", "3")]
            );
            // Entries written but not committed (a crash mid-checkpoint) are not read, and
            // the next checkpoint starts over them.
            let mut writer = durable.begin_checkpoint()?;
            writer.put(b"q/a", b"half")?;
            drop(writer);
        }
        let durable = Durable::open(dir.path(), &DurableOptions::default())?;
        assert_eq!(
            durable.checkpoint()?,
            vec![entry("q/a", "2"), entry("t/b", "3")]
        );
        let mut writer = durable.begin_checkpoint()?;
        writer.put(b"q/c", b"4")?;
        writer.commit()?;
        assert_eq!(durable.checkpoint()?, vec![entry("q/c", "4")]);
        assert_eq!(durable.checkpoint_entry(b"q/c")?, Some(b"4".to_vec()));
        assert_eq!(durable.checkpoint_entry(b"q/a")?, None);
        // Only the committed generation's keys remain.
        let cf = durable.cf(CHECKPOINT)?;
        assert_eq!(durable.db.iterator_cf(cf, IteratorMode::Start).count(), 1);
        Ok(())
    }

    /// Streams live while a committed checkpoint refers to them: a later checkpoint keeps
    /// the ones it refers to, the commit deletes the others, and an uncommitted checkpoint's
    /// streams are neither read nor kept.
    #[test]
    fn streams_live_while_a_checkpoint_refers_to_them() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let durable = Durable::open(dir.path(), &DurableOptions::default())?;
        let records = |stream: StreamRef| -> Result<Vec<Vec<u8>>> {
            let mut out = Vec::new();
            durable
                .checkpoint_streams()?
                .read_stream(stream, &mut |key, _| {
                    out.push(key.to_vec());
                    Ok(())
                })?;
            Ok(out)
        };
        let write = |writer: &CheckpointWriter, keys: &[&[u8]]| -> Result<StreamRef> {
            let sink = writer.streams();
            let mut sink = sink.lock().map_err(|_| StorageError::Io("lock".into()))?;
            let (generation, _) = sink.generations();
            let id = sink.open_stream();
            for key in keys {
                sink.put(id, key, b"value")?;
            }
            Ok(StreamRef {
                generation,
                id,
                records: keys.len() as u64,
            })
        };
        // Generation 1 writes stream a.
        let writer = durable.begin_checkpoint()?;
        let a = write(&writer, &[b"1", b"2"])?;
        writer.commit()?;
        assert_eq!(records(a)?, vec![b"1".to_vec(), b"2".to_vec()]);
        // Generation 2 refers to a and writes b.
        let writer = durable.begin_checkpoint()?;
        {
            let sink = writer.streams();
            let mut sink = sink.lock().map_err(|_| StorageError::Io("lock".into()))?;
            assert_eq!(sink.generations(), (2, Some(1)));
            assert!(sink.holds(a));
            sink.keep(a);
        }
        let b = write(&writer, &[b"3"])?;
        writer.commit()?;
        assert_eq!(records(a)?.len(), 2);
        assert_eq!(records(b)?.len(), 1);
        // Generation 3 writes c but fails: nothing of it is read, a and b stay.
        let writer = durable.begin_checkpoint()?;
        let c = write(&writer, &[b"4"])?;
        drop(writer);
        assert!(records(c).is_err(), "a stream of an uncommitted generation");
        // Generation 3 again refers to b only: a is deleted, and so is the failed c.
        let writer = durable.begin_checkpoint()?;
        {
            let sink = writer.streams();
            let mut sink = sink.lock().map_err(|_| StorageError::Io("lock".into()))?;
            assert_eq!(sink.generations(), (3, Some(2)));
            sink.keep(b);
        }
        writer.commit()?;
        assert!(records(a)?.is_empty());
        assert_eq!(records(b)?.len(), 1);
        assert!(records(c)?.is_empty());
        let cf = durable.cf(CHECKPOINT)?;
        let keys = durable.db.iterator_cf(cf, IteratorMode::Start).count();
        assert_eq!(keys, 1, "only b's record");
        Ok(())
    }
}
