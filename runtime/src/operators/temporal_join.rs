//! Temporal join (`JOIN versioned FOR SYSTEM_TIME AS OF probe.time`), inner or left, with
//! Flink's semantics: each probe (left) row joins the version of the versioned (right)
//! relation that was current at the probe row's time, and the result is never revised when
//! the versioned relation changes later.
//!
//! Two modes:
//! - **Event time** (`AS OF l.ts`, `ts` an event-time attribute, the right side has one too):
//!   the right side's rows form a history per key, ordered by their version time (the right's
//!   event-time column). A probe row at time `t` joins the versions with the greatest version
//!   time `<= t` under its key. Probe rows wait until the watermark (the minimum over both
//!   inputs) reaches `t`, so every version that can still apply has arrived; probe rows at or
//!   below the watermark join at once. Output is final: later versions do not change it.
//! - **Processing time** (`AS OF PROCTIME()`): a probe row joins the right rows current when
//!   it arrives (a lookup join). Right changes never produce output.
//!
//! The history under event time: right inserts add versions. A right retraction of a version
//! that a newer version of the same key supersedes (a keep-last deduplication emits the
//! retraction of the old row with the insert of the new one) leaves the history unchanged:
//! the old version stays valid up to the newer one's time. A retraction of the newest version
//! deletes it. Versions older than the newest version at or below the watermark can no longer
//! be chosen by a probe row that is not late and are dropped when their key next changes.
//!
//! Probe retractions are joined like inserts and emitted with negative weight, as Flink
//! propagates the row kind. A probe row without a time (NULL) cannot be placed in the history:
//! it is dropped and counted as late.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, RecordBatch, UInt32Array};
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::spill::{Budget, SpillQueue, SpillValue};
use sluice_storage::{RowCodec, SpillMap, StateReader, StateWriter, ZSet};

use super::window_aggregate::nanos_per_unit;
use super::{evaluate_all, evaluate_predicate, timestamp_nanos, Operator};
use crate::change::{take_columns, ChangeBatch};
use crate::checkpoint::{get_zset, put_zset};
use crate::error::{Result, RuntimeError};

/// The version time of every right row in processing-time mode (one version per key).
const CURRENT: i64 = i64::MIN;

/// A key's versions: version time (ns, or `CURRENT`) -> rows of that version. The value of
/// the versioned side's [`SpillMap`]: over the operator memory budget, the keys least
/// recently probed or changed go to disk, and a probe or change reads them back.
#[derive(Default)]
pub(crate) struct History(BTreeMap<i64, ZSet>);

/// Memory of a B-tree entry besides its set (the time, and the node slot it takes).
const VERSION_OVERHEAD: usize = 48;

impl SpillValue for History {
    type Context = ();

    fn memory_size(&self) -> usize {
        self.0
            .values()
            .map(|rows| rows.memory_size() + VERSION_OVERHEAD)
            .sum::<usize>()
            + std::mem::size_of::<Self>()
    }

    fn rows(&self) -> usize {
        self.0.values().map(ZSet::distinct_len).sum()
    }

