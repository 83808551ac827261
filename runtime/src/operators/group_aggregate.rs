//! Group aggregate: `GROUP BY keys` with aggregate functions, maintained under inserts and
//! deletes.
//!
//! State per group: the number of input rows (weighted) and, per aggregate call, either
//! - a retractable DataFusion accumulator (count, and sum/avg over exact types), updated with
//!   `update_batch` for inserts and `retract_batch` for deletes; or
//! - for min/max over types whose memcomparable byte order is SQL order (all but floats and
//!   nested types): an ordered multiset of the non-NULL argument values; the result is its
//!   first or last entry, so a retraction costs O(log n) instead of a recomputation; or
//! - for `count(DISTINCT ..)`: the multiset of argument values and the number of values whose
//!   weight is positive, updated as a value's weight crosses zero (O(1) per row); or
//! - for sum/avg over floats: an exact sum ([`ExactSum`]) and the count of non-NULL values, so
//!   a retraction restores the previous sum exactly and the result is the correctly rounded
//!   sum in any order of the changes (a running `f64` would drift from the batch meaning); or
//! - the multiset of the call's argument rows, from which the value is recomputed with a fresh
//!   accumulator when the group changes (min/max over floats, other DISTINCT calls,
//!   string_agg, array_agg, ordered aggregates). This makes retraction exact for every function
//!   DataFusion has, at O(rows of the group) per change.
//!
//! Output: for every group whose value changed, a retraction of the previous output row and an
//! insertion of the new one. A group whose row count reaches 0 disappears, except for the
//! global aggregate (no GROUP BY), which always has exactly one row, as in SQL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, UInt32Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::PhysicalExpr;
use std::collections::BTreeMap;
use std::rc::Rc;

use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::codec::EncodedRows;
use sluice_storage::spill::SpillValue;
use sluice_storage::{RowCodec, SpillMap, StateReader, StateWriter, StorageError, ZSet};

use super::exact_sum::ExactSum;
use super::{evaluate_all, evaluate_predicate, Operator};
use crate::change::{expand_by_weight, take_columns, ChangeBatch};
use crate::checkpoint::{get_zset, put_zset, ScalarCodec};
use crate::error::{Result, RuntimeError};

use super::aggregate_output::{CallColumn, CallColumns, CallValue};

/// One aggregate function call, e.g. `sum(x) FILTER (WHERE y > 0)`.
#[derive(Clone)]
pub struct AggregateCall {
    pub function: Arc<AggregateFunctionExpr>,
    pub filter: Option<Arc<dyn PhysicalExpr>>,
}

impl AggregateCall {
    /// Argument expressions followed by ORDER BY expressions: what the accumulator consumes.
    fn inputs(&self) -> Vec<Arc<dyn PhysicalExpr>> {
        let mut inputs = self.function.expressions();
        inputs.extend(self.function.order_bys().iter().map(|s| s.expr.clone()));
        inputs
    }
}

/// One call's state in a group. Collections are boxed so that the state is 24 bytes and a
/// group of one call (the common case: `count(*)` per key and window) holds it inline,
/// without an allocation of its own (see [`Group`]).
enum CallState {
    Retractable(Box<dyn Accumulator>),
    Multiset(Box<ZSet>),
    // Boxed although a BTreeMap allocates its nodes itself: unboxed (24 bytes) it would make
    // every call state 32 bytes.
    #[allow(clippy::box_collection)]
    Ordered(Box<BTreeMap<Box<[u8]>, i64>>),
    /// min/max over an append-only input: the extreme value so far (encoded), all a value
    /// that only ever gains rows needs (Flink's min/max without retraction).
    Extreme(Option<Box<[u8]>>),
    /// `count(DISTINCT ..)`: argument rows with their weights, and how many have a positive
    /// weight.
    Distinct {
        values: Box<ZSet>,
        count: i64,
    },
    /// `count(DISTINCT x)` calls over an append-only input that share their argument (with
    /// different FILTERs, as in Nexmark q16): each value once, with the bit set of the calls
    /// whose FILTER it passed, and per call the number of values with its bit (Flink shares
    /// distinct state the same way). Held by the first of the calls.
    DistinctSet {
        values: Box<ZSet>,
        counts: Box<[i64]>,
    },
    /// A call whose state is another call's [`CallState::DistinctSet`].
    Shared,
    /// sum/avg over floats: the exact sum and the (weighted) number of non-NULL values.
    FloatSum {
        sum: Box<ExactSum>,
        count: i64,
    },
    /// `count(..)`: the weighted number of rows whose arguments are all non-NULL.
    Count(i64),
    /// `sum(bigint)`: the wrapping sum (as DataFusion's and Flink's sum of BIGINT wrap, and a
    /// wrapping sum retracts exactly) and the weighted number of non-NULL values.
    IntegerSum {
        sum: i64,
        count: i64,
    },
}

/// The call states of a group: inline when there is one (no allocation of its own).
enum Calls {
    One(CallState),
    Many(Box<[CallState]>),
}

impl std::ops::Deref for Calls {
    type Target = [CallState];

    fn deref(&self) -> &[CallState] {
        match self {
            Calls::One(state) => std::slice::from_ref(state),
            Calls::Many(states) => states,
        }
    }
}

impl std::ops::DerefMut for Calls {
    fn deref_mut(&mut self) -> &mut [CallState] {
        match self {
            Calls::One(state) => std::slice::from_mut(state),
            Calls::Many(states) => states,
        }
    }
}

impl FromIterator<CallState> for Calls {
    fn from_iter<I: IntoIterator<Item = CallState>>(states: I) -> Self {
        let mut states: Vec<CallState> = states.into_iter().collect();
        if states.len() == 1 {
            if let Some(state) = states.pop() {
                return Calls::One(state);
            }
        }
        Calls::Many(states.into_boxed_slice())
    }
}

