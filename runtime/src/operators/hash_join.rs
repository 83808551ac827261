//! Hash join on equality keys, for inner, left/right/full outer, semi and anti joins, with an
//! optional residual predicate (non-equi ON conditions), under inserts and deletes.
//!
//! State: per side, key -> multiset of that side's rows. Rows whose key has a NULL never
//! match (SQL equality) and are not stored; on a side whose unmatched rows are output (outer
//! or anti), they pass straight through.
//!
//! Changes on side S produce:
//! - matched pairs (inner and outer joins): delta(S) joined with the other side's current
//!   rows, then the delta is applied to S's state. Feeding left then right changes this way
//!   gives delta(L) x R + (L + delta(L)) x delta(R), the exact change of L x R.
//! - unmatched/matched row sets (outer: null-extended unmatched rows; anti: unmatched rows;
//!   semi: matched rows): for every key the batch touches, the set is computed before and
//!   after the state update, and the difference is emitted. With a residual predicate,
//!   "matched" means some row of the other side with the same key satisfies it.
//!
//! Interval joins ([`TimeBounds`], found by the planner in conditions such as
//! `b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' HOUR`): a side's row whose bound the watermark
//! has reached can never match a future row of the other side, so it leaves the state (its
//! emitted matches, or its unmatched output in outer/anti joins, stay as they are: that is
//! what every later input would give). Rows arriving with their bounded event time at or
//! below the watermark are late: dropped and counted (Flink joins them with what it still
//! holds). Rows of a side stay while the other side's unmatched/matched output depends on
//! them (outer, semi and anti joins): inner joins forget both sides, LEFT joins the left
//! rows, FULL joins none. Except with [`TimeBounds::unmatched_on_expiry`] (outer joins over
//! append-only inputs, as Flink's interval join): an outer side's rows that matched nothing
//! are kept apart and emitted, padded, when they expire; both sides expire and nothing is
//! retracted.
//!
//! Rarely probed sides: a side of an inner join starts as a log, its rows kept unindexed in
//! arrival order ([`SpillLog`], spilled in whole segments). A change on the other side scans
//! the log instead of looking its keys up. Indexing a row costs a hash-table entry, an
//! encoded copy and, beyond the memory budget, a random write to disk; scanning it costs a
//! hash probe of the batch's keys. So a side stays a log while its scans have visited at most
//! [`LOG_SCAN_RATIO`] times the rows appended to it (Nexmark q7: every bid against one
//! maximum per window, one scan per window), and is indexed (once, from the log) when
//! lookups turn out to be frequent. A side whose input retracts rows is indexed at its first
//! retraction (a log would hold the row and its retraction both).

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array, RecordBatch,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::spill::{Budget, SpillQueue};
use sluice_storage::{
    EncodedRows, RowCodec, SpillLog, SpillMap, StateReader, StateWriter, ZSet, Zone,
};

use super::{evaluate_all, evaluate_predicate, timestamp_nanos, Operator};
use crate::change::{take_columns, ChangeBatch};
use crate::error::Result;

/// The SQL join type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    LeftSemi,
    LeftAnti,
    RightSemi,
    RightAnti,
}

/// What a join outputs for one side's rows beyond matched pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideOutput {
    /// Unmatched rows, padded with NULLs for the other side (outer joins).
    UnmatchedPadded,
    /// Unmatched rows alone (anti joins).
    Unmatched,
    /// Matched rows alone, once per row (semi joins).
    Matched,
}

impl JoinKind {
    fn emits_pairs(self) -> bool {
        matches!(self, Self::Inner | Self::Left | Self::Right | Self::Full)
    }

    fn side_output(self, side: usize) -> Option<SideOutput> {
        use JoinKind::*;
        match (self, side) {
            (Left | Full, 0) | (Right | Full, 1) => Some(SideOutput::UnmatchedPadded),
            (LeftAnti, 0) | (RightAnti, 1) => Some(SideOutput::Unmatched),
            (LeftSemi, 0) | (RightSemi, 1) => Some(SideOutput::Matched),
            _ => None,
        }
    }
}

/// The event-time bounds of an interval join, per side (0 = left, 1 = right).
#[derive(Clone, Default)]
pub struct TimeBounds {
    /// Timestamp expressions over the side's rows: a row expires once the watermark reaches
    /// the smallest of them (a NULL bound never matches: the row expires at once).
    pub expire: [Vec<Arc<dyn PhysicalExpr>>; 2],
    /// Event-time expressions over the side's rows: a row is late, and dropped, when one of
    /// them is at or below the watermark on arrival.
    pub late: [Vec<Arc<dyn PhysicalExpr>>; 2],
    /// How far (nanoseconds) the join's output watermark stays behind its inputs', when
    /// event-time columns of the inputs stay time attributes of the output: a pair is
    /// emitted when its later row arrives, so the earlier row's time can lie this far below
    /// the watermark (Flink holds an interval join's watermark back the same way).
    pub watermark_delay: i64,
    /// Flink's emission for outer interval joins over append-only inputs: an outer side's
    /// row that matched nothing is emitted, padded with NULLs, when it expires, never
    /// before, so the output is append-only; every bounded side's rows expire. Without it
    /// an outer side's unmatched rows are emitted at once and retracted when a match
    /// arrives, and the other side's rows stay (their matches decide that output).
    pub unmatched_on_expiry: bool,
}

impl TimeBounds {
    pub fn is_empty(&self) -> bool {
        self.expire.iter().all(Vec::is_empty)
    }
}

/// Rows of one input batch a join applies at a time under a memory budget.
const BUDGETED_CHUNK: usize = 16 * 1024;

/// A side kept as a log is indexed once its scans have visited more than this many times the
/// rows appended to it (see the module documentation).
pub const LOG_SCAN_RATIO: u64 = 16;

/// Marks a side's checkpoint as a log (a keyed side starts with its entry count, never this).
const LOG_TAG: u64 = u64::MAX;

/// A join side held as a log while the other side rarely probes it.
struct SideLog {
    log: SpillLog,
    /// The side's columns, its encoded join key, and on a bounded side its rows' expiry
    /// times: the batches the log holds.
    schema: SchemaRef,
    /// Rows appended and rows visited by scans, over the log's life.
    appended: u64,
    scanned: u64,
}

impl SideLog {
    fn new(input: &SchemaRef, timed: bool, budget: &Budget) -> Self {
        let mut fields: Vec<Arc<Field>> = input.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(
            "__sluice_join_key",
            DataType::Binary,
            false,
        )));
        if timed {
            fields.push(Arc::new(Field::new(
                "__sluice_expires",
                DataType::Int64,
                false,
            )));
        }
        Self {
            log: SpillLog::in_budget(budget),
            schema: Arc::new(Schema::new(fields)),
            appended: 0,
            scanned: 0,
        }
    }
}

/// Expired rows removed from the state per step: the keys of one step are loaded (from disk,
/// if spilled) together, so a watermark that expires everything does not bring the whole
/// state back into memory at once.
const EXPIRY_CHUNK: usize = 8192;

