//! Session window aggregate: `GROUP BY [keys,] window_start, window_end` over Flink's
//! `SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(ts), gap)` (or the legacy
//! `GROUP BY k, SESSION(ts, gap)`), in event time.
//!
//! Sessions: per partition key, rows whose event times lie within `gap` of each other are one
//! session (two consecutive times `a <= b` are in the same session iff `b - a <= gap`, which
//! is Flink's `TimeWindow.intersects` of `[a, a + gap)` and `[b, b + gap)`); the session is
//! `[min, max + gap)` and its `window_time` is `window_end` - 1 ms. A new row can extend a
//! session or bridge two sessions into one.
//!
//! State: per partition key, the input rows of its open sessions (only the columns the aggregate
//! reads, with the time and key: [`SessionWindowAggregate::keep_columns`]; in one buffer per key
//! with their weights and event times) and the sessions' extents. We keep rows rather than merged
//! accumulators because (a) every aggregate then works, also those whose accumulators cannot merge
//! (ordered `array_agg`/`string_agg`, retracting `min`/`max`), (b) a retraction of a row of an open
//! session is exact, even when it splits the session in two, and (c) the rows of a session are held
//! only until the watermark passes its end, the same span for which Flink keeps a session's
//! accumulators; aggregating a session's rows once, when it closes, costs the same as accumulating
//! them on arrival.
//!
//! Invariants:
//! - Open sessions of a key are disjoint and separated by more than `gap`. Every open
//!   session has a timer (key, start) queued at an end it had, at or before its current
//!   one (a [`SpillQueue`] in the operator's memory budget: timers beyond it wait on disk).
//!   Timers are never removed: one that fires for a session that has grown re-arms at its
//!   current end; one whose session merged into another, or was rebuilt after a retraction,
//!   finds no session with its start and is dropped. A session that only grows to the right
//!   (the common case: rows arriving in time order) queues no new timer.
//! - A session fires when the watermark reaches its end (`max + gap`, at or below the
//!   watermark). This is one time unit later than Flink's `end - 1`: a row exactly at
//!   `max + gap` still belongs to the session (see above), and firing only at `end` makes the
//!   emitted sessions exactly the batch meaning's sessions. Firing aggregates the session's
//!   rows (with the window columns appended) through a fresh copy of the aggregate, emits the
//!   result as inserts and drops the rows: the output is append-only and final.
//! - A row whose event time is at or below the watermark is late (it could belong to a
//!   session that has fired): dropped and counted, as are rows without event time.
//! - Without a watermark nothing fires; a bounded input ends with the maximal watermark,
//!   which fires every session, so the output then equals the batch query.
//!
//! Processing time ([`SessionWindowAggregate::processing_time`], sessions over `PROCTIME()`):
//! the time column was set from the wall clock when the row arrived, so no row is late, and a
//! session fires once the wall clock reaches its end (`last arrival + gap`): checked on every
//! input batch and every tick of the database's clock (`Operator::on_tick`), so a session
//! closes while its input is quiet, as Flink's processing-time session windows do. The
//! maximal watermark (a bounded input that ended) fires every open session. The input must
//! only insert: a retraction would carry a new arrival time, not its row's, so it fails the
//! view with an error (Flink refuses updating input for these windows).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::spill::{Budget, SpillQueue, SpillValue};
use sluice_storage::{RowCodec, SpillMap, StateReader, StateWriter, ZSet};

use super::window_aggregate::{nanos_per_unit, now_nanos};
use super::{GroupAggregate, Operator, Project};
use crate::change::ChangeBatch;
use crate::checkpoint::get_changes;
use crate::error::{Result, RuntimeError};