/// A group's state: its row count, each call's state (inline for one call), and its current
/// output values, encoded by the aggregate's output codec (not kept for deferred output). 56
/// bytes plus what the calls hold: a window aggregate of Nexmark q5 keeps millions of them.
struct Group {
    rows: i64,
    calls: Calls,
    output: Option<Box<[u8]>>,
}

/// Encodes and decodes groups, for spilled state and checkpoints: the calls, how each is
/// maintained, and codecs for accumulator states.
struct GroupCodec {
    calls: Vec<AggregateCall>,
    modes: Vec<Mode>,
    /// Per retractable call: its sliding accumulator's state values.
    states: Vec<Option<ScalarCodec>>,
}

impl GroupCodec {
    fn new(calls: Vec<AggregateCall>, modes: Vec<Mode>) -> Result<Self> {
        let states = calls
            .iter()
            .zip(&modes)
            .map(|(call, mode)| {
                if *mode != Mode::Retractable {
                    return Ok(None);
                }
                let types = call
                    .function
                    .create_sliding_accumulator()?
                    .state()?
                    .iter()
                    .map(ScalarValue::data_type)
                    .collect();
                Ok(Some(ScalarCodec::new(types)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            calls,
            modes,
            states,
        })
    }

    fn new_group(&self) -> Result<Group> {
        let calls = self
            .calls
            .iter()
            .zip(&self.modes)
            .map(|(call, mode)| match mode {
                Mode::Retractable => Ok(CallState::Retractable(
                    call.function.create_sliding_accumulator()?,
                )),
                Mode::Multiset => Ok(CallState::Multiset(Box::default())),
                Mode::Extreme { .. } => Ok(CallState::Ordered(Box::default())),
                Mode::AppendExtreme { .. } => Ok(CallState::Extreme(None)),
                Mode::DistinctCount => Ok(CallState::Distinct {
                    values: Box::default(),
                    count: 0,
                }),
                Mode::DistinctSet { members } => Ok(CallState::DistinctSet {
                    values: Box::default(),
                    counts: vec![0; *members as usize].into_boxed_slice(),
                }),
                Mode::DistinctMember { .. } => Ok(CallState::Shared),
                Mode::FloatSum { .. } => Ok(CallState::FloatSum {
                    sum: Box::default(),
                    count: 0,
                }),
                Mode::Count => Ok(CallState::Count(0)),
                Mode::IntegerSum => Ok(CallState::IntegerSum { sum: 0, count: 0 }),
            })
            .collect::<Result<Calls>>()?;
        Ok(Group {
            rows: 0,
            calls,
            output: None,
        })
    }

    /// Row count, output values if any, then each call's state.
    fn write(&self, group: &mut Group, out: &mut StateWriter) -> Result<()> {
        out.put_i64(group.rows);
        out.put_bool(group.output.is_some());
        if let Some(values) = &group.output {
            out.put_bytes(values);
        }
        for (state, codec) in group.calls.iter_mut().zip(&self.states) {
            match (state, codec) {
                (CallState::Retractable(accumulator), Some(codec)) => {
                    codec.put(out, &accumulator.state()?)?
                }
                (CallState::Retractable(_), None) => {
                    return Err(RuntimeError::Internal(
                        "retractable aggregate call without a state codec".into(),
                    ))
                }
                (CallState::Multiset(rows), _) => put_zset(out, rows),
                (CallState::Ordered(values), _) => {
                    out.put_u64(values.len() as u64);
                    for (value, weight) in values.iter() {
                        out.put_bytes(value);
                        out.put_i64(*weight);
                    }
                }
                (CallState::Distinct { values, .. }, _)
                | (CallState::DistinctSet { values, .. }, _) => put_zset(out, values),
                (CallState::Shared, _) => {}
                (CallState::FloatSum { sum, count }, _) => {
                    sum.snapshot(out);
                    out.put_i64(*count);
                }
                (CallState::Count(count), _) => out.put_i64(*count),
                (CallState::Extreme(value), _) => {
                    out.put_bool(value.is_some());
                    if let Some(value) = value {
                        out.put_bytes(value);
                    }
                }
                (CallState::IntegerSum { sum, count }, _) => {
                    out.put_i64(*sum);
                    out.put_i64(*count);
                }
            }
        }
        Ok(())
    }

    /// Read a group written by [`GroupCodec::write`].
    fn read(&self, input: &mut StateReader) -> Result<Group> {
        let mut group = self.new_group()?;
        group.rows = input.i64()?;
        if input.bool()? {
            group.output = Some(Box::from(input.bytes()?));
        }
        for (state, codec) in group.calls.iter_mut().zip(&self.states) {
            match state {
                CallState::Retractable(accumulator) => {
                    let codec = codec.as_ref().ok_or_else(|| {
                        RuntimeError::Internal(
                            "retractable aggregate call without a state codec".into(),
                        )
                    })?;
                    let arrays = codec
                        .get(input)?
                        .iter()
                        .map(ScalarValue::to_array)
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    accumulator.merge_batch(&arrays)?;
                }
                CallState::Multiset(rows) => **rows = get_zset(input)?,
                CallState::Ordered(values) => {
                    for _ in 0..input.len_prefix()? {
                        let value = Box::from(input.bytes()?);
                        values.insert(value, input.i64()?);
                    }
                }
                CallState::Distinct { values, count } => {
                    **values = get_zset(input)?;
                    *count = values.iter().filter(|(_, weight)| *weight > 0).count() as i64;
                }
                CallState::DistinctSet { values, counts } => {
                    **values = get_zset(input)?;
                    counts.fill(0);
                    for (_, bits) in values.iter() {
                        for (slot, count) in counts.iter_mut().enumerate() {
                            *count += (bits >> slot) & 1;
                        }
                    }
                }
                CallState::Shared => {}
                CallState::FloatSum { sum, count } => {
                    **sum = ExactSum::restore(input)?;
                    *count = input.i64()?;
                }
                CallState::Count(count) => *count = input.i64()?,
                CallState::IntegerSum { sum, count } => {
                    *sum = input.i64()?;
                    *count = input.i64()?;
                }
                CallState::Extreme(value) => {
                    *value = match input.bool()? {
                        true => Some(Box::from(input.bytes()?)),
                        false => None,
                    }
                }
            }
        }
        Ok(group)
    }
}

fn storage_error(error: RuntimeError) -> StorageError {
    match error {
        RuntimeError::Storage(error) => error,
        other => StorageError::State(other.to_string()),
    }
}

impl SpillValue for Group {
    type Context = GroupCodec;

    fn memory_size(&self) -> usize {
        let calls: usize = self
            .calls
            .iter()
            .map(|state| match state {
                // The boxed accumulator and its scalar state.
                CallState::Retractable(_) => 96,
                CallState::Multiset(rows) => rows.memory_size(),
                CallState::Ordered(values) => {
                    48 + values.keys().map(|value| value.len() + 48).sum::<usize>()
                }
                CallState::Distinct { values, .. } => values.memory_size() + 8,
                CallState::DistinctSet { values, counts } => {
                    values.memory_size() + 16 + 8 * counts.len()
                }
                CallState::Shared => 0,
                CallState::FloatSum { sum, .. } => sum.memory_size() + 8,
                CallState::Count(_) | CallState::IntegerSum { .. } => 16,
                CallState::Extreme(value) => value.as_ref().map_or(0, |v| v.len() + 16),
            })
            .sum();
        let output = self.output.as_ref().map_or(0, |values| values.len() + 16);
        64 + calls + output
    }

    fn rows(&self) -> usize {
        1
    }

    fn encode(
        &mut self,
        out: &mut StateWriter,
        codec: &GroupCodec,
    ) -> sluice_storage::error::Result<()> {
        codec.write(self, out).map_err(storage_error)
    }

    fn decode(input: &mut StateReader, codec: &GroupCodec) -> sluice_storage::error::Result<Self> {
        codec.read(input).map_err(storage_error)
    }
}

/// How each call is maintained.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Retractable,
    Multiset,
    /// min (`false`) or max (`true`) from an ordered multiset.
    Extreme {
        max: bool,
    },
    /// min (`false`) or max (`true`) over an append-only input: the extreme so far.
    AppendExtreme {
        max: bool,
    },
    DistinctCount,
    /// `count(DISTINCT ..)` over an append-only input, holding the set it shares with
    /// `members` calls (itself first) of the same argument.
    DistinctSet {
        members: u32,
    },
    /// `count(DISTINCT ..)` over an append-only input whose count is bit `slot` of call
    /// `leader`'s set.
    DistinctMember {
        leader: usize,
        slot: u32,
    },
    /// sum (`avg: false`) or avg of a float argument.
    FloatSum {
        avg: bool,
    },
    /// `count(..)` without DISTINCT or ORDER BY: a counter.
    Count,
    /// `sum` of a BIGINT argument with a BIGINT result.
    IntegerSum,
}

pub struct GroupAggregate {
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    group_codec: RowCodec,
    calls: Vec<AggregateCall>,
    call_inputs: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    call_codecs: Vec<RowCodec>,
    /// Per call: an earlier call with the same argument (and ORDER BY) expressions, whose
    /// evaluated and encoded inputs it reuses.
    shared_inputs: Vec<Option<usize>>,
    /// Per call with a FILTER: an earlier call with the same FILTER expression.
    shared_filters: Vec<Option<usize>>,
    modes: Vec<Mode>,
    /// Per call holding a shared distinct set ([`Mode::DistinctSet`]): the calls sharing
    /// it, itself first (slot = position); empty for other calls.
    distinct_members: Vec<Vec<usize>>,
    /// Groups by encoded key, under the operator memory budget (see [`SpillMap`]); its
    /// context ([`GroupCodec`]) makes new groups and encodes them.
    groups: SpillMap<Group>,
    /// The types of the aggregate output columns, and their codec: a group keeps its output
    /// values encoded, to compare with the next and retract them.
    output_types: Vec<DataType>,
    output_codec: RowCodec,
    schema: SchemaRef,
    input_schema: SchemaRef,
    /// Output deferred (window aggregates): `process` only updates the groups and emits
    /// nothing; [`GroupAggregate::drain_output`] evaluates each group once at the end.
    deferred: bool,
    /// The input only ever inserts (see [`GroupAggregate::append_only_input`]).
    append_only_input: bool,
}

/// Calls sharing one distinct set: one bit each in a value's weight (positive, 62 bits).
const MAX_SHARED_DISTINCT: usize = 62;

/// The types of the aggregate columns of `schema` (after its `keys` group columns).
fn output_types(schema: &SchemaRef, keys: usize) -> Vec<DataType> {
    schema.fields()[keys..]
        .iter()
        .map(|field| field.data_type().clone())
        .collect()
}

fn is_exact_numeric(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Decimal128(_, _) | DataType::Decimal256(_, _)
        )
}

