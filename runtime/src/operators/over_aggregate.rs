//! OVER aggregates: window functions `f(..) OVER (PARTITION BY p ORDER BY o [frame])`
//! (COUNT/SUM/AVG/MIN/MAX and every other DataFusion aggregate over a frame, LAG, LEAD,
//! FIRST_VALUE, RANK, ...), several of them sharing one PARTITION BY/ORDER BY, maintained
//! under inserts and deletes. Each input row is emitted with one value per function appended.
//!
//! State: per partition, an ordered multiset keyed by (sort key, row), where the sort key is
//! encoded with the ORDER BY's directions and NULL placement, so byte order is the query's
//! order; rows that tie on the sort key are ordered by their encoded bytes (deterministic,
//! which matters for ROWS frames and LAG/LEAD among peers).
//!
//! Values are computed by DataFusion's own window expressions (the batch engine's code) over
//! a sorted slice of the partition. A change only touches rows whose frame can contain the
//! changed position: the [`Reach`] of the functions says how far a row's value looks back
//! (`preceding`) and forward (`following`), in rows, in ORDER BY value (RANGE frames) or
//! without bound. For a batch, per touched partition:
//! 1. the *region* of possibly changed rows is the key range from the first changed key
//!    walked back by `following` to the last changed key walked forward by `preceding`, taken
//!    over both the state before and after the change (so it holds every row whose value can
//!    differ, whichever state it is in);
//! 2. the values of the region's rows are computed before applying the change (over the
//!    region widened by the reach, so every frame is complete) and after it;
//! 3. the difference is emitted: old rows retracted, new rows inserted, unchanged rows
//!    cancel out.
//!
//! For rows appended in ORDER BY order with a frame ending at the current row, the region is
//! just the new rows (and their peers); a frame `UNBOUNDED PRECEDING` makes the slice reach
//! back to the partition's start, so its cost grows with the partition's size.
//!
//! Event time: when the ORDER BY is one event-time column (ascending) and every frame is
//! `RANGE BETWEEN INTERVAL 'd' PRECEDING AND CURRENT ROW` ([`EventTimeCleanup`]), changes at or
//! below the watermark are late (dropped and counted, as Flink drops late rows), so every
//! future change has a time `t > watermark` and reads rows with times `>= t - d`. Rows at or
//! below `watermark - d` are therefore never read again and are dropped from state on each
//! watermark; their emitted rows stay in the result.

use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::WindowExpr;
use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::spill::Budget;
use sluice_storage::{RowCodec, SpillMap, StateReader, StateWriter};

use super::{evaluate_all, Operator};
use crate::change::{cast_to_schema, ChangeBatch};
use crate::checkpoint::OrderedRows;
use crate::error::{Result, RuntimeError};

/// (sort key, row).
type Key = (Box<[u8]>, Box<[u8]>);

/// How far a row's window value looks from the row, in one direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extent {
    /// Rows beyond the current one (ROWS frames, LAG/LEAD offsets).
    pub rows: u64,
    /// ORDER BY distance (RANGE frames with an offset): the value is added to or subtracted
    /// from the current row's ORDER BY value.
    pub range: Option<ScalarValue>,
    /// The current row's peers (rows with an equal ORDER BY value) count too.
    pub peers: bool,
    /// To the partition's end.
    pub unbounded: bool,
}

impl Extent {
    /// The whole partition in this direction.
    pub fn unbounded() -> Self {
        Self {
            unbounded: true,
            ..Self::default()
        }
    }

    /// The larger of two extents (an incomparable pair of ranges is unbounded).
    pub fn union(&self, other: &Extent) -> Extent {
        let range = match (&self.range, &other.range) {
            (Some(a), Some(b)) => match a.partial_cmp(b) {
                Some(std::cmp::Ordering::Less) => Some(b.clone()),
                Some(_) => Some(a.clone()),
                None => return Extent::unbounded(),
            },
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        Extent {
            rows: self.rows.max(other.rows),
            range,
            peers: self.peers || other.peers,
            unbounded: self.unbounded || other.unbounded,
        }
    }
}

/// How far the functions of an OVER aggregate look from each row: a change at position c
/// changes the values of rows r with c in `[r - preceding, r + following]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reach {
    pub preceding: Extent,
    pub following: Extent,
}

