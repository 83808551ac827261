//! Operator state larger than memory: [`SpillMap`], a map from encoded keys to values that
//! keeps at most a memory budget's worth of entries in memory and moves the rest to a
//! scratch RocksDB database on local disk.
//!
//! Protocol (what an operator does per input batch):
//! 1. [`SpillMap::load`] with every key the batch will read or write: keys that were spilled
//!    come back into memory in one `multi_get` (no per-row round trips), and every key is
//!    marked as used by this batch.
//! 2. Plain map operations ([`SpillMap::get`], [`SpillMap::entry`], ..) on in-memory entries.
//! 3. [`SpillMap::settle`]: the sizes of the touched entries are recomputed and, when the map
//!    is over its budget, the least recently used entries are written out in one write batch
//!    until it is at three quarters of the budget.
//!
//! Invariant: a key is either in memory or on disk, never both. Without a budget (the
//! default) nothing is tracked and `load`/`settle` return at once.
//!
//! The scratch database is not durable state: checkpoints copy its entries into the data
//! directory (once, then only what changed: see [`SpillMap::snapshot`]), and the directory
//! is wiped when the process opens it. Each map owns a key prefix (a process-unique id) and
//! deletes its range when dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use hashbrown::HashMap;
use rocksdb::{Options, WriteBatch, WriteOptions, DB};

use crate::error::{Result, StorageError};
use crate::state::{ExternalStream, StateReader, StateWriter, StreamRef};
use crate::zset::ZSet;

/// A value a [`SpillMap`] can write to disk and read back.
pub trait SpillValue: Sized {
    /// What encoding and decoding need besides the value and its bytes: the operator's
    /// parameters (types, functions) for values that are not self-describing; `()` otherwise.
    type Context;
    /// Approximate bytes of memory the value occupies.
    fn memory_size(&self) -> usize;
    /// Rows the value stands for (for state sizes).
    fn rows(&self) -> usize;
    /// Write the value (mutable: some values, such as aggregate accumulators, produce their
    /// state through `&mut self`).
    fn encode(&mut self, out: &mut StateWriter, context: &Self::Context) -> Result<()>;
    fn decode(input: &mut StateReader, context: &Self::Context) -> Result<Self>;

    /// Whether changes to a spilled value can be appended to its bytes on disk without
    /// reading them (see [`SpillMap::add_row`]): the stored bytes are then one encoding
    /// followed by any number of deltas, which [`SpillValue::absorb`] folds in.
    const APPENDABLE: bool = false;

    /// Fold `later`, a delta stored after this value, into it.
    fn absorb(&mut self, _later: Self) {}

    /// The earliest expiry timer its owner has queued for the value (`i64::MAX`: none); a
    /// spilled key keeps it in memory so that appending to the key needs no read.
    fn timer(&self) -> i64 {
        i64::MAX
    }

    fn set_timer(&mut self, _time: i64) {}

    /// The latest time at which a part of the value expires (`i64::MAX`: some part never
    /// does). A spilled key keeps it in memory so that expiring the whole key needs no read
    /// (see [`SpillMap::forget_expired`]).
    fn last_expiry(&self) -> i64 {
        i64::MAX
    }
}

/// A value as stored: one encoding, and for appendable values the deltas after it, folded
/// (see [`SpillMap::read_spilled`], which also applies the key's timer).
fn decode_stored<V: SpillValue>(bytes: &[u8], context: &V::Context) -> Result<V> {
    let mut input = StateReader::new(bytes);
    let mut value = V::decode(&mut input, context)?;
    if V::APPENDABLE {
        while !input.is_empty() {
            let later = V::decode(&mut input, context)?;
            value.absorb(later);
        }
    }
    Ok(value)
}

/// RocksDB merge operator of the scratch database: a delta appended to a spilled value is
/// stored after its bytes (see [`SpillValue::APPENDABLE`]).
fn append_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    let mut merged = existing.map(<[u8]>::to_vec).unwrap_or_default();
    for operand in operands {
        merged.extend_from_slice(operand);
    }
    Some(merged)
}

impl SpillValue for ZSet {
    type Context = ();

    fn memory_size(&self) -> usize {
        ZSet::memory_size(self)
    }

    fn rows(&self) -> usize {
        self.distinct_len()
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> Result<()> {
        self.write_to(out);
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> Result<Self> {
        ZSet::read_from(input)
    }

    const APPENDABLE: bool = true;

    fn absorb(&mut self, later: Self) {
        for (row, weight, time) in later.iter_timed() {
            self.add_at(row, weight, time);
        }
        self.set_scheduled(self.scheduled().min(later.scheduled()));
    }

    fn timer(&self) -> i64 {
        self.scheduled()
    }

    fn set_timer(&mut self, time: i64) {
        self.set_scheduled(time);
    }

    fn last_expiry(&self) -> i64 {
        match self.is_timed() {
            true => self
                .iter_timed()
                .map(|(_, _, time)| time)
                .max()
                .unwrap_or(i64::MIN),
            false => i64::MAX,
        }
    }
}

/// Rows ordered by (sort key, row bytes), with weights: a partition of top-N or OVER state.
pub type OrderedRows = std::collections::BTreeMap<(Box<[u8]>, Box<[u8]>), i64>;

impl SpillValue for OrderedRows {
    type Context = ();

    fn memory_size(&self) -> usize {
        // Per entry: both byte strings, their boxed headers, the weight and B-tree overhead.
        48 + self
            .keys()
            .map(|(key, row)| key.len() + row.len() + 64)
            .sum::<usize>()
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> Result<()> {
        out.put_u64(self.len() as u64);
        for ((sort_key, row), weight) in self.iter() {
            out.put_bytes(sort_key);
            out.put_bytes(row);
            out.put_i64(*weight);
        }
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> Result<Self> {
        let mut rows = OrderedRows::new();
        for _ in 0..input.len_prefix()? {
            let sort_key = Box::from(input.bytes()?);
            let row = Box::from(input.bytes()?);
            rows.insert((sort_key, row), input.i64()?);
        }
        Ok(rows)
    }
}

/// Where spilled state goes and how much memory operator state may use.
#[derive(Debug, Clone, Default)]
pub struct SpillSettings {
    /// Bytes of memory per stateful operator instance (a [`Budget`] its maps and queues
    /// share) before it spills; when set, it replaces `total_bytes`.
    pub budget_bytes: Option<usize>,
    /// Bytes of memory the keyed state of all operators of the process may use together
    /// (one [`Budget`] they all share) before the largest spill; `None` (with no
    /// `budget_bytes`): never spill.
    pub total_bytes: Option<usize>,
    /// Directory of the scratch database (default: the system temp directory).
    pub dir: Option<PathBuf>,
}

/// The default of `--state-memory-mb`: keyed state of all operators together, in MiB.
pub const DEFAULT_STATE_MEMORY_MB: u64 = 384;

fn megabytes(mb: Option<u64>) -> Option<usize> {
    mb.map(|mb| usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX))
}

impl SpillSettings {
    /// Budgets given in MiB (as the `--operator-memory-mb` and `--state-memory-mb` options
    /// take them).
    pub fn from_megabytes(
        per_operator: Option<u64>,
        total: Option<u64>,
        dir: Option<PathBuf>,
    ) -> Self {
        Self {
            budget_bytes: megabytes(per_operator),
            total_bytes: megabytes(total),
            dir,
        }
    }
}

static SETTINGS: RwLock<SpillSettings> = RwLock::new(SpillSettings {
    budget_bytes: None,
    total_bytes: None,
    dir: None,
});

/// The process-wide budget of [`SpillSettings::total_bytes`] (operators created under
/// earlier settings keep the budget they were made with).
static PROCESS_BUDGET: RwLock<Budget> = RwLock::new(Budget(None));

/// Set the budgets and directory for maps created from now on (the server calls it once at
/// start from `--operator-memory-mb`, `--state-memory-mb` and `--spill-dir`).
pub fn configure(settings: SpillSettings) {
    if let Ok(mut process) = PROCESS_BUDGET.write() {
        *process = Budget::limited(settings.total_bytes);
    }
    if let Ok(mut current) = SETTINGS.write() {
        *current = settings;
    }
}

/// The settings maps are created with now.
pub fn settings() -> SpillSettings {
    SETTINGS.read().map(|s| s.clone()).unwrap_or_default()
}

/// The memory budget of one operator instance, shared by all its maps and queues (a join's
/// two sides and expiry queues, every open window of a window aggregate): their in-memory
/// bytes together stay near the limit. Clones share the count; `Budget::default()` is no
/// limit (nothing tracked).
#[derive(Clone, Default)]
pub struct Budget(Option<Arc<SharedBudget>>);

struct SharedBudget {
    limit: usize,
    /// In-memory bytes of the members, as each last reported them.
    used: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes (`None`: unlimited).
    pub fn limited(limit: Option<usize>) -> Self {
        Self(limit.map(|limit| {
            Arc::new(SharedBudget {
                limit,
                used: AtomicUsize::new(0),
            })
        }))
    }

    /// The budget the process's current [`SpillSettings`] give a new operator: its own of
    /// `budget_bytes`, else the process-wide one of `total_bytes`, else none.
    pub fn from_settings() -> Self {
        match settings().budget_bytes {
            Some(limit) => Self::limited(Some(limit)),
            None => PROCESS_BUDGET.read().map(|b| b.clone()).unwrap_or_default(),
        }
    }

    /// The limit in bytes, if any.
    pub fn limit(&self) -> Option<usize> {
        self.0.as_ref().map(|b| b.limit)
    }

    /// In-memory bytes of all members, as last reported.
    pub fn used(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |b| b.used.load(Ordering::Relaxed))
    }
}

/// One member's part of a [`Budget`] (a map's or a queue's): the budget and the bytes the
/// member last reported to it.
pub(crate) struct Share {
    budget: Budget,
    reported: usize,
}

impl Share {
    pub(crate) fn new(budget: Budget) -> Self {
        Self {
            budget,
            reported: 0,
        }
    }

    /// The budget's limit (`Some`: the member tracks its sizes).
    pub(crate) fn limit(&self) -> Option<usize> {
        self.budget.limit()
    }

    /// Report that the member now holds `now` bytes.
    pub(crate) fn report(&mut self, now: usize) {
        if let Some(shared) = &self.budget.0 {
            if now > self.reported {
                shared
                    .used
                    .fetch_add(now - self.reported, Ordering::Relaxed);
            } else {
                shared
                    .used
                    .fetch_sub(self.reported - now, Ordering::Relaxed);
            }
        }
        self.reported = now;
    }

    /// Bytes the other members hold, as last reported.
    fn others(&self) -> usize {
        self.budget.used().saturating_sub(self.reported)
    }

    /// How far the member, holding `own` bytes, must shrink when the members together are
    /// over the limit: to its share of three quarters of the limit, in proportion to what it
    /// holds (a lone member: three quarters of the limit). `None` when under the limit.
    pub(crate) fn spill_target(&self, own: usize) -> Option<usize> {
        let limit = self.limit()?;
        let used = self.budget.used();
        (used > limit).then(|| {
            let share = (own as u128) * ((limit / 4 * 3) as u128) / (used.max(1) as u128);
            usize::try_from(share).unwrap_or(usize::MAX)
        })
    }

    /// Move the member, holding `own` bytes, to `budget`.
    fn move_to(&mut self, budget: &Budget, own: usize) {
        self.report(0);
        self.budget = budget.clone();
        self.report(own);
    }
}

/// The process's scratch database, opened on first use.
struct SpillStore {
    db: DB,
    next_id: AtomicU64,
    write: WriteOptions,
    path: PathBuf,
}

/// Spilled values are written in batches of about this many bytes: one batch for all a spill
/// moves (a quarter of the budget) was that much more memory, twice over while it grew.
const WRITE_BATCH_BYTES: usize = 4 << 20;

/// The name prefix of scratch directories; the process id follows.
const SPILL_DIR_PREFIX: &str = "sluice-spill-";

/// Remove scratch directories under `base` left by Sluice processes that are gone (killed
/// before they could remove their own). Liveness is read from `/proc`; where there is no
/// `/proc`, nothing is removed.
fn remove_stale_dirs(base: &std::path::Path) {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SPILL_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed a stale spill directory")
                }
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), "cannot remove a stale spill directory: {e}")
                }
            }
        }
    }
}