impl GroupAggregate {
    pub(crate) fn input_schema(&self) -> SchemaRef {
        self.input_schema.clone()
    }

    /// An instance with the same parameters (deferred output included) and no groups.
    pub(crate) fn fork_empty(&self) -> Result<Self> {
        let mut fork = Self::new(
            &self.input_schema,
            self.group_exprs.clone(),
            self.calls.clone(),
            self.schema.clone(),
        )?;
        fork.deferred = self.deferred;
        if self.append_only_input {
            fork = fork.append_only_input(true)?;
        }
        Ok(fork)
    }

    /// Defer the output: `process` emits nothing and keeps no previous output per group;
    /// [`GroupAggregate::drain_output`] hands out the final rows. For an aggregate whose
    /// result is read once (a window that fires), this saves evaluating every touched group
    /// on every batch.
    pub(crate) fn defer_output(&mut self) {
        self.deferred = true;
    }

    /// Every group's current row (as insertions), evaluated once; the aggregate is empty
    /// afterwards.
    pub(crate) fn drain_output(&mut self) -> Result<ChangeBatch> {
        let mut keys: Vec<Box<[u8]>> = Vec::with_capacity(self.groups.len());
        let mut columns = self.output_columns();
        let (calls, codecs, modes) = (&self.calls, &self.call_codecs, &self.modes);
        let global = self.is_global();
        self.groups.drain(|key, mut group| {
            if group.rows == 0 && !global {
                return Ok(());
            }
            Self::evaluate_group(calls, codecs, modes, &mut group, &mut columns)
                .map_err(storage_error)?;
            keys.push(Box::from(key));
            Ok(())
        })?;
        let new = columns.finish(&self.call_codecs, &self.output_types)?;
        let keys: Vec<&[u8]> = keys.iter().map(|key| key.as_ref()).collect();
        let insertions = (0..keys.len() as u32).map(|i| (i, i)).collect();
        self.build_output(&keys, Vec::new(), insertions, &new)
    }

