//! Stored relations (tables and materialized views) and their DataFusion table providers.
//!
//! A [`RelationStore`] holds the current contents of one relation: rows indexed by primary
//! key for relations that have one (tables that declare it, views whose plan shows a unique
//! key, such as an aggregate's groups), a multiset of rows otherwise. It is only modified
//! while the database's write lock is held, and read while its read lock is held, so a query
//! sees every relation at one consistent point.
//!
//! Keyed rows live in a [`SpillMap`] with the operators' memory budget (`--state-memory-mb`):
//! beyond it the rows least recently changed or read go to local disk and are read back by
//! the changes and point lookups that need them, so a view with more rows than memory (an
//! aggregate over more groups than fit) runs. A scan reads every row, from memory and disk,
//! into the batches it returns; the scan is cached until the next change only while nothing
//! is on disk (a cached copy of a relation larger than memory would defeat the budget).
//!
//! Rows without a key are a multiset: a [`ZSet`] in memory (scans return rows in the order
//! they came, as a heap table does), until it holds more than the budget (at least
//! [`MULTISET_FLOOR`]); then each distinct row and its count move to a [`SpillMap`] like keyed
//! rows, spilling the same way.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session as DataFusionSession, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use parking_lot::Mutex;
use sluice_runtime::ChangeBatch;
use sluice_storage::durable::{decode_weight, encode_weight};
use sluice_storage::spill::{Budget, SpillValue};
use sluice_storage::{
    Durable, EncodedRows, RowCodec, RowOp, SpillMap, StateReader, StateWriter, ZSet,
};

use crate::error::{PlanError, Result};

/// What kind of object a stored relation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKind {
    Table,
    MaterializedView,
}

struct Contents {
    /// Key -> row, for relations with a key.
    keyed: SpillMap<StoredValue>,
    multiset: Multiset,
    /// The budget's limit: a multiset larger moves to a spillable map.
    threshold: Option<usize>,
    snapshot: Option<Arc<Vec<RecordBatch>>>,
}

/// The smallest multiset that moves to a [`SpillMap`] (below it, whatever the budget, rows
/// stay in arrival order in memory).
pub const MULTISET_FLOOR: usize = 1 << 20;

/// The rows of a relation without a key (see the module documentation).
enum Multiset {
    Memory(ZSet),
    Spillable {
        /// Row -> its count (never 0).
        rows: Box<SpillMap<Count>>,
        /// The sum of the counts.
        total: i64,
    },
}

/// A row's count as the value of a [`SpillMap`].
struct Count(i64);

impl SpillValue for Count {
    type Context = ();