/// Remove the process's scratch directory (at exit: spilled state is not durable). Maps
/// still open keep working on Linux (their files stay readable until closed) but should be
/// gone by then.
pub fn remove_spill_dir() {
    let Some(slot) = STORE.get() else {
        return;
    };
    let Ok(mut slot) = slot.lock() else {
        return;
    };
    if let Some(store) = slot.take() {
        // A flush or compaction still running would write files into the directory while
        // it is being removed ("directory not empty", and gigabytes left behind).
        store.db.cancel_all_background_work(true);
        if let Err(e) = std::fs::remove_dir_all(&store.path) {
            tracing::warn!(path = %store.path.display(), "cannot remove the spill directory: {e}");
        }
    }
}

static STORE: OnceLock<Mutex<Option<Arc<SpillStore>>>> = OnceLock::new();

fn store(dir: Option<&PathBuf>) -> Result<Arc<SpillStore>> {
    let slot = STORE.get_or_init(|| Mutex::new(None));
    let mut slot = slot
        .lock()
        .map_err(|_| StorageError::Io("spill store lock poisoned".into()))?;
    if let Some(store) = slot.as_ref() {
        return Ok(Arc::clone(store));
    }
    let base = dir.cloned().unwrap_or_else(std::env::temp_dir);
    remove_stale_dirs(&base);
    let path = base.join(format!("{SPILL_DIR_PREFIX}{}", std::process::id()));
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(|e| {
            StorageError::Io(format!(
                "cannot clear spill directory {}: {e}",
                path.display()
            ))
        })?;
    }
    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_max_open_files(256);
    // Small memtables: spilled state is meant to leave memory, not to sit in a write buffer.
    options.set_write_buffer_size(8 << 20);
    options.set_max_write_buffer_number(2);
    // Scratch data, written once and read back rarely: no compression (snappy took a quarter
    // of a spilling join's CPU) and universal compaction (rewrites the data fewer times than
    // leveled compaction).
    options.set_compression_type(rocksdb::DBCompressionType::None);
    options.set_compaction_style(rocksdb::DBCompactionStyle::Universal);
    options.set_merge_operator_associative("sluice-append", append_merge);
    let db = DB::open(&options, &path).map_err(|e| {
        StorageError::Io(format!(
            "cannot open spill directory {}: {e}",
            path.display()
        ))
    })?;
    let mut write = WriteOptions::default();
    // Scratch data: a crash loses it by design (operators restore from checkpoints).
    write.disable_wal(true);
    let store = Arc::new(SpillStore {
        db,
        next_id: AtomicU64::new(1),
        write,
        path,
    });
    *slot = Some(Arc::clone(&store));
    Ok(store)
}

/// Entries written to disk and read back by every map and log of the process (for metrics
/// and tests).
pub(crate) static SPILLED: AtomicU64 = AtomicU64::new(0);
pub(crate) static RELOADED: AtomicU64 = AtomicU64::new(0);

/// A new file path for spilled log segments (see [`crate::spill_log`]): in a `segments`
/// directory of the process's scratch directory, removed with it. The scratch database
/// ignores the directory (not a file name it knows).
pub(crate) fn segment_path(dir: Option<&PathBuf>) -> Result<PathBuf> {
    let store = store(dir)?;
    let segments = store.path.join("segments");
    std::fs::create_dir_all(&segments).map_err(|e| {
        StorageError::Io(format!(
            "cannot create spill directory {}: {e}",
            segments.display()
        ))
    })?;
    let id = store.next_id.fetch_add(1, Ordering::Relaxed);
    Ok(segments.join(format!("{id}.arrow")))
}

/// Entries spilled to disk and reloaded from it by all maps since the process started.
pub fn spill_totals() -> (u64, u64) {
    (
        SPILLED.load(Ordering::Relaxed),
        RELOADED.load(Ordering::Relaxed),
    )
}

fn rocks(error: rocksdb::Error) -> StorageError {
    StorageError::Io(format!("spill store: {error}"))
}

/// An in-memory entry: the value, its size when last measured, and the batch that last used
/// it.
struct Hot<V> {
    value: V,
    size: usize,
    used: u64,
}

impl<V: SpillValue> Hot<V> {
    /// Measure the entry of `key` again: `hot_bytes` trades its old size for the new one.
    fn measure(&mut self, key: &[u8], hot_bytes: &mut usize) {
        let size = entry_size::<V>(key, &self.value);
        *hot_bytes = hot_bytes.saturating_sub(self.size) + size;
        self.size = size;
    }
}

/// The spilled part of a map or queue: its store, key prefix and how much it holds.
struct Cold {
    store: Arc<SpillStore>,
    prefix: [u8; 8],
    keys: usize,
    rows: usize,
}

impl Cold {
    /// A new key prefix in the process's scratch database under `dir`.
    fn open(dir: Option<&PathBuf>) -> Result<Self> {
        let store = store(dir)?;
        let id = store.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Cold {
            store,
            prefix: id.to_be_bytes(),
            keys: 0,
            rows: 0,
        })
    }

    /// Delete everything under the prefix.
    fn clear(&mut self) -> Result<()> {
        if self.keys > 0 {
            let mut batch = WriteBatch::default();
            batch.delete_range(self.prefix.to_vec(), self.range_end());
            self.write(batch)?;
        }
        self.keys = 0;
        self.rows = 0;
        Ok(())
    }

    /// Every entry on disk in key order: its key (without the prefix) and its stored bytes.
    fn for_each(&self, mut each: impl FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> {
        if self.keys == 0 {
            return Ok(());
        }
        let iter = self.store.db.iterator(rocksdb::IteratorMode::From(
            &self.prefix,
            rocksdb::Direction::Forward,
        ));
        for item in iter {
            let (key, value) = item.map_err(rocks)?;
            if !key.starts_with(&self.prefix) {
                break;
            }
            each(&key[self.prefix.len()..], &value)?;
        }
        Ok(())
    }

    /// Apply `batch` to the scratch database.
    fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.store
            .db
            .write_opt(batch, &self.store.write)
            .map_err(rocks)
    }

    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(8 + key.len());
        full.extend_from_slice(&self.prefix);
        full.extend_from_slice(key);
        full
    }

    fn range_end(&self) -> Vec<u8> {
        (u64::from_be_bytes(self.prefix) + 1).to_be_bytes().to_vec()
    }
}

/// The spilled-key index: what a map keeps in memory about each key on disk. Keys of up
/// to 15 bytes (join, group and partition keys are mostly one or two encoded numbers) are
/// stored inline in a 16-byte array with their length last, in a table of 36-byte slots
/// with no allocation of their own; longer keys are boxed, in a second table.
#[derive(Default)]
struct SpilledIndex {
    short: HashMap<[u8; 16], SpilledKey>,
    long: HashMap<Box<[u8]>, SpilledKey>,
    /// Bytes of the boxed keys of `long`.
    long_bytes: usize,
}

/// `key` as an inline key of the index, if it fits.
fn short_key(key: &[u8]) -> Option<[u8; 16]> {
    let len = u8::try_from(key.len()).ok().filter(|len| *len < 16)?;
    let mut bytes = [0u8; 16];
    bytes[..key.len()].copy_from_slice(key);
    bytes[15] = len;
    Some(bytes)
}

impl SpilledIndex {
    fn get(&self, key: &[u8]) -> Option<&SpilledKey> {
        match short_key(key) {
            Some(short) => self.short.get(&short),
            None => self.long.get(key),
        }
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut SpilledKey> {
        match short_key(key) {
            Some(short) => self.short.get_mut(&short),
            None => self.long.get_mut(key),
        }
    }

    fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    fn insert(&mut self, key: &[u8], spilled: SpilledKey) {
        match short_key(key) {
            Some(short) => {
                self.short.insert(short, spilled);
            }
            None => {
                if self.long.insert(Box::from(key), spilled).is_none() {
                    self.long_bytes += key.len();
                }
            }
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<SpilledKey> {
        match short_key(key) {
            Some(short) => self.short.remove(&short),
            None => {
                let removed = self.long.remove(key);
                if removed.is_some() {
                    self.long_bytes -= key.len();
                }
                removed
            }
        }
    }

    /// Bytes the index holds: its tables' slots (a control byte each, 8 slots per 7
    /// entries of capacity) and its boxed keys (with the allocator's 16 bytes each).
    fn memory_bytes(&self) -> usize {
        let table = |capacity: usize, entry: usize| capacity * 8 / 7 * (entry + 1);
        table(
            self.short.capacity(),
            std::mem::size_of::<([u8; 16], SpilledKey)>(),
        ) + table(
            self.long.capacity(),
            std::mem::size_of::<(Box<[u8]>, SpilledKey)>(),
        ) + self.long_bytes
            + 16 * self.long.len()
    }
}

/// Changes to spilled keys, encoded as they are made (see [`SpillMap::add_row`]): each
/// record's key and encoded change, one after the other in one buffer.
#[derive(Default)]
struct Appends {
    arena: StateWriter,
    records: Vec<AppendRecord>,
}

/// Where a change is in [`Appends::arena`]: its key from `start` to `key_end`, then its
/// encoding up to `end`.
struct AppendRecord {
    start: usize,
    key_end: usize,
    end: usize,
}

impl AppendRecord {
    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        &arena[self.start..self.key_end]
    }

    fn change<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        &arena[self.key_end..self.end]
    }
}

impl Appends {
    fn push(&mut self, key: &[u8], encode: impl FnOnce(&mut StateWriter)) {
        let start = self.arena.len();
        self.arena.put_raw(key);
        let key_end = self.arena.len();
        encode(&mut self.arena);
        self.records.push(AppendRecord {
            start,
            key_end,
            end: self.arena.len(),
        });
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.records.clear();
    }
}

/// What a map keeps in memory about a key on disk: 20 bytes, packed to 4-byte alignment
/// (the index holds one per spilled key).
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct SpilledKey {
    /// The earliest expiry timer queued for the key ([`SpillValue::timer`]).
    timer: i64,
    /// The latest time a part of it expires ([`SpillValue::last_expiry`]).
    last: i64,
    /// Rows it holds (for the map's row count when it is dropped unread).
    rows: u32,
}

impl SpilledKey {
    fn write_to(self, out: &mut StateWriter) {
        let SpilledKey { timer, last, rows } = self;
        out.put_i64(timer);
        out.put_i64(last);
        out.put_u64(u64::from(rows));
    }