    /// `input_schema` is the schema of incoming changes; `schema` the output (group columns
    /// then one column per call).
    pub fn new(
        input_schema: &SchemaRef,
        group_exprs: Vec<Arc<dyn PhysicalExpr>>,
        calls: Vec<AggregateCall>,
        schema: SchemaRef,
    ) -> Result<Self> {
        let group_types = group_exprs
            .iter()
            .map(|e| e.data_type(input_schema))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let group_codec = RowCodec::new(group_types)?;
        let mut call_inputs = Vec::new();
        let mut call_codecs = Vec::new();
        let mut modes = Vec::new();
        for call in &calls {
            let inputs = call.inputs();
            let types = inputs
                .iter()
                .map(|e| e.data_type(input_schema))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let function = &call.function;
            let name = function.fun().name().to_ascii_lowercase();
            // Neither DISTINCT nor ORDER BY.
            let plain = !function.is_distinct() && function.order_bys().is_empty();
            let output_type = function.field().data_type().clone();
            let count = plain && name == "count" && output_type == DataType::Int64;
            let integer_sum = plain
                && name == "sum"
                && matches!(types.as_slice(), [DataType::Int64])
                && output_type == DataType::Int64;
            let retractable = plain
                && matches!(name.as_str(), "sum" | "avg" | "mean")
                && types.iter().all(is_exact_numeric)
                && function
                    .create_sliding_accumulator()
                    .map(|a| a.supports_retract_batch())
                    .unwrap_or(false);
            let ordered_extreme = (name == "min" || name == "max")
                && types.len() == 1
                && function.order_bys().is_empty()
                && !types[0].is_floating()
                && !types[0].is_nested();
            let distinct_count =
                name == "count" && function.is_distinct() && function.order_bys().is_empty();
            let float_sum = plain
                && matches!(name.as_str(), "sum" | "avg" | "mean")
                && matches!(types.as_slice(), [DataType::Float32 | DataType::Float64]);
            modes.push(if count {
                Mode::Count
            } else if integer_sum {
                Mode::IntegerSum
            } else if retractable {
                Mode::Retractable
            } else if ordered_extreme {
                Mode::Extreme { max: name == "max" }
            } else if distinct_count {
                Mode::DistinctCount
            } else if float_sum {
                Mode::FloatSum { avg: name != "sum" }
            } else {
                Mode::Multiset
            });
            call_codecs.push(RowCodec::new(types)?);
            call_inputs.push(inputs);
        }
        let codec = GroupCodec::new(calls.clone(), modes.clone())?;
        let output_types = output_types(&schema, group_exprs.len());
        let output_codec = RowCodec::new(output_types.clone())?;
        let shared_filters = shared_expressions(
            &calls
                .iter()
                .map(|call| call.filter.iter().cloned().collect())
                .collect::<Vec<_>>(),
        );
        Ok(Self {
            group_exprs,
            group_codec,
            calls,
            shared_inputs: shared_expressions(&call_inputs),
            shared_filters,
            call_inputs,
            call_codecs,
            distinct_members: vec![Vec::new(); modes.len()],
            modes,
            groups: SpillMap::with_context(codec),
            output_types,
            output_codec,
            schema,
            input_schema: input_schema.clone(),
            deferred: false,
            append_only_input: false,
        })
    }