impl Reach {
    /// Every row's value may depend on every row of its partition.
    pub fn whole_partition() -> Self {
        Self {
            preceding: Extent::unbounded(),
            following: Extent::unbounded(),
        }
    }

    pub fn union(&self, other: &Reach) -> Reach {
        Reach {
            preceding: self.preceding.union(&other.preceding),
            following: self.following.union(&other.following),
        }
    }
}

/// Watermark-driven state cleanup (see the module docs): the ORDER BY is one ascending
/// event-time column and every frame reaches back at most `horizon_nanos` in time and forward
/// to the current row's peers.
#[derive(Clone, Debug)]
pub struct EventTimeCleanup {
    pub horizon_nanos: i64,
}

pub struct OverAggregate {
    partition: Vec<Arc<dyn PhysicalExpr>>,
    partition_codec: RowCodec,
    order: Vec<PhysicalSortExpr>,
    sort_codec: RowCodec,
    row_codec: RowCodec,
    functions: Vec<Arc<dyn WindowExpr>>,
    reach: Reach,
    cleanup: Option<EventTimeCleanup>,
    /// Rows per partition (spilling over the operator memory budget: the partitions least
    /// recently changed go to disk and come back when a batch changes them).
    partitions: SpillMap<OrderedRows>,
    watermark: Option<i64>,
    late: u64,
    input_schema: SchemaRef,
    output_codec: RowCodec,
    schema: SchemaRef,
}

/// A key range: inclusive lower bound, exclusive upper bound (`None` = unbounded).
#[derive(Clone, Debug)]
struct Span {
    start: Option<Key>,
    end: Option<Key>,
}

impl Span {
    fn bounds(&self) -> (Bound<&Key>, Bound<&Key>) {
        (
            self.start
                .as_ref()
                .map_or(Bound::Unbounded, Bound::Included),
            self.end.as_ref().map_or(Bound::Unbounded, Bound::Excluded),
        )
    }

    fn contains(&self, key: &Key) -> bool {
        self.start.as_ref().is_none_or(|s| key >= s) && self.end.as_ref().is_none_or(|e| key < e)
    }

    fn union(&self, other: &Span) -> Span {
        let start = match (&self.start, &other.start) {
            (Some(a), Some(b)) => Some(a.min(b).clone()),
            _ => None,
        };
        let end = match (&self.end, &other.end) {
            (Some(a), Some(b)) => Some(a.max(b).clone()),
            _ => None,
        };
        Span { start, end }
    }
}

/// The smallest key greater than `key` (for an exclusive upper bound that includes `key`).
fn successor(key: &Key) -> Key {
    let mut row = key.1.to_vec();
    row.push(0);
    (key.0.clone(), row.into_boxed_slice())
}

/// The smallest key whose sort key is greater than `sort_key` (every row of `sort_key`'s
/// peer group is below it).
fn after_peers(sort_key: &[u8]) -> Key {
    let mut sort = sort_key.to_vec();
    sort.push(0);
    (sort.into_boxed_slice(), Box::from(&[][..]))
}