    fn read_from(input: &mut StateReader) -> Result<Self> {
        Ok(SpilledKey {
            timer: input.i64()?,
            last: input.i64()?,
            rows: u32::try_from(input.u64()?).unwrap_or(u32::MAX),
        })
    }
}

/// Bytes an in-memory entry counts against the budget: its value, its key, the key's
/// allocation and its slot in the map's hash table (at the table's load factor).
fn entry_size<V>(key: &[u8], value: &V) -> usize
where
    V: SpillValue,
{
    let slot = std::mem::size_of::<(Box<[u8]>, Hot<V>)>() + 1;
    value.memory_size() + key.len() + 16 + slot * 8 / 7
}

/// Bytes spills have freed since the allocator was last asked to return free memory.
static FREED_SINCE_TRIM: AtomicUsize = AtomicUsize::new(0);

/// Spills free many small allocations scattered over the heap; the allocator keeps the pages
/// (the process's memory would stay at its peak however much spills). After every 64 MiB
/// freed, ask it to return the whole free pages to the system.
pub(crate) fn trim_allocator(freed: usize) {
    const TRIM_AFTER: usize = 64 << 20;
    let total = FREED_SINCE_TRIM.fetch_add(freed, Ordering::Relaxed) + freed;
    if total < TRIM_AFTER || FREED_SINCE_TRIM.swap(0, Ordering::Relaxed) < TRIM_AFTER {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's allocator; it has no
    // preconditions and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keyed operator state under a memory budget (see the module documentation).
pub struct SpillMap<V: SpillValue> {
    hot: HashMap<Box<[u8]>, Hot<V>>,
    context: V::Context,
    /// The budget this map shares with the other state of its operator.
    share: Share,
    dir: Option<PathBuf>,
    /// Bytes of the in-memory entries (tracked only with a budget).
    hot_bytes: usize,
    /// The current batch (see `load`), and the keys it used.
    batch: u64,
    touched: Vec<Box<[u8]>>,
    cold: Option<Cold>,
    /// The keys on disk, each with its expiry timers and row count (see [`SpilledKey`]).
    /// Knowing them saves a read for every key that is not on disk, lets
    /// [`SpillMap::add_row`] append to a spilled key without reading it and
    /// [`SpillMap::forget_expired`] delete one unread. Costs a 36-byte slot per key (keys of
    /// up to 15 bytes inline), outside the budget.
    spilled_keys: SpilledIndex,
    /// Changes to spilled keys made by the current batch, appended to their bytes on disk
    /// when the batch settles (appendable values only).
    pending: Appends,
    /// Entries written to disk and read back over the map's life.
    spilled: u64,
    reloaded: u64,
    /// What the checkpoints hold of the entries on disk (see [`SpillMap::snapshot`]).
    checkpointed: Checkpointed,
}

/// How a map's entries on disk are in the checkpoints: the streams of the last committed
/// snapshot (a full one, then deltas), the last snapshot while its checkpoint is not known
/// to be committed, and the keys whose state on disk changed since that snapshot.
#[derive(Default)]
struct Checkpointed {
    chain: Option<Vec<StreamRef>>,
    unconfirmed: Option<Unconfirmed>,
    dirty: hashbrown::HashSet<Box<[u8]>>,
    /// Bytes of the keys of `dirty` with their allocations.
    dirty_bytes: usize,
    /// Everything changed (the map was cleared) since the last snapshot: the next is full.
    reset: bool,
}

/// A snapshot written to a checkpoint that may not commit: its generation, the chain it
/// made, and the changes it holds (owed again if that checkpoint fails).
struct Unconfirmed {
    generation: u64,
    chain: Vec<StreamRef>,
    dirty: hashbrown::HashSet<Box<[u8]>>,
    dirty_bytes: usize,
    reset: bool,
}

/// Bytes of a noted key: its bytes and allocation.
fn noted_key_bytes(key: &[u8]) -> usize {
    key.len() + 16
}

/// Bytes of a set of noted keys' table (a control byte and a boxed key per slot, 8 slots per
/// 7 keys of capacity).
fn noted_table_bytes(set: &hashbrown::HashSet<Box<[u8]>>) -> usize {
    set.capacity() * 8 / 7 * (std::mem::size_of::<Box<[u8]>>() + 1)
}

impl Checkpointed {
    /// Whether changes on disk must be noted: a snapshot was taken that the next can build
    /// on (before the first one, and without checkpoints, nothing is tracked).
    fn tracking(&self) -> bool {
        self.chain.is_some() || self.unconfirmed.is_some()
    }

    fn note(&mut self, key: &[u8]) {
        if self.tracking() && !self.dirty.contains(key) {
            self.dirty.insert(Box::from(key));
            self.dirty_bytes += noted_key_bytes(key);
        }
    }

    /// Memory of the noted keys (counted against the map's budget, like its index).
    fn memory_bytes(&self) -> usize {
        noted_table_bytes(&self.dirty)
            + self.dirty_bytes
            + self
                .unconfirmed
                .as_ref()
                .map_or(0, |last| noted_table_bytes(&last.dirty) + last.dirty_bytes)
    }
}

/// In place of a count: the map's entries are in streams of a checkpoint, those on disk in a
/// chain (a full stream, then deltas), those in memory in one more (see
/// [`SpillMap::snapshot`]).
const INCREMENTAL: u64 = u64::MAX - 1;

/// A chain longer than this is replaced by a full stream at the next snapshot.
const MAX_CHAIN: usize = 8;

/// Tags of streamed records: an entry in memory, an entry on disk, a key no longer on disk.
const RECORD_HOT: u8 = 0;
const RECORD_COLD: u8 = 1;
const RECORD_GONE: u8 = 2;

impl<V: SpillValue<Context = ()>> Default for SpillMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: SpillValue<Context = ()>> SpillMap<V> {
    /// An empty map of self-describing values with the process's current [`SpillSettings`].
    pub fn new() -> Self {
        Self::with_context(())
    }

    /// An empty map of self-describing values with its own budget (`None`: all in memory).
    pub fn with_budget(budget: Option<usize>, dir: Option<PathBuf>) -> Self {
        Self::with_budget_and_context(budget, dir, ())
    }

    /// An empty map of self-describing values in an operator's shared `budget` (spilling
    /// to the directory of the process's current [`SpillSettings`]).
    pub fn in_budget(budget: &Budget) -> Self {
        Self::with_context_in((), budget)
    }
}

impl<V: SpillValue + Default> SpillMap<V> {
    /// The value of `key` (loaded first), inserted empty if absent (the key is copied only
    /// then).
    pub fn entry(&mut self, key: &[u8]) -> &mut V {
        self.entry_with(key, V::default)
    }
}

impl<V: SpillValue> SpillMap<V> {
    /// The value of `key` (loaded first), inserted as `make()` if absent (the key is copied
    /// only then).
    pub fn entry_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let (budget, batch, touched) = (self.share.limit(), self.batch, &mut self.touched);
        let entry = self.hot.entry_ref(key).or_insert_with(|| {
            if budget.is_some() {
                touched.push(Box::from(key));
            }
            Hot {
                value: make(),
                size: 0,
                used: batch,
            }
        });
        &mut entry.value
    }
}

impl<V: SpillValue> SpillMap<V> {
    /// An empty map with the process's current [`SpillSettings`]; `context` encodes and
    /// decodes its values.
    pub fn with_context(context: V::Context) -> Self {
        Self::in_shared(Budget::from_settings(), settings().dir, context)
    }

    /// An empty map in an operator's shared `budget`; `context` encodes and decodes its
    /// values.
    pub fn with_context_in(context: V::Context, budget: &Budget) -> Self {
        Self::in_shared(budget.clone(), settings().dir, context)
    }

    /// The budget this map counts its memory against.
    pub fn budget(&self) -> &Budget {
        &self.share.budget
    }

    /// Count this map's memory against `budget` from now on (another member's, so that
    /// both share one limit).
    pub fn share_budget(&mut self, budget: &Budget) {
        self.share.move_to(budget, self.hot_bytes);
    }

    /// An empty map with its own budget (`None`: all in memory).
    pub fn with_budget_and_context(
        budget: Option<usize>,
        dir: Option<PathBuf>,
        context: V::Context,
    ) -> Self {
        Self::in_shared(Budget::limited(budget), dir, context)
    }

    fn in_shared(shared: Budget, dir: Option<PathBuf>, context: V::Context) -> Self {
        Self {
            hot: HashMap::new(),
            context,
            share: Share::new(shared),
            dir,
            hot_bytes: 0,
            batch: 0,
            touched: Vec::new(),
            cold: None,
            spilled_keys: SpilledIndex::default(),
            pending: Appends::default(),
            spilled: 0,
            reloaded: 0,
            checkpointed: Checkpointed::default(),
        }
    }

    /// Mark `keys` used by a new batch, like [`SpillMap::load`], without reading the spilled
    /// ones: for a batch that only adds to them with [`SpillMap::add_row`].
    pub fn touch<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if self.share.limit().is_none() {
            return;
        }
        self.batch += 1;
        for key in keys {
            self.mark_used(key);
        }
    }

    /// Mark `key` used by the current batch if it is in memory; returns whether it is.
    fn mark_used(&mut self, key: &[u8]) -> bool {
        let Some(entry) = self.hot.get_mut(key) else {
            return false;
        };
        if entry.used != self.batch {
            entry.used = self.batch;
            self.touched.push(Box::from(key));
        }
        true
    }

    /// Memory the map keeps about its entries besides their values: the index of the keys on
    /// disk and the keys noted as changed for the next checkpoint.
    fn bookkeeping_bytes(&self) -> usize {
        self.spilled_keys.memory_bytes() + self.checkpointed.memory_bytes()
    }

    /// The spilled value of `key` from its stored `bytes`, with the timer the map kept for the
    /// key while it was on disk.
    fn read_spilled(&self, key: &[u8], bytes: &[u8]) -> Result<V> {
        let mut value: V = decode_stored(bytes, &self.context)?;
        if let Some(spilled) = self.spilled_keys.get(key) {
            value.set_timer(value.timer().min(spilled.timer));
        }
        Ok(value)
    }

    /// Append the changes the batch made to spilled keys to their bytes on disk: one merge
    /// operand per key, in key order (the memtable's skip list inserts a run of ascending
    /// keys from where the previous insert left off; inserting in random order cost a sixth
    /// of a spilling join's time, in cache misses).
    fn write_pending(&mut self) -> Result<()> {
        if self.pending.records.is_empty() {
            return Ok(());
        }
        let Some(cold) = self.cold.as_ref() else {
            return Err(StorageError::State(
                "changes to spilled keys without a spill store".into(),
            ));
        };
        let pending = &mut self.pending;
        let arena = pending.arena.as_bytes();
        // Stable: a key's changes stay in the order they were made.
        pending
            .records
            .sort_by(|a, b| a.key(arena).cmp(b.key(arena)));
        let mut batch = WriteBatch::default();
        for run in pending
            .records
            .chunk_by(|a, b| a.key(arena) == b.key(arena))
        {
            self.checkpointed.note(run[0].key(arena));
            let changes = run.iter().map(|record| record.change(arena));
            let mut operand = Vec::with_capacity(changes.clone().map(<[u8]>::len).sum());
            changes.for_each(|change| operand.extend_from_slice(change));
            batch.merge(cold.key(run[0].key(arena)), operand);
            if batch.size_in_bytes() >= WRITE_BATCH_BYTES {
                cold.write(std::mem::take(&mut batch))?;
            }
        }
        pending.clear();
        cold.write(batch)
    }

    /// Bring `keys` into memory and mark them used by a new batch.
    pub fn load<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) -> Result<()> {
        if self.share.limit().is_none() {
            return Ok(());
        }
        self.write_pending()?;
        self.batch += 1;
        let mut missing: Vec<&[u8]> = Vec::new();
        for key in keys {
            if !self.mark_used(key) && self.spilled_keys.contains_key(key) {
                missing.push(key);
            }
        }
        let Some(cold) = self.cold.as_mut().filter(|c| c.keys > 0) else {
            return Ok(());
        };
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let full: Vec<Vec<u8>> = missing.iter().map(|k| cold.key(k)).collect();
        let values = cold.store.db.multi_get(&full);
        let mut delete = WriteBatch::default();
        for ((key, full), value) in missing.iter().zip(&full).zip(values) {
            let Some(bytes) = value.map_err(rocks)? else {
                continue;
            };
            let mut value: V = decode_stored(&bytes, &self.context)?;
            if let Some(spilled) = self.spilled_keys.remove(key) {
                value.set_timer(value.timer().min(spilled.timer));
            }
            delete.delete(full);
            self.checkpointed.note(key);
            cold.keys -= 1;
            cold.rows = cold.rows.saturating_sub(value.rows());
            if V::APPENDABLE && value.rows() == 0 {
                continue; // appended changes cancelled every row
            }
            self.reloaded += 1;
            RELOADED.fetch_add(1, Ordering::Relaxed);
            let size = entry_size::<V>(key, &value);
            self.hot_bytes += size;
            self.hot.insert(
                Box::from(*key),
                Hot {
                    value,
                    size,
                    used: self.batch,
                },
            );
            self.touched.push(Box::from(*key));
        }
        cold.write(delete)
    }