    /// Declare the input insert-only (the planner proves it): min and max then keep only
    /// the extreme value of each group instead of every value with its count. A retraction
    /// arriving anyway is reported as an internal error.
    pub fn append_only_input(mut self, append_only: bool) -> Result<Self> {
        if !append_only || self.append_only_input {
            return Ok(self);
        }
        self.append_only_input = true;
        for mode in &mut self.modes {
            if let Mode::Extreme { max } = *mode {
                *mode = Mode::AppendExtreme { max };
            }
        }
        // count(DISTINCT x) calls of one argument share one set of values (an insert-only
        // input never takes a value back, so a bit per call is all a value needs).
        for index in 0..self.modes.len() {
            if self.modes[index] != Mode::DistinctCount {
                continue;
            }
            let root = self.shared_inputs[index].unwrap_or(index);
            let leader = (0..index).find(|&earlier| {
                self.shared_inputs[earlier].unwrap_or(earlier) == root
                    && self.distinct_members[earlier].len() < MAX_SHARED_DISTINCT
                    && matches!(self.modes[earlier], Mode::DistinctSet { .. })
            });
            match leader {
                Some(leader) => {
                    let slot = self.distinct_members[leader].len();
                    self.distinct_members[leader].push(index);
                    self.modes[leader] = Mode::DistinctSet {
                        members: slot as u32 + 1,
                    };
                    self.modes[index] = Mode::DistinctMember {
                        leader,
                        slot: slot as u32,
                    };
                }
                None => {
                    self.distinct_members[index] = vec![index];
                    self.modes[index] = Mode::DistinctSet { members: 1 };
                }
            }
        }
        let codec = GroupCodec::new(self.calls.clone(), self.modes.clone())?;
        self.groups = SpillMap::with_context(codec);
        Ok(self)
    }

    /// A new aggregate with the same keys and calls and no groups.
    pub fn empty_like(&self) -> Result<Self> {
        self.fork_empty()
    }

    /// A new aggregate with the same keys and calls and no groups, whose groups count
    /// against this one's memory budget (the windows of one window aggregate share the
    /// operator's budget).
    pub(crate) fn empty_sharing_budget(&self) -> Result<Self> {
        let mut fork = self.fork_empty()?;
        fork.groups.share_budget(self.groups.budget());
        Ok(fork)
    }

    fn is_global(&self) -> bool {
        self.group_exprs.is_empty()
    }

    /// Empty output columns, one per call, of the kind its mode produces.
    fn output_columns(&self) -> CallColumns {
        CallColumns::new(
            self.modes
                .iter()
                .map(|mode| match mode {
                    Mode::Count
                    | Mode::DistinctCount
                    | Mode::DistinctSet { .. }
                    | Mode::DistinctMember { .. }
                    | Mode::IntegerSum => CallColumn::Int64(Vec::new()),
                    Mode::FloatSum { .. } => CallColumn::Float64(Vec::new()),
                    Mode::Extreme { .. } | Mode::AppendExtreme { .. } => CallColumn::Encoded {
                        bytes: Vec::new(),
                        ranges: Vec::new(),
                    },
                    Mode::Retractable | Mode::Multiset => CallColumn::Scalars(Vec::new()),
                })
                .collect(),
        )
    }

    /// Append the current value of every call of `group` to `columns`.
    fn evaluate_group(
        calls: &[AggregateCall],
        codecs: &[RowCodec],
        modes: &[Mode],
        group: &mut Group,
        columns: &mut CallColumns,
    ) -> Result<()> {
        for (index, (((call, codec), mode), column)) in calls
            .iter()
            .zip(codecs)
            .zip(modes)
            .zip(columns.columns.iter_mut())
            .enumerate()
        {
            if let Mode::DistinctMember { leader, slot } = *mode {
                let count = match group.calls.get(leader) {
                    Some(CallState::DistinctSet { counts, .. }) => counts.get(slot as usize),
                    _ => None,
                };
                let count = count
                    .ok_or_else(|| RuntimeError::Internal("shared distinct set missing".into()))?;
                column.push(CallValue::Int64(Some(*count)))?;
                continue;
            }
            let state = group
                .calls
                .get_mut(index)
                .ok_or_else(|| RuntimeError::Internal("aggregate call state missing".into()))?;
            let value = match state {
                CallState::Retractable(accumulator) => CallValue::Scalar(accumulator.evaluate()?),
                CallState::Distinct { count, .. } => CallValue::Int64(Some(*count)),
                CallState::DistinctSet { counts, .. } => {
                    CallValue::Int64(Some(counts.first().copied().unwrap_or(0)))
                }
                CallState::Shared => {
                    return Err(RuntimeError::Internal(
                        "shared distinct call evaluated on its own".into(),
                    ))
                }
                CallState::Count(count) => CallValue::Int64(Some(*count)),
                CallState::IntegerSum { count: 0, .. } => CallValue::Int64(None),
                CallState::IntegerSum { sum, .. } => CallValue::Int64(Some(*sum)),
                CallState::FloatSum { count: 0, .. } => CallValue::Float64(None),
                CallState::FloatSum { sum, count } => {
                    let total = sum.value();
                    let avg = matches!(mode, Mode::FloatSum { avg: true });
                    CallValue::Float64(Some(if avg { total / *count as f64 } else { total }))
                }
                CallState::Ordered(values) => {
                    let extreme = if matches!(mode, Mode::Extreme { max: true }) {
                        values.iter().rev().find(|(_, w)| **w > 0)
                    } else {
                        values.iter().find(|(_, w)| **w > 0)
                    };
                    CallValue::Encoded(extreme.map(|(row, _)| row.as_ref()))
                }
                CallState::Extreme(value) => CallValue::Encoded(value.as_deref()),
                CallState::Multiset(rows) => {
                    let mut entries: Vec<(&[u8], i64)> =
                        rows.iter().filter(|(_, weight)| *weight > 0).collect();
                    // Deterministic feeding order (memcomparable = value order).
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    let distinct = call.function.is_distinct();
                    let mut fed: Vec<&[u8]> = Vec::new();
                    for (row, weight) in entries {
                        let times = if distinct { 1 } else { weight };
                        for _ in 0..times {
                            fed.push(row);
                        }
                    }
                    let mut accumulator = call.function.create_accumulator()?;
                    if !fed.is_empty() {
                        let arrays = codec.decode(fed)?;
                        accumulator.update_batch(&arrays)?;
                    }
                    CallValue::Scalar(accumulator.evaluate()?)
                }
            };
            column.push(value)?;
        }
        Ok(())
    }