    /// The checkpoint encoding of a history: count, then per version its time and rows.
    fn encode(&mut self, out: &mut StateWriter, _: &()) -> sluice_storage::error::Result<()> {
        out.put_u64(self.0.len() as u64);
        for (time, rows) in &self.0 {
            out.put_i64(*time);
            put_zset(out, rows);
        }
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> sluice_storage::error::Result<Self> {
        let mut history = BTreeMap::new();
        for _ in 0..input.len_prefix()? {
            let time = input.i64()?;
            history.insert(time, ZSet::read_from(input)?);
        }
        Ok(History(history))
    }
}

/// When a probe row is matched against the versions.
pub enum TemporalTime {
    /// At its event time: `left` evaluates the probe row's time over the left input, `right`
    /// is the right input's event-time column.
    Event {
        left: Arc<dyn PhysicalExpr>,
        right: usize,
    },
    /// When it arrives.
    Processing,
}

/// Due probe rows are decoded and probed this many at a time.
const PROBE_CHUNK: usize = 64 * 1024;

/// Leads the waiting rows in a checkpoint (where a count of distinct times used to be).
const PENDING_ENTRIES_TAG: u64 = u64::MAX;

/// A waiting probe row as queued: its time and weight (8 bytes each), then the row.
fn pending_entry(time: i64, weight: i64, row: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(16 + row.len());
    entry.extend_from_slice(&time.to_le_bytes());
    entry.extend_from_slice(&weight.to_le_bytes());
    entry.extend_from_slice(row);
    entry
}

/// The time, weight and row of a [`pending_entry`].
fn split_pending_entry(entry: &[u8]) -> Result<(i64, i64, &[u8])> {
    let field = |at: usize| {
        entry
            .get(at..at + 8)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(i64::from_le_bytes)
            .ok_or_else(|| {
                RuntimeError::Storage(sluice_storage::StorageError::Corrupt(
                    "a waiting temporal-join row shorter than its header".into(),
                ))
            })
    };
    Ok((field(0)?, field(8)?, &entry[16..]))
}

pub struct TemporalJoin {
    /// LEFT join: probe rows without a matching version are output padded with NULLs.
    left_outer: bool,
    time: TemporalTime,
    keys: [Vec<Arc<dyn PhysicalExpr>>; 2],
    key_codec: RowCodec,
    row_codecs: [RowCodec; 2],
    input_schemas: [SchemaRef; 2],
    /// Residual predicate over the left columns followed by the right columns.
    filter: Option<Arc<dyn PhysicalExpr>>,
    combined_schema: SchemaRef,
    /// Right side: key -> its versions (spilling over the operator memory budget).
    versions: SpillMap<History>,
    /// Probe rows waiting for the watermark, at their time (ns), each as
    /// [`pending_entry`] encodes it; in the operator's memory budget, the rest on disk.
    pending: SpillQueue,
    watermark: Option<i64>,
    late: u64,
    schema: SchemaRef,
}

impl TemporalJoin {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        left_outer: bool,
        time: TemporalTime,
        left_schema: SchemaRef,
        right_schema: SchemaRef,
        left_keys: Vec<Arc<dyn PhysicalExpr>>,
        right_keys: Vec<Arc<dyn PhysicalExpr>>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if left_keys.is_empty() || left_keys.len() != right_keys.len() {
            return Err(RuntimeError::Internal(
                "a temporal join needs equality keys on both sides".into(),
            ));
        }
        if let TemporalTime::Event { left, right } = &time {
            nanos_per_unit(&left.data_type(&left_schema)?)?;
            let field = right_schema.fields().get(*right).ok_or_else(|| {
                RuntimeError::Internal(format!("version time column {right} out of range"))
            })?;
            nanos_per_unit(field.data_type())?;
        }
        let key_types = super::key_types(&left_keys, &left_schema)?;
        let combined_schema = super::combined_join_schema(&left_schema, &right_schema);
        let budget = Budget::from_settings();
        Ok(Self {
            left_outer,
            time,
            key_codec: RowCodec::new(key_types)?,
            row_codecs: [
                RowCodec::for_schema(&left_schema)?,
                RowCodec::for_schema(&right_schema)?,
            ],
            keys: [left_keys, right_keys],
            input_schemas: [left_schema, right_schema],
            filter,
            combined_schema,
            versions: SpillMap::in_budget(&budget),
            pending: SpillQueue::in_budget(&budget),
            watermark: None,
            late: 0,
            schema,
        })
    }

    /// Keys of `data` (side `side`), and whether each row's key has a NULL (never matches).
    fn keys_of(
        &self,
        side: usize,
        data: &RecordBatch,
    ) -> Result<(sluice_storage::codec::EncodedRows, Vec<bool>)> {
        let columns = evaluate_all(&self.keys[side], data)?;
        let rows = data.num_rows();
        let keys = self.key_codec.encode(&columns, rows)?;
        let null_key = (0..rows)
            .map(|i| columns.iter().any(|c| c.is_null(i)))
            .collect();
        Ok((keys, null_key))
    }

    /// The rows of the version of `key` current at `time` (`CURRENT` in processing time);
    /// the key must be loaded.
    fn version_at(&self, key: &[u8], time: i64) -> Option<&ZSet> {
        let history = self.versions.get(key)?;
        history.0.range(..=time).next_back().map(|(_, rows)| rows)
    }