    /// Re-measure what this batch touched and, when the operator's state is over its
    /// budget, spill this map down to its share (see [`Budget`]).
    pub fn settle(&mut self) -> Result<()> {
        if self.share.limit().is_none() {
            return Ok(());
        }
        self.write_pending()?;
        for key in std::mem::take(&mut self.touched) {
            if let Some(entry) = self.hot.get_mut(&key) {
                entry.measure(&key, &mut self.hot_bytes);
            }
        }
        // The index of spilled keys counts too: it grows with what spills, and the entries
        // in memory make room for it, down to a quarter of the map's share (below that every
        // batch would read its keys back only to write them out again; an index that large
        // is the memory the budget cannot bound).
        let index = self.bookkeeping_bytes();
        self.share.report(self.hot_bytes + index);
        if let Some(target) = self.share.spill_target(self.hot_bytes + index) {
            let before = self.hot_bytes;
            self.spill_to(target.saturating_sub(index).max(target / 4))?;
            // The index grew with what went to disk (its table may have doubled): once more
            // against its new size.
            let index = self.bookkeeping_bytes();
            self.spill_to(target.saturating_sub(index).max(target / 4))?;
            // A hash table keeps its capacity when entries leave: give it back once most
            // of it is empty (entry sizes count a slot each, so the budget assumes this).
            if self.hot.capacity() > 4 * self.hot.len().max(256) {
                self.hot.shrink_to(2 * self.hot.len());
            }
            self.share.report(self.hot_bytes + self.bookkeeping_bytes());
            trim_allocator(before.saturating_sub(self.hot_bytes));
        }
        Ok(())
    }

    /// Write the least recently used entries to disk until `target` bytes remain.
    ///
    /// Entries are chosen by the batch that last used them without sorting the map: the
    /// bytes held per batch stamp give the stamp below which everything goes (and how much
    /// of that stamp's entries), then one pass takes those entries out of the table.
    fn spill_to(&mut self, target: usize) -> Result<()> {
        if self.cold.is_none() {
            self.cold = Some(Cold::open(self.dir.as_ref())?);
        }
        let Some(cold) = self.cold.as_mut() else {
            return Ok(());
        };
        let excess = self.hot_bytes.saturating_sub(target);
        if excess == 0 {
            return Ok(());
        }
        let mut by_stamp: HashMap<u64, usize> = HashMap::new();
        for entry in self.hot.values() {
            *by_stamp.entry(entry.used).or_default() += entry.size;
        }
        let mut stamps: Vec<(u64, usize)> = by_stamp.into_iter().collect();
        stamps.sort_unstable();
        // Everything used before `cutoff` goes, and `partial` bytes of what `cutoff` used.
        let (mut cutoff, mut partial, mut below) = (u64::MAX, 0, 0);
        for (stamp, bytes) in stamps {
            if below + bytes >= excess {
                (cutoff, partial) = (stamp, excess - below);
                break;
            }
            below += bytes;
        }
        let mut victims: Vec<(Box<[u8]>, Hot<V>)> = self
            .hot
            .extract_if(|_, entry| {
                entry.used < cutoff
                    || (entry.used == cutoff && partial > 0 && {
                        partial = partial.saturating_sub(entry.size);
                        true
                    })
            })
            .collect();
        // Written in key order (see `write_pending`).
        victims.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        tracing::debug!(
            entries = victims.len(),
            excess,
            hot = self.hot.len(),
            "spilling least recently used state"
        );
        let mut batch = WriteBatch::default();
        for (key, mut entry) in victims {
            let mut out = StateWriter::new();
            entry.value.encode(&mut out, &self.context)?;
            batch.put(cold.key(&key), out.into_bytes());
            if batch.size_in_bytes() >= WRITE_BATCH_BYTES {
                cold.write(std::mem::take(&mut batch))?;
            }
            let spilled = SpilledKey {
                timer: entry.value.timer(),
                last: entry.value.last_expiry(),
                rows: u32::try_from(entry.value.rows()).unwrap_or(u32::MAX),
            };
            self.spilled_keys.insert(&key, spilled);
            self.checkpointed.note(&key);
            cold.keys += 1;
            cold.rows += entry.value.rows();
            self.hot_bytes = self.hot_bytes.saturating_sub(entry.size);
            self.spilled += 1;
            SPILLED.fetch_add(1, Ordering::Relaxed);
        }
        cold.write(batch)
    }