pub struct HashJoin {
    kind: JoinKind,
    keys: [Vec<Arc<dyn PhysicalExpr>>; 2],
    key_codec: RowCodec,
    row_codecs: [RowCodec; 2],
    input_schemas: [SchemaRef; 2],
    /// Residual predicate over the left columns followed by the right columns.
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Left then right fields, all nullable: what `filter` is evaluated over.
    combined_schema: SchemaRef,
    nulls_equal: bool,
    /// Per side: join key -> that side's rows under the key (spilled to disk beyond the
    /// memory budget, see [`SpillMap`]); empty while the side is a log.
    state: [SpillMap<ZSet>; 2],
    /// Per side: its rows unindexed while it is rarely probed (inner joins; see the module
    /// documentation).
    logs: [Option<SideLog>; 2],
    schema: SchemaRef,
    bounds: TimeBounds,
    expiry: [SpillQueue; 2],
    /// Per outer side, with [`TimeBounds::unmatched_on_expiry`]: its rows that have matched
    /// nothing yet (timed like the side's state), and their expiry timers. A row leaves
    /// when it matches, or is emitted NULL-padded when it expires.
    unmatched: [SpillMap<ZSet>; 2],
    unmatched_expiry: [SpillQueue; 2],
    watermark: Option<i64>,
    late: u64,
}

/// A row of one side, chosen for output, with its weight.
type SideRow = (usize, Box<[u8]>);

/// An encoded row with its weight.
type WeightedRow = (Box<[u8]>, i64);

/// An encoded join key and an encoded row under it.
type KeyedRow = (Box<[u8]>, Box<[u8]>);