    /// Join probe rows (`data` with `weights`, probe times in ns or `CURRENT`) with their
    /// versions now.
    fn probe(&mut self, data: &RecordBatch, weights: &[i64], times: &[i64]) -> Result<ChangeBatch> {
        let rows = data.num_rows();
        if rows == 0 {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let (keys, null_key) = self.keys_of(0, data)?;
        self.versions
            .load((0..rows).filter(|&i| !null_key[i]).map(|i| keys.row(i)))?;
        let mut left_index: Vec<u32> = Vec::new();
        let mut right_rows: Vec<&[u8]> = Vec::new();
        let mut pair_weights: Vec<i64> = Vec::new();
        for i in 0..rows {
            if null_key[i] {
                continue;
            }
            if let Some(version) = self.version_at(keys.row(i), times[i]) {
                for (row, weight) in version.iter() {
                    if weight > 0 {
                        left_index.push(i as u32);
                        right_rows.push(row);
                        pair_weights.push(weights[i] * weight);
                    }
                }
            }
        }
        let mut matched = vec![false; rows];
        let mut outputs = Vec::new();
        if !left_index.is_empty() {
            let pairs = left_index.len();
            let own = take_columns(data.columns(), &UInt32Array::from(left_index.clone()))?;
            let mut columns = own;
            columns.extend(self.row_codecs[1].decode(right_rows)?);
            let combined = batch_with_row_count(&self.combined_schema, columns, pairs)?;
            let data = batch_with_row_count(&self.schema, combined.columns().to_vec(), pairs)?;
            let mut pairs_batch = ChangeBatch::new(data, pair_weights.into())?;
            match &self.filter {
                Some(filter) => {
                    let mask = evaluate_predicate(filter, &combined)?;
                    for (pair, &i) in left_index.iter().enumerate() {
                        if mask.is_valid(pair) && mask.value(pair) {
                            matched[i as usize] = true;
                        }
                    }
                    pairs_batch = pairs_batch.filter(&mask)?;
                }
                None => {
                    for &i in &left_index {
                        matched[i as usize] = true;
                    }
                }
            }
            outputs.push(pairs_batch);
        }
        if self.left_outer {
            let unmatched: Vec<u32> = (0..rows as u32).filter(|&i| !matched[i as usize]).collect();
            if !unmatched.is_empty() {
                let count = unmatched.len();
                let unmatched_weights: Vec<i64> =
                    unmatched.iter().map(|&i| weights[i as usize]).collect();
                let mut columns = take_columns(data.columns(), &UInt32Array::from(unmatched))?;
                columns.extend(
                    self.input_schemas[1]
                        .fields()
                        .iter()
                        .map(|f| new_null_array(f.data_type(), count)),
                );
                let data = batch_with_row_count(&self.schema, columns, count)?;
                outputs.push(ChangeBatch::new(data, unmatched_weights.into())?);
            }
        }
        ChangeBatch::concat(&self.schema, &outputs)
    }

    fn process_probe(&mut self, changes: ChangeBatch) -> Result<ChangeBatch> {
        let rows = changes.num_rows();
        let weights: Vec<i64> = changes.weights.values().to_vec();
        let TemporalTime::Event { left, .. } = &self.time else {
            return self.probe(&changes.data, &weights, &vec![CURRENT; rows]);
        };
        let times = timestamp_nanos(&left.evaluate(&changes.data)?.into_array(rows)?)?;
        let encoded = self.row_codecs[0].encode(changes.data.columns(), rows)?;
        let mut now: Vec<u32> = Vec::new();
        let mut now_times: Vec<i64> = Vec::new();
        for (i, (time, &weight)) in times.iter().zip(&weights).enumerate() {
            let Some(time) = time else {
                self.late += 1;
                continue;
            };
            if self.watermark.is_some_and(|w| time <= w) {
                now.push(i as u32);
                now_times.push(time);
            } else {
                // A retraction of a waiting row waits beside it: both are probed when the
                // watermark passes, and their outputs cancel.
                self.pending
                    .push(time, &pending_entry(time, weight, encoded.row(i)))?;
            }
        }
        self.pending.flush()?;
        if now.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let now_weights: Vec<i64> = now.iter().map(|&i| weights[i as usize]).collect();
        let columns = take_columns(changes.data.columns(), &UInt32Array::from(now))?;
        let count = now_times.len();
        let data = batch_with_row_count(&self.input_schemas[0], columns, count)?;
        self.probe(&data, &now_weights, &now_times)
    }

    fn process_versions(&mut self, changes: ChangeBatch) -> Result<()> {
        let rows = changes.num_rows();
        let (keys, null_key) = self.keys_of(1, &changes.data)?;
        let times: Vec<Option<i64>> = match &self.time {
            TemporalTime::Event { right, .. } => {
                let times = timestamp_nanos(changes.data.column(*right))?;
                times.iter().collect()
            }
            TemporalTime::Processing => vec![Some(CURRENT); rows],
        };
        let encoded = self.row_codecs[1].encode(changes.data.columns(), rows)?;
        let event_time = matches!(self.time, TemporalTime::Event { .. });
        self.versions
            .load((0..rows).filter(|&i| !null_key[i]).map(|i| keys.row(i)))?;
        // Inserts first, so that a retraction in the same batch sees the version that
        // supersedes it.
        for inserts in [true, false] {
            for i in 0..rows {
                let weight = changes.weights.value(i);
                if (weight > 0) != inserts || null_key[i] {
                    continue;
                }
                let Some(time) = times[i] else {
                    // A version without a time cannot be placed in the history.
                    self.late += 1;
                    continue;
                };
                let key = keys.row(i);
                let history = &mut self.versions.entry(key).0;
                if event_time
                    && !inserts
                    && history.range((time.saturating_add(1))..).next().is_some()
                {
                    // Superseded by a newer version: the history keeps it.
                    continue;
                }
                let version = history.entry(time).or_default();
                version.add(encoded.row(i), weight);
                if version.is_empty() {
                    history.remove(&time);
                }
                if let (true, Some(watermark)) = (event_time, self.watermark) {
                    // Versions before the newest one at or below the watermark are unreachable.
                    let floor = history.range(..=watermark).next_back().map(|(&t, _)| t);
                    let oldest = history.keys().next().copied();
                    if let (Some(floor), Some(oldest)) = (floor, oldest) {
                        if oldest < floor {
                            *history = history.split_off(&floor);
                        }
                    }
                }
                if history.is_empty() {
                    self.versions.remove(key);
                }
            }
        }
        Ok(())
    }
}

impl Operator for TemporalJoin {
    fn name(&self) -> &'static str {
        "TemporalJoin"
    }