    /// The in-memory value of `key` (call [`SpillMap::load`] for it first).
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.hot.get(key).map(|e| &e.value)
    }

    /// The in-memory value of `key`, mutable (loaded first).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.hot.get_mut(key).map(|e| &mut e.value)
    }

    /// Remove `key` (loaded first).
    pub fn remove(&mut self, key: &[u8]) {
        self.take(key);
    }

    /// Remove `key` (loaded first) and return its value; [`SpillMap::insert`] puts a value
    /// back.
    pub fn take(&mut self, key: &[u8]) -> Option<V> {
        let entry = self.hot.remove(key)?;
        self.hot_bytes = self.hot_bytes.saturating_sub(entry.size);
        Some(entry.value)
    }

    /// Visit the entries in memory (not the spilled ones): `visit` returns `None` to remove
    /// the entry, `Some(true)` when it changed the value (its size is measured again),
    /// `Some(false)` when it did not. For upkeep that may skip spilled keys until they are
    /// loaded again (an OVER aggregate dropping rows no frame reads any more).
    pub fn retain_in_memory(&mut self, mut visit: impl FnMut(&[u8], &mut V) -> Option<bool>) {
        let measured = self.share.limit().is_some();
        let mut bytes = self.hot_bytes;
        self.hot
            .retain(|key, entry| match visit(key, &mut entry.value) {
                None => {
                    bytes = bytes.saturating_sub(entry.size);
                    false
                }
                Some(changed) => {
                    if changed && measured {
                        entry.measure(key, &mut bytes);
                    }
                    true
                }
            });
        self.hot_bytes = bytes;
        self.share.report(self.hot_bytes + self.bookkeeping_bytes());
    }

    /// Of `keys`, whose values expire at or below `upto`, drop the spilled ones that expire
    /// whole by then, deleting them on disk unread (an interval join's rows leave without
    /// output, so a key all of whose rows are due needs no read); `keys` keeps the others.
    pub fn forget_expired(&mut self, keys: &mut Vec<Box<[u8]>>, upto: i64) -> Result<()> {
        let Some(cold) = self.cold.as_mut().filter(|c| c.keys > 0) else {
            return Ok(());
        };
        let mut batch = WriteBatch::default();
        keys.retain(|key| {
            let Some(spilled) = self.spilled_keys.get(key.as_ref()) else {
                return true;
            };
            if spilled.last > upto {
                return true;
            }
            cold.keys = cold.keys.saturating_sub(1);
            cold.rows = cold.rows.saturating_sub(spilled.rows as usize);
            self.spilled_keys.remove(key.as_ref());
            self.checkpointed.note(key);
            batch.delete(cold.key(key));
            false
        });
        // Changes appended this batch to a key dropped here, not written yet, go with it:
        // a pending change is to a spilled key, so those no longer indexed were dropped.
        if !self.pending.records.is_empty() {
            let arena = self.pending.arena.as_bytes();
            let spilled_keys = &self.spilled_keys;
            self.pending
                .records
                .retain(|record| spilled_keys.contains_key(record.key(arena)));
        }
        cold.write(batch)
    }

    /// The codec context the map was made with.
    pub fn context(&self) -> &V::Context {
        &self.context
    }

    /// Insert a value for a key that is absent (loaded first), e.g. a new group or a restored
    /// entry; call [`SpillMap::settle`] after a run of them.
    pub fn insert(&mut self, key: Box<[u8]>, value: V) {
        if self.share.limit().is_some() {
            self.touched.push(key.clone());
        }
        self.hot.insert(
            key,
            Hot {
                value,
                size: 0,
                used: self.batch,
            },
        );
    }

    /// Drop every entry, in memory and on disk.
    pub fn clear(&mut self) -> Result<()> {
        self.hot.clear();
        self.spilled_keys = SpilledIndex::default();
        self.checkpointed.chain = None;
        self.checkpointed.dirty = Default::default();
        self.checkpointed.dirty_bytes = 0;
        self.checkpointed.reset = true;
        self.pending.clear();
        self.hot_bytes = 0;
        self.share.report(0);
        self.touched.clear();
        match self.cold.as_mut() {
            Some(cold) => cold.clear(),
            None => Ok(()),
        }
    }

    /// Distinct keys, in memory and on disk.
    pub fn len(&self) -> usize {
        self.hot.len() + self.cold.as_ref().map_or(0, |c| c.keys)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys whose values are on disk now.
    pub fn spilled_len(&self) -> usize {
        self.cold.as_ref().map_or(0, |c| c.keys)
    }

    /// Rows of all values, in memory and on disk.
    pub fn rows(&self) -> usize {
        self.hot.values().map(|e| e.value.rows()).sum::<usize>()
            + self.cold.as_ref().map_or(0, |c| c.rows)
    }

    /// Bytes of the in-memory entries, the index of spilled keys and the keys noted for the
    /// next checkpoint (0 without a budget: not tracked).
    pub fn memory_bytes(&self) -> usize {
        self.hot_bytes + self.bookkeeping_bytes()
    }

    /// Entries written to disk, and read back, over the map's life.
    pub fn spill_counts(&self) -> (u64, u64) {
        (self.spilled, self.reloaded)
    }

    /// The entries in memory (every entry while [`SpillMap::spilled_len`] is 0), borrowed.
    pub fn in_memory(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.hot
            .iter()
            .map(|(key, entry)| (key.as_ref(), &entry.value))
    }

    /// Every entry, in memory first, then on disk (decoded one at a time).
    pub fn visit(&mut self, mut visit: impl FnMut(&[u8], &V) -> Result<()>) -> Result<()> {
        self.write_pending()?;
        for (key, entry) in &self.hot {
            visit(key, &entry.value)?;
        }
        match self.cold.as_ref() {
            Some(cold) => cold.for_each(|key, bytes| {
                let value = self.read_spilled(key, bytes)?;
                visit(key, &value)
            }),
            None => Ok(()),
        }
    }

    /// Take every entry out of the map, in memory first, then from disk (decoded one at a
    /// time), handing each to `each` by value; the map is empty afterwards (also when `each`
    /// fails part way).
    pub fn drain(&mut self, mut each: impl FnMut(&[u8], V) -> Result<()>) -> Result<()> {
        self.write_pending()?;
        let hot = std::mem::take(&mut self.hot);
        let mut result = Ok(());
        for (key, entry) in hot {
            if result.is_ok() {
                result = each(&key, entry.value);
            }
        }
        if let (Ok(()), Some(cold)) = (&result, self.cold.as_ref()) {
            result = cold.for_each(|key, bytes| each(key, self.read_spilled(key, bytes)?));
        }
        result.and(self.clear())
    }

    /// Write every entry for a checkpoint: the count, then per entry its key and its value's
    /// encoding. Spilled entries are on disk in that encoding already and are copied as they
    /// are, not decoded and encoded again (unless changes were appended to them).
    ///
    /// A writer for a checkpoint with a sink gets streams instead, and only what changed:
    /// the entries in memory (at most the budget) go to a new stream each time; the entries
    /// on disk are in a chain of streams, a full one and then deltas, each delta holding the
    /// keys whose state on disk changed since the previous snapshot (their bytes as stored,
    /// or that they left the disk). A snapshot reuses the last committed chain when the
    /// changes since are less than a quarter of the keys on disk and the chain is short;
    /// otherwise it writes the entries on disk whole, in a new full stream. Whether the last
    /// snapshot's checkpoint committed is known from the sink's generations: if it did not,
    /// its changes are written again. So a checkpoint of a map mostly on disk copies its
    /// changes, not its state.
    pub fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        self.write_pending()?;
        if let Some(generations) = out.generations()? {
            return self.snapshot_to_streams(out, generations);
        }
        out.put_u64(self.len() as u64);
        for (key, entry) in self.hot.iter_mut() {
            out.put_bytes(key);
            entry.value.encode(out, &self.context)?;
        }
        match self.cold.as_ref() {
            Some(cold) => cold.for_each(|key, bytes| {
                out.put_bytes(key);
                if V::APPENDABLE {
                    self.read_spilled(key, bytes)?.encode(out, &self.context)
                } else {
                    out.put_raw(bytes);
                    Ok(())
                }
            }),
            None => Ok(()),
        }
    }

    /// [`SpillMap::snapshot`] for a checkpoint with a sink: the [`INCREMENTAL`] marker, the
    /// chain's streams and the stream of entries in memory.
    fn snapshot_to_streams(
        &mut self,
        out: &mut StateWriter,
        (generation, committed): (u64, Option<u64>),
    ) -> Result<()> {
        let checkpointed = &mut self.checkpointed;
        if let Some(last) = checkpointed.unconfirmed.take() {
            if committed.is_some_and(|c| last.generation <= c) {
                checkpointed.chain = Some(last.chain);
            } else {
                // Its checkpoint failed: its changes are owed again.
                checkpointed.dirty.extend(last.dirty);
                checkpointed.dirty_bytes = checkpointed
                    .dirty
                    .iter()
                    .map(|key| noted_key_bytes(key))
                    .sum();
                checkpointed.reset |= last.reset;
            }
        }
        // A chain is a base only while the committed checkpoint holds its streams (one
        // committed without this map would have dropped them).
        let mut held = true;
        for stream in checkpointed.chain.iter().flatten() {
            held &= out.holds_stream(*stream)?;
        }
        let on_disk = self.cold.as_ref().map_or(0, |c| c.keys);
        let base = match (&checkpointed.chain, checkpointed.reset) {
            (Some(chain), false)
                if held && chain.len() < MAX_CHAIN && checkpointed.dirty.len() <= on_disk / 4 =>
            {
                Some(chain.clone())
            }
            _ => None,
        };
        let chain = match base {
            Some(mut chain) => {
                for stream in &chain {
                    out.keep_stream(*stream)?;
                }
                if !checkpointed.dirty.is_empty() {
                    chain.push(self.write_changes_on_disk(out)?);
                }
                chain
            }
            None if on_disk > 0 => vec![self.write_on_disk(out)?],
            None => Vec::new(),
        };
        let mut stream = open_stream(out)?;
        let mut record = StateWriter::new();
        for (key, entry) in self.hot.iter_mut() {
            record.clear();
            record.put_u8(RECORD_HOT);
            entry.value.encode(&mut record, &self.context)?;
            stream.put(key, record.as_bytes())?;
        }
        out.put_u64(INCREMENTAL);
        out.put_streams(&chain);
        out.put_stream(stream.reference());
        let checkpointed = &mut self.checkpointed;
        checkpointed.unconfirmed = Some(Unconfirmed {
            generation,
            chain,
            dirty: std::mem::take(&mut checkpointed.dirty),
            dirty_bytes: std::mem::take(&mut checkpointed.dirty_bytes),
            reset: std::mem::take(&mut checkpointed.reset),
        });
        Ok(())
    }

    /// Every entry on disk as a record of a new stream: a [`RECORD_COLD`] tag, what the
    /// index knows of it ([`SpilledKey`]) and its bytes as they are on disk, appended changes
    /// included (copied, not decoded).
    fn write_on_disk(&self, out: &mut StateWriter) -> Result<StreamRef> {
        let mut stream = open_stream(out)?;
        let Some(cold) = self.cold.as_ref() else {
            return Ok(stream.reference());
        };
        let mut record = StateWriter::new();
        cold.for_each(|key, bytes| {
            self.cold_record(&mut record, key, bytes)?;
            stream.put(key, record.as_bytes())
        })?;
        Ok(stream.reference())
    }

    /// The keys whose state on disk changed since the last snapshot, as records of a new
    /// stream: those on disk as in [`SpillMap::write_on_disk`], the others as gone.
    fn write_changes_on_disk(&self, out: &mut StateWriter) -> Result<StreamRef> {
        let mut stream = open_stream(out)?;
        let mut keys: Vec<&[u8]> = self.checkpointed.dirty.iter().map(|k| k.as_ref()).collect();
        keys.sort_unstable();
        let mut record = StateWriter::new();
        for chunk in keys.chunks(1024) {
            let spilled: Vec<&[u8]> = chunk
                .iter()
                .copied()
                .filter(|key| self.spilled_keys.contains_key(key))
                .collect();
            let values = match self.cold.as_ref() {
                Some(cold) if !spilled.is_empty() => cold
                    .store
                    .db
                    .multi_get(spilled.iter().map(|key| cold.key(key))),
                _ => Vec::new(),
            };
            // `spilled` is the part of `chunk` on disk, in the same order.
            let mut values = spilled.iter().zip(values).peekable();
            for key in chunk {
                record.clear();
                let found = match values.peek() {
                    Some((spilled, _)) if *spilled == key => values.next(),
                    _ => None,
                };
                match found {
                    Some((_, value)) => {
                        let bytes = value.map_err(rocks)?.ok_or_else(|| {
                            StorageError::State("a spilled entry is missing on disk".into())
                        })?;
                        self.cold_record(&mut record, key, &bytes)?;
                    }
                    None => record.put_u8(RECORD_GONE),
                }
                stream.put(key, record.as_bytes())?;
            }
        }
        Ok(stream.reference())
    }

    /// The record of spilled entry `key` stored as `bytes`.
    fn cold_record(&self, record: &mut StateWriter, key: &[u8], bytes: &[u8]) -> Result<()> {
        let spilled = self.spilled_keys.get(key).copied().ok_or_else(|| {
            StorageError::State("a spilled entry is missing from the index".into())
        })?;
        record.clear();
        record.put_u8(RECORD_COLD);
        spilled.write_to(record);
        record.put_raw(bytes);
        Ok(())
    }

    /// Replace the contents with entries written by [`SpillMap::snapshot`], spilling as they
    /// come in when over the budget.
    pub fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        self.clear()?;
        self.checkpointed = Checkpointed::default();
        if input.peek_u64() == Some(INCREMENTAL) {
            input.u64()?;
            let chain = input.streams()?;
            let hot = input.stream()?;
            let mut batch = WriteBatch::default();
            for link in &chain {
                input.read_stream(*link, |key, record| {
                    self.restore_record(key, record, &mut batch)
                })?;
            }
            // On disk before the entries in memory come back (they may spill, and a key the
            // chain deletes may be one of them).
            if let Some(cold) = self.cold.as_ref() {
                cold.write(std::mem::take(&mut batch))?;
            }
            // The chain is the base of the next snapshot if its entries are on disk again
            // (a map without a budget now took them into memory); from here on, entries
            // that spill are changes to it.
            if self.share.limit().is_some() {
                self.checkpointed.chain = Some(chain);
            }
            input.read_stream(hot, |key, record| {
                self.restore_record(key, record, &mut batch)
            })?;
            return self.settle();
        }
        for _ in 0..input.len_prefix()? {
            let key = Box::from(input.bytes()?);
            let value = V::decode(input, &self.context)?;
            self.insert(key, value);
            self.settle()?;
        }
        Ok(())
    }

    /// Restore one record of [`SpillMap::snapshot`]'s streams, in order: an entry that was
    /// in memory comes back into memory (spilling as the budget requires); one that was
    /// spilled goes back to disk as it was, through `batch`, unread, replacing what an
    /// earlier stream of the chain had for its key (into memory when the map has no budget
    /// now); a key gone from disk is deleted.
    fn restore_record(&mut self, key: &[u8], record: &[u8], batch: &mut WriteBatch) -> Result<()> {
        let mut input = StateReader::new(record);
        let tag = input.u8()?;
        if tag == RECORD_HOT {
            let value = V::decode(&mut input, &self.context)?;
            input.finish()?;
            self.insert(Box::from(key), value);
            return self.settle();
        }
        let budgeted = self.share.limit().is_some();
        if tag == RECORD_GONE {
            input.finish()?;
            if !budgeted {
                self.hot.remove(key);
                return Ok(());
            }
            if let (Some(spilled), Some(cold)) = (self.spilled_keys.remove(key), self.cold.as_mut())
            {
                batch.delete(cold.key(key));
                cold.keys = cold.keys.saturating_sub(1);
                cold.rows = cold.rows.saturating_sub(spilled.rows as usize);
            }
            return Ok(());
        }
        if tag != RECORD_COLD {
            return Err(StorageError::Corrupt(format!(
                "a checkpointed map entry has an unknown tag {tag}"
            )));
        }
        let spilled = SpilledKey::read_from(&mut input)?;
        let bytes = input.rest();
        if !budgeted {
            let mut value: V = decode_stored(bytes, &self.context)?;
            value.set_timer(value.timer().min(spilled.timer));
            self.insert(Box::from(key), value);
            return Ok(());
        }
        let cold = match self.cold.as_mut() {
            Some(cold) => cold,
            None => self.cold.insert(Cold::open(self.dir.as_ref())?),
        };
        batch.put(cold.key(key), bytes);
        if batch.size_in_bytes() >= WRITE_BATCH_BYTES {
            cold.write(std::mem::take(batch))?;
        }
        match self.spilled_keys.get(key).copied() {
            Some(earlier) => cold.rows = cold.rows.saturating_sub(earlier.rows as usize),
            None => cold.keys += 1,
        }
        self.spilled_keys.insert(key, spilled);
        cold.rows += spilled.rows as usize;
        Ok(())
    }
}

/// A new stream of the writer's sink (which the caller knows it has).
pub(crate) fn open_stream(out: &mut StateWriter) -> Result<ExternalStream> {
    out.open_stream()?
        .ok_or_else(|| StorageError::State("a checkpoint stream without a sink".into()))
}

impl SpillMap<ZSet> {
    /// Add `weight` to `row` in `key`'s set (timed sets: `timed`, the row expiring at
    /// `time`): in memory when the key is in memory or new; appended to the key's bytes on
    /// disk, without reading them, when it is spilled (a join's side that only receives rows
    /// never reads its own cold keys). Mark the key with [`SpillMap::touch`] or
    /// [`SpillMap::load`] first. Returns whether `time` is earlier than the timer queued for
    /// the key, which the caller then queues (see [`ZSet::schedule`]).
    pub fn add_row(&mut self, key: &[u8], row: &[u8], weight: i64, time: i64, timed: bool) -> bool {
        let make = || if timed { ZSet::timed() } else { ZSet::new() };
        if let Some(spilled) = self.spilled_keys.get_mut(key) {
            if weight == 0 {
                return false;
            }
            self.pending.push(key, |out| {
                ZSet::write_one(out, row, weight, timed.then_some(time));
            });
            spilled.rows = match weight > 0 {
                true => spilled.rows.saturating_add(1),
                false => spilled.rows.saturating_sub(1),
            };
            spilled.last = if timed {
                spilled.last.max(time)
            } else {
                i64::MAX
            };
            if let Some(cold) = self.cold.as_mut() {
                cold.rows = match weight > 0 {
                    true => cold.rows + 1,
                    false => cold.rows.saturating_sub(1),
                };
            }
            return timed && time < spilled.timer && {
                spilled.timer = time;
                true
            };
        }
        let set = self.entry_with(key, make);
        set.add_at(row, weight, time);
        if set.is_empty() {
            self.remove(key);
            return false;
        }
        timed && set.schedule(time)
    }
}