/// Nanoseconds per unit of a timestamp type.
fn unit_nanos(data_type: &DataType) -> Option<i64> {
    match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => Some(1_000_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => Some(1_000_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some(1_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(1),
        _ => None,
    }
}

/// Timestamps as nanoseconds since the epoch (NULL stays NULL).
fn timestamp_nanos(array: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let nanos = unit_nanos(array.data_type()).ok_or_else(|| {
        RuntimeError::Internal(format!(
            "event-time ORDER BY of type {} is not a timestamp",
            array.data_type()
        ))
    })?;
    let raw = arrow::compute::cast(array, &DataType::Int64)?;
    let raw = raw
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| RuntimeError::Internal("timestamp cast to Int64".into()))?;
    Ok(raw
        .iter()
        .map(|v| v.map(|v| v.saturating_mul(nanos)))
        .collect())
}

impl OverAggregate {
    /// `functions` share `partition` and `order`; `schema` is the input's columns followed by
    /// one column per function.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input_schema: &SchemaRef,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<PhysicalSortExpr>,
        functions: Vec<Arc<dyn WindowExpr>>,
        reach: Reach,
        cleanup: Option<EventTimeCleanup>,
        schema: SchemaRef,
    ) -> Result<Self> {
        let sort_fields = order
            .iter()
            .map(|s| Ok((s.expr.data_type(input_schema)?, s.options)))
            .collect::<Result<Vec<_>>>()?;
        if cleanup.is_some()
            && !(sort_fields.len() == 1
                && unit_nanos(&sort_fields[0].0).is_some()
                && !sort_fields[0].1.descending)
        {
            return Err(RuntimeError::Internal(
                "event-time state cleanup needs one ascending timestamp ORDER BY".into(),
            ));
        }
        let partition_types = super::key_types(&partition, input_schema)?;
        if schema.fields().len() != input_schema.fields().len() + functions.len() {
            return Err(RuntimeError::Internal(format!(
                "OVER aggregate output has {} columns for {} input columns and {} functions",
                schema.fields().len(),
                input_schema.fields().len(),
                functions.len()
            )));
        }
        Ok(Self {
            partition_codec: RowCodec::new(partition_types)?,
            sort_codec: RowCodec::new_ordered(sort_fields)?,
            row_codec: RowCodec::for_schema(input_schema)?,
            output_codec: RowCodec::for_schema(&schema)?,
            partition,
            order,
            functions,
            reach,
            cleanup,
            partitions: SpillMap::in_budget(&Budget::from_settings()),
            watermark: None,
            late: 0,
            input_schema: input_schema.clone(),
            schema,
        })
    }

    /// The single ORDER BY value of a sort key, for RANGE offsets.
    fn order_value(&self, sort_key: &[u8]) -> Result<ScalarValue> {
        let columns = self.sort_codec.decode([sort_key])?;
        let [column] = columns.as_slice() else {
            return Err(RuntimeError::Internal(
                "a RANGE frame with an offset needs exactly one ORDER BY column".into(),
            ));
        };
        Ok(ScalarValue::try_from_array(column, 0)?)
    }

    /// The sort key of `value` shifted by `offset`, towards the partition's start
    /// (`backwards`) or end; `None` when the shift overflows (treated as unbounded).
    fn shifted_sort_key(
        &self,
        sort_key: &[u8],
        offset: &ScalarValue,
        backwards: bool,
    ) -> Result<Option<Box<[u8]>>> {
        let value = self.order_value(sort_key)?;
        if value.is_null() {
            // NULLs are peers of each other only.
            return Ok(Some(Box::from(sort_key)));
        }
        // A numeric offset in the ORDER BY's type (the frame bound may be planned wider).
        let value_type = value.data_type();
        let offset = if value_type.is_numeric() && offset.data_type() != value_type {
            offset
                .cast_to(&value_type)
                .unwrap_or_else(|_| offset.clone())
        } else {
            offset.clone()
        };
        let descending = self.order.first().is_some_and(|s| s.options.descending);
        // Towards the start of an ascending order means smaller values.
        let shifted = if backwards != descending {
            value.sub_checked(&offset)
        } else {
            value.add_checked(&offset)
        };
        let Ok(shifted) = shifted else {
            return Ok(None);
        };
        let Some(field_type) = self.sort_codec.types().first() else {
            return Ok(None);
        };
        let shifted = match shifted.cast_to(field_type) {
            Ok(shifted) => shifted,
            Err(_) => return Ok(None),
        };
        let encoded = self.sort_codec.encode(&[shifted.to_array()?], 1)?;
        Ok(Some(Box::from(encoded.row(0))))
    }

    /// The inclusive lower bound of the rows up to `extent` before `key` (`None`: the
    /// partition's start).
    fn walk_back(&self, rows: &OrderedRows, key: &Key, extent: &Extent) -> Result<Option<Key>> {
        if extent.unbounded {
            return Ok(None);
        }
        let mut bound = key.clone();
        if extent.rows > 0 {
            let mut counted = 0u64;
            let mut reached = None;
            for (candidate, &weight) in rows.range(..key.clone()).rev() {
                counted += weight.max(0) as u64;
                if counted >= extent.rows {
                    reached = Some(candidate.clone());
                    break;
                }
            }
            match reached {
                Some(candidate) => bound = bound.min(candidate),
                None => return Ok(None),
            }
        }
        if extent.peers {
            bound = bound.min((key.0.clone(), Box::from(&[][..])));
        }
        if let Some(offset) = &extent.range {
            match self.shifted_sort_key(&key.0, offset, true)? {
                Some(sort_key) => bound = bound.min((sort_key, Box::from(&[][..]))),
                None => return Ok(None),
            }
        }
        Ok(Some(bound))
    }

    /// The exclusive upper bound of the rows up to `extent` after `key` (`None`: the
    /// partition's end).
    fn walk_forward(&self, rows: &OrderedRows, key: &Key, extent: &Extent) -> Result<Option<Key>> {
        if extent.unbounded {
            return Ok(None);
        }
        let mut bound = successor(key);
        if extent.rows > 0 {
            let mut counted = 0u64;
            let mut reached = None;
            for (candidate, &weight) in rows.range((Bound::Excluded(key.clone()), Bound::Unbounded))
            {
                counted += weight.max(0) as u64;
                if counted >= extent.rows {
                    reached = Some(successor(candidate));
                    break;
                }
            }
            match reached {
                Some(candidate) => bound = bound.max(candidate),
                None => return Ok(None),
            }
        }
        if extent.peers {
            bound = bound.max(after_peers(&key.0));
        }
        if let Some(offset) = &extent.range {
            match self.shifted_sort_key(&key.0, offset, false)? {
                Some(sort_key) => bound = bound.max(after_peers(&sort_key)),
                None => return Ok(None),
            }
        }
        Ok(Some(bound))
    }

    /// Rows whose value can change when rows between `first` and `last` (changed keys)
    /// change, in the state `rows`.
    fn region(&self, rows: &OrderedRows, first: &Key, last: &Key) -> Result<Span> {
        Ok(Span {
            start: self.walk_back(rows, first, &self.reach.following)?,
            end: self.walk_forward(rows, last, &self.reach.preceding)?,
        })
    }

    /// The output rows (input row then function values) of the rows of `region` in the
    /// partition state `rows`.
    fn outputs(&self, rows: &OrderedRows, region: &Span) -> Result<Option<RecordBatch>> {
        let mut in_region = rows.range::<Key, _>(region.bounds());
        let Some((first, _)) = in_region.next() else {
            return Ok(None);
        };
        let last = in_region.next_back().map_or(first, |(k, _)| k);
        // Widen the region so that every frame of its rows is complete.
        let slice = Span {
            start: self.walk_back(rows, first, &self.reach.preceding)?,
            end: self.walk_forward(rows, last, &self.reach.following)?,
        };
        let mut row_bytes: Vec<&[u8]> = Vec::new();
        let mut selected: Vec<u32> = Vec::new();
        for (key, &weight) in rows.range::<Key, _>(slice.bounds()) {
            let inside = region.contains(key);
            for _ in 0..weight.max(0) {
                if inside {
                    selected.push(row_bytes.len() as u32);
                }
                row_bytes.push(&key.1);
            }
        }
        if selected.is_empty() {
            return Ok(None);
        }
        let count = row_bytes.len();
        let slice_batch = self.row_codec.decode_batch(&self.input_schema, row_bytes)?;
        debug_assert_eq!(slice_batch.num_rows(), count);
        let mut columns: Vec<ArrayRef> = slice_batch.columns().to_vec();
        for function in &self.functions {
            columns.push(function.evaluate(&slice_batch)?);
        }
        let selected = UInt32Array::from(selected);
        let columns = columns
            .iter()
            .map(|c| Ok(take(c, &selected, None)?))
            .collect::<Result<Vec<_>>>()?;
        let columns = cast_to_schema(&columns, &self.schema)?;
        Ok(Some(batch_with_row_count(
            &self.schema,
            columns,
            selected.len(),
        )?))
    }

    fn apply(rows: &mut OrderedRows, changes: &[(Key, i64)], sign: i64) {
        for (key, weight) in changes {
            let entry = rows.entry(key.clone()).or_insert(0);
            *entry += sign * weight;
            if *entry == 0 {
                rows.remove(key);
            }
        }
    }

    /// Whether rows are late: their event time is at or below the watermark.
    fn late_mask(&self, batch: &RecordBatch) -> Result<Option<Vec<bool>>> {
        let (Some(_), Some(watermark), Some(order)) =
            (&self.cleanup, self.watermark, self.order.first())
        else {
            return Ok(None);
        };
        let times = order.expr.evaluate(batch)?.into_array(batch.num_rows())?;
        Ok(Some(
            timestamp_nanos(&times)?
                .into_iter()
                .map(|t| t.is_some_and(|t| t <= watermark))
                .collect(),
        ))
    }
}