    fn describe(&self) -> String {
        let keys = |side: usize| super::expr_list(&self.keys[side]);
        let time = match &self.time {
            TemporalTime::Event { left, right } => {
                format!("as of {left} (event time), version time: column {right}")
            }
            TemporalTime::Processing => "as of processing time".to_string(),
        };
        let mut text = format!(
            "type: {}, {time}, probe keys: [{}], version keys: [{}]",
            if self.left_outer { "Left" } else { "Inner" },
            keys(0),
            keys(1)
        );
        if let Some(filter) = &self.filter {
            text.push_str(&format!(", filter: {filter}"));
        }
        text
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let output = if port == 0 {
            self.process_probe(changes)?
        } else {
            self.process_versions(changes)?;
            ChangeBatch::empty(self.schema.clone())
        };
        self.versions.settle()?;
        Ok(output)
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<ChangeBatch> {
        if self.watermark.is_some_and(|current| current >= watermark) {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.watermark = Some(watermark);
        // The due rows, decoded and probed a chunk at a time (a watermark at the end of input
        // may release more rows than the budget holds: one decoded chunk at a time, the
        // encoded entries taken first, as the queue hands them out while it is borrowed).
        let mut chunks: Vec<Vec<Box<[u8]>>> = Vec::new();
        self.pending.expire(watermark, PROBE_CHUNK, |entries| {
            chunks.push(entries);
            Ok(())
        })?;
        let mut outputs = Vec::with_capacity(chunks.len());
        for entries in chunks {
            let mut rows: Vec<&[u8]> = Vec::with_capacity(entries.len());
            let mut weights = Vec::with_capacity(entries.len());
            let mut times = Vec::with_capacity(entries.len());
            for entry in &entries {
                let (time, weight, row) = split_pending_entry(entry)?;
                rows.push(row);
                weights.push(weight);
                times.push(time);
            }
            let data = self.row_codecs[0].decode_batch(&self.input_schemas[0], rows)?;
            outputs.push(self.probe(&data, &weights, &times)?);
            self.versions.settle()?;
        }
        ChangeBatch::concat(&self.schema, &outputs)
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn state_rows(&self) -> usize {
        self.versions.rows() + self.pending.len()
    }

    fn spilled_entries(&self) -> usize {
        self.versions.spilled_len() + self.pending.spilled_len()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_opt_i64(self.watermark);
        out.put_u64(self.late);
        // Count, then per key its bytes and its history (as `History::encode` writes it).
        self.versions.snapshot(out)?;
        // The waiting rows (each entry holds its time), after a tag (a count of times led
        // them before).
        // For a checkpoint with a sink, the entries are records of a stream (keyed by their
        // position), not counted here.
        out.put_u64(PENDING_ENTRIES_TAG);
        let mut stream = out.open_stream()?;
        if stream.is_none() {
            out.put_u64(self.pending.len() as u64);
        }
        let mut position = 0u64;
        self.pending.visit(|_, entry| match &mut stream {
            Some(stream) => {
                position += 1;
                stream.put(&position.to_be_bytes(), entry)
            }
            None => {
                out.put_bytes(entry);
                Ok(())
            }
        })?;
        out.close_stream(stream);
        Ok(())
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        self.watermark = input.opt_i64()?;
        self.late = input.u64()?;
        self.versions.restore(input)?;
        self.pending.clear()?;
        let count = input.u64()?;
        if count == PENDING_ENTRIES_TAG {
            let pending = &mut self.pending;
            let mut push = |entry: &[u8]| {
                let (time, _, _) = split_pending_entry(entry)?;
                pending.push(time, entry)?;
                Ok::<_, RuntimeError>(())
            };
            match input.external()? {
                Some(stream) => input.read_stream(stream, |_, entry| push(entry))?,
                None => {
                    for _ in 0..input.len_prefix()? {
                        push(input.bytes()?)?;
                    }
                }
            }
        } else {
            // Before the tag: per time, its rows as a Z-set.
            for _ in 0..count {
                let time = input.i64()?;
                for (row, weight) in get_zset(input)?.iter() {
                    self.pending.push(time, &pending_entry(time, weight, row))?;
                }
            }
        }
        self.pending.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::Column;

    fn side() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    /// A LEFT temporal join on `k` at the probe row's `ts`.
    fn join() -> TemporalJoin {
        let (left, right) = (side(), side());
        let schema = super::super::combined_join_schema(&left, &right);
        TemporalJoin::new(
            true,
            TemporalTime::Event {
                left: Arc::new(Column::new("ts", 1)),
                right: 1,
            },
            left,
            right,
            vec![Arc::new(Column::new("k", 0))],
            vec![Arc::new(Column::new("k", 0))],
            None,
            schema,
        )
        .expect("a temporal join")
    }

    fn rows(keys: &[i64], times: &[i64]) -> ChangeBatch {
        let data = RecordBatch::try_new(
            side(),
            vec![
                Arc::new(Int64Array::from(keys.to_vec())),
                Arc::new(TimestampMillisecondArray::from(times.to_vec())),
            ],
        )
        .expect("a batch");
        ChangeBatch::inserts(data)
    }

    fn sorted(output: &ChangeBatch) -> Vec<String> {
        let mut lines: Vec<String> = (0..output.num_rows())
            .map(|row| {
                let cells: Vec<String> = output
                    .data
                    .columns()
                    .iter()
                    .map(|c| {
                        arrow::util::display::array_value_to_string(c, row).unwrap_or_default()
                    })
                    .collect();
                format!("{} {}", cells.join(","), output.weights.value(row))
            })
            .collect();
        lines.sort();
        lines
    }

    const MS: i64 = 1_000_000;

    /// Probe rows waiting for the watermark survive a checkpoint in both formats (the
    /// queued entries, and the per-time Z-sets of checkpoints taken before) and join the
    /// version of their time once it passes.
    #[test]
    fn waiting_rows_survive_a_checkpoint() -> Result<()> {
        let mut first = join();
        first.process(1, rows(&[1, 2], &[100, 100]))?;
        first.process(0, rows(&[1, 2, 3], &[150, 300, 150]))?;
        assert_eq!(first.state_rows(), 5);
        let mut out = StateWriter::new();
        first.snapshot(&mut out)?;
        let bytes = out.into_bytes();
        let mut restored = join();
        restored.restore(&mut StateReader::new(&bytes))?;
        let expected = sorted(&first.on_watermark(400 * MS)?);
        assert_eq!(expected.len(), 3, "{expected:?}");
        assert_eq!(sorted(&restored.on_watermark(400 * MS)?), expected);

        // The format before: watermark, late rows, versions, then per time its rows.
        let mut old = join();
        old.process(1, rows(&[1, 2], &[100, 100]))?;
        let mut out = StateWriter::new();
        out.put_opt_i64(None);
        out.put_u64(0);
        old.versions.snapshot(&mut out)?;
        let probes = rows(&[1, 2, 3], &[150, 300, 150]);
        let encoded = old.row_codecs[0].encode(probes.data.columns(), 3)?;
        let mut at_150 = ZSet::new();
        at_150.add(encoded.row(0), 1);
        at_150.add(encoded.row(2), 1);
        let mut at_300 = ZSet::new();
        at_300.add(encoded.row(1), 1);
        out.put_u64(2);
        out.put_i64(150 * MS);
        put_zset(&mut out, &at_150);
        out.put_i64(300 * MS);
        put_zset(&mut out, &at_300);
        let bytes = out.into_bytes();
        let mut from_old = join();
        from_old.restore(&mut StateReader::new(&bytes))?;
        assert_eq!(sorted(&from_old.on_watermark(400 * MS)?), expected);
        Ok(())
    }
}