impl HashJoin {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: JoinKind,
        left_schema: SchemaRef,
        right_schema: SchemaRef,
        left_keys: Vec<Arc<dyn PhysicalExpr>>,
        right_keys: Vec<Arc<dyn PhysicalExpr>>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        nulls_equal: bool,
        schema: SchemaRef,
    ) -> Result<Self> {
        let key_types = super::key_types(&left_keys, &left_schema)?;
        let combined_schema = super::combined_join_schema(&left_schema, &right_schema);
        // Both sides and their expiry queues count against one memory budget.
        let budget = Budget::from_settings();
        let log = |schema: &SchemaRef| {
            (kind == JoinKind::Inner).then(|| SideLog::new(schema, false, &budget))
        };
        let logs = [log(&left_schema), log(&right_schema)];
        Ok(Self {
            kind,
            logs,
            key_codec: RowCodec::new(key_types)?,
            row_codecs: [
                RowCodec::for_schema(&left_schema)?,
                RowCodec::for_schema(&right_schema)?,
            ],
            keys: [left_keys, right_keys],
            input_schemas: [left_schema, right_schema],
            filter,
            combined_schema,
            nulls_equal,
            state: [SpillMap::in_budget(&budget), SpillMap::in_budget(&budget)],
            schema,
            bounds: TimeBounds::default(),
            expiry: [
                SpillQueue::in_budget(&budget),
                SpillQueue::in_budget(&budget),
            ],
            unmatched: [SpillMap::in_budget(&budget), SpillMap::in_budget(&budget)],
            unmatched_expiry: [
                SpillQueue::in_budget(&budget),
                SpillQueue::in_budget(&budget),
            ],
            watermark: None,
            late: 0,
        })
    }

    /// Make this an interval join: rows leave the state as the watermark passes `bounds`.
    ///
    /// A side's rows stay when the other side outputs its unmatched (outer, anti) or matched
    /// (semi) rows: that status is recomputed from the state on every change, so the rows
    /// that matched must remain. Then the other side's late rule, which only protects
    /// matches with expired rows, is not needed either. Not so with
    /// [`TimeBounds::unmatched_on_expiry`]: an outer side's rows remember whether they
    /// matched, and both sides expire.
    pub fn with_time_bounds(mut self, mut bounds: TimeBounds) -> Self {
        bounds.unmatched_on_expiry &=
            matches!(self.kind, JoinKind::Left | JoinKind::Right | JoinKind::Full);
        for side in 0..2 {
            if self.kind.side_output(1 - side).is_some() && !bounds.unmatched_on_expiry {
                bounds.expire[side].clear();
                bounds.late[1 - side].clear();
            }
        }
        // A bounded side's log keeps every row's expiry time.
        for (side, log) in self.logs.iter_mut().enumerate() {
            if let Some(log) = log.as_mut() {
                if !bounds.expire[side].is_empty() {
                    *log = SideLog::new(&self.input_schemas[side], true, self.state[0].budget());
                }
            }
        }
        self.bounds = bounds;
        self
    }

    /// Whether `side`'s unmatched rows wait for their expiry (see
    /// [`TimeBounds::unmatched_on_expiry`]).
    fn waits_unmatched(&self, side: usize) -> bool {
        self.bounds.unmatched_on_expiry
            && self.kind.side_output(side) == Some(SideOutput::UnmatchedPadded)
    }

    /// Index `side`'s log: every row it holds moves into the side's keyed state (rows
    /// already expired are left out), and the side is keyed from now on.
    fn index_log(&mut self, side: usize) -> Result<()> {
        let Some(mut side_log) = self.logs[side].take() else {
            return Ok(());
        };
        let columns = self.input_schemas[side].fields().len();
        let timed = !self.bounds.expire[side].is_empty();
        let watermark = self.watermark.unwrap_or(i64::MIN);
        let (codec, state, expiry) = (
            &self.row_codecs[side],
            &mut self.state[side],
            &mut self.expiry[side],
        );
        tracing::debug!(
            side,
            rows = side_log.log.rows(),
            scanned = side_log.scanned,
            "indexing a join side kept as a log"
        );
        side_log.log.drain(|batch| {
            let keys = batch.column(columns).as_binary::<i32>();
            let times = timed.then(|| batch.column(columns + 1).as_primitive::<Int64Type>());
            let rows = codec.encode(&batch.columns()[..columns], batch.num_rows())?;
            state.touch(keys.iter().flatten());
            for (i, key) in keys.iter().enumerate() {
                let (Some(key), time) = (key, times.map_or(i64::MAX, |t| t.value(i))) else {
                    continue;
                };
                if time <= watermark {
                    continue;
                }
                if state.add_row(key, rows.row(i), 1, time, timed) {
                    expiry.push(time, key)?;
                }
            }
            expiry.flush()?;
            state.settle()
        })?;
        Ok(())
    }

    /// The earliest event time that bounds the matches of the rows of `changes` arriving on
    /// `side`: the smallest of their late-rule columns (the `x.t` of every interval
    /// conjunct `x.t + c <= E(y)`), `i64::MIN` when there are none or a row has a NULL.
    fn earliest_time(
        &self,
        side: usize,
        changes: &ChangeBatch,
        has_null_key: &[bool],
    ) -> Result<i64> {
        if self.bounds.late[side].is_empty() {
            return Ok(i64::MIN);
        }
        let rows = changes.num_rows();
        let mut earliest = i64::MAX;
        for time in &self.bounds.late[side] {
            let values = timestamp_nanos(&time.evaluate(&changes.data)?.into_array(rows)?)?;
            for (value, null_key) in values.iter().zip(has_null_key) {
                match value {
                    _ if *null_key => {}
                    Some(value) => earliest = earliest.min(value),
                    None => return Ok(i64::MIN),
                }
            }
        }
        Ok(earliest)
    }

    /// Append the rows of `changes` (all insertions of one row each) with a non-NULL key to
    /// `side`'s log.
    fn append_to_log(
        &mut self,
        side: usize,
        changes: &ChangeBatch,
        keys: &EncodedRows,
        has_null_key: &[bool],
        times: Option<&[i64]>,
    ) -> Result<()> {
        let Some(side_log) = self.logs[side].as_mut() else {
            return Ok(());
        };
        let kept: Vec<u32> = (0..changes.num_rows() as u32)
            .filter(|&i| !has_null_key[i as usize])
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        let mut columns = if kept.len() == changes.num_rows() {
            changes.data.columns().to_vec()
        } else {
            take_columns(changes.data.columns(), &UInt32Array::from(kept.clone()))?
        };
        columns.push(Arc::new(BinaryArray::from_iter_values(
            kept.iter().map(|&i| keys.row(i as usize)),
        )));
        let mut until = i64::MAX;
        if let Some(times) = times {
            let kept_times: Vec<i64> = kept.iter().map(|&i| times[i as usize]).collect();
            until = kept_times.iter().copied().max().unwrap_or(i64::MAX);
            columns.push(Arc::new(Int64Array::from(kept_times)));
        }
        let zone = Zone::of(until, kept.iter().map(|&i| keys.row(i as usize)));
        let batch = RecordBatch::try_new(side_log.schema.clone(), columns)?;
        side_log.appended += kept.len() as u64;
        side_log.log.append(batch, zone);
        Ok(())
    }

    /// Matched pairs of `changes` (arriving on `side`) with the rows of the other side's
    /// log, by one scan of the log; indexes the log afterwards when scans turn out frequent.
    fn log_pairs(
        &mut self,
        side: usize,
        changes: &ChangeBatch,
        keys: &EncodedRows,
        has_null_key: &[bool],
    ) -> Result<Vec<ChangeBatch>> {
        const END: u32 = u32::MAX;
        let other = 1 - side;
        let Some(side_log) = self.logs[other].as_ref() else {
            return Ok(Vec::new());
        };
        if side_log.log.is_empty() {
            return Ok(Vec::new());
        }
        // The batch's rows by key: the first row of each key, chained to the next; and the
        // range of its keys (segments of keys all outside it are not read).
        let mut first: HashMap<&[u8], u32> = HashMap::new();
        let mut next = vec![END; has_null_key.len()];
        let mut range: Option<(&[u8], &[u8])> = None;
        for (i, null_key) in has_null_key.iter().enumerate().rev() {
            if !*null_key {
                let key = keys.row(i);
                if let Some(previous) = first.insert(key, i as u32) {
                    next[i] = previous;
                }
                range = Some(range.map_or((key, key), |(l, h)| (l.min(key), h.max(key))));
            }
        }
        let Some((low, high)) = range else {
            return Ok(Vec::new());
        };
        let columns = self.input_schemas[other].fields().len();
        let bounded = !self.bounds.expire[other].is_empty();
        // Rows past their bound count as gone, as they are from a keyed side. A log row
        // `y` expiring at `E(y) - c` (from a conjunct `x.t + c <= E(y)`) matches only rows
        // `x` with `x.t <= E(y) - c`: rows and whole segments expiring before the earliest
        // time of this batch cannot match it (an interval join's new rows meet recent rows
        // only: Nexmark q9's auctions scan the last few bids, not all).
        let earliest = if bounded {
            self.earliest_time(side, changes, has_null_key)?
        } else {
            i64::MIN
        };
        let skip_upto = match self.watermark.filter(|_| bounded) {
            Some(watermark) => watermark.max(earliest.saturating_sub(1)),
            None => earliest.saturating_sub(1),
        };
        let mut found: Vec<(Vec<u32>, Vec<ArrayRef>)> = Vec::new();
        let wanted = |zone: &Zone| zone.until >= earliest && zone.may_hold(low, high);
        let scanned = side_log.log.scan_zones(wanted, |batch| {
            let log_keys = batch.column(columns).as_binary::<i32>();
            let times = bounded.then(|| batch.column(columns + 1).as_primitive::<Int64Type>());
            let (mut own, mut theirs) = (Vec::new(), Vec::new());
            for j in 0..batch.num_rows() {
                if times.is_some_and(|times| times.value(j) <= skip_upto) {
                    continue;
                }
                let Some(&start) = first.get(log_keys.value(j)) else {
                    continue;
                };
                let mut i = start;
                while i != END {
                    own.push(i);
                    theirs.push(j as u32);
                    i = next[i as usize];
                }
            }
            if !own.is_empty() {
                let theirs = UInt32Array::from(theirs);
                let taken = batch.columns()[..columns]
                    .iter()
                    .map(|c| arrow::compute::take(c, &theirs, None))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                found.push((own, taken));
            }
            Ok(())
        })?;
        let scanned = scanned as u64;
        let mut outputs = Vec::with_capacity(found.len());
        for (own_index, theirs) in found {
            let weights: Vec<i64> = own_index
                .iter()
                .map(|&i| changes.weights.value(i as usize))
                .collect();
            let own = take_columns(changes.data.columns(), &UInt32Array::from(own_index))?;
            outputs.push(self.pairs(side, own, theirs, weights)?);
        }
        if let Some(side_log) = self.logs[other].as_mut() {
            side_log.scanned += scanned;
            if side_log.scanned > LOG_SCAN_RATIO.saturating_mul(side_log.appended) {
                self.index_log(other)?;
            }
        }
        Ok(outputs)
    }

    /// When each of `rows` (of `side`'s schema) expires: the smallest bound, `i64::MIN` for
    /// a NULL bound (such a row matches nothing).
    fn expiry_times(&self, side: usize, rows: &arrow::array::RecordBatch) -> Result<Vec<i64>> {
        let mut times = vec![i64::MAX; rows.num_rows()];
        for bound in &self.bounds.expire[side] {
            let values = timestamp_nanos(&bound.evaluate(rows)?.into_array(rows.num_rows())?)?;
            for (time, value) in times.iter_mut().zip(values.iter()) {
                *time = (*time).min(value.unwrap_or(i64::MIN));
            }
        }
        Ok(times)
    }

    /// The rows of `changes` (arriving on `side`) that are not late; counts the late ones.
    fn drop_late(&mut self, side: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let Some(watermark) = self.watermark else {
            return Ok(changes);
        };
        if self.bounds.late[side].is_empty() {
            return Ok(changes);
        }
        let rows = changes.num_rows();
        let mut keep = vec![true; rows];
        for time in &self.bounds.late[side] {
            let values = timestamp_nanos(&time.evaluate(&changes.data)?.into_array(rows)?)?;
            for (keep, value) in keep.iter_mut().zip(values.iter()) {
                if value.is_some_and(|v| v <= watermark) {
                    *keep = false;
                }
            }
        }
        let late = keep.iter().filter(|k| !**k).count();
        if late == 0 {
            return Ok(changes);
        }
        self.late += late as u64;
        changes.filter(&BooleanArray::from(keep))
    }

    /// Remove the rows whose bound the watermark has reached. A bounded side's sets are
    /// timed: every row carries its expiry time, and the side's queue holds one timer per
    /// key, at the earliest time of its rows (see [`ZSet::schedule`]), not a copy of each
    /// row. A timer that fires drops the key's rows due and sets the next one. Returns the
    /// unmatched rows that expired, to be emitted padded (only with
    /// [`TimeBounds::unmatched_on_expiry`]).
    fn expire(&mut self, watermark: i64) -> Result<Vec<(SideRow, i64)>> {
        let mut padded = Vec::new();
        for side in 0..2 {
            if let Some(side_log) = self.logs[side].as_mut() {
                side_log.log.expire(watermark);
            }
            expire_timed(
                &mut self.expiry[side],
                &mut self.state[side],
                watermark,
                None,
            )?;
            if self.waits_unmatched(side) {
                let mut rows = Vec::new();
                expire_timed(
                    &mut self.unmatched_expiry[side],
                    &mut self.unmatched[side],
                    watermark,
                    Some(&mut rows),
                )?;
                padded.extend(rows.into_iter().map(|(row, w)| ((side, row), w)));
            }
        }
        Ok(padded)
    }

    /// Rebuild the expiry timers from the state (after a restore): one per key, at the time
    /// its set had scheduled.
    fn rebuild_expiry(&mut self) -> Result<()> {
        for side in 0..2 {
            let bounded = !self.bounds.expire[side].is_empty();
            rebuild_timers(&mut self.expiry[side], &mut self.state[side], bounded)?;
            let waits = self.waits_unmatched(side);
            rebuild_timers(
                &mut self.unmatched_expiry[side],
                &mut self.unmatched[side],
                waits,
            )?;
        }
        Ok(())
    }

    /// Columns of left and right rows side by side, as the combined schema.
    fn combine(
        &self,
        left: Vec<ArrayRef>,
        right: Vec<ArrayRef>,
        rows: usize,
    ) -> Result<arrow::array::RecordBatch> {
        let mut columns = left;
        columns.extend(right);
        Ok(batch_with_row_count(&self.combined_schema, columns, rows)?)
    }

    /// The matched pairs of rows `own` of `side` with rows `others` of the other side (row
    /// by row) and their weights, those the residual predicate keeps.
    fn pairs(
        &self,
        side: usize,
        own: Vec<ArrayRef>,
        others: Vec<ArrayRef>,
        weights: Vec<i64>,
    ) -> Result<ChangeBatch> {
        Ok(self.kept_pairs(side, own, others, weights, false)?.0)
    }

    /// [`HashJoin::pairs`], and, with `which`, which of the candidate pairs the residual
    /// predicate kept (empty without).
    fn kept_pairs(
        &self,
        side: usize,
        own: Vec<ArrayRef>,
        others: Vec<ArrayRef>,
        weights: Vec<i64>,
        which: bool,
    ) -> Result<(ChangeBatch, Vec<bool>)> {
        let pairs = weights.len();
        let batch = if side == 0 {
            self.combine(own, others, pairs)?
        } else {
            self.combine(others, own, pairs)?
        };
        let data = batch_with_row_count(&self.schema, batch.columns().to_vec(), pairs)?;
        let matched = ChangeBatch::new(data, weights.into())?;
        match &self.filter {
            Some(filter) => {
                let mask = evaluate_predicate(filter, &batch)?;
                let kept = match which {
                    true => (0..pairs)
                        .map(|i| mask.is_valid(i) && mask.value(i))
                        .collect(),
                    false => Vec::new(),
                };
                Ok((matched.filter(&mask)?, kept))
            }
            None => Ok((matched, vec![true; if which { pairs } else { 0 }])),
        }
    }

    fn null_columns(&self, side: usize, rows: usize) -> Vec<ArrayRef> {
        self.input_schemas[side]
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), rows))
            .collect()
    }

    /// Rows of `side` under `key` that `output` selects (matched or unmatched), with weights.
    fn side_rows(
        &self,
        side: usize,
        key: &[u8],
        output: SideOutput,
    ) -> Result<Vec<(SideRow, i64)>> {
        let Some(rows) = self.state[side].get(key) else {
            return Ok(Vec::new());
        };
        let other = self.state[1 - side].get(key);
        let other_rows: Vec<&[u8]> = other
            .map(|set| set.iter().filter(|(_, w)| *w > 0).map(|(r, _)| r).collect())
            .unwrap_or_default();
        let entries: Vec<(&[u8], i64)> = rows.iter().collect();
        let matched: Vec<bool> = match (&self.filter, other_rows.is_empty()) {
            (_, true) => vec![false; entries.len()],
            (None, false) => vec![true; entries.len()],
            (Some(filter), false) => {
                // Evaluate the predicate on every (row, other row) pair of this key.
                let own = self.row_codecs[side].decode(entries.iter().map(|e| e.0))?;
                let others = self.row_codecs[1 - side].decode(other_rows.iter().copied())?;
                let mut own_index = Vec::with_capacity(entries.len() * other_rows.len());
                let mut other_index = Vec::with_capacity(entries.len() * other_rows.len());
                for i in 0..entries.len() {
                    for j in 0..other_rows.len() {
                        own_index.push(i as u32);
                        other_index.push(j as u32);
                    }
                }
                let pairs = own_index.len();
                let own = take_columns(&own, &UInt32Array::from(own_index.clone()))?;
                let others = take_columns(&others, &UInt32Array::from(other_index))?;
                let batch = if side == 0 {
                    self.combine(own, others, pairs)?
                } else {
                    self.combine(others, own, pairs)?
                };
                let mask = evaluate_predicate(filter, &batch)?;
                let mut matched = vec![false; entries.len()];
                for (pair, &i) in own_index.iter().enumerate() {
                    if mask.is_valid(pair) && mask.value(pair) {
                        matched[i as usize] = true;
                    }
                }
                matched
            }
        };
        let want_matched = output == SideOutput::Matched;
        Ok(entries
            .into_iter()
            .zip(matched)
            .filter(|(_, m)| *m == want_matched)
            .map(|((row, weight), _)| ((side, Box::from(row)), weight))
            .collect())
    }

    /// All side-output rows for `keys`, as a weighted map.
    fn side_output_for(
        &self,
        keys: &[&[u8]],
        sign: i64,
        into: &mut HashMap<SideRow, i64>,
    ) -> Result<()> {
        for side in 0..2 {
            let Some(output) = self.kind.side_output(side) else {
                continue;
            };
            for key in keys {
                for (row, weight) in self.side_rows(side, key, output)? {
                    *into.entry(row).or_insert(0) += sign * weight;
                }
            }
        }
        Ok(())
    }

    /// Output batch for side rows (padded or alone).
    fn side_rows_output(&self, rows: Vec<(SideRow, i64)>) -> Result<ChangeBatch> {
        let mut batches = Vec::new();
        for side in 0..2 {
            let Some(output) = self.kind.side_output(side) else {
                continue;
            };
            let selected: Vec<(&[u8], i64)> = rows
                .iter()
                .filter(|((s, _), _)| *s == side)
                .map(|((_, row), w)| (row.as_ref(), *w))
                .collect();
            if selected.is_empty() {
                continue;
            }
            let count = selected.len();
            let own = self.row_codecs[side].decode(selected.iter().map(|s| s.0))?;
            let columns = if output == SideOutput::UnmatchedPadded {
                let nulls = self.null_columns(1 - side, count);
                if side == 0 {
                    own.into_iter().chain(nulls).collect()
                } else {
                    nulls.into_iter().chain(own).collect()
                }
            } else {
                own
            };
            let data = batch_with_row_count(&self.schema, columns, count)?;
            let weights = selected.iter().map(|s| s.1).collect::<Vec<_>>().into();
            batches.push(ChangeBatch::new(data, weights)?);
        }
        ChangeBatch::concat(&self.schema, &batches)
    }

    /// Apply one batch of changes arriving on `side` (see [`Operator::process`]).
    fn process_batch(&mut self, side: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let changes = self.drop_late(side, changes)?;
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        if self.logs[side].is_some() && changes.weights.values().iter().any(|&w| w != 1) {
            self.index_log(side)?;
        }
        let other = 1 - side;
        let rows = changes.num_rows();
        let key_columns = evaluate_all(&self.keys[side], &changes.data)?;
        let keys = self.key_codec.encode(&key_columns, rows)?;
        let has_null_key: Vec<bool> = (0..rows)
            .map(|i| !self.nulls_equal && key_columns.iter().any(|c| c.is_null(i)))
            .collect();

        let mut touched: Vec<&[u8]> = Vec::new();
        {
            let mut seen = hashbrown::HashSet::new();
            for (i, null_key) in has_null_key.iter().enumerate() {
                if !null_key && seen.insert(keys.row(i)) {
                    touched.push(keys.row(i));
                }
            }
        }
        // An inner join reads only the other side's rows under the batch's keys: this side's
        // rows are only added to, and those of spilled keys are appended on disk without
        // being read (see `SpillMap::add_row`). Outer, semi and anti joins read both sides
        // (whether a row is matched depends on the other side's rows).
        let blind = self.kind == JoinKind::Inner;
        for (index, state) in self.state.iter_mut().enumerate() {
            if self.logs[index].is_some() {
                continue;
            }
            if blind && index == side {
                state.touch(touched.iter().copied());
            } else {
                state.load(touched.iter().copied())?;
            }
        }
        let on_expiry = self.bounds.unmatched_on_expiry;
        if on_expiry {
            if changes.weights.values().iter().any(|&w| w < 0) {
                return Err(crate::error::RuntimeError::Unsupported(
                    "an outer interval join that emits unmatched rows on expiry received a \
                     retraction (it is planned for append-only inputs only)"
                        .into(),
                ));
            }
            for index in 0..2 {
                if self.waits_unmatched(index) {
                    self.unmatched[index].load(touched.iter().copied())?;
                }
            }
        }
        let mut side_delta: HashMap<SideRow, i64> = HashMap::new();
        if !on_expiry {
            self.side_output_for(&touched, -1, &mut side_delta)?;
        }

        // Matched pairs: delta rows joined with the other side's current rows.
        // (A scan may index the other side's log: its pairs are all found by then.)
        let mut outputs = Vec::new();
        let other_is_log = self.logs[other].is_some();
        if other_is_log {
            outputs = self.log_pairs(side, &changes, &keys, &has_null_key)?;
        }
        let mut delta_index: Vec<u32> = Vec::new();
        let mut other_rows: Vec<&[u8]> = Vec::new();
        let mut pair_weights: Vec<i64> = Vec::new();
        if self.kind.emits_pairs() && !other_is_log {
            for (i, null_key) in has_null_key.iter().enumerate() {
                if *null_key {
                    continue;
                }
                if let Some(set) = self.state[other].get(keys.row(i)) {
                    let weight = changes.weights.value(i);
                    for (row, other_weight) in set.iter() {
                        delta_index.push(i as u32);
                        other_rows.push(row);
                        pair_weights.push(weight * other_weight);
                    }
                }
            }
        }
        // With `on_expiry`: which of this batch's rows matched, and the other side's rows
        // that matched now (they leave its unmatched rows).
        let mut matched_own = vec![false; if on_expiry { rows } else { 0 }];
        let mut matched_other: Vec<KeyedRow> = Vec::new();
        if !delta_index.is_empty() {
            // (The indexes are needed again only to mark matched rows.)
            let indexes = match on_expiry {
                true => delta_index.clone(),
                false => std::mem::take(&mut delta_index),
            };
            let own = take_columns(changes.data.columns(), &UInt32Array::from(indexes))?;
            let others = self.row_codecs[other].decode(other_rows.iter().copied())?;
            let (pairs, kept) = self.kept_pairs(side, own, others, pair_weights, on_expiry)?;
            if on_expiry {
                let other_waits = self.waits_unmatched(other);
                for (pair, _) in kept.iter().enumerate().filter(|(_, k)| **k) {
                    let own_index = delta_index[pair] as usize;
                    matched_own[own_index] = true;
                    // Only rows still unmatched need the note (most matched before).
                    let key = keys.row(own_index);
                    let unmatched = other_waits
                        && self.unmatched[other]
                            .get(key)
                            .is_some_and(|set| set.weight(other_rows[pair]) != 0);
                    if unmatched {
                        matched_other.push((Box::from(key), Box::from(other_rows[pair])));
                    }
                }
            }
            outputs.push(pairs);
        }
        for (key, row) in matched_other {
            if let Some(set) = self.unmatched[other].get_mut(&key) {
                let weight = set.weight(&row);
                set.add_at(&row, -weight, i64::MAX);
                if set.is_empty() {
                    self.unmatched[other].remove(&key);
                }
            }
        }

        // Apply the delta to this side's state; rows with NULL keys pass straight through
        // when this side's unmatched rows are output.
        let mut passthrough: Vec<(SideRow, i64)> = Vec::new();
        // A bounded side's rows carry their expiry times. Deletes are timed too: the delete
        // of a row that already expired leaves a negative weight (its retraction was emitted
        // right), which must leave the state in turn.
        let times = match self.bounds.expire[side].is_empty() {
            true => None,
            false => Some(self.expiry_times(side, &changes.data)?),
        };
        if self.logs[side].is_some() {
            // A log keeps the batch's columns: its rows are not encoded.
            self.append_to_log(side, &changes, &keys, &has_null_key, times.as_deref())?;
        } else {
            let encoded = self.row_codecs[side].encode(changes.data.columns(), rows)?;
            let waits = self.waits_unmatched(side);
            for (i, null_key) in has_null_key.iter().enumerate() {
                let weight = changes.weights.value(i);
                if *null_key {
                    if matches!(
                        self.kind.side_output(side),
                        Some(SideOutput::Unmatched | SideOutput::UnmatchedPadded)
                    ) {
                        passthrough.push(((side, Box::from(encoded.row(i))), weight));
                    }
                    continue;
                }
                let key = keys.row(i);
                let time = times.as_ref().map_or(i64::MAX, |times| times[i]);
                if self.state[side].add_row(key, encoded.row(i), weight, time, times.is_some()) {
                    self.expiry[side].push(time, key)?;
                }
                if waits
                    && !matched_own[i]
                    && self.unmatched[side].add_row(key, encoded.row(i), weight, time, true)
                {
                    self.unmatched_expiry[side].push(time, key)?;
                }
            }
            if times.is_some() {
                self.expiry[side].flush()?;
            }
            if waits {
                self.unmatched_expiry[side].flush()?;
            }
        }

        if !on_expiry {
            self.side_output_for(&touched, 1, &mut side_delta)?;
        }
        let mut side_rows: Vec<(SideRow, i64)> =
            side_delta.into_iter().filter(|(_, w)| *w != 0).collect();
        if let Some(watermark) = self.watermark {
            // Rows already past their bound (they matched what they could) leave at once.
            side_rows.extend(self.expire(watermark)?);
        }
        side_rows.extend(passthrough);
        if !side_rows.is_empty() {
            outputs.push(self.side_rows_output(side_rows)?);
        }
        for state in self.state.iter_mut().chain(self.unmatched.iter_mut()) {
            state.settle()?;
        }
        for side_log in self.logs.iter_mut().flatten() {
            side_log.log.settle()?;
        }
        ChangeBatch::concat(&self.schema, &outputs)
    }
}

