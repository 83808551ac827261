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
use sluice_storage::spill::{Budget, SpillValue};
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
    /// Probe rows waiting for the watermark: time (ns) -> left rows.
    pending: BTreeMap<i64, ZSet>,
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
            versions: SpillMap::in_budget(&Budget::from_settings()),
            pending: BTreeMap::new(),
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
                let waiting = self.pending.entry(time).or_default();
                waiting.add(encoded.row(i), weight);
                if waiting.is_empty() {
                    self.pending.remove(&time);
                }
            }
        }
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
        let later = match watermark.checked_add(1) {
            Some(next) => self.pending.split_off(&next),
            None => BTreeMap::new(),
        };
        let due = std::mem::replace(&mut self.pending, later);
        let mut rows: Vec<&[u8]> = Vec::new();
        let mut weights = Vec::new();
        let mut times = Vec::new();
        for (time, set) in &due {
            for (row, weight) in set.iter() {
                rows.push(row);
                weights.push(weight);
                times.push(*time);
            }
        }
        if rows.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let data = self.row_codecs[0].decode_batch(&self.input_schemas[0], rows)?;
        let output = self.probe(&data, &weights, &times)?;
        self.versions.settle()?;
        Ok(output)
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn state_rows(&self) -> usize {
        let pending: usize = self.pending.values().map(ZSet::distinct_len).sum();
        self.versions.rows() + pending
    }

    fn spilled_entries(&self) -> usize {
        self.versions.spilled_len()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_opt_i64(self.watermark);
        out.put_u64(self.late);
        // Count, then per key its bytes and its history (as `History::encode` writes it).
        self.versions.snapshot(out)?;
        out.put_u64(self.pending.len() as u64);
        for (time, rows) in &self.pending {
            out.put_i64(*time);
            put_zset(out, rows);
        }
        Ok(())
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        self.watermark = input.opt_i64()?;
        self.late = input.u64()?;
        self.versions.restore(input)?;
        self.pending.clear();
        for _ in 0..input.len_prefix()? {
            let time = input.i64()?;
            self.pending.insert(time, get_zset(input)?);
        }
        Ok(())
    }
}