/// The open sessions of one partition key.
struct KeySessions {
    /// Input rows (the kept columns, encoded), each with its net weight (never 0) and event
    /// time: one buffer per key, a row costing its bytes and 17 (a B-tree of vectors of
    /// vectors cost ~130 bytes a row; Nexmark q11 holds 9 M rows at 10 M events).
    rows: ZSet,
    /// The distinct event times of the rows, each with its number of distinct rows.
    times: BTreeMap<i64, u32>,
    /// Open sessions: start -> largest event time.
    sessions: BTreeMap<i64, i64>,
}

impl Default for KeySessions {
    fn default() -> Self {
        Self {
            rows: ZSet::timed(),
            times: BTreeMap::new(),
            sessions: BTreeMap::new(),
        }
    }
}

/// Memory of a B-tree entry of `times` or `sessions` (two 8-byte values and the node slot).
const TREE_ENTRY: usize = 40;

/// A key's open sessions are the value of a [`SpillMap`]: over the operator memory budget,
/// the keys least recently changed go to disk, and a change of the key or the closing of one
/// of its sessions reads them back.
impl SpillValue for KeySessions {
    type Context = ();

    fn memory_size(&self) -> usize {
        self.rows.memory_size()
            + (self.times.len() + self.sessions.len()) * TREE_ENTRY
            + std::mem::size_of::<Self>()
    }

