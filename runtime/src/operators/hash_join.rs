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

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::{RowCodec, StateReader, StateWriter, ZSet};

use crate::checkpoint::{get_zset, put_zset};

use super::{evaluate_all, evaluate_predicate, Operator};
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
    state: [HashMap<Box<[u8]>, ZSet>; 2],
    schema: SchemaRef,
}

/// A row of one side, chosen for output, with its weight.
type SideRow = (usize, Box<[u8]>);

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
        Ok(Self {
            kind,
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
            state: [HashMap::new(), HashMap::new()],
            schema,
        })
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
}

impl Operator for HashJoin {
    fn partitioning(&self) -> super::Partitioning {
        super::keyed_by(self.keys.to_vec(), &self.key_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        let [left_schema, right_schema] = self.input_schemas.clone();
        let [left_keys, right_keys] = self.keys.clone();
        Ok(Box::new(Self::new(
            self.kind,
            left_schema,
            right_schema,
            left_keys,
            right_keys,
            self.filter.clone(),
            self.nulls_equal,
            self.schema.clone(),
        )?))
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
        text
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state_rows(&self) -> usize {
        self.state
            .iter()
            .flat_map(|s| s.values())
            .map(|set| set.distinct_len())
            .sum()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        for side in &self.state {
            out.put_u64(side.len() as u64);
            for (key, rows) in side {
                out.put_bytes(key);
                put_zset(out, rows);
            }
        }
        Ok(())
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        for side in self.state.iter_mut() {
            side.clear();
            for _ in 0..input.len_prefix()? {
                let key = Box::from(input.bytes()?);
                side.insert(key, get_zset(input)?);
            }
        }
        Ok(())
    }

    fn process(&mut self, side: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let other = 1 - side;
        let rows = changes.num_rows();
        let key_columns = evaluate_all(&self.keys[side], &changes.data)?;
        let keys = self.key_codec.encode(&key_columns, rows)?;
        let has_null_key: Vec<bool> = (0..rows)
            .map(|i| !self.nulls_equal && key_columns.iter().any(|c| c.is_null(i)))
            .collect();
        let encoded = self.row_codecs[side].encode(changes.data.columns(), rows)?;

        let mut touched: Vec<&[u8]> = Vec::new();
        {
            let mut seen = hashbrown::HashSet::new();
            for (i, null_key) in has_null_key.iter().enumerate() {
                if !null_key && seen.insert(keys.row(i)) {
                    touched.push(keys.row(i));
                }
            }
        }
        let mut side_delta: HashMap<SideRow, i64> = HashMap::new();
        self.side_output_for(&touched, -1, &mut side_delta)?;

        // Matched pairs: delta rows joined with the other side's current rows.
        let mut delta_index: Vec<u32> = Vec::new();
        let mut other_rows: Vec<&[u8]> = Vec::new();
        let mut pair_weights: Vec<i64> = Vec::new();
        if self.kind.emits_pairs() {
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
        let mut outputs = Vec::new();
        if !delta_index.is_empty() {
            let pairs = delta_index.len();
            let own = take_columns(changes.data.columns(), &UInt32Array::from(delta_index))?;
            let others = self.row_codecs[other].decode(other_rows)?;
            let batch = if side == 0 {
                self.combine(own, others, pairs)?
            } else {
                self.combine(others, own, pairs)?
            };
            let data = batch_with_row_count(&self.schema, batch.columns().to_vec(), pairs)?;
            let mut matched = ChangeBatch::new(data, pair_weights.into())?;
            if let Some(filter) = &self.filter {
                let mask: BooleanArray = evaluate_predicate(filter, &batch)?;
                matched = matched.filter(&mask)?;
            }
            outputs.push(matched);
        }

        // Apply the delta to this side's state; rows with NULL keys pass straight through
        // when this side's unmatched rows are output.
        let mut passthrough: Vec<(SideRow, i64)> = Vec::new();
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
            let set = self.state[side].entry(Box::from(key)).or_default();
            set.add(encoded.row(i), weight);
            if set.is_empty() {
                self.state[side].remove(key);
            }
        }

        self.side_output_for(&touched, 1, &mut side_delta)?;
        let mut side_rows: Vec<(SideRow, i64)> =
            side_delta.into_iter().filter(|(_, w)| *w != 0).collect();
        side_rows.extend(passthrough);
        if !side_rows.is_empty() {
            outputs.push(self.side_rows_output(side_rows)?);
        }
        ChangeBatch::concat(&self.schema, &outputs)
    }
}