/// A queued timer of a [`SpillQueue`]: ordered by time, then by arrival (never by its key).
struct Queued {
    time: i64,
    seq: u64,
    key: Box<[u8]>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// Time-ordered timers (a key each) under a memory budget: what an interval join keeps to
/// know when the rows of a key expire (one timer per key, at the earliest expiry of its rows;
/// the rows carry their own times, see [`ZSet::expire`]). Entries are kept in a heap in memory until the heap holds the
/// budget; later entries go to the scratch database, keyed by (time, arrival), in one write
/// batch per [`SpillQueue::flush`]. [`SpillQueue::expire`] takes the entries at or below a
/// time from both: heap pops, and one range scan and range delete on disk. Neither part needs
/// to be ordered against the other, since expiry takes everything up to the time from each.
pub struct SpillQueue {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Queued>>,
    seq: u64,
    /// The latest time in the heap: a time at or past it empties the heap in one move.
    latest: i64,
    /// The budget this queue shares with the other state of its operator.
    share: Share,
    dir: Option<PathBuf>,
    heap_bytes: usize,
    cold: Option<Cold>,
    /// Entries pushed to disk since the last flush: (disk key, value), and their bytes.
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    pending_bytes: usize,
}

/// Bytes of queue entries bound for disk that [`SpillQueue::push`] collects before it writes
/// them out in one batch.
const PENDING_FLUSH_BYTES: usize = 1 << 20;

impl Default for SpillQueue {
    fn default() -> Self {
        Self::in_shared(Budget::from_settings(), settings().dir)
    }
}

/// Approximate bytes of memory a queued entry occupies in the heap.
fn queued_size(key: &[u8]) -> usize {
    key.len() + 48
}

/// A time as bytes whose order is the time's order.
fn time_bytes(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

impl SpillQueue {
    /// An empty queue with its own budget (`None`: all in memory).
    pub fn with_budget(budget: Option<usize>, dir: Option<PathBuf>) -> Self {
        Self::in_shared(Budget::limited(budget), dir)
    }

    /// An empty queue in an operator's shared `budget` (spilling to the directory of the
    /// process's current [`SpillSettings`]).
    pub fn in_budget(budget: &Budget) -> Self {
        Self::in_shared(budget.clone(), settings().dir)
    }

    fn in_shared(shared: Budget, dir: Option<PathBuf>) -> Self {
        Self {
            heap: std::collections::BinaryHeap::new(),
            seq: 0,
            latest: i64::MIN,
            share: Share::new(shared),
            dir,
            heap_bytes: 0,
            cold: None,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Queue a timer for `key` at `time` (on disk when the heap holds the budget; call
    /// [`SpillQueue::flush`] after a run of pushes).
    pub fn push(&mut self, time: i64, key: &[u8]) -> Result<()> {
        self.seq += 1;
        let size = queued_size(key);
        if let Some(budget) = self.share.limit() {
            // To disk when over the operator's budget (the other members as last reported,
            // this queue as it is now), or over an eighth of it: entries wait for their
            // expiry and a range scan reads them back in order, so memory is worth more to
            // the operator's keyed state (whose maps shrink to make room, never the heap).
            let heap = self.heap_bytes + size;
            if self.share.others() + heap > budget || heap > budget / 8 {
                if self.cold.is_none() {
                    self.cold = Some(Cold::open(self.dir.as_ref())?);
                }
                if let Some(cold) = self.cold.as_mut() {
                    let mut full = Vec::with_capacity(24);
                    full.extend_from_slice(&cold.prefix);
                    full.extend_from_slice(&time_bytes(time));
                    full.extend_from_slice(&self.seq.to_be_bytes());
                    let value = key.to_vec();
                    self.pending_bytes += full.len() + value.len();
                    self.pending.push((full, value));
                    cold.keys += 1;
                    SPILLED.fetch_add(1, Ordering::Relaxed);
                }
                // A large input (a window that fires emits all its rows at once) goes out in
                // write batches of a bounded size, not one batch (and memtable) as large as
                // the input.
                if self.pending_bytes >= PENDING_FLUSH_BYTES {
                    self.flush()?;
                }
                return Ok(());
            }
            self.heap_bytes += size;
        }
        self.latest = if self.heap.is_empty() {
            time
        } else {
            self.latest.max(time)
        };
        self.heap.push(std::cmp::Reverse(Queued {
            time,
            seq: self.seq,
            key: Box::from(key),
        }));
        Ok(())
    }

    /// Write the entries pushed to disk since the last flush.
    pub fn flush(&mut self) -> Result<()> {
        self.share.report(self.heap_bytes);
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (key, value) in self.pending.drain(..) {
            batch.put(key, value);
        }
        self.pending_bytes = 0;
        match self.cold.as_ref() {
            Some(cold) => cold.write(batch),
            None => Ok(()),
        }
    }

    /// Remove the entries whose time is at or below `time`, handing them to `take` in chunks
    /// of at most `chunk` entries (so a caller that loads state for them holds one chunk's
    /// worth at a time, not everything a watermark at the end of input expires).
    pub fn expire(
        &mut self,
        time: i64,
        chunk: usize,
        mut take: impl FnMut(Vec<Box<[u8]>>) -> Result<()>,
    ) -> Result<()> {
        self.flush()?;
        let chunk = chunk.max(1);
        if !self.heap.is_empty() {
            let taken: Vec<Queued> = if self.latest <= time {
                // Everything: the heap's storage, taken in one move.
                std::mem::take(&mut self.heap)
                    .into_vec()
                    .into_iter()
                    .map(|std::cmp::Reverse(e)| e)
                    .collect()
            } else {
                let mut taken = Vec::new();
                while self
                    .heap
                    .peek()
                    .is_some_and(|std::cmp::Reverse(e)| e.time <= time)
                {
                    if let Some(std::cmp::Reverse(e)) = self.heap.pop() {
                        taken.push(e);
                    }
                }
                taken
            };
            let mut expired = Vec::with_capacity(chunk.min(taken.len()));
            for e in taken {
                // Counted only under a budget (saturating: 0 otherwise).
                self.heap_bytes = self.heap_bytes.saturating_sub(queued_size(&e.key));
                expired.push(e.key);
                if expired.len() == chunk {
                    take(std::mem::take(&mut expired))?;
                }
            }
            if !expired.is_empty() {
                take(expired)?;
            }
            self.share.report(self.heap_bytes);
        }
        let Some(cold) = self.cold.as_mut().filter(|c| c.keys > 0) else {
            return Ok(());
        };
        let start = cold.prefix.to_vec();
        // Everything of this queue up to `time`: keys below (prefix, time + 1).
        let end = match time.checked_add(1) {
            Some(next) => {
                let mut end = cold.prefix.to_vec();
                end.extend_from_slice(&time_bytes(next));
                end
            }
            None => cold.range_end(),
        };
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(end.clone());
        let iter = cold.store.db.iterator_opt(
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
            options,
        );
        let mut taken = 0;
        let mut expired = Vec::new();
        for item in iter {
            let (_, key) = item.map_err(rocks)?;
            expired.push(key);
            taken += 1;
            if expired.len() == chunk {
                take(std::mem::take(&mut expired))?;
            }
        }
        if !expired.is_empty() {
            take(expired)?;
        }
        if taken > 0 {
            let mut batch = WriteBatch::default();
            batch.delete_range(start, end);
            cold.write(batch)?;
            cold.keys = cold.keys.saturating_sub(taken);
            RELOADED.fetch_add(taken as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Visit every queued entry as (time, key), in memory and on disk, leaving the queue as
    /// it is (a checkpoint writes them). In no particular order across the two.
    pub fn visit(&mut self, mut visit: impl FnMut(i64, &[u8]) -> Result<()>) -> Result<()> {
        self.flush()?;
        for std::cmp::Reverse(entry) in self.heap.iter() {
            visit(entry.time, &entry.key)?;
        }
        let Some(cold) = self.cold.as_ref().filter(|c| c.keys > 0) else {
            return Ok(());
        };
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(cold.range_end());
        let iter = cold.store.db.iterator_opt(
            rocksdb::IteratorMode::From(&cold.prefix, rocksdb::Direction::Forward),
            options,
        );
        for item in iter {
            let (disk_key, key) = item.map_err(rocks)?;
            // The disk key: prefix, the time's order bytes, the arrival.
            let time = disk_key
                .get(cold.prefix.len()..cold.prefix.len() + 8)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(|bytes| (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
                .ok_or_else(|| StorageError::Corrupt("a spilled timer without its time".into()))?;
            visit(time, &key)?;
        }
        Ok(())
    }

    /// Entries queued, in memory and on disk.
    pub fn len(&self) -> usize {
        self.heap.len() + self.spilled_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries on disk.
    pub fn spilled_len(&self) -> usize {
        self.cold.as_ref().map_or(0, |c| c.keys)
    }

    /// Drop every entry, in memory and on disk.
    pub fn clear(&mut self) -> Result<()> {
        self.heap.clear();
        self.heap_bytes = 0;
        self.share.report(0);
        self.pending.clear();
        self.pending_bytes = 0;
        match self.cold.as_mut() {
            Some(cold) => cold.clear(),
            None => Ok(()),
        }
    }
}

impl Drop for SpillQueue {
    fn drop(&mut self) {
        if let Err(error) = self.clear() {
            tracing::warn!(%error, "could not delete spilled expiry queue");
        }
    }
}

impl<V: SpillValue> Drop for SpillMap<V> {
    fn drop(&mut self) {
        if let Err(error) = self.clear() {
            tracing::warn!(%error, "could not delete spilled operator state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rows: &[&[u8]]) -> ZSet {
        let mut set = ZSet::new();
        for row in rows {
            set.add(row, 1);
        }
        set
    }

    #[test]
    fn entries_over_the_budget_go_to_disk_and_come_back() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let mut map: SpillMap<ZSet> =
            SpillMap::with_budget(Some(4_000), Some(dir.path().to_path_buf()));
        for i in 0..1_000u32 {
            let key = i.to_be_bytes();
            map.load([key.as_slice()])?;
            map.entry(&key).add(format!("row {i}").as_bytes(), 1);
            map.settle()?;
            // (The entries in memory leave room for the index of the keys on disk, but keep
            // a quarter of the budget.)
            let index = map.spilled_keys.memory_bytes();
            assert!(
                map.hot_bytes <= (4_000_usize + 200).saturating_sub(index).max(1_000 + 200),
                "{} bytes with an index of {index}",
                map.hot_bytes
            );
        }
        assert_eq!(map.len(), 1_000);
        assert_eq!(map.rows(), 1_000);
        let (spilled, _) = map.spill_counts();
        assert!(spilled > 900, "{spilled}");
        // Update a spilled key: it comes back with its rows.
        let key = 7u32.to_be_bytes();
        map.load([key.as_slice()])?;
        assert_eq!(map.get(&key).map(|s| s.weight(b"row 7")), Some(1));
        map.entry(&key).add(b"row 7", 1);
        map.settle()?;
        let mut seen = 0;
        let mut weight_of_7 = 0;
        map.visit(|k, value| {
            seen += 1;
            if k == key.as_slice() {
                weight_of_7 = value.weight(b"row 7");
            }
            Ok(())
        })?;
        assert_eq!((seen, weight_of_7), (1_000, 2));
        // Draining hands out every entry, from memory and disk, and empties the map.
        let mut drained = Vec::new();
        map.drain(|k, value| {
            drained.push((k.to_vec(), value.total_weight()));
            Ok(())
        })?;
        drained.sort();
        let expected: Vec<(Vec<u8>, i64)> = (0..1_000u32)
            .map(|i| (i.to_be_bytes().to_vec(), if i == 7 { 2 } else { 1 }))
            .collect();
        assert_eq!(drained, expected);
        assert!(map.is_empty());
        assert_eq!(map.spilled_len(), 0);
        Ok(())
    }

    #[test]
    fn maps_and_a_queue_of_one_operator_share_its_budget() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let budget = Budget::limited(Some(8_000));
        let mut maps: Vec<SpillMap<ZSet>> = (0..2)
            .map(|_| {
                let mut map = SpillMap::with_budget(None, Some(dir.path().to_path_buf()));
                map.share_budget(&budget);
                map
            })
            .collect();
        let mut queue = SpillQueue::in_shared(budget.clone(), Some(dir.path().to_path_buf()));
        // The first map alone fills the budget; then both grow, and the queue takes entries.
        for i in 0..3_000u32 {
            let key = i.to_be_bytes();
            let map = &mut maps[usize::from(i >= 500 && i % 2 == 1)];
            map.load([key.as_slice()])?;
            map.entry(&key).add(format!("row {i}").as_bytes(), 1);
            map.settle()?;
            queue.push(i64::from(i), &key)?;
            queue.flush()?;
            let held = maps.iter().map(SpillMap::memory_bytes).sum::<usize>() + queue.heap_bytes;
            assert_eq!(budget.used(), held);
            let hot = maps.iter().map(|m| m.hot_bytes).sum::<usize>() + queue.heap_bytes;
            assert!(hot <= 8_000 + 400, "{hot} bytes held at {i}");
        }
        // Each map holds part of the memory, and every entry is still there.
        assert!(maps
            .iter()
            .all(|m| m.memory_bytes() > 0 && m.spilled_len() > 0));
        assert_eq!(maps.iter().map(SpillMap::len).sum::<usize>(), 3_000);
        assert_eq!(queue.len(), 3_000);
        // Dropping a member gives its bytes back.
        let first = maps.remove(0);
        let bytes = first.memory_bytes();
        drop(first);
        assert_eq!(
            budget.used(),
            maps[0].memory_bytes() + queue.heap_bytes,
            "{bytes} bytes returned"
        );
        Ok(())
    }

    #[test]
    fn operators_share_the_process_budget_unless_each_has_its_own() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let dir = Some(dir.path().to_path_buf());
        // (The only test of this binary that changes the process's settings.)
        configure(SpillSettings {
            budget_bytes: None,
            total_bytes: Some(8_000),
            dir: dir.clone(),
        });
        // Two operators, each with its map, made from the settings.
        let (first, second) = (Budget::from_settings(), Budget::from_settings());
        let mut maps: Vec<SpillMap<ZSet>> = vec![
            SpillMap::in_shared(first.clone(), dir.clone(), ()),
            SpillMap::in_shared(second.clone(), dir.clone(), ()),
        ];
        for i in 0..2_000u32 {
            let key = i.to_be_bytes();
            let map = &mut maps[usize::from(i >= 300 && i % 3 == 0)];
            map.load([key.as_slice()])?;
            map.entry(&key).add(format!("row {i}").as_bytes(), 1);
            map.settle()?;
            let held = maps.iter().map(SpillMap::memory_bytes).sum::<usize>();
            assert_eq!(first.used(), held, "one count for both operators");
            assert_eq!(second.used(), held);
            // (The index of the keys on disk counts too; past three quarters of a map's
            // share the map keeps a quarter of it in memory all the same.)
            let hot = maps.iter().map(|m| m.hot_bytes).sum::<usize>();
            assert!(hot <= 8_000 + 400, "{hot} bytes held at {i}");
        }
        assert!(maps.iter().all(|m| m.spilled_len() > 0));
        assert_eq!(maps.iter().map(SpillMap::len).sum::<usize>(), 2_000);
        // A budget per operator replaces the process's: each operator counts its own.
        configure(SpillSettings {
            budget_bytes: Some(1_000),
            total_bytes: Some(8_000),
            dir,
        });
        let (own, other) = (Budget::from_settings(), Budget::from_settings());
        assert_eq!(own.limit(), Some(1_000));
        let mut map: SpillMap<ZSet> = SpillMap::in_budget(&own);
        map.load([b"k".as_slice()])?;
        map.entry(b"k").add(b"row", 1);
        map.settle()?;
        assert!(own.used() > 0);
        assert_eq!(other.used(), 0);
        // Without either, nothing is limited.
        configure(SpillSettings::default());
        assert_eq!(Budget::from_settings().limit(), None);
        Ok(())
    }

    #[test]
    fn a_queue_over_its_budget_expires_from_memory_and_disk() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let mut queue = SpillQueue::with_budget(Some(2_000), Some(dir.path().to_path_buf()));
        // Times out of order, negative and extreme ones, several entries per time.
        let times: Vec<i64> = (0..500i64)
            .map(|i| (i * 7919) % 301 - 150)
            .chain([i64::MIN, i64::MAX, 0, 0])
            .collect();
        for (i, time) in times.iter().enumerate() {
            queue.push(*time, format!("k{i}").as_bytes())?;
        }
        queue.flush()?;
        assert!(queue.spilled_len() > 400, "{}", queue.spilled_len());
        assert_eq!(queue.len(), times.len());
        // A visit sees every entry with its time, from memory and disk, and takes nothing.
        let mut visited: Vec<(i64, String)> = Vec::new();
        queue.visit(|time, key| {
            visited.push((time, String::from_utf8_lossy(key).into_owned()));
            Ok(())
        })?;
        visited.sort();
        let mut all: Vec<(i64, String)> = times
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, format!("k{i}")))
            .collect();
        all.sort();
        assert_eq!(visited, all);
        assert_eq!(queue.len(), times.len());
        let mut previous = i64::MIN;
        let mut first = true;
        for bound in [-151, -100, 0, 149, i64::MAX] {
            let mut got: Vec<String> = Vec::new();
            let mut chunks = 0;
            queue.expire(bound, 64, |chunk| {
                assert!(chunk.len() <= 64);
                chunks += 1;
                got.extend(
                    chunk
                        .iter()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                );
                Ok(())
            })?;
            assert!(chunks >= got.len() / 64);
            got.sort();
            // Exactly the entries after the previous bound, up to this one.
            let mut expected: Vec<String> = times
                .iter()
                .enumerate()
                .filter(|(_, t)| (first || **t > previous) && **t <= bound)
                .map(|(i, _)| format!("k{i}"))
                .collect();
            expected.sort();
            assert_eq!(got, expected, "bound {bound}");
            previous = bound;
            first = false;
        }
        assert!(queue.is_empty());
        Ok(())
    }

    #[test]
    fn rows_added_to_spilled_keys_are_appended_without_reading() -> Result<()> {
        // A batch of one row, and batches in which a key gets several rows (some of them
        // cancelling each other) before they go to disk.
        appended_rows_round_trip(1)?;
        appended_rows_round_trip(17)
    }

    fn appended_rows_round_trip(batch: u32) -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let mut map: SpillMap<ZSet> =
            SpillMap::with_budget(Some(6_000), Some(dir.path().to_path_buf()));
        let mut model: std::collections::BTreeMap<(u32, String), i64> = Default::default();
        let mut timers: HashMap<u32, i64> = HashMap::new();
        // 200 keys, rows arriving over and over (keys spill and are appended to), some
        // deleted again; every row of key k expires at time k + row number.
        for step in 0..4_000u32 {
            let k = (step * 7919) % 200;
            let n = step % 13;
            let weight = if step % 5 == 4 { -1 } else { 1 };
            let row = format!("row {n}");
            let key = k.to_be_bytes();
            map.touch([key.as_slice()]);
            let time = i64::from(k + n);
            if map.add_row(&key, row.as_bytes(), weight, time, true) {
                timers.insert(k, time);
            }
            if step % batch == batch - 1 {
                map.settle()?;
            }
            let entry = model.entry((k, row.clone())).or_insert(0);
            *entry += weight;
            if *entry == 0 {
                model.remove(&(k, row));
            }
        }
        let (spilled, reloaded) = map.spill_counts();
        assert!(spilled > 100, "{spilled} entries spilled");
        assert_eq!(reloaded, 0, "appending reads nothing back");
        // Every key's timer is one the caller queued, at most the earliest time of its rows
        // (so no row outlives its time).
        let check = |key: &[u8], set: &ZSet| {
            let k = u32::from_be_bytes(key.try_into().expect("key"));
            if let Some(earliest) = set.iter_timed().map(|(_, _, t)| t).min() {
                assert!(set.scheduled() <= earliest, "key {k}");
                assert!(
                    timers.get(&k).is_some_and(|t| *t <= set.scheduled()),
                    "key {k}"
                );
            }
        };
        // A checkpoint folds the appended changes; restored, the map equals the model.
        let mut out = StateWriter::new();
        map.snapshot(&mut out)?;
        let bytes = out.into_bytes();
        let mut restored: SpillMap<ZSet> =
            SpillMap::with_budget(Some(6_000), Some(dir.path().to_path_buf()));
        restored.restore(&mut StateReader::new(&bytes))?;
        // Through a checkpoint's streams: spilled entries are copied with their appended
        // changes and go back to disk unread; a map without a budget takes them in memory.
        let streams = crate::state::MemoryStreams::shared();
        let mut out = StateWriter::with_sink(streams.clone());
        map.snapshot(&mut out)?;
        let bytes = out.into_bytes();
        assert_eq!(
            bytes.len(),
            64,
            "the marker, the chain's one stream, the hot stream"
        );
        let streams = streams
            .lock()
            .map_err(|_| StorageError::Io("lock".into()))?;
        assert_eq!(streams.len(), map.len());
        let mut streamed: SpillMap<ZSet> =
            SpillMap::with_budget(Some(6_000), Some(dir.path().to_path_buf()));
        streamed.restore(&mut StateReader::with_source(&bytes, &*streams))?;
        assert_eq!(streamed.spilled_len(), map.spilled_len());
        assert_eq!(
            streamed.spill_counts(),
            (0, 0),
            "nothing read back or written again"
        );
        let mut unbudgeted: SpillMap<ZSet> = SpillMap::with_budget(None, None);
        unbudgeted.restore(&mut StateReader::with_source(&bytes, &*streams))?;
        assert_eq!(unbudgeted.spilled_len(), 0);
        for map in [&mut map, &mut restored, &mut streamed, &mut unbudgeted] {
            let mut got: std::collections::BTreeMap<(u32, String), i64> = Default::default();
            map.visit(|key, set| {
                check(key, set);
                let k = u32::from_be_bytes(key.try_into().expect("key"));
                for (row, weight) in set.iter() {
                    got.insert((k, String::from_utf8_lossy(row).into_owned()), weight);
                }
                Ok(())
            })?;
            assert_eq!(got, model);
        }
        // Loading brings a spilled key back whole, with its timer.
        let key = 5u32.to_be_bytes();
        map.load([key.as_slice()])?;
        let set = map.get(&key).expect("key 5 in memory after load");
        check(&key, set);
        let rows: i64 = set.iter().map(|(_, w)| w).sum();
        let expected: i64 = model
            .iter()
            .filter(|((k, _), _)| *k == 5)
            .map(|(_, w)| w)
            .sum();
        assert_eq!(rows, expected);
        Ok(())
    }

    #[test]
    fn spilled_keys_due_whole_are_dropped_unread() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let mut map: SpillMap<ZSet> =
            SpillMap::with_budget(Some(4_000), Some(dir.path().to_path_buf()));
        // Key k holds rows expiring at k and at 2k (the second one appended after the key
        // spilled, for even k).
        for k in 1..=100u32 {
            let key = k.to_be_bytes();
            map.touch([key.as_slice()]);
            map.add_row(&key, format!("first {k}").as_bytes(), 1, i64::from(k), true);
            map.settle()?;
        }
        for k in (2..=100u32).step_by(2) {
            let key = k.to_be_bytes();
            map.touch([key.as_slice()]);
            map.add_row(&key, b"second", 1, 2 * i64::from(k), true);
            map.settle()?;
        }
        // Appended in the batch that drops the key, not yet on disk when it is dropped.
        for k in (1..=29u32).step_by(4) {
            let key = k.to_be_bytes();
            map.touch([key.as_slice()]);
            map.add_row(&key, b"third", 1, i64::from(k), true);
        }
        // ... and to keys that stay: their changes must still reach the disk.
        for k in [40u32, 80] {
            let key = k.to_be_bytes();
            map.touch([key.as_slice()]);
            map.add_row(&key, b"third", 1, 2 * i64::from(k), true);
        }
        assert!(map.spilled_len() > 20, "{} keys spilled", map.spilled_len());
        let (rows_before, spilled_before) = (map.rows(), map.spilled_len());
        let (_, reloaded_before) = map.spill_counts();
        // At 60: odd keys up to 59 are due whole, even keys up to 30 too (2k <= 60).
        let mut keys: Vec<Box<[u8]>> = (1..=60u32).map(|k| Box::from(k.to_be_bytes())).collect();
        map.forget_expired(&mut keys, 60)?;
        let kept: Vec<u32> = keys
            .iter()
            .map(|k| u32::from_be_bytes(k.as_ref().try_into().expect("key")))
            .collect();
        // What is kept: keys in memory, and spilled keys with a row after 60.
        for k in &kept {
            let spilled_with_later_row = *k % 2 == 0 && *k > 30;
            let in_memory = map.get(&k.to_be_bytes()).is_some();
            assert!(spilled_with_later_row || in_memory, "key {k} kept");
        }
        let dropped = 60 - kept.len();
        assert!(dropped > 0);
        assert_eq!(map.spilled_len(), spilled_before - dropped);
        assert_eq!(map.spill_counts().1, reloaded_before, "nothing read back");
        let mut remaining = 0;
        map.settle()?;
        map.visit(|key, set| {
            let k = u32::from_be_bytes(key.try_into().expect("key"));
            let dropped_key = k <= 60 && !kept.contains(&k);
            assert!(!dropped_key, "key {k} still stored");
            if k == 40 || k == 80 {
                assert_eq!(set.distinct_len(), 3, "key {k}: first, second and third");
            }
            remaining += set.distinct_len();
            Ok(())
        })?;
        assert_eq!(map.rows(), remaining);
        assert!(map.rows() < rows_before);
        Ok(())
    }

    #[test]
    fn retain_in_memory_skips_spilled_keys_and_remeasures_changed_ones() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let mut map: SpillMap<ZSet> =
            SpillMap::with_budget(Some(2_000), Some(dir.path().to_path_buf()));
        for k in 0..40u32 {
            let key = k.to_be_bytes();
            map.load([key.as_slice()])?;
            *map.entry(&key) = set(&[b"aaaaaaaaaaaaaaaa", b"bbbbbbbbbbbbbbbb"]);
            map.settle()?;
        }
        let spilled = map.spilled_len();
        assert!(spilled > 0 && spilled < 40, "{spilled} of 40 keys spilled");
        let (rows, bytes) = (map.rows(), map.memory_bytes());
        let mut visited = 0;
        // Even keys lose a row, keys divisible by 3 go, the others stay unchanged.
        map.retain_in_memory(|key, value| {
            visited += 1;
            let k = u32::from_be_bytes(key.try_into().expect("key"));
            if k % 3 == 0 {
                return None;
            }
            if k % 2 == 0 {
                value.add(b"aaaaaaaaaaaaaaaa", -1);
                return Some(true);
            }
            Some(false)
        });
        assert_eq!(visited, 40 - spilled, "only the keys in memory");
        assert_eq!(map.spilled_len(), spilled, "spilled keys untouched");
        assert!(
            map.memory_bytes() < bytes,
            "removed and shrunk entries give bytes back"
        );
        let mut remaining = 0;
        map.visit(|_, set| {
            remaining += set.distinct_len();
            Ok(())
        })?;
        assert_eq!(map.rows(), remaining);
        assert!(remaining < rows);
        Ok(())
    }

    #[test]
    fn the_spilled_key_index_counts_against_the_budget() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let budget = Budget::limited(Some(200_000));
        let mut map: SpillMap<ZSet> =
            SpillMap::in_shared(budget.clone(), Some(dir.path().into()), ());
        let mut smallest_room = usize::MAX;
        for i in 0..20_000u32 {
            let key = i.to_be_bytes();
            map.load([key.as_slice()])?;
            map.entry(&key)
                .add(format!("row number {i:>30}").as_bytes(), 1);
            map.settle()?;
            let index = map.spilled_keys.memory_bytes();
            assert_eq!(map.memory_bytes(), map.hot_bytes + index);
            assert_eq!(budget.used(), map.memory_bytes());
            // In memory: what the index leaves of three quarters of the budget, at least a
            // quarter of that (plus the entry of the batch).
            let room = (150_000_usize.saturating_sub(index)).max(150_000 / 4);
            assert!(
                map.memory_bytes() <= 200_000 || map.hot_bytes <= room + 200,
                "{} bytes, index {index}",
                map.hot_bytes
            );
            if index > 0 {
                smallest_room = smallest_room.min(room);
            }
        }
        // The index outgrew the budget: entries in memory kept the floor.
        assert_eq!(smallest_room, 150_000 / 4);
        assert_eq!(map.len(), 20_000);
        let key = 7u32.to_be_bytes();
        map.load([key.as_slice()])?;
        assert_eq!(map.get(&key).map(ZSet::rows), Some(1));
        Ok(())
    }

    #[test]
    fn the_spilled_key_index_keeps_keys_of_every_length_apart() {
        let mut index = SpilledIndex::default();
        let mut model = std::collections::BTreeMap::new();
        // Keys of 0 to 40 bytes, and the same keys with a trailing zero byte: inline and
        // boxed (and at the border, 15/16 bytes) all stay distinct.
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for len in 0..=40u8 {
            let key: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(1))
                .collect();
            let mut padded = key.clone();
            padded.push(0);
            keys.push(key);
            keys.push(padded);
        }
        for (n, key) in keys.iter().enumerate() {
            let spilled = SpilledKey {
                timer: n as i64,
                last: -(n as i64),
                rows: n as u32,
            };
            index.insert(key, spilled);
            model.insert(key.clone(), n as u32);
        }
        assert_eq!(model.len(), keys.len());
        for (key, &n) in &model {
            let rows = index.get(key).map(|spilled| spilled.rows);
            assert_eq!(rows, Some(n), "key of {} bytes", key.len());
        }
        for key in keys.iter().step_by(3) {
            if let Some(spilled) = index.get_mut(key) {
                spilled.rows += 1000;
            }
        }
        for (i, key) in keys.iter().enumerate() {
            let removed = index.remove(key).map(|spilled| spilled.rows);
            let expected = model[key] + if i % 3 == 0 { 1000 } else { 0 };
            assert_eq!(removed, Some(expected), "key of {} bytes", key.len());
            assert!(!index.contains_key(key));
        }
        assert!(index.short.is_empty() && index.long.is_empty());
    }

    #[test]
    fn without_a_budget_nothing_is_tracked() -> Result<()> {
        let mut map: SpillMap<ZSet> = SpillMap::with_budget(None, None);
        map.load([b"a".as_slice()])?;
        *map.entry(b"a") = set(&[b"x", b"y"]);
        map.settle()?;
        assert_eq!((map.len(), map.rows(), map.memory_bytes()), (1, 2, 0));
        Ok(())
    }

    /// Snapshots into a checkpoint's streams are incremental: after the first, a snapshot
    /// writes the entries in memory and the keys whose state on disk changed, building on
    /// the last committed chain. Random changes (new keys, rows appended to spilled keys,
    /// keys read back, changed and removed), snapshots at random points, checkpoints that
    /// commit or fail: every committed snapshot restores (into a map with a budget, entries
    /// back on disk, and into one without) to exactly the state it was taken of.
    #[test]
    fn incremental_snapshots_restore_exactly_what_they_were_taken_of() -> Result<()> {
        type Model = std::collections::BTreeMap<(u32, Vec<u8>), i64>;
        fn contents(map: &mut SpillMap<ZSet>) -> Result<Model> {
            let mut got = Model::new();
            map.visit(|key, set| {
                let k = u32::from_be_bytes(key.try_into().expect("key"));
                for (row, weight) in set.iter() {
                    got.insert((k, row.to_vec()), weight);
                }
                Ok(())
            })?;
            Ok(got)
        }
        fn check(got: Model, model: &Model, what: &str) {
            let differ: Vec<_> = got
                .iter()
                .filter(|(key, weight)| model.get(*key) != Some(*weight))
                .chain(model.iter().filter(|(key, _)| !got.contains_key(*key)))
                .take(5)
                .collect();
            assert!(differ.is_empty(), "{what}: rows differ, such as {differ:?}");
        }
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let path = Some(dir.path().to_path_buf());
        let mut map: SpillMap<ZSet> = SpillMap::with_budget(Some(8_000), path.clone());
        let streams = crate::state::MemoryStreams::shared();
        let mut model = Model::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        let (mut committed, mut incremental) = (0, 0);
        for step in 0..6_000u32 {
            let k = next(400) as u32;
            let key = k.to_be_bytes();
            let row = format!("row {}", next(3)).into_bytes();
            match next(10) {
                // Append to the key (in memory or on disk, unread).
                0..=5 => {
                    let weight = if next(4) == 0 { -1 } else { 1 };
                    map.touch([key.as_slice()]);
                    map.add_row(&key, &row, weight, 0, false);
                    *model.entry((k, row)).or_insert(0) += weight;
                    model.retain(|_, w| *w != 0);
                }
                // Read the key back and change it in memory.
                6..=8 => {
                    map.load([key.as_slice()])?;
                    map.entry(&key).add(&row, 1);
                    if map.get(&key).is_some_and(|set| set.is_empty()) {
                        map.remove(&key);
                    }
                    *model.entry((k, row)).or_insert(0) += 1;
                    model.retain(|_, w| *w != 0);
                }
                // Remove the key.
                _ => {
                    map.load([key.as_slice()])?;
                    map.remove(&key);
                    model.retain(|(key, _), _| *key != k);
                }
            }
            map.settle()?;
            if step % 97 != 96 {
                continue;
            }
            let records_before = streams
                .lock()
                .map_err(|_| StorageError::Io("lock".into()))?
                .len();
            let mut out = StateWriter::with_sink(streams.clone());
            map.snapshot(&mut out)?;
            let bytes = out.into_bytes();
            let mut streams = streams
                .lock()
                .map_err(|_| StorageError::Io("lock".into()))?;
            let written = streams.len() - records_before;
            if written < map.len() / 2 {
                incremental += 1;
            }
            if next(4) == 0 {
                streams.abandon();
                continue;
            }
            streams.commit();
            committed += 1;
            // Restore from what the checkpoint holds: with a budget (chain on disk) and
            // without (all in memory).
            let mut budgeted: SpillMap<ZSet> = SpillMap::with_budget(Some(8_000), path.clone());
            budgeted.restore(&mut StateReader::with_source(&bytes, &*streams))?;
            check(
                contents(&mut budgeted)?,
                &model,
                &format!("step {step}, budgeted"),
            );
            let mut unbudgeted: SpillMap<ZSet> = SpillMap::with_budget(None, None);
            unbudgeted.restore(&mut StateReader::with_source(&bytes, &*streams))?;
            check(
                contents(&mut unbudgeted)?,
                &model,
                &format!("step {step}, in memory"),
            );
            // Sometimes the map itself is replaced by its restored copy (a restart): the next
            // snapshots build on the chain it restored.
            if next(5) == 0 {
                map = budgeted;
            }
        }
        assert!(committed > 20, "{committed} committed snapshots");
        assert!(
            incremental > 10,
            "only {incremental} snapshots wrote less than half"
        );
        assert!(
            map.spilled_len() > 100,
            "{} keys on disk",
            map.spilled_len()
        );
        Ok(())
    }
}