/// Fire the timers of `queue` due at `watermark` over the timed sets of `state`: the due
/// rows leave, each key's next timer is queued. With `expired`, the rows that left are
/// collected with their weights (and spilled keys are read for them); without, spilled keys
/// that expire whole are deleted unread.
fn expire_timed(
    queue: &mut SpillQueue,
    state: &mut SpillMap<ZSet>,
    watermark: i64,
    mut expired: Option<&mut Vec<WeightedRow>>,
) -> Result<()> {
    let mut next_timers: Vec<(i64, Box<[u8]>)> = Vec::new();
    queue.expire(watermark, EXPIRY_CHUNK, |mut keys| {
        if expired.is_none() {
            state.forget_expired(&mut keys, watermark)?;
        }
        state.load(keys.iter().map(|key| key.as_ref()))?;
        for key in keys {
            let Some(set) = state.get_mut(&key) else {
                continue; // the key's rows all left before its timer fired
            };
            if set.scheduled() > watermark {
                continue; // a timer superseded by an earlier one, already handled
            }
            let next = match expired.as_deref_mut() {
                Some(rows) => set.expire_each(watermark, |row, weight| {
                    rows.push((Box::from(row), weight));
                }),
                None => set.expire(watermark),
            };
            if set.is_empty() {
                state.remove(&key);
            } else if let Some(next) = next {
                set.set_scheduled(next);
                next_timers.push((next, key));
            }
        }
        state.settle()
    })?;
    for (time, key) in next_timers {
        queue.push(time, &key)?;
    }
    queue.flush()?;
    Ok(())
}