    /// The output changes: for each `(group, old values)` of `retractions` a retraction of
    /// the group's previous row, then for each `(group, row)` of `insertions` the row `row`
    /// of the `new` output values as an insertion; groups index `keys`.
    fn build_output(
        &self,
        keys: &[&[u8]],
        retractions: Vec<(u32, Box<[u8]>)>,
        insertions: Vec<(u32, u32)>,
        new: &[ArrayRef],
    ) -> Result<ChangeBatch> {
        let count = retractions.len() + insertions.len();
        if count == 0 {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let key_columns = self.group_codec.decode(keys.iter().copied())?;
        let groups = UInt32Array::from_iter_values(
            retractions
                .iter()
                .map(|(group, _)| *group)
                .chain(insertions.iter().map(|(group, _)| *group)),
        );
        let mut columns = take_columns(&key_columns, &groups)?;
        let old = self
            .output_codec
            .decode(retractions.iter().map(|(_, values)| values.as_ref()))?;
        let rows = UInt32Array::from_iter_values(insertions.iter().map(|(_, row)| *row));
        let identity = rows.len() == new.first().map_or(0, |a| a.len())
            && rows
                .values()
                .iter()
                .enumerate()
                .all(|(i, &r)| i == r as usize);
        for call in 0..self.calls.len() {
            let inserted = match new.get(call) {
                Some(array) if identity => array.clone(),
                Some(array) => arrow::compute::take(array, &rows, None)?,
                None => return Err(RuntimeError::Internal("aggregate output missing".into())),
            };
            columns.push(match old.get(call) {
                Some(old) if !retractions.is_empty() => {
                    arrow::compute::concat(&[old.as_ref(), inserted.as_ref()])?
                }
                _ => inserted,
            });
        }
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| cast_to(c, f.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let data = batch_with_row_count(&self.schema, columns, count)?;
        let weights = std::iter::repeat_n(-1, retractions.len())
            .chain(std::iter::repeat_n(1, insertions.len()))
            .collect::<Vec<i64>>()
            .into();
        ChangeBatch::new(data, weights)
    }
}

/// The `selected` rows whose `arguments` are all non-NULL, with their weights: what every
/// call but a multiset consumes (count, sum, min/max and count(DISTINCT) skip NULLs).
fn rows_without_nulls<'a>(
    selected: &'a [u32],
    arguments: &'a [ArrayRef],
    weights: &'a Int64Array,
) -> impl Iterator<Item = (usize, i64)> + 'a {
    selected
        .iter()
        .map(|&i| i as usize)
        .filter(|&i| arguments.iter().all(|a| a.is_valid(i)))
        .map(|i| (i, weights.value(i)))
}

/// Per list of expressions: the first earlier list equal to it (empty lists share nothing).
fn shared_expressions(lists: &[Vec<Arc<dyn PhysicalExpr>>]) -> Vec<Option<usize>> {
    let same = |a: &[Arc<dyn PhysicalExpr>], b: &[Arc<dyn PhysicalExpr>]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_ref() == y.as_ref())
    };
    lists
        .iter()
        .enumerate()
        .map(|(index, list)| {
            if list.is_empty() {
                return None;
            }
            lists[..index]
                .iter()
                .position(|earlier| same(earlier, list))
        })
        .collect()
}

fn cast_to(array: ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    if array.data_type() == data_type {
        Ok(array)
    } else {
        Ok(arrow::compute::cast(&array, data_type)?)
    }
}