impl Operator for OverAggregate {
    fn name(&self) -> &'static str {
        "OverAggregate"
    }

    fn describe(&self) -> String {
        let order: Vec<String> = self.order.iter().map(|s| s.to_string()).collect();
        let functions: Vec<String> = self
            .functions
            .iter()
            .map(|f| format!("{} {}", f.name(), f.get_window_frame()))
            .collect();
        format!(
            "partition: [{}], order: [{}], functions: [{}]{}",
            super::expr_list(&self.partition),
            order.join(", "),
            functions.join(", "),
            match &self.cleanup {
                Some(c) => format!(
                    ", state kept for {} ns behind the watermark",
                    c.horizon_nanos
                ),
                None => String::new(),
            }
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn partitioning(&self) -> super::Partitioning {
        super::keyed_by(vec![self.partition.clone()], &self.partition_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(Self::new(
            &self.input_schema,
            self.partition.clone(),
            self.order.clone(),
            self.functions.clone(),
            self.reach.clone(),
            self.cleanup.clone(),
            self.schema.clone(),
        )?))
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn state_rows(&self) -> usize {
        self.partitions.rows()
    }

    fn spilled_entries(&self) -> usize {
        self.partitions.spilled_len()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_opt_i64(self.watermark);
        out.put_u64(self.late);
        // Count, then per partition its key and rows (`OrderedRows`' spill encoding).
        self.partitions.snapshot(out)?;
        Ok(())
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        self.watermark = input.opt_i64()?;
        self.late = input.u64()?;
        self.partitions.restore(input)?;
        Ok(())
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let count = changes.num_rows();
        let late = self.late_mask(&changes.data)?;
        let partition_columns = evaluate_all(&self.partition, &changes.data)?;
        let partitions = self.partition_codec.encode(&partition_columns, count)?;
        let sort_exprs: Vec<_> = self.order.iter().map(|s| Arc::clone(&s.expr)).collect();
        let sort_keys = evaluate_all(&sort_exprs, &changes.data)?;
        let sort_keys = self.sort_codec.encode(&sort_keys, count)?;
        let rows = self.row_codec.encode(changes.data.columns(), count)?;

        // Changes per partition, in arrival order of the partitions.
        let mut order: Vec<Box<[u8]>> = Vec::new();
        let mut by_partition: HashMap<Box<[u8]>, Vec<(Key, i64)>> = HashMap::new();
        for i in 0..count {
            if late.as_ref().is_some_and(|late| late[i]) {
                self.late += 1;
                continue;
            }
            let key = (Box::from(sort_keys.row(i)), Box::from(rows.row(i)));
            let weight = changes.weights.value(i);
            match by_partition.get_mut(partitions.row(i)) {
                Some(list) => list.push((key, weight)),
                None => {
                    let partition: Box<[u8]> = Box::from(partitions.row(i));
                    order.push(partition.clone());
                    by_partition.insert(partition, vec![(key, weight)]);
                }
            }
        }

        self.partitions.load(order.iter().map(|p| p.as_ref()))?;
        let threshold = self.cleanup_threshold();
        let mut outputs: Vec<(RecordBatch, i64)> = Vec::new();
        for partition in order {
            let Some(list) = by_partition.remove(&partition) else {
                continue;
            };
            let (Some(first), Some(last)) = (
                list.iter().map(|(k, _)| k).min().cloned(),
                list.iter().map(|(k, _)| k).max().cloned(),
            ) else {
                continue;
            };
            let mut state = self.partitions.take(&partition).unwrap_or_default();
            if let Some(threshold) = threshold {
                // A partition that was on disk at the last watermark kept its expired rows.
                expire_rows(&self.sort_codec, &mut state, threshold)?;
            }
            let before = self.region(&state, &first, &last)?;
            Self::apply(&mut state, &list, 1);
            let after = self.region(&state, &first, &last)?;
            Self::apply(&mut state, &list, -1);
            let region = before.union(&after);
            if let Some(batch) = self.outputs(&state, &region)? {
                outputs.push((batch, -1));
            }
            Self::apply(&mut state, &list, 1);
            if let Some(batch) = self.outputs(&state, &region)? {
                outputs.push((batch, 1));
            }
            if !state.is_empty() {
                self.partitions.insert(partition, state);
            }
        }
        self.partitions.settle()?;

        // Consolidate: rows whose values did not change cancel out.
        let mut delta: HashMap<Box<[u8]>, i64> = HashMap::new();
        let mut emitted: Vec<Box<[u8]>> = Vec::new();
        for (batch, sign) in &outputs {
            let encoded = self
                .output_codec
                .encode(batch.columns(), batch.num_rows())?;
            for i in 0..batch.num_rows() {
                let row = encoded.row(i);
                match delta.get_mut(row) {
                    Some(weight) => *weight += sign,
                    None => {
                        emitted.push(Box::from(row));
                        delta.insert(Box::from(row), *sign);
                    }
                }
            }
        }
        let emitted: Vec<(Box<[u8]>, i64)> = emitted
            .into_iter()
            .filter_map(|row| {
                let weight = delta.get(&row).copied().unwrap_or(0);
                (weight != 0).then_some((row, weight))
            })
            .collect();
        if emitted.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let columns = self
            .output_codec
            .decode(emitted.iter().map(|(row, _)| row.as_ref()))?;
        let data = batch_with_row_count(&self.schema, columns, emitted.len())?;
        let weights: Int64Array = emitted.iter().map(|(_, w)| *w).collect::<Vec<_>>().into();
        ChangeBatch::new(data, weights)
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<ChangeBatch> {
        if self.watermark.is_some_and(|w| w >= watermark) {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.watermark = Some(watermark);
        let Some(threshold) = self.cleanup_threshold() else {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        };
        // Partitions on disk keep their expired rows until a batch loads them (no frame
        // reads those rows, see the module documentation).
        let mut failure = None;
        let sort_codec = &self.sort_codec;
        self.partitions.retain_in_memory(|_, rows| {
            let before = rows.len();
            if let Err(error) = expire_rows(sort_codec, rows, threshold) {
                failure.get_or_insert(error);
            }
            (!rows.is_empty()).then_some(rows.len() != before)
        });
        if let Some(error) = failure {
            return Err(error);
        }
        self.partitions.settle()?;
        Ok(ChangeBatch::empty(self.schema.clone()))
    }
}

impl OverAggregate {
    /// With event-time cleanup and a watermark: rows at or below this time (ns) are read by
    /// no frame any more.
    fn cleanup_threshold(&self) -> Option<i64> {
        let cleanup = self.cleanup.as_ref()?;
        Some(self.watermark?.saturating_sub(cleanup.horizon_nanos))
    }
}

/// Drop the rows of a partition (sort keys encoded by `sort_codec`) at or below `threshold`
/// (see [`OverAggregate::cleanup_threshold`]).
fn expire_rows(sort_codec: &RowCodec, rows: &mut OrderedRows, threshold: i64) -> Result<()> {
    let mut expired = Vec::new();
    for key in rows.keys() {
        let columns = sort_codec.decode([key.0.as_ref()])?;
        let Some(column) = columns.first() else {
            break;
        };
        match timestamp_nanos(column)?.first().copied().flatten() {
            // NULL times are peers of each other only: kept.
            None => continue,
            Some(time) if time <= threshold => expired.push(key.clone()),
            Some(_) => break,
        }
    }
    for key in expired {
        rows.remove(&key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array as I64, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::common::DFSchema;
    use datafusion::execution::context::ExecutionProps;
    use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
    use datafusion::logical_expr::{col, expr::WindowFunction, Expr, ExprFunctionExt, WindowFrame};
    use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("t", DataType::Int64, false),
            Field::new("x", DataType::Int64, true),
        ]))
    }

    fn sum_over(frame: WindowFrame) -> (Arc<dyn WindowExpr>, Vec<PhysicalSortExpr>) {
        let df_schema = DFSchema::try_from(schema().as_ref().clone()).unwrap();
        let udaf = datafusion::functions_aggregate::sum::sum_udaf();
        let expr = Expr::from(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(udaf),
            vec![col("x")],
        ))
        .partition_by(vec![col("k")])
        .order_by(vec![col("t").sort(true, false)])
        .window_frame(frame)
        .build()
        .unwrap();
        let props = ExecutionProps::new();
        let planning = PhysicalPlanningContext::default();
        let function =
            datafusion::physical_planner::create_window_expr(&expr, &df_schema, &props, &planning)
                .unwrap();
        let order = function.order_by().to_vec();
        (function, order)
    }

    fn operator(frame: WindowFrame, reach: Reach) -> OverAggregate {
        let (function, order) = sum_over(frame);
        let mut fields: Vec<Field> = schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("s", DataType::Int64, true));
        let partition = vec![datafusion::physical_expr::expressions::col("k", &schema()).unwrap()];
        OverAggregate::new(
            &schema(),
            partition,
            order,
            vec![function],
            reach,
            None,
            Arc::new(Schema::new(fields)),
        )
        .unwrap()
    }

    fn changes(rows: &[(i64, i64, i64, i64)]) -> ChangeBatch {
        let data = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(I64::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(I64::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(I64::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            ],
        )
        .unwrap();
        ChangeBatch::new(data, rows.iter().map(|r| r.3).collect::<Vec<_>>().into()).unwrap()
    }

    /// (k, t, x, s, weight) rows of a change batch, sorted.
    fn rows(batch: &ChangeBatch) -> Vec<(i64, i64, i64, Option<i64>, i64)> {
        let column = |i: usize| {
            batch
                .data
                .column(i)
                .as_any()
                .downcast_ref::<I64>()
                .unwrap()
                .clone()
        };
        let (k, t, x, s) = (column(0), column(1), column(2), column(3));
        let mut out: Vec<_> = (0..batch.num_rows())
            .map(|i| {
                (
                    k.value(i),
                    t.value(i),
                    x.value(i),
                    s.is_valid(i).then(|| s.value(i)),
                    batch.weights.value(i),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn running() -> (WindowFrame, Reach) {
        (
            WindowFrame::new(Some(false)),
            Reach {
                preceding: Extent::unbounded(),
                following: Extent {
                    peers: true,
                    ..Extent::default()
                },
            },
        )
    }

    #[test]
    fn appends_in_order_emit_only_the_new_rows() {
        let (frame, reach) = running();
        let mut op = operator(frame, reach);
        let out = op
            .process(0, changes(&[(1, 1, 10, 1), (1, 2, 5, 1)]))
            .unwrap();
        assert_eq!(
            rows(&out),
            vec![(1, 1, 10, Some(10), 1), (1, 2, 5, Some(15), 1)]
        );
        let out = op.process(0, changes(&[(1, 3, 1, 1)])).unwrap();
        assert_eq!(rows(&out), vec![(1, 3, 1, Some(16), 1)]);
        assert_eq!(op.state_rows(), 3);
    }

    #[test]
    fn a_retraction_in_the_middle_updates_the_rows_after_it() {
        let (frame, reach) = running();
        let mut op = operator(frame, reach);
        op.process(
            0,
            changes(&[(1, 1, 10, 1), (1, 2, 5, 1), (1, 3, 1, 1), (2, 1, 7, 1)]),
        )
        .unwrap();
        let out = op.process(0, changes(&[(1, 2, 5, -1)])).unwrap();
        assert_eq!(
            rows(&out),
            vec![
                (1, 2, 5, Some(15), -1),
                (1, 3, 1, Some(11), 1),
                (1, 3, 1, Some(16), -1)
            ]
        );
    }

    #[test]
    fn peers_share_a_range_frame() {
        let (frame, reach) = running();
        let mut op = operator(frame, reach);
        op.process(0, changes(&[(1, 1, 10, 1)])).unwrap();
        let out = op.process(0, changes(&[(1, 1, 3, 1)])).unwrap();
        assert_eq!(
            rows(&out),
            vec![
                (1, 1, 3, Some(13), 1),
                (1, 1, 10, Some(10), -1),
                (1, 1, 10, Some(13), 1)
            ]
        );
    }

    #[test]
    fn rows_frame_touches_only_the_following_rows() {
        let frame = WindowFrame::new_bounds(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(ScalarValue::UInt64(Some(1))),
            WindowFrameBound::CurrentRow,
        );
        let reach = Reach {
            preceding: Extent {
                rows: 1,
                ..Extent::default()
            },
            following: Extent::default(),
        };
        let mut op = operator(frame, reach);
        op.process(
            0,
            changes(&[(1, 1, 1, 1), (1, 2, 2, 1), (1, 3, 4, 1), (1, 4, 8, 1)]),
        )
        .unwrap();
        let out = op.process(0, changes(&[(1, 2, 2, -1)])).unwrap();
        assert_eq!(
            rows(&out),
            vec![
                (1, 2, 2, Some(3), -1),
                (1, 3, 4, Some(5), 1),
                (1, 3, 4, Some(6), -1)
            ]
        );
        // A snapshot restores the same state.
        let mut writer = StateWriter::new();
        op.snapshot(&mut writer).unwrap();
        let bytes = writer.into_bytes();
        let (frame, reach) = (
            WindowFrame::new_bounds(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(ScalarValue::UInt64(Some(1))),
                WindowFrameBound::CurrentRow,
            ),
            op.reach.clone(),
        );
        let mut restored = operator(frame, reach);
        restored.restore(&mut StateReader::new(&bytes)).unwrap();
        let out = restored.process(0, changes(&[(1, 5, 16, 1)])).unwrap();
        assert_eq!(rows(&out), vec![(1, 5, 16, Some(24), 1)]);
    }

    #[test]
    fn event_time_rows_behind_the_horizon_leave_state_and_late_rows_are_dropped() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let frame = WindowFrame::new_bounds(
            WindowFrameUnits::Range,
            WindowFrameBound::Preceding(ScalarValue::new_interval_mdn(0, 0, 10_000_000_000)),
            WindowFrameBound::CurrentRow,
        );
        let expr = Expr::from(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(
                datafusion::functions_aggregate::count::count_udaf(),
            ),
            vec![col("k")],
        ))
        .partition_by(vec![col("k")])
        .order_by(vec![col("ts").sort(true, false)])
        .window_frame(frame)
        .build()
        .unwrap();
        let function = datafusion::physical_planner::create_window_expr(
            &expr,
            &df_schema,
            &ExecutionProps::new(),
            &PhysicalPlanningContext::default(),
        )
        .unwrap();
        let order = function.order_by().to_vec();
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("n", DataType::Int64, true));
        let partition = vec![datafusion::physical_expr::expressions::col("k", &schema).unwrap()];
        let mut op = OverAggregate::new(
            &schema,
            partition,
            order,
            vec![function],
            Reach {
                preceding: Extent {
                    range: Some(ScalarValue::new_interval_mdn(0, 0, 10_000_000_000)),
                    ..Extent::default()
                },
                following: Extent {
                    peers: true,
                    ..Extent::default()
                },
            },
            Some(EventTimeCleanup {
                horizon_nanos: 10_000_000_000,
            }),
            Arc::new(Schema::new(fields)),
        )
        .unwrap();
        let batch = |times: &[i64], weight: i64| {
            let data = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(I64::from(vec![1; times.len()])),
                    Arc::new(TimestampMillisecondArray::from(times.to_vec())),
                ],
            )
            .unwrap();
            ChangeBatch::new(data, vec![weight; times.len()].into()).unwrap()
        };
        let counts = |out: &ChangeBatch| {
            let n = out.data.column(2).as_any().downcast_ref::<I64>().unwrap();
            let mut v: Vec<(i64, i64)> = (0..out.num_rows())
                .map(|i| (n.value(i), out.weights.value(i)))
                .collect();
            v.sort();
            v
        };
        let out = op.process(0, batch(&[0, 5_000, 12_000], 1)).unwrap();
        assert_eq!(counts(&out), vec![(1, 1), (2, 1), (2, 1)]);
        // Watermark 12 s: rows at or below 2 s can never be in a future frame.
        op.on_watermark(12_000_000_000).unwrap();
        assert_eq!(op.state_rows(), 2);
        // A row at 11 s is late: dropped and counted.
        let out = op.process(0, batch(&[11_000], 1)).unwrap();
        assert!(out.is_empty());
        assert_eq!(op.late_rows(), 1);
        // A row at 15 s counts the rows of the last 10 s: 5 s, 12 s and itself.
        let out = op.process(0, batch(&[15_000], 1)).unwrap();
        assert_eq!(counts(&out), vec![(3, 1)]);
    }
}