    fn memory_size(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    fn rows(&self) -> usize {
        1
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> sluice_storage::error::Result<()> {
        out.put_i64(self.0);
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> sluice_storage::error::Result<Self> {
        Ok(Self(input.i64()?))
    }
}

impl Multiset {
    /// Bring `rows` into memory before they are added to (a spillable multiset).
    fn load<'r>(&mut self, rows: impl IntoIterator<Item = &'r [u8]>) -> Result<()> {
        if let Multiset::Spillable { rows: map, .. } = self {
            map.load(rows)?;
        }
        Ok(())
    }

    /// Add `weight` to `row` (loaded first); returns its new count.
    fn add(&mut self, row: &[u8], weight: i64) -> i64 {
        match self {
            Multiset::Memory(set) => set.add(row, weight),
            Multiset::Spillable { rows, total } => {
                *total += weight;
                let count = match rows.take(row) {
                    Some(Count(count)) => count + weight,
                    None => weight,
                };
                if count != 0 {
                    rows.insert(Box::from(row), Count(count));
                }
                count
            }
        }
    }

    /// After a run of changes: a multiset in memory larger than `threshold` bytes moves to a
    /// spillable map; a spillable one spills down to its budget.
    fn settle(&mut self, threshold: Option<usize>) -> Result<()> {
        match self {
            Multiset::Memory(set) => {
                let Some(threshold) = threshold else {
                    return Ok(());
                };
                if set.memory_size() <= threshold.max(MULTISET_FLOOR) {
                    return Ok(());
                }
                let mut rows = SpillMap::in_budget(&Budget::from_settings());
                let total = set.total_weight();
                for (moved, (row, count)) in set.iter().enumerate() {
                    rows.insert(Box::from(row), Count(count));
                    if (moved + 1) % LOAD_CHUNK == 0 {
                        rows.settle()?;
                    }
                }
                rows.settle()?;
                *self = Multiset::Spillable {
                    rows: Box::new(rows),
                    total,
                };
                Ok(())
            }
            Multiset::Spillable { rows, .. } => Ok(rows.settle()?),
        }
    }

    /// Every row (each as often as its count) as one batch: a multiset in memory decodes
    /// its rows where they are, a spillable one reads them into copies first.
    fn read_batch(&mut self, codec: &RowCodec, schema: &SchemaRef) -> Result<RecordBatch> {
        if let Multiset::Memory(set) = self {
            return Ok(set.to_batch(codec, schema)?);
        }
        let counts = self.counts()?;
        let mut expanded: Vec<&[u8]> = Vec::with_capacity(counts.len());
        for (row, count) in &counts {
            for _ in 0..(*count).max(0) {
                expanded.push(row);
            }
        }
        Ok(codec.decode_batch(schema, expanded)?)
    }

    /// Every distinct row with its count, in memory and on disk.
    fn counts(&mut self) -> Result<Vec<(Box<[u8]>, i64)>> {
        let mut out = Vec::with_capacity(self.distinct());
        self.visit(|row, count| {
            out.push((Box::from(row), count));
            Ok(())
        })?;
        Ok(out)
    }

    /// Visit every distinct row with its count, in memory and on disk.
    fn visit(
        &mut self,
        mut each: impl FnMut(&[u8], i64) -> sluice_storage::error::Result<()>,
    ) -> Result<()> {
        match self {
            Multiset::Memory(set) => {
                for (row, count) in set.iter() {
                    each(row, count)?;
                }
                Ok(())
            }
            Multiset::Spillable { rows, .. } => Ok(rows.visit(|row, count| each(row, count.0))?),
        }
    }

    /// Distinct rows, in memory and on disk.
    fn distinct(&self) -> usize {
        match self {
            Multiset::Memory(set) => set.distinct_len(),
            Multiset::Spillable { rows, .. } => rows.len(),
        }
    }

    fn total(&self) -> i64 {
        match self {
            Multiset::Memory(set) => set.total_weight(),
            Multiset::Spillable { total, .. } => *total,
        }
    }

    /// Distinct rows on disk.
    fn spilled(&self) -> usize {
        match self {
            Multiset::Memory(_) => 0,
            Multiset::Spillable { rows, .. } => rows.spilled_len(),
        }
    }

    /// Empty, back in memory.
    fn clear(&mut self) -> Result<()> {
        if let Multiset::Spillable { rows, .. } = self {
            rows.clear()?;
        }
        *self = Multiset::Memory(ZSet::new());
        Ok(())
    }
}

/// In a checkpoint, in place of a count of rows without a key: their total and their
/// spillable map's snapshot follow (see [`RelationStore::snapshot_rows`]).
const SPILLABLE_MULTISET: u64 = u64::MAX - 2;

/// Rows loaded (restored, replaced) between two spills to the budget.
const LOAD_CHUNK: usize = 64 * 1024;

/// A keyed relation's row (its encoded bytes) as the value of a [`SpillMap`].
struct StoredValue(Box<[u8]>);

impl SpillValue for StoredValue {
    type Context = ();

    fn memory_size(&self) -> usize {
        self.0.len() + std::mem::size_of::<Self>()
    }

    fn rows(&self) -> usize {
        1
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> sluice_storage::error::Result<()> {
        out.put_bytes(&self.0);
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> sluice_storage::error::Result<Self> {
        Ok(Self(Box::from(input.bytes()?)))
    }
}

impl Contents {
    /// After a run of changes: both stores spill down to the budget (a large multiset moves
    /// to a spillable map first).
    fn settle(&mut self) -> Result<()> {
        self.keyed.settle()?;
        self.multiset.settle(self.threshold)
    }

    /// Rows on disk.
    fn spilled(&self) -> usize {
        self.keyed.spilled_len() + self.multiset.spilled()
    }

    /// Replace the row of `key` (loaded first), returning the previous one.
    fn put(&mut self, key: &[u8], row: &[u8]) -> Option<Box<[u8]>> {
        let old = self.keyed.take(key).map(|old| old.0);
        self.keyed
            .insert(Box::from(key), StoredValue(Box::from(row)));
        old
    }

    /// Remove the row of `key` (loaded first), returning it.
    fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        self.keyed.take(key).map(|old| old.0)
    }

    /// Every row as one batch, from memory and disk (rows in memory are decoded where they
    /// are; rows on disk are read into copies first).
    fn read_batch(
        &mut self,
        codec: &RowCodec,
        schema: &SchemaRef,
        keyed: bool,
    ) -> Result<RecordBatch> {
        if !keyed {
            return self.multiset.read_batch(codec, schema);
        }
        if self.keyed.spilled_len() == 0 {
            let rows = self.keyed.in_memory().map(|(_, row)| row.0.as_ref());
            return Ok(codec.decode_batch(schema, rows)?);
        }
        let mut rows = Vec::with_capacity(self.keyed.len());
        self.keyed.visit(|_, row| {
            rows.push(row.0.clone());
            Ok(())
        })?;
        Ok(codec.decode_batch(schema, rows.iter().map(|row| row.as_ref()))?)
    }
}

/// The rows of one table or materialized view.
pub struct RelationStore {
    name: String,
    kind: StoredKind,
    schema: SchemaRef,
    codec: RowCodec,
    primary_key: Vec<usize>,
    key_codec: Option<RowCodec>,
    contents: Mutex<Contents>,
    /// For a durable table: the data directory and the table's id in it. Every change is
    /// written there (one atomic batch per statement) before it is acknowledged.
    durable: Option<(Arc<Durable>, u64)>,
    /// Point lookups served by the key index (see [`RelationStore::index_lookups`]).
    index_lookups: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RelationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelationStore")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl RelationStore {
    pub fn new(
        name: String,
        kind: StoredKind,
        schema: SchemaRef,
        primary_key: Vec<usize>,
    ) -> Result<Self> {
        let key_codec = if primary_key.is_empty() {
            None
        } else {
            Some(RowCodec::new(
                primary_key
                    .iter()
                    .map(|&i| schema.field(i).data_type().clone())
                    .collect(),
            )?)
        };
        Ok(Self {
            codec: RowCodec::for_schema(&schema)?,
            name,
            kind,
            schema,
            primary_key,
            key_codec,
            contents: Mutex::new(Contents {
                keyed: SpillMap::in_budget(&Budget::from_settings()),
                multiset: Multiset::Memory(ZSet::new()),
                threshold: Budget::from_settings().limit(),
                snapshot: None,
            }),
            durable: None,
            index_lookups: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Keep this table's rows in `durable` under id `table`, loading the rows stored there.
    pub fn make_durable(&mut self, durable: Arc<Durable>, table: u64) -> Result<()> {
        let keyed = self.key_codec.is_some();
        let contents = self.contents.get_mut();
        let mut failure = None;
        let mut loaded = 0;
        durable.scan_rows(table, |key, value| {
            loaded += 1;
            let mut result = load_raw(contents, keyed, key, value);
            if result.is_ok() && loaded % LOAD_CHUNK == 0 {
                result = contents.settle();
            }
            if let Err(error) = result {
                failure.get_or_insert(error);
            }
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        contents.settle()?;
        contents.snapshot = None;
        self.durable = Some((durable, table));
        Ok(())
    }

    /// Write the rows for a checkpoint in their stored form ((encoded key, encoded row) for
    /// keyed relations, (encoded row, multiplicity) otherwise): their number, then per row
    /// the two; for a checkpoint with a sink, records of streams instead (keyed rows, and
    /// rows without a key once they are past memory, as their map writes them:
    /// incrementally). Rows are visited where they are (in memory, then on disk one at a
    /// time), never all copied at once.
    pub fn snapshot_rows(&self, out: &mut StateWriter) -> Result<()> {
        let keyed = self.key_codec.is_some();
        let mut contents = self.contents.lock();
        if keyed {
            // The same encoding, and for a checkpoint with a sink only the rows that changed
            // on disk since the last one (see `SpillMap::snapshot`).
            return Ok(contents.keyed.snapshot(out)?);
        }
        if let (Multiset::Spillable { rows, total }, Some(_)) =
            (&mut contents.multiset, out.generations()?)
        {
            // Rows past memory: their map's incremental snapshot, after their total.
            out.put_u64(SPILLABLE_MULTISET);
            out.put_i64(*total);
            return Ok(rows.snapshot(out)?);
        }
        let mut stream = out.open_stream()?;
        if stream.is_none() {
            out.put_u64(contents.multiset.distinct() as u64);
        }
        let mut put = |key: &[u8], value: &[u8]| match &mut stream {
            Some(stream) => stream.put(key, value),
            None => {
                out.put_bytes(key);
                out.put_bytes(value);
                Ok(())
            }
        };
        contents
            .multiset
            .visit(|row, count| put(row, &encode_weight(count)))?;
        out.close_stream(stream);
        Ok(())
    }

    /// Replace the rows with ones written by [`RelationStore::snapshot_rows`], settling
    /// (spilling) as they come in.
    pub fn restore_rows(&self, input: &mut StateReader) -> Result<()> {
        let keyed = self.key_codec.is_some();
        let mut contents = self.contents.lock();
        contents.keyed.clear()?;
        contents.multiset.clear()?;
        contents.snapshot = None;
        if keyed {
            // The map's own format; checkpoints before it wrote the same bytes as its count
            // and entries.
            contents.keyed.restore(input)?;
            return Ok(());
        }
        if input.peek_u64() == Some(SPILLABLE_MULTISET) {
            input.u64()?;
            let total = input.i64()?;
            let mut rows = SpillMap::in_budget(&Budget::from_settings());
            rows.restore(input)?;
            contents.multiset = Multiset::Spillable {
                rows: Box::new(rows),
                total,
            };
            return Ok(());
        }
        let mut loaded = 0usize;
        let mut load = |contents: &mut Contents, key: &[u8], value: &[u8]| -> Result<()> {
            load_raw(contents, false, key, value)?;
            loaded += 1;
            if loaded.is_multiple_of(LOAD_CHUNK) {
                contents.settle()?;
            }
            Ok(())
        };
        match input.external()? {
            Some(stream) => {
                input.read_stream(stream, |key, value| load(&mut contents, key, value))?;
            }
            None => {
                for _ in 0..input.len_prefix()? {
                    let (key, value) = (input.bytes()?, input.bytes()?);
                    load(&mut contents, key, value)?;
                }
            }
        }
        contents.settle()?;
        Ok(())
    }

    /// The id of this table in the data directory, if it is durable.
    pub fn durable_id(&self) -> Option<u64> {
        self.durable.as_ref().map(|(_, id)| *id)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> StoredKind {
        self.kind
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn primary_key(&self) -> &[usize] {
        &self.primary_key
    }

    /// Encode the primary keys of `batch` (rows of this relation's schema).
    pub fn encode_keys(&self, batch: &RecordBatch) -> Result<Option<EncodedRows>> {
        match &self.key_codec {
            Some(codec) => {
                let columns: Vec<_> = self
                    .primary_key
                    .iter()
                    .map(|&i| batch.column(i).clone())
                    .collect();
                Ok(Some(codec.encode(&columns, batch.num_rows())?))
            }
            None => Ok(None),
        }
    }

    /// Whether a row with each of these encoded primary keys exists.
    pub fn contains_keys(&self, keys: &EncodedRows) -> Result<Vec<bool>> {
        let mut contents = self.contents.lock();
        contents.keyed.load((0..keys.len()).map(|i| keys.row(i)))?;
        let found = (0..keys.len())
            .map(|i| contents.keyed.get(keys.row(i)).is_some())
            .collect();
        contents.keyed.settle()?;
        Ok(found)
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        let contents = self.contents.lock();
        if self.key_codec.is_some() {
            contents.keyed.len()
        } else {
            contents.multiset.total().max(0) as usize
        }
    }

    /// Apply changes. For keyed relations deletions are applied before insertions, so an
    /// update (delete old, insert new) of one key works; callers check key uniqueness. A
    /// durable table writes the changes to its data directory before returning; if that
    /// fails, the in-memory rows are restored and the error returned.
    pub fn apply(&self, changes: &ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let rows = self
            .codec
            .encode(changes.data.columns(), changes.num_rows())?;
        let keys = self.encode_keys(&changes.data)?;
        let mut contents = self.contents.lock();
        contents.snapshot = None;
        match &keys {
            Some(keys) => contents.keyed.load((0..keys.len()).map(|i| keys.row(i)))?,
            None => contents
                .multiset
                .load((0..rows.len()).map(|i| rows.row(i)))?,
        }
        let mut ops = self.durable.as_ref().map(|_| Vec::new());
        let applied = self.apply_encoded(
            &mut contents,
            &rows,
            keys.as_ref(),
            changes,
            1,
            ops.as_mut(),
        );
        if let Err(error) = applied {
            contents.settle()?;
            return Err(error);
        }
        if let (Some((durable, table)), Some(ops)) = (&self.durable, ops) {
            if let Err(error) = durable.write_rows(*table, &ops) {
                tracing::error!(table = %self.name, %error, "durable write failed; change undone");
                self.apply_encoded(&mut contents, &rows, keys.as_ref(), changes, -1, None)?;
                contents.settle()?;
                return Err(error.into());
            }
        }
        contents.settle()?;
        Ok(())
    }

    /// Apply encoded changes with their weights multiplied by `sign` (-1 undoes a previous
    /// apply), recording the resulting row operations in `ops`.
    fn apply_encoded(
        &self,
        contents: &mut Contents,
        rows: &EncodedRows,
        keys: Option<&EncodedRows>,
        changes: &ChangeBatch,
        sign: i64,
        mut ops: Option<&mut Vec<RowOp>>,
    ) -> Result<()> {
        let weight = |i: usize| changes.weights.value(i) * sign;
        match keys {
            Some(keys) => {
                for i in 0..rows.len() {
                    if weight(i) < 0 {
                        contents.remove(keys.row(i));
                        if let Some(ops) = ops.as_mut() {
                            ops.push(RowOp::Delete(keys.row(i).into()));
                        }
                    }
                }
                for i in 0..rows.len() {
                    let weight = weight(i);
                    if weight > 0 {
                        if weight > 1 || contents.keyed.get(keys.row(i)).is_some() {
                            return Err(PlanError::UniqueViolation(format!(
                                "duplicate key value violates unique constraint \"{}_pkey\"",
                                self.name
                            )));
                        }
                        contents.put(keys.row(i), rows.row(i));
                        if let Some(ops) = ops.as_mut() {
                            ops.push(RowOp::Put(keys.row(i).into(), rows.row(i).into()));
                        }
                    }
                }
            }
            None => {
                for i in 0..rows.len() {
                    let total = contents.multiset.add(rows.row(i), weight(i));
                    if let Some(ops) = ops.as_mut() {
                        // Later operations on the same row supersede earlier ones in a batch.
                        ops.push(if total == 0 {
                            RowOp::Delete(rows.row(i).into())
                        } else {
                            RowOp::Put(rows.row(i).into(), encode_weight(total))
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Apply changes with upsert semantics (a sink table keyed by its primary key): a
    /// deletion removes the row with that key, an insertion replaces the row with that key.
    /// Deletions are applied before insertions. Returns the effective change of the contents
    /// (so an insertion that replaces a row retracts the old one). Without a key this is
    /// [`RelationStore::apply`].
    pub fn upsert(&self, changes: &ChangeBatch) -> Result<ChangeBatch> {
        let Some(keys) = self.encode_keys(&changes.data)? else {
            self.apply(changes)?;
            return Ok(changes.clone());
        };
        let rows = self
            .codec
            .encode(changes.data.columns(), changes.num_rows())?;
        let mut contents = self.contents.lock();
        contents.snapshot = None;
        contents.keyed.load((0..keys.len()).map(|i| keys.row(i)))?;
        let mut removed: Vec<Box<[u8]>> = Vec::new();
        let mut added: Vec<usize> = Vec::new();
        for i in 0..rows.len() {
            if changes.weights.value(i) < 0 {
                if let Some(old) = contents.remove(keys.row(i)) {
                    removed.push(old);
                }
            }
        }
        for i in 0..rows.len() {
            if changes.weights.value(i) > 0 {
                if let Some(old) = contents.put(keys.row(i), rows.row(i)) {
                    removed.push(old);
                }
                added.push(i);
            }
        }
        contents.keyed.settle()?;
        drop(contents);
        let old = self
            .codec
            .decode_batch(&self.schema, removed.iter().map(|r| r.as_ref()))?;
        let added = arrow::array::UInt32Array::from(
            added.into_iter().map(|i| i as u32).collect::<Vec<_>>(),
        );
        let new = changes.take(&added)?;
        Ok(ChangeBatch::concat(
            &self.schema,
            &[ChangeBatch::deletes(old), new],
        )?)
    }

    /// The current rows as Arrow batches (cached until the next change while no row is on
    /// disk).
    pub fn snapshot(&self) -> Result<Arc<Vec<RecordBatch>>> {
        let mut contents = self.contents.lock();
        if let Some(snapshot) = &contents.snapshot {
            return Ok(snapshot.clone());
        }
        let batch = contents.read_batch(&self.codec, &self.schema, self.key_codec.is_some())?;
        let batch = conform(batch, &self.schema)?;
        let snapshot = Arc::new(if batch.num_rows() == 0 {
            vec![]
        } else {
            vec![batch]
        });
        if contents.spilled() == 0 {
            contents.snapshot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// The row with primary key `key` (one value per key column), if any.
    pub fn lookup(&self, key: &[ScalarValue]) -> Result<Vec<RecordBatch>> {
        let Some(key_codec) = &self.key_codec else {
            return Ok(self.snapshot()?.as_ref().clone());
        };
        let columns = key
            .iter()
            .zip(key_codec.types())
            .map(|(value, data_type)| {
                let value = value
                    .cast_to(data_type)
                    .map_err(|e| PlanError::from_datafusion(e, ""))?;
                value
                    .to_array()
                    .map_err(|e| PlanError::from_datafusion(e, ""))
            })
            .collect::<Result<Vec<_>>>()?;
        let encoded = key_codec.encode(&columns, 1)?;
        self.index_lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut contents = self.contents.lock();
        let key = encoded.row(0);
        contents.keyed.load([key])?;
        let found = match contents.keyed.get(key) {
            Some(row) => {
                let batch = self.codec.decode_batch(&self.schema, [row.0.as_ref()])?;
                vec![conform(batch, &self.schema)?]
            }
            None => vec![],
        };
        contents.keyed.settle()?;
        Ok(found)
    }

    /// Rows on local disk (beyond the memory budget).
    pub fn spilled_rows(&self) -> usize {
        self.contents.lock().spilled()
    }

    /// Rows read through the key index so far (point lookups that did not scan).
    pub fn index_lookups(&self) -> u64 {
        self.index_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Values for every primary-key column if `filters` pin them with `column = literal`.
    fn key_from_filters(&self, filters: &[Expr]) -> Option<Vec<ScalarValue>> {
        if self.primary_key.is_empty() {
            return None;
        }
        let mut values: Vec<Option<ScalarValue>> = vec![None; self.primary_key.len()];
        for filter in filters {
            for conjunct in datafusion::logical_expr::utils::split_conjunction(filter) {
                if let Some((column, value)) = column_equals_literal(conjunct) {
                    for (slot, &index) in self.primary_key.iter().enumerate() {
                        if self.schema.field(index).name() == &column && !value.is_null() {
                            values[slot] = Some(value.clone());
                        }
                    }
                }
            }
        }
        values.into_iter().collect()
    }

    /// All current rows as one insert-only change batch.
    pub fn contents_as_changes(&self) -> Result<ChangeBatch> {
        let snapshot = self.snapshot()?;
        let batches: Vec<ChangeBatch> = snapshot
            .iter()
            .map(|b| ChangeBatch::inserts(b.clone()))
            .collect();
        Ok(ChangeBatch::concat(&self.schema, &batches)?)
    }

    /// Remove every row (TRUNCATE; DROP deletes a durable table's rows with its catalog
    /// record instead).
    pub fn clear(&self) -> Result<()> {
        let mut contents = self.contents.lock();
        if let Some((durable, table)) = &self.durable {
            durable.clear_rows(*table)?;
        }
        contents.keyed.clear()?;
        contents.multiset.clear()?;
        contents.snapshot = None;
        Ok(())
    }

    /// Forget the rows in memory only (the relation is being dropped).
    pub fn release(&self) {
        let mut contents = self.contents.lock();
        let cleared = contents.keyed.clear().map_err(PlanError::from);
        if let Err(error) = cleared.and_then(|_| contents.multiset.clear()) {
            tracing::warn!(relation = %self.name, %error, "spilled rows not removed");
        }
        contents.snapshot = None;
    }
}

/// Add one stored row (see [`RelationStore::snapshot_rows`]) to `contents`.
fn load_raw(contents: &mut Contents, keyed: bool, key: &[u8], value: &[u8]) -> Result<()> {
    if keyed {
        contents.put(key, value);
    } else {
        contents.multiset.add(key, decode_weight(value)?);
    }
    Ok(())
}

/// Hand the equality conjuncts of a `Filter` directly above a table scan to the scan, so the
/// stored-table provider can serve primary-key lookups. The filter stays in place, so this
/// never changes results. (DataFusion's own filter pushdown does not reach these scans.)
pub fn attach_scan_filters(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    plan.transform_up(|node| {
        let LogicalPlan::Filter(filter) = &node else {
            return Ok(Transformed::no(node));
        };
        let LogicalPlan::TableScan(scan) = filter.input.as_ref() else {
            return Ok(Transformed::no(node));
        };
        let equalities: Vec<Expr> =
            datafusion::logical_expr::utils::split_conjunction(&filter.predicate)
                .into_iter()
                .filter(|e| column_equals_literal(e).is_some())
                .cloned()
                .collect();
        if equalities.is_empty() || !scan.filters.is_empty() {
            return Ok(Transformed::no(node));
        }
        let mut scan = scan.clone();
        scan.filters = equalities;
        let mut filter = filter.clone();
        filter.input = Arc::new(LogicalPlan::TableScan(scan));
        Ok(Transformed::yes(LogicalPlan::Filter(filter)))
    })
    .map(|transformed| transformed.data)
    .map_err(|e| PlanError::from_datafusion(e, ""))
}

/// `column = literal` (either side), through casts of the literal.
fn column_equals_literal(expr: &Expr) -> Option<(String, ScalarValue)> {
    let Expr::BinaryExpr(binary) = expr else {
        return None;
    };
    if binary.op != datafusion::logical_expr::Operator::Eq {
        return None;
    }
    let literal = |e: &Expr| match e {
        Expr::Literal(value, _) => Some(value.clone()),
        _ => None,
    };
    match (binary.left.as_ref(), binary.right.as_ref()) {
        (Expr::Column(column), other) | (other, Expr::Column(column)) => {
            literal(other).map(|value| (column.name.clone(), value))
        }
        _ => None,
    }
}

/// Relabel a batch with exactly `schema` (decoding may widen nullability).
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema() == *schema {
        return Ok(batch);
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), batch.columns().to_vec(), &options)
        .map_err(|e| PlanError::Internal(format!("relation {}: {e}", schema.fields().len())))
}

/// DataFusion's view of a stored relation: scans read the current snapshot.
#[derive(Debug)]
pub struct StoredTableProvider {
    store: Arc<RelationStore>,
    column_defaults: std::collections::HashMap<String, Expr>,
}

impl StoredTableProvider {
    pub fn new(store: Arc<RelationStore>) -> Self {
        Self {
            store,
            column_defaults: Default::default(),
        }
    }

    /// Column DEFAULT expressions, used when an INSERT omits the column.
    pub fn with_column_defaults(
        mut self,
        column_defaults: std::collections::HashMap<String, Expr>,
    ) -> Self {
        self.column_defaults = column_defaults;
        self
    }
}

#[async_trait]
impl TableProvider for StoredTableProvider {
    fn schema(&self) -> SchemaRef {
        self.store.schema()
    }

    fn table_type(&self) -> TableType {
        match self.store.kind() {
            StoredKind::Table => TableType::Base,
            StoredKind::MaterializedView => TableType::View,
        }
    }

    async fn scan(
        &self,
        _state: &dyn DataFusionSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let external = |e: PlanError| datafusion::error::DataFusionError::External(Box::new(e));
        // A point lookup by primary key reads one row instead of materializing the table.
        let rows = match self.store.key_from_filters(filters) {
            Some(key) => self.store.lookup(&key).map_err(external)?,
            None => self.store.snapshot().map_err(external)?.as_ref().clone(),
        };
        let partitions = vec![rows];
        Ok(MemorySourceConfig::try_new_exec(
            &partitions,
            self.store.schema(),
            projection.cloned(),
        )?)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // Key lookups get their filters from `attach_scan_filters`; the filters stay in the
        // plan, which the incremental compiler relies on.
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.column_defaults.get(column)
    }
}

/// Names of the relations a plan scans.
pub fn scanned_relations(plan: &LogicalPlan) -> BTreeSet<String> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut names = BTreeSet::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            names.insert(crate::names::key(&scan.table_name));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}