/// Queue one timer per key of `state` (when `bounded`), at the time its set had scheduled.
fn rebuild_timers(queue: &mut SpillQueue, state: &mut SpillMap<ZSet>, bounded: bool) -> Result<()> {
    queue.clear()?;
    if !bounded {
        return Ok(());
    }
    let mut timers: Vec<(i64, Box<[u8]>)> = Vec::new();
    state.visit(|key, set| {
        let earliest = set.iter_timed().map(|(_, _, time)| time).min();
        if let Some(earliest) = earliest {
            timers.push((set.scheduled().min(earliest), Box::from(key)));
        }
        Ok(())
    })?;
    for (time, key) in timers {
        queue.push(time, &key)?;
    }
    queue.flush()?;
    Ok(())
}

impl Operator for HashJoin {
    fn partitioning(&self) -> super::Partitioning {
        super::keyed_by(self.keys.to_vec(), &self.key_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        let [left_schema, right_schema] = self.input_schemas.clone();
        let [left_keys, right_keys] = self.keys.clone();
        Ok(Box::new(
            Self::new(
                self.kind,
                left_schema,
                right_schema,
                left_keys,
                right_keys,
                self.filter.clone(),
                self.nulls_equal,
                self.schema.clone(),
            )?
            .with_time_bounds(self.bounds.clone()),
        ))
    }

    fn name(&self) -> &'static str {
        "HashJoin"
    }