    fn rows(&self) -> usize {
        self.rows.distinct_len()
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> sluice_storage::error::Result<()> {
        self.rows.write_to(out);
        out.put_u64(self.times.len() as u64);
        for (&time, &rows) in &self.times {
            out.put_i64(time);
            out.put_u64(u64::from(rows));
        }
        out.put_u64(self.sessions.len() as u64);
        for (&start, &last) in &self.sessions {
            out.put_i64(start);
            out.put_i64(last);
        }
        Ok(())
    }

    fn decode(input: &mut StateReader, _: &()) -> sluice_storage::error::Result<Self> {
        let rows = ZSet::read_from(input)?;
        let mut times = BTreeMap::new();
        for _ in 0..input.len_prefix()? {
            let time = input.i64()?;
            let count = u32::try_from(input.u64()?).unwrap_or(u32::MAX);
            times.insert(time, count);
        }
        let mut sessions = BTreeMap::new();
        for _ in 0..input.len_prefix()? {
            let start = input.i64()?;
            sessions.insert(start, input.i64()?);
        }
        Ok(Self {
            rows,
            times,
            sessions,
        })
    }
}

/// Timers that fire at one step: the keys they name are loaded together.
const TIMER_CHUNK: usize = 8192;

/// A timer's entry in the queue (queued at an end of the session): the session's start,
/// then the partition key. Firing reads the session's current end from its state.
fn timer_entry(start: i64, key: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(8 + key.len());
    entry.extend_from_slice(&start.to_le_bytes());
    entry.extend_from_slice(key);
    entry
}

/// (start, key) of a timer's entry; `None` for bytes no [`timer_entry`] wrote.
fn parse_timer(entry: &[u8]) -> Option<(i64, &[u8])> {
    let start = i64::from_le_bytes(entry.get(..8)?.try_into().ok()?);
    Some((start, &entry[8..]))
}

pub struct SessionWindowAggregate {
    /// Schema of the rows the session window reads, every column nullable (held rows carry
    /// nulls in the columns they drop, see [`SessionWindowAggregate::keep_columns`]).
    input_schema: SchemaRef,
    /// Input column holding the event time.
    time: usize,
    /// Type of the event-time column (and of the window columns).
    time_type: DataType,
    /// Nanoseconds per unit of the event-time column.
    unit_nanos: i64,
    /// The session gap in units of the event-time column.
    gap: i64,
    /// Input columns the sessions are partitioned by.
    partition: Vec<usize>,
    /// Input columns followed by window_start, window_end, window_time (nullable, as the
    /// input schema).
    session_schema: SchemaRef,
    /// Optional projection from the session schema to the aggregate's input.
    project: Option<Project>,
    template: GroupAggregate,
    /// Input columns a held row keeps (see [`SessionWindowAggregate::keep_columns`]); the
    /// others are null when the session's rows are aggregated.
    kept: Vec<usize>,
    /// Encodes the kept columns of a held row.
    row_codec: RowCodec,
    key_codec: RowCodec,
    /// Open sessions per partition key (spilling over the operator memory budget).
    keys: SpillMap<KeySessions>,
    /// One timer per open session (see the module documentation), in the keys' budget.
    timers: SpillQueue,
    held_rows: usize,
    watermark: Option<i64>,
    late: u64,
    schema: SchemaRef,
    /// Sessions by processing time (closed by the wall clock) instead of event time.
    processing: bool,
}

/// `schema` with every column nullable.
fn nullable(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

/// Merge a row at `time` into disjoint sessions separated by more than `gap`: returns the
/// sessions removed (start, last) and the one added.
fn merge_into(
    sessions: &mut BTreeMap<i64, i64>,
    time: i64,
    gap: i64,
) -> (Vec<(i64, i64)>, (i64, i64)) {
    let mut removed = Vec::new();
    let (mut start, mut last) = (time, time);
    if let Some((&s, &l)) = sessions.range(..=time).next_back() {
        if time <= l.saturating_add(gap) {
            start = s;
            last = l.max(time);
            removed.push((s, l));
        }
    }
    for &(s, _) in &removed {
        sessions.remove(&s);
    }
    // Later sessions start after `time`; each within `gap` of the merged session joins it.
    while let Some((&s, &l)) = sessions.range(time.saturating_add(1)..).next() {
        if s > last.saturating_add(gap) {
            break;
        }
        sessions.remove(&s);
        removed.push((s, l));
        last = last.max(l);
    }
    sessions.insert(start, last);
    (removed, (start, last))
}

/// Take the rows of `state`'s session `[start, last]` (closing at `end`) into `closed`, with
/// their weights and the session, and drop them and their times. Timers fire in order of
/// their queue, not of the key's sessions (spilled timers come after those in memory), so
/// an earlier open session may hold rows before `start`.
fn close_session(
    state: &mut KeySessions,
    start: i64,
    last: i64,
    end: i64,
    closed: &mut Vec<(Vec<u8>, i64, i64, i64)>,
) {
    let earliest = state.sessions.keys().next().is_none_or(|&s| s > last);
    if earliest {
        // No session before this one: its rows are all the rows up to `last`.
        state.rows.expire_each(last, |row, weight| {
            closed.push((row.to_vec(), weight, start, end));
        });
        state.times = state.times.split_off(&last.saturating_add(1));
        return;
    }
    let rows: Vec<(Vec<u8>, i64)> = state
        .rows
        .iter_timed()
        .filter(|&(_, _, time)| start <= time && time <= last)
        .map(|(row, weight, _)| (row.to_vec(), weight))
        .collect();
    for (row, weight) in rows {
        state.rows.add(&row, -weight);
        closed.push((row, weight, start, end));
    }
    let later = state.times.split_off(&last.saturating_add(1));
    state.times.retain(|&time, _| time < start);
    state.times.extend(later);
}

impl SessionWindowAggregate {
    /// Sessions over `input_schema` by event-time column `time` with `gap` (in the column's
    /// units), partitioned by columns `partition`; `project` maps the session schema (input
    /// columns and the three window columns) to the input of `aggregate`.
    pub fn new(
        input_schema: SchemaRef,
        time: usize,
        gap: i64,
        partition: Vec<usize>,
        session_schema: SchemaRef,
        project: Option<Project>,
        aggregate: GroupAggregate,
    ) -> Result<Self> {
        let field = input_schema.fields().get(time).ok_or_else(|| {
            RuntimeError::Internal(format!("session time column {time} out of range"))
        })?;
        let time_type = field.data_type().clone();
        let unit_nanos = nanos_per_unit(&time_type)?;
        if gap <= 0 {
            return Err(RuntimeError::Internal(format!(
                "session gap must be positive, found {gap}"
            )));
        }
        let key_types = partition
            .iter()
            .map(|&c| {
                input_schema
                    .fields()
                    .get(c)
                    .map(|f| f.data_type().clone())
                    .ok_or_else(|| {
                        RuntimeError::Internal(format!("session partition column {c} out of range"))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if session_schema.fields().len() != input_schema.fields().len() + 3 {
            return Err(RuntimeError::Internal(
                "session schema must be the input columns and three window columns".into(),
            ));
        }
        let schema = aggregate.schema();
        let budget = Budget::from_settings();
        Ok(Self {
            kept: (0..input_schema.fields().len()).collect(),
            row_codec: RowCodec::for_schema(&input_schema)?,
            key_codec: RowCodec::new(key_types)?,
            input_schema: nullable(&input_schema),
            time,
            time_type,
            unit_nanos,
            gap,
            partition,
            session_schema: nullable(&session_schema),
            project,
            template: aggregate,
            keys: SpillMap::in_budget(&budget),
            timers: SpillQueue::in_budget(&budget),
            held_rows: 0,
            watermark: None,
            late: 0,
            schema,
            processing: false,
        })
    }

    /// Hold only the input columns marked in `needed` (the ones the aggregate and its
    /// projection read), besides the time and partition columns: a session holds its rows
    /// until it closes, and a row of Nexmark q11 is a whole bid of which the count reads
    /// nothing. The other columns are null when a closed session is aggregated, and in
    /// checkpoints.
    pub fn keep_columns(self, needed: &[bool]) -> Result<Self> {
        let kept: Vec<usize> = (0..self.input_schema.fields().len())
            .filter(|&c| {
                needed.get(c).copied().unwrap_or(true)
                    || c == self.time
                    || self.partition.contains(&c)
            })
            .collect();
        self.hold(kept)
    }

    fn hold(mut self, kept: Vec<usize>) -> Result<Self> {
        let types = kept
            .iter()
            .map(|&c| self.input_schema.field(c).data_type().clone())
            .collect();
        self.row_codec = RowCodec::new(types)?;
        self.kept = kept;
        Ok(self)
    }

    /// The same aggregate over processing-time sessions: the time column holds arrival
    /// times, and sessions close by the wall clock (see the module documentation).
    pub fn processing_time(mut self) -> Self {
        self.processing = true;
        self
    }

    /// Close, aggregate and emit every session whose end is at or below `limit`
    /// (nanoseconds since the epoch).
    fn close_through(&mut self, limit: i64) -> Result<ChangeBatch> {
        // The last time (in units) that `reached` holds for.
        let due = match limit {
            i64::MAX => i64::MAX,
            limit => limit.div_euclid(self.unit_nanos),
        };
        let (keys, gap) = (&mut self.keys, self.gap);
        let mut closed = Vec::new();
        let mut rearm: Vec<(i64, Vec<u8>)> = Vec::new();
        self.timers.expire(due, TIMER_CHUNK, |entries| {
            let timers: Vec<(i64, &[u8])> = entries.iter().filter_map(|e| parse_timer(e)).collect();
            keys.load(timers.iter().map(|t| t.1))?;
            for (start, key) in timers {
                let Some(state) = keys.get_mut(key) else {
                    continue; // the key's sessions all closed
                };
                let Some(&last) = state.sessions.get(&start) else {
                    continue; // merged into another session, or rebuilt
                };
                let end = last.saturating_add(gap);
                if end > due {
                    // The session grew since its timer was queued: the timer moves to its
                    // end (once per firing, however many rows grew it).
                    rearm.push((end, timer_entry(start, key)));
                    continue;
                }
                state.sessions.remove(&start);
                close_session(state, start, last, end, &mut closed);
                if state.rows.is_empty() {
                    keys.remove(key);
                }
            }
            keys.settle()
        })?;
        self.held_rows -= closed.len();
        for (end, entry) in rearm {
            self.timers.push(end, &entry)?;
        }
        self.timers.flush()?;
        self.emit(closed)
    }

    /// Whether time `t` (in units) is at or below the watermark.
    fn passed(&self, t: i64) -> bool {
        self.watermark.is_some_and(|w| self.reached(t, w))
    }

    /// Whether time `t` (in units) is at or below `limit` (nanoseconds).
    fn reached(&self, t: i64, limit: i64) -> bool {
        t.saturating_mul(self.unit_nanos) <= limit
    }

    fn times(&self, batch: &RecordBatch) -> Result<Int64Array> {
        let times = cast(batch.column(self.time), &DataType::Int64)?;
        times
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| RuntimeError::Internal("event time did not cast to Int64".into()))
    }

    /// Add changes to the open sessions; with `check_late`, drop (and count) late rows.
    fn add(&mut self, changes: &ChangeBatch, check_late: bool) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let data = &changes.data;
        let times = self.times(data)?;
        let kept: Vec<ArrayRef> = self.kept.iter().map(|&c| data.column(c).clone()).collect();
        let rows = self.row_codec.encode(&kept, data.num_rows())?;
        let key_columns: Vec<ArrayRef> = self
            .partition
            .iter()
            .map(|&c| data.column(c).clone())
            .collect();
        let keys = self.key_codec.encode(&key_columns, data.num_rows())?;
        self.keys
            .load((0..data.num_rows()).map(|row| keys.row(row)))?;
        let mut dirty: Vec<Vec<u8>> = Vec::new();
        for row in 0..data.num_rows() {
            let weight = changes.weights.value(row);
            if weight == 0 {
                continue;
            }
            let time = match times.is_valid(row).then(|| times.value(row)) {
                Some(time) if !(check_late && self.passed(time)) => time,
                // Late, or without event time: no session can take it.
                _ => {
                    self.late += 1;
                    continue;
                }
            };
            let key = keys.row(row);
            let state = self.keys.entry(key);
            // The row's bytes include its time, so a row has one time.
            let now = state.rows.add_at(rows.row(row), weight, time);
            let at_time = state.times.entry(time).or_insert(0);
            let new_time = *at_time == 0;
            if now == 0 {
                *at_time = at_time.saturating_sub(1);
                self.held_rows -= 1;
            } else if now == weight {
                *at_time += 1;
                self.held_rows += 1;
            }
            if *at_time == 0 {
                // The last row at this time is gone: the key's sessions may split.
                state.times.remove(&time);
                if !new_time {
                    dirty.push(key.to_vec());
                }
            } else if new_time {
                // A session with a new start needs a timer; one that kept its start has
                // one (at an earlier end, where it re-arms). The removed sessions' timers
                // find no session when they fire.
                let (removed, (start, last)) = merge_into(&mut state.sessions, time, self.gap);
                if !removed.iter().any(|&(s, _)| s == start) {
                    let end = last.saturating_add(self.gap);
                    self.timers.push(end, &timer_entry(start, key))?;
                }
            }
        }
        dirty.sort();
        dirty.dedup();
        for key in dirty {
            self.rebuild(&key)?;
        }
        self.timers.flush()?;
        self.keys.settle()?;
        Ok(())
    }

    /// Recompute the sessions of `key` from its rows (after a retraction); each gets a
    /// timer (the old ones fire for sessions that may no longer exist, see the module
    /// documentation).
    fn rebuild(&mut self, key: &[u8]) -> Result<()> {
        let Some(state) = self.keys.get_mut(key) else {
            return Ok(());
        };
        state.sessions.clear();
        let mut current: Option<(i64, i64)> = None;
        for &time in state.times.keys() {
            current = match current {
                Some((s, l)) if time <= l.saturating_add(self.gap) => Some((s, time)),
                Some((s, l)) => {
                    state.sessions.insert(s, l);
                    Some((time, time))
                }
                None => Some((time, time)),
            };
        }
        if let Some((s, l)) = current {
            state.sessions.insert(s, l);
        }
        for (&s, &l) in &state.sessions {
            let end = l.saturating_add(self.gap);
            self.timers.push(end, &timer_entry(s, key))?;
        }
        if state.rows.is_empty() {
            self.keys.remove(key);
        }
        Ok(())
    }

    /// The timestamps `values` (in units) as an array of the event-time type.
    fn time_array(&self, values: Vec<i64>) -> Result<ArrayRef> {
        Ok(cast(&Int64Array::from(values), &self.time_type)?)
    }

    /// Aggregate the rows of closed sessions: `rows` with their weights and each row's
    /// session (start, end).
    fn emit(&mut self, rows: Vec<(Vec<u8>, i64, i64, i64)>) -> Result<ChangeBatch> {
        if rows.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let count = rows.len();
        let kept = self.row_codec.decode(rows.iter().map(|r| r.0.as_slice()))?;
        let mut columns = widen(&self.kept, &self.input_schema, kept, count);
        let millisecond = (1_000_000 / self.unit_nanos).max(1);
        columns.push(self.time_array(rows.iter().map(|r| r.2).collect())?);
        columns.push(self.time_array(rows.iter().map(|r| r.3).collect())?);
        columns.push(
            self.time_array(
                rows.iter()
                    .map(|r| r.3.saturating_sub(millisecond))
                    .collect(),
            )?,
        );
        let weights = Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let data = batch_with_row_count(&self.session_schema, columns, count)?;
        let mut changes = ChangeBatch::new(data, weights)?;
        if let Some(project) = self.project.as_mut() {
            changes = project.process(0, changes)?;
        }
        let mut aggregate = self.template.empty_like()?;
        aggregate.process(0, changes)
    }
}

impl Operator for SessionWindowAggregate {
    fn partitioning(&self) -> super::Partitioning {
        // Sessions of different partition keys never interact.
        let keys = self
            .partition
            .iter()
            .filter_map(|&c| {
                let field = self.input_schema.fields().get(c)?;
                let column: Arc<dyn PhysicalExpr> = Arc::new(
                    datafusion::physical_expr::expressions::Column::new(field.name(), c),
                );
                Some(column)
            })
            .collect::<Vec<_>>();
        if keys.len() != self.partition.len() {
            return super::Partitioning::Single;
        }
        super::keyed_by(vec![keys], &self.key_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        let mut fork = Self::new(
            self.input_schema.clone(),
            self.time,
            self.gap,
            self.partition.clone(),
            self.session_schema.clone(),
            self.project.clone(),
            self.template.fork_empty()?,
        )?;
        fork.processing = self.processing;
        Ok(Box::new(fork.hold(self.kept.clone())?))
    }

    fn name(&self) -> &'static str {
        "SessionWindowAggregate"
    }

    fn describe(&self) -> String {
        format!(
            "emit {}, session time: column {}, gap {} x {} ns, partition by columns {:?}, holds \
             columns {:?}, {}",
            if self.processing {
                "by the wall clock"
            } else {
                "on watermark"
            },
            self.time,
            self.gap,
            self.unit_nanos,
            self.partition,
            self.kept,
            self.template.describe()
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if self.processing {
            // A retraction is stamped with its own arrival time, not its row's: it cannot
            // find the row (Flink refuses updating input for these windows).
            if changes.weights.values().iter().any(|w| *w < 0) {
                return Err(RuntimeError::Unsupported(
                    "a processing-time SESSION window takes inserts only: its input deleted or \
                     updated a row (use an event-time column with a WATERMARK)"
                        .into(),
                ));
            }
            // Arrival times: never late.
            self.add(&changes, false)?;
            return self.close_through(now_nanos());
        }
        self.add(&changes, true)?;
        Ok(ChangeBatch::empty(self.schema.clone()))
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<ChangeBatch> {
        if self.watermark.is_some_and(|current| current >= watermark) {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        if self.processing && watermark != i64::MAX {
            // Event time does not close processing-time sessions; the end of input does.
            return self.close_through(now_nanos());
        }
        self.watermark = Some(watermark);
        self.close_through(watermark)
    }

    fn wants_ticks(&self) -> bool {
        self.processing
    }

    fn on_tick(&mut self) -> Result<ChangeBatch> {
        if !self.processing {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.close_through(now_nanos())
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn state_rows(&self) -> usize {
        self.held_rows
    }

    fn spilled_entries(&self) -> usize {
        self.keys.spilled_len() + self.timers.spilled_len()
    }

    /// The watermark, late rows, then the keys' open sessions as their map writes them (for
    /// a checkpoint with a sink incrementally: only keys whose sessions changed on disk; see
    /// `SpillMap::snapshot`). The timers and the count of rows held are rebuilt from the
    /// sessions at restore.
    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_opt_i64(self.watermark);
        out.put_u64(self.late);
        out.put_u64(SESSIONS_BY_KEY);
        Ok(self.keys.snapshot(out)?)
    }

    /// Restore what [`SessionWindow::snapshot`] wrote, or what earlier versions wrote: the
    /// rows held, as one batch of changes, added again.
    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        let watermark = input.opt_i64()?;
        let late = input.u64()?;
        self.keys.clear()?;
        self.timers.clear()?;
        self.held_rows = 0;
        self.watermark = None;
        if input.peek_u64() == Some(SESSIONS_BY_KEY) {
            input.u64()?;
            self.keys.restore(input)?;
            let (timers, held, gap) = (&mut self.timers, &mut self.held_rows, self.gap);
            self.keys.visit(|key, state| {
                *held += state.rows.distinct_len();
                for (&start, &last) in &state.sessions {
                    timers.push(last.saturating_add(gap), &timer_entry(start, key))?;
                }
                Ok(())
            })?;
            self.timers.flush()?;
        } else {
            let held = get_changes(input, &self.input_schema)?;
            self.add(&held, false)?;
        }
        self.watermark = watermark;
        self.late = late;
        Ok(())
    }
}

/// In a checkpoint, after the watermark and late rows: the open sessions follow as the keys'
/// map writes them (earlier versions wrote the rows held instead; no length is this large).
const SESSIONS_BY_KEY: u64 = u64::MAX - 3;

/// Columns of `schema` from the `kept` ones' arrays (`decoded`), nulls for the others.
fn widen(kept: &[usize], schema: &SchemaRef, decoded: Vec<ArrayRef>, rows: usize) -> Vec<ArrayRef> {
    let mut decoded = decoded.into_iter();
    let mut next = kept.iter().peekable();
    (0..schema.fields().len())
        .map(|c| {
            next.next_if(|&&k| k == c)
                .and_then(|_| decoded.next())
                .unwrap_or_else(|| new_null_array(schema.field(c).data_type(), rows))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::merge_into;
    use std::collections::BTreeMap;

    #[test]
    fn rows_extend_and_bridge_sessions() {
        let mut sessions = BTreeMap::new();
        assert_eq!(merge_into(&mut sessions, 10, 5), (vec![], (10, 10)));
        assert_eq!(merge_into(&mut sessions, 30, 5), (vec![], (30, 30)));
        // Exactly `gap` after the last time: the same session (Flink's intersects).
        assert_eq!(merge_into(&mut sessions, 15, 5), (vec![(10, 10)], (10, 15)));
        assert_eq!(merge_into(&mut sessions, 21, 5), (vec![], (21, 21)));
        // 25 is within 5 of 21 and of 30: it bridges them.
        assert_eq!(
            merge_into(&mut sessions, 25, 5),
            (vec![(21, 21), (30, 30)], (21, 30))
        );
        assert_eq!(
            sessions.into_iter().collect::<Vec<_>>(),
            vec![(10, 15), (21, 30)]
        );
    }
}