impl Operator for GroupAggregate {
    fn partitioning(&self) -> super::Partitioning {
        super::keyed_by(vec![self.group_exprs.clone()], &self.group_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.fork_empty()?))
    }

    fn name(&self) -> &'static str {
        "GroupAggregate"
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.group_exprs.iter().map(|e| e.to_string()).collect();
        let calls: Vec<String> = self
            .calls
            .iter()
            .zip(&self.modes)
            .map(|(c, m)| {
                let mode = match m {
                    Mode::Retractable => "retractable",
                    Mode::Multiset => "multiset",
                    Mode::Extreme { .. } => "ordered",
                    Mode::AppendExtreme { .. } => "append-only extreme",
                    Mode::DistinctCount => "distinct count",
                    Mode::DistinctSet { .. } | Mode::DistinctMember { .. } => "shared distinct set",
                    Mode::FloatSum { .. } => "exact sum",
                    Mode::Count => "counter",
                    Mode::IntegerSum => "integer sum",
                };
                format!("{} ({mode})", c.function.name())
            })
            .collect();
        format!(
            "keys: [{}], aggregates: [{}]",
            keys.join(", "),
            calls.join(", ")
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state_rows(&self) -> usize {
        self.groups.len()
    }

    fn spilled_entries(&self) -> usize {
        self.groups.spilled_len()
    }

    /// Per group: its key and [`GroupCodec::write`]'s encoding (the same bytes a spilled
    /// group has), spilled groups included.
    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        Ok(self.groups.snapshot(out)?)
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        Ok(self.groups.restore(input)?)
    }

    fn initial(&mut self) -> Result<Option<ChangeBatch>> {
        if !self.is_global() {
            return Ok(None);
        }
        let mut group = self.groups.context().new_group()?;
        let mut columns = self.output_columns();
        Self::evaluate_group(
            &self.calls,
            &self.call_codecs,
            &self.modes,
            &mut group,
            &mut columns,
        )?;
        let new = columns.finish(&self.call_codecs, &self.output_types)?;
        group.output = Some(Box::from(self.output_codec.encode(&new, 1)?.row(0)));
        self.groups.insert(Box::from(&[][..]), group);
        let keys: [&[u8]; 1] = [&[]];
        Ok(Some(self.build_output(
            &keys,
            Vec::new(),
            vec![(0, 0)],
            &new,
        )?))
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let rows = changes.num_rows();
        let key_columns = evaluate_all(&self.group_exprs, &changes.data)?;
        let keys = self.group_codec.encode(&key_columns, rows)?;

        // Rows of each touched group, in order of first appearance.
        let mut slot_of: HashMap<&[u8], usize> = HashMap::new();
        let mut touched: Vec<(&[u8], Vec<u32>)> = Vec::new();
        for i in 0..rows {
            let key = keys.row(i);
            let slot = *slot_of.entry(key).or_insert_with(|| {
                touched.push((key, Vec::new()));
                touched.len() - 1
            });
            touched[slot].1.push(i as u32);
        }

        // Per call: its input arrays, which rows pass its FILTER, and (multiset) encoded rows.
        let mut call_arrays: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.calls.len());
        let mut call_masks: Vec<Option<BooleanArray>> = Vec::with_capacity(self.calls.len());
        let mut call_rows: Vec<Option<Rc<EncodedRows>>> = Vec::with_capacity(self.calls.len());
        let mut call_floats: Vec<Option<Float64Array>> = Vec::with_capacity(self.calls.len());
        let mut call_integers: Vec<Option<Int64Array>> = Vec::with_capacity(self.calls.len());
        for (index, call) in self.calls.iter().enumerate() {
            // Calls with the same arguments (or FILTER) as an earlier call share its arrays,
            // encoded rows (or mask): e.g. `count(DISTINCT x) FILTER (..)` over several ranges.
            let shared = self.shared_inputs[index];
            let arrays = match shared {
                Some(earlier) => call_arrays[earlier].clone(),
                None => evaluate_all(&self.call_inputs[index], &changes.data)?,
            };
            let mask = match (&call.filter, self.shared_filters[index]) {
                (Some(_), Some(earlier)) => call_masks[earlier].clone(),
                (Some(filter), None) => Some(evaluate_predicate(filter, &changes.data)?),
                (None, _) => None,
            };
            let encoded = match self.modes[index] {
                Mode::Multiset
                | Mode::Extreme { .. }
                | Mode::AppendExtreme { .. }
                | Mode::DistinctCount
                | Mode::DistinctSet { .. } => {
                    match shared.and_then(|earlier: usize| call_rows[earlier].clone()) {
                        Some(rows) => Some(rows),
                        None => Some(Rc::new(self.call_codecs[index].encode(&arrays, rows)?)),
                    }
                }
                Mode::Retractable
                | Mode::FloatSum { .. }
                | Mode::Count
                | Mode::IntegerSum
                | Mode::DistinctMember { .. } => None,
            };
            call_integers.push(match self.modes[index] {
                Mode::IntegerSum => Some(
                    arrays[0]
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .ok_or_else(|| {
                            RuntimeError::Internal("integer sum argument is not a bigint".into())
                        })?
                        .clone(),
                ),
                _ => None,
            });
            call_floats.push(match self.modes[index] {
                Mode::FloatSum { .. } => {
                    let array = cast_to(arrays[0].clone(), &DataType::Float64)?;
                    let floats = array
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .ok_or_else(|| {
                            RuntimeError::Internal("float sum argument is not a double".into())
                        })?
                        .clone();
                    Some(floats)
                }
                _ => None,
            });
            call_arrays.push(arrays);
            call_masks.push(mask);
            call_rows.push(encoded);
        }

        let global = self.is_global();
        // Previous rows of groups whose output changed or that disappeared; the groups
        // evaluated (index into `touched`), in the order of `columns`.
        let mut retractions: Vec<(u32, Box<[u8]>)> = Vec::new();
        let mut evaluated: Vec<u32> = Vec::new();
        let mut columns = self.output_columns();
        self.groups.load(touched.iter().map(|(key, _)| *key))?;
        let mut selected: Vec<u32> = Vec::new();
        for (group_index, (key, indices)) in touched.iter().enumerate() {
            if self.groups.get(key).is_none() {
                let group = self.groups.context().new_group()?;
                self.groups.insert(Box::from(*key), group);
            }
            let group = self.groups.get_mut(key).ok_or_else(|| {
                RuntimeError::Internal("aggregate group missing after insertion".into())
            })?;
            for &i in indices {
                group.rows += changes.weights.value(i as usize);
            }
            for (call, state) in group.calls.iter_mut().enumerate() {
                if matches!(state, CallState::Shared) {
                    continue;
                }
                selected.clear();
                match &call_masks[call] {
                    Some(mask) => selected.extend(
                        indices
                            .iter()
                            .copied()
                            .filter(|&i| mask.is_valid(i as usize) && mask.value(i as usize)),
                    ),
                    None => selected.extend_from_slice(indices),
                };
                match state {
                    CallState::Count(count) => {
                        for (_, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            *count += weight;
                        }
                    }
                    CallState::IntegerSum { sum, count } => {
                        let integers = call_integers[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("integer sum without its argument".into())
                        })?;
                        for (i, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            *sum = sum.wrapping_add(integers.value(i).wrapping_mul(weight));
                            *count += weight;
                        }
                    }
                    CallState::Retractable(accumulator) => {
                        let selected_weights: arrow::array::Int64Array = selected
                            .iter()
                            .map(|&i| changes.weights.value(i as usize))
                            .collect::<Vec<_>>()
                            .into();
                        let (positive, negative) = expand_by_weight(&selected_weights);
                        let to_input = |local: Vec<u32>| -> UInt32Array {
                            local
                                .into_iter()
                                .map(|j| selected[j as usize])
                                .collect::<Vec<_>>()
                                .into()
                        };
                        if !positive.is_empty() {
                            let arrays = take_columns(&call_arrays[call], &to_input(positive))?;
                            accumulator.update_batch(&arrays)?;
                        }
                        if !negative.is_empty() {
                            let arrays = take_columns(&call_arrays[call], &to_input(negative))?;
                            accumulator.retract_batch(&arrays)?;
                        }
                    }
                    CallState::Multiset(set) => {
                        let encoded = call_rows[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("multiset call without encoded rows".into())
                        })?;
                        for &i in &selected {
                            set.add(encoded.row(i as usize), changes.weights.value(i as usize));
                        }
                    }
                    CallState::Distinct { values, count } => {
                        let encoded = call_rows[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("distinct call without encoded rows".into())
                        })?;
                        // count(DISTINCT ..) ignores rows with a NULL.
                        for (i, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            let row = encoded.row(i);
                            let after = values.add(row, weight);
                            let before = after - weight;
                            *count += i64::from(after > 0) - i64::from(before > 0);
                        }
                    }
                    CallState::DistinctSet { values, counts } => {
                        let encoded = call_rows[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("distinct call without encoded rows".into())
                        })?;
                        let members = self.distinct_members.get(call).ok_or_else(|| {
                            RuntimeError::Internal("shared distinct set without members".into())
                        })?;
                        // Every row of the group: each member applies its own FILTER.
                        for (i, weight) in
                            rows_without_nulls(indices, &call_arrays[call], &changes.weights)
                        {
                            if weight < 0 {
                                return Err(RuntimeError::Internal(
                                    "distinct count over an append-only input received a \
                                     retraction"
                                        .into(),
                                ));
                            }
                            let mut bits = 0_i64;
                            for (slot, &member) in members.iter().enumerate() {
                                let passes = call_masks[member]
                                    .as_ref()
                                    .is_none_or(|mask| mask.is_valid(i) && mask.value(i));
                                bits |= i64::from(passes) << slot;
                            }
                            if bits == 0 || weight == 0 {
                                continue;
                            }
                            let row = encoded.row(i);
                            let old = values.weight(row);
                            let mut added = bits & !old;
                            if added == 0 {
                                continue;
                            }
                            values.add(row, added);
                            while added != 0 {
                                if let Some(count) = counts.get_mut(added.trailing_zeros() as usize)
                                {
                                    *count += 1;
                                }
                                added &= added - 1;
                            }
                        }
                    }
                    CallState::Shared => {}
                    CallState::FloatSum { sum, count } => {
                        let floats = call_floats[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("float sum without its argument".into())
                        })?;
                        for (i, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            sum.add(floats.value(i), weight)?;
                            *count += weight;
                        }
                    }
                    CallState::Extreme(value) => {
                        let encoded = call_rows[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("extreme call without encoded rows".into())
                        })?;
                        let max = matches!(self.modes[call], Mode::AppendExtreme { max: true });
                        for (i, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            if weight < 0 {
                                return Err(RuntimeError::Internal(
                                    "min/max over an append-only input received a retraction"
                                        .into(),
                                ));
                            }
                            let row = encoded.row(i);
                            let better = match value.as_deref() {
                                None => true,
                                Some(current) if max => row > current,
                                Some(current) => row < current,
                            };
                            if better {
                                *value = Some(Box::from(row));
                            }
                        }
                    }
                    CallState::Ordered(values) => {
                        let encoded = call_rows[call].as_ref().ok_or_else(|| {
                            RuntimeError::Internal("ordered call without encoded rows".into())
                        })?;
                        // min/max ignore NULLs.
                        for (i, weight) in
                            rows_without_nulls(&selected, &call_arrays[call], &changes.weights)
                        {
                            let row = encoded.row(i);
                            match values.get_mut(row) {
                                Some(entry) => {
                                    *entry += weight;
                                    if *entry == 0 {
                                        values.remove(row);
                                    }
                                }
                                None => {
                                    values.insert(Box::from(row), weight);
                                }
                            }
                        }
                    }
                }
            }
            if self.deferred {
                if group.rows == 0 && !global {
                    self.groups.remove(key);
                }
                continue;
            }
            if group.rows == 0 && !global {
                if let Some(old) = group.output.take() {
                    retractions.push((group_index as u32, old));
                }
                self.groups.remove(key);
            } else {
                Self::evaluate_group(
                    &self.calls,
                    &self.call_codecs,
                    &self.modes,
                    group,
                    &mut columns,
                )?;
                evaluated.push(group_index as u32);
            }
        }
        if self.deferred {
            self.groups.settle()?;
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        // Encode the new values of all evaluated groups at once; a group whose encoding
        // differs from the one it keeps emits a retraction of the old row and the new row.
        let new = columns.finish(&self.call_codecs, &self.output_types)?;
        let encoded = self.output_codec.encode(&new, evaluated.len())?;
        let mut insertions: Vec<(u32, u32)> = Vec::with_capacity(evaluated.len());
        for (row, &group_index) in evaluated.iter().enumerate() {
            let (key, _) = touched[group_index as usize];
            let group = self.groups.get_mut(key).ok_or_else(|| {
                RuntimeError::Internal("aggregate group missing after evaluation".into())
            })?;
            let values = encoded.row(row);
            match group.output.as_mut() {
                Some(old) if old.as_ref() == values => continue,
                Some(old) => {
                    retractions.push((group_index, std::mem::replace(old, Box::from(values))));
                }
                None => group.output = Some(Box::from(values)),
            }
            insertions.push((group_index, row as u32));
        }
        self.groups.settle()?;
        let keys: Vec<&[u8]> = touched.iter().map(|(key, _)| *key).collect();
        self.build_output(&keys, retractions, insertions, &new)
    }
}