    fn describe(&self) -> String {
        let keys = |side: usize| super::expr_list(&self.keys[side]);
        let mut text = format!(
            "type: {:?}, left keys: [{}], right keys: [{}]",
            self.kind,
            keys(0),
            keys(1)
        );
        if let Some(filter) = &self.filter {
            text.push_str(&format!(", filter: {filter}"));
        }
        for (side, name) in [(0, "left"), (1, "right")] {
            if !self.bounds.expire[side].is_empty() {
                let bounds = super::expr_list(&self.bounds.expire[side]);
                text.push_str(&format!(", {name} rows expire at watermark >= [{bounds}]"));
            }
        }
        if self.bounds.unmatched_on_expiry {
            text.push_str(", unmatched rows emitted when they expire (append-only)");
        }
        if self.bounds.watermark_delay > 0 {
            text.push_str(&format!(
                ", output watermark {} ms behind",
                self.bounds.watermark_delay / 1_000_000
            ));
        }
        text
    }

    fn watermark_delay(&self) -> i64 {
        self.bounds.watermark_delay
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<ChangeBatch> {
        if self.bounds.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.watermark = Some(self.watermark.map_or(watermark, |w| w.max(watermark)));
        let padded = self.expire(watermark)?;
        if padded.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.side_rows_output(padded)
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state_rows(&self) -> usize {
        self.state.iter().map(SpillMap::rows).sum::<usize>()
            + self
                .logs
                .iter()
                .flatten()
                .map(|l| l.log.rows())
                .sum::<usize>()
    }

    fn spilled_entries(&self) -> usize {
        self.state.iter().map(SpillMap::spilled_len).sum::<usize>()
            + self
                .logs
                .iter()
                .flatten()
                .map(|l| l.log.spilled_rows())
                .sum::<usize>()
            + self
                .expiry
                .iter()
                .chain(&self.unmatched_expiry)
                .map(SpillQueue::spilled_len)
                .sum::<usize>()
            + self
                .unmatched
                .iter()
                .map(SpillMap::spilled_len)
                .sum::<usize>()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        for (state, log) in self.state.iter_mut().zip(self.logs.iter_mut()) {
            match log {
                Some(side_log) => {
                    out.put_u64(LOG_TAG);
                    side_log.log.snapshot(out)?;
                    out.put_u64(side_log.appended);
                    out.put_u64(side_log.scanned);
                }
                None => state.snapshot(out)?,
            }
        }
        if !self.bounds.is_empty() {
            out.put_opt_i64(self.watermark);
            out.put_u64(self.late);
        }
        if self.bounds.unmatched_on_expiry {
            for unmatched in self.unmatched.iter_mut() {
                unmatched.snapshot(out)?;
            }
        }
        Ok(())
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        for side in 0..2 {
            self.state[side].clear()?;
            if input.peek_u64() == Some(LOG_TAG) {
                input.u64()?;
                let timed = !self.bounds.expire[side].is_empty();
                let mut side_log =
                    SideLog::new(&self.input_schemas[side], timed, self.state[side].budget());
                side_log
                    .log
                    .restore(input, side_log.schema.fields().len())?;
                side_log.appended = input.u64()?;
                side_log.scanned = input.u64()?;
                self.logs[side] = Some(side_log);
            } else {
                // A keyed side (or a checkpoint from before sides were kept as logs); a log
                // dropped here deletes its rows.
                self.logs[side] = None;
                self.state[side].restore(input)?;
            }
        }
        if !self.bounds.is_empty() {
            // A checkpoint of the same join before it was planned as an interval join has
            // no watermark section.
            if !input.is_empty() {
                self.watermark = input.opt_i64()?;
                self.late = input.u64()?;
            }
            // The rows still unmatched (a checkpoint of the join before it emitted unmatched
            // rows on expiry has none: it emitted them when they arrived).
            for unmatched in self.unmatched.iter_mut() {
                unmatched.clear()?;
                if self.bounds.unmatched_on_expiry && !input.is_empty() {
                    unmatched.restore(input)?;
                }
            }
            self.rebuild_expiry()?;
        }
        Ok(())
    }

    fn process(&mut self, side: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        // Under a memory budget, a large input (a window that fires emits all its rows at
        // once) is applied in chunks, each loaded and settled (spilled) before the next, so
        // the state held in memory stays near the budget instead of growing by the input.
        let rows = changes.num_rows();
        if rows <= BUDGETED_CHUNK || self.state[0].budget().limit().is_none() {
            return self.process_batch(side, changes);
        }
        let mut outputs = Vec::with_capacity(rows.div_ceil(BUDGETED_CHUNK));
        for start in (0..rows).step_by(BUDGETED_CHUNK) {
            let chunk = changes.slice(start, BUDGETED_CHUNK.min(rows - start));
            outputs.push(self.process_batch(side, chunk)?);
        }
        ChangeBatch::concat(&self.schema, &outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::Column;

    fn side_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    fn rows(keys: &[i64], millis: &[i64]) -> ChangeBatch {
        ChangeBatch::inserts(
            RecordBatch::try_new(
                side_schema(),
                vec![
                    Arc::new(Int64Array::from(keys.to_vec())),
                    Arc::new(TimestampMillisecondArray::from(millis.to_vec())),
                ],
            )
            .expect("batch"),
        )
    }

    fn column(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, index))
    }

    /// `k = k AND right.ts <= left.ts` (left rows expire at their own time, right rows are
    /// late at or below the watermark).
    fn join(kind: JoinKind) -> HashJoin {
        let schema = side_schema();
        let output = super::super::combined_join_schema(&schema, &schema);
        let bounds = TimeBounds {
            expire: [vec![column("ts", 1)], Vec::new()],
            late: [Vec::new(), vec![column("ts", 1)]],
            ..TimeBounds::default()
        };
        HashJoin::new(
            kind,
            schema.clone(),
            schema,
            vec![column("k", 0)],
            vec![column("k", 0)],
            None,
            false,
            output,
        )
        .expect("join")
        .with_time_bounds(bounds)
    }

    #[test]
    fn rows_expire_with_the_watermark_and_late_rows_are_dropped() -> Result<()> {
        for keyed in [true, false] {
            let mut join = join(JoinKind::Inner);
            if keyed {
                join.logs = [None, None];
            }
            join.process(0, rows(&[1, 1, 2], &[1_000, 5_000, 9_000]))?;
            assert_eq!(join.state_rows(), 3);
            // 5 s: the rows at 1 s and 5 s expire. A log drops whole batches once all their
            // rows expired: this one holds the row at 9 s still (a scan skips the other two).
            join.on_watermark(5_000_000_000)?;
            assert_eq!(join.state_rows(), if keyed { 1 } else { 3 });
            // A right row at 4 s is late (at or below the watermark): dropped, counted.
            let out = join.process(1, rows(&[1], &[4_000]))?;
            assert_eq!(out.num_rows(), 0);
            assert_eq!(join.late_rows(), 1);
            // A right row at 6 s meets no expired row of key 1, and the left row of key 2.
            assert_eq!(join.process(1, rows(&[1], &[6_000]))?.num_rows(), 0);
            assert_eq!(join.process(1, rows(&[2], &[6_000]))?.num_rows(), 1);

            // The expiry queue comes back from a checkpoint.
            let mut out = StateWriter::new();
            join.snapshot(&mut out)?;
            let bytes = out.into_bytes();
            let mut restored = super::super::Operator::fork(&join)?;
            restored.restore(&mut StateReader::new(&bytes))?;
            assert_eq!(restored.late_rows(), 1);
            assert_eq!(restored.state_rows(), join.state_rows());
            restored.on_watermark(9_000_000_000)?;
            assert_eq!(restored.state_rows(), 2, "the left row at 9 s expired");
        }
        Ok(())
    }

    #[test]
    fn a_rarely_probed_side_stays_a_log_and_a_probed_one_is_indexed() -> Result<()> {
        let mut join = join(JoinKind::Inner);
        // Many left rows, one right probe: the left side stays a log.
        for batch in 0..20 {
            let keys: Vec<i64> = (0..100).map(|k| batch * 100 + k).collect();
            join.process(0, rows(&keys, &[100_000; 100]))?;
        }
        assert_eq!(
            join.process(1, rows(&[7, 7, 1_999], &[50_000; 3]))?
                .num_rows(),
            3
        );
        assert!(join.logs[0].is_some());
        // Left batches of keys outside the right side's range (7 to 1 999) skip its rows
        // unread.
        for batch in 0..5 {
            let keys: Vec<i64> = (0..100).map(|k| 10_000 + batch * 100 + k).collect();
            assert_eq!(join.process(0, rows(&keys, &[100_000; 100]))?.num_rows(), 0);
        }
        assert_eq!(join.logs[1].as_ref().map(|l| l.scanned), Some(0));
        // Every left batch of keys in the range scans the right side's three rows: after 17
        // batches (51 rows scanned, over 16 times the 3 appended) it is indexed.
        for batch in 0..17 {
            let keys: Vec<i64> = (100..200).collect();
            assert_eq!(join.process(0, rows(&keys, &[100_000; 100]))?.num_rows(), 0);
            assert_eq!(join.logs[1].is_none(), batch == 16, "after batch {batch}");
        }
        // Narrow probes read only the batches whose keys they may meet (the first holds keys
        // 0 to 99): the left side stays a log.
        for round in 0..40 {
            let out = join.process(1, rows(&[round], &[50_000]))?;
            assert_eq!(out.num_rows(), 1);
        }
        assert!(join.logs[0].is_some());
        // Frequent wide probes index it, with the same answers.
        for round in 0..40 {
            let out = join.process(1, rows(&[round, 1_500 + round], &[50_000; 2]))?;
            assert_eq!(out.num_rows(), 2);
        }
        assert!(join.logs[0].is_none());
        // (A keyed side counts equal rows once: keys 100 to 199 came 18 times on the left;
        // the right holds keys 0 to 39, 1 500 to 1 539 and 1 999, key 7 four times.)
        assert_eq!(join.state_rows(), 2_500 + 81);
        // The left side, indexed, finds the right rows as before.
        let out = join.process(0, rows(&[7], &[100_000]))?;
        assert_eq!(out.weights.values().iter().sum::<i64>(), 4);
        // A retraction on a side still kept as a log indexes it first.
        let mut join = super::tests::join(JoinKind::Inner);
        join.process(1, rows(&[5], &[50_000]))?;
        let retraction = rows(&[5], &[50_000]);
        let retraction = ChangeBatch::new(retraction.data, vec![-1].into())?;
        join.process(1, retraction)?;
        assert!(join.logs[1].is_none());
        assert_eq!(join.state_rows(), 0);
        Ok(())
    }

    #[test]
    fn outer_sides_keep_the_rows_their_status_depends_on() {
        // In a RIGHT join the right rows' unmatched output depends on the left rows: they
        // never expire, and right rows are never late.
        let join = join(JoinKind::Right);
        assert!(join.bounds.is_empty());
        assert!(join.bounds.late[1].is_empty());
        // In a LEFT join the left rows may go.
        let join = super::tests::join(JoinKind::Left);
        assert_eq!(join.bounds.expire[0].len(), 1);
    }

    /// Keys of the rows of `out` (left key, right key; `None` for a padded side), each with
    /// its weight, sorted.
    fn keyed_output(out: &ChangeBatch) -> Vec<(Option<i64>, Option<i64>, i64)> {
        let left = out.data.column(0).as_primitive::<Int64Type>();
        let right = out.data.column(2).as_primitive::<Int64Type>();
        let mut rows: Vec<_> = (0..out.num_rows())
            .map(|i| {
                let value = |a: &arrow::array::Int64Array| a.is_valid(i).then(|| a.value(i));
                (value(left), value(right), out.weights.value(i))
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn outer_rows_that_matched_nothing_are_emitted_when_they_expire() -> Result<()> {
        // Both sides bounded (left rows expire 3 s after their time, right rows 2 s after):
        // Flink's emission over append-only inputs.
        let bounds = |kind| {
            let schema = side_schema();
            let plus = |seconds: i64| -> Arc<dyn PhysicalExpr> {
                Arc::new(datafusion::physical_expr::expressions::BinaryExpr::new(
                    column("ts", 1),
                    datafusion::logical_expr::Operator::Plus,
                    Arc::new(datafusion::physical_expr::expressions::Literal::new(
                        datafusion::common::ScalarValue::IntervalMonthDayNano(Some(
                            arrow::datatypes::IntervalMonthDayNano::new(
                                0,
                                0,
                                seconds * 1_000_000_000,
                            ),
                        )),
                    )),
                ))
            };
            HashJoin::new(
                kind,
                schema.clone(),
                schema.clone(),
                vec![column("k", 0)],
                vec![column("k", 0)],
                None,
                false,
                super::super::combined_join_schema(&schema, &schema),
            )
            .expect("join")
            .with_time_bounds(TimeBounds {
                expire: [vec![plus(3)], vec![plus(2)]],
                late: [vec![column("ts", 1)], vec![column("ts", 1)]],
                unmatched_on_expiry: true,
                ..TimeBounds::default()
            })
        };
        let second = 1_000_000_000_i64;
        for kind in [JoinKind::Left, JoinKind::Full] {
            let mut join = bounds(kind);
            assert!(join.describe().contains("emitted when they expire"));
            assert!(join
                .process(0, rows(&[1, 2], &[10_000, 10_000]))?
                .is_empty());
            // The right row of key 1 matches: the pair at once, no retraction later.
            let out = join.process(1, rows(&[1, 3], &[11_000, 11_000]))?;
            assert_eq!(keyed_output(&out), vec![(Some(1), Some(1), 1)]);
            assert!(join.on_watermark(12 * second)?.is_empty());
            let mut checkpoint = StateWriter::new();
            join.snapshot(&mut checkpoint)?;
            let bytes = checkpoint.into_bytes();
            // 13 s: the right rows (11 s + 2 s) and the left rows (10 s + 3 s) all expire;
            // what matched nothing is emitted padded, once.
            let expected = match kind {
                JoinKind::Left => vec![(Some(2), None, 1)],
                _ => vec![(None, Some(3), 1), (Some(2), None, 1)],
            };
            let out = join.on_watermark(13 * second)?;
            assert_eq!(keyed_output(&out), expected, "{kind:?}");
            assert_eq!(join.state_rows(), 0);
            assert!(join.on_watermark(20 * second)?.is_empty());
            // A checkpoint taken before brings the unmatched rows back.
            let mut restored = super::super::Operator::fork(&join)?;
            restored.restore(&mut StateReader::new(&bytes))?;
            let out = restored.on_watermark(13 * second)?;
            assert_eq!(keyed_output(&out), expected, "{kind:?} restored");
            // A row at 21 s (above the watermark of 20 s) waits for its expiry at 24 s; a
            // row at 24 s is late then: dropped and counted.
            let out = join.process(0, rows(&[4], &[21_000]))?;
            assert!(out.is_empty());
            let out = join.on_watermark(24 * second)?;
            assert_eq!(keyed_output(&out), vec![(Some(4), None, 1)]);
            assert!(join.process(0, rows(&[5], &[24_000]))?.is_empty());
            assert_eq!(join.late_rows(), 1);
            // Retractions are refused (the planner only chooses this for append-only
            // inputs).
            let retraction = ChangeBatch::new(rows(&[6], &[30_000]).data, vec![-1].into())?;
            assert!(join.process(0, retraction).is_err());
        }
        Ok(())
    }
}
