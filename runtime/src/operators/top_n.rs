//! Top-N: per partition, the first `limit` rows (after skipping `offset`) in ORDER BY order,
//! maintained under inserts and deletes. It serves `ORDER BY .. LIMIT n [OFFSET m]` (one
//! partition, no extra column) and `ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..)` (every
//! row of each partition, with its row number appended as a column).
//!
//! State: per partition, an ordered multiset keyed by (sort key, row), where the sort key is
//! encoded with the ORDER BY's directions and NULL placement, so byte order is the query's
//! order. Rows that tie on the sort key are ordered by their encoded bytes, which makes the
//! choice among ties (and their row numbers) deterministic. For each batch, the selected rows
//! of every touched partition are read before and after applying it and the difference is
//! emitted. With row numbers, a change shifts the numbers of the rows after it, so its cost
//! grows with the partition's size.
//!
//! Over an append-only input (the planner proves it: a stream source through filters,
//! projections, inner joins, closed windows), a row that falls out of the first
//! `offset + limit` can never come back, since nothing before it is ever deleted: the
//! operator then keeps only those rows per partition (Flink's append-only rank), so its state
//! is bounded by partitions × N instead of growing with the input. A retraction arriving
//! there would be a planner bug and is reported as an internal error.
//!
//! Partitions live in a [`SpillMap`]: over the operator memory budget, the least recently
//! used partitions go to disk and come back when a batch touches them.

use std::sync::Arc;

use arrow::array::{ArrayRef, UInt64Array};
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::{RowCodec, SpillMap, StateReader, StateWriter};

use super::ranked::RankedRows;
use super::{evaluate_all, Operator};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

/// A selected row: its bytes and, with row numbers, its 1-based position.
type Selected = (Box<[u8]>, u64);

pub struct TopN {
    partition: Vec<Arc<dyn PhysicalExpr>>,
    partition_codec: RowCodec,
    sort: Vec<PhysicalSortExpr>,
    sort_codec: RowCodec,
    row_codec: RowCodec,
    offset: usize,
    limit: Option<usize>,
    row_number: bool,
    /// The input is insert-only: keep only the first `offset + limit` rows per partition.
    append_only_input: bool,
    partitions: SpillMap<RankedRows>,
    input_schema: SchemaRef,
    schema: SchemaRef,
}

impl TopN {
    /// `ORDER BY sort LIMIT limit OFFSET offset` over the whole input.
    pub fn new(
        input_schema: &SchemaRef,
        sort: Vec<PhysicalSortExpr>,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Self> {
        Self::partitioned(
            input_schema,
            vec![],
            sort,
            offset,
            limit,
            false,
            input_schema.clone(),
        )
    }

    /// The general form; with `row_number`, `schema` is the input's columns plus a UInt64.
    pub fn partitioned(
        input_schema: &SchemaRef,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        sort: Vec<PhysicalSortExpr>,
        offset: usize,
        limit: Option<usize>,
        row_number: bool,
        schema: SchemaRef,
    ) -> Result<Self> {
        let sort_fields = sort
            .iter()
            .map(|s| Ok((s.expr.data_type(input_schema)?, s.options)))
            .collect::<Result<Vec<_>>>()?;
        let partition_types = partition
            .iter()
            .map(|e| Ok(e.data_type(input_schema)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            partition_codec: RowCodec::new(partition_types)?,
            sort_codec: RowCodec::new_ordered(sort_fields)?,
            row_codec: RowCodec::for_schema(input_schema)?,
            partition,
            sort,
            offset,
            limit,
            row_number,
            append_only_input: false,
            partitions: SpillMap::new(),
            input_schema: input_schema.clone(),
            schema,
        })
    }

    /// Declare the input insert-only (see the module documentation): with a limit, the
    /// operator keeps only the rows it could select.
    pub fn append_only_input(mut self, append_only: bool) -> Self {
        self.append_only_input = append_only;
        self
    }

    /// How many rows per partition are kept, if bounded.
    fn kept_rows(&self) -> Option<u64> {
        let limit = self.limit.filter(|_| self.append_only_input)?;
        Some(self.offset as u64 + limit as u64)
    }

    /// Drop the rows of `partition` after the first `keep` (by weight).
    fn truncate(&mut self, partition: &[u8], keep: u64) {
        if let Some(rows) = self.partitions.get_mut(partition) {
            rows.truncate(keep);
        }
    }

    /// The selected rows of one partition, in order.
    fn selected(&self, partition: &[u8]) -> Vec<Selected> {
        let Some(rows) = self.partitions.get(partition) else {
            return Vec::new();
        };
        let first = self.offset as u64;
        let end = self.limit.map(|l| first + l as u64).unwrap_or(u64::MAX);
        let mut position = 0u64;
        let mut out = Vec::new();
        for (_, row, weight) in rows.iter() {
            if position >= end {
                break;
            }
            for _ in 0..weight.max(0) {
                if position >= first && position < end {
                    out.push((
                        Box::from(row),
                        if self.row_number { position + 1 } else { 0 },
                    ));
                }
                position += 1;
                if position >= end {
                    break;
                }
            }
        }
        out
    }
}

impl Operator for TopN {
    fn partitioning(&self) -> super::Partitioning {
        super::keyed_by(vec![self.partition.clone()], &self.partition_codec)
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(
            Self::partitioned(
                &self.input_schema,
                self.partition.clone(),
                self.sort.clone(),
                self.offset,
                self.limit,
                self.row_number,
                self.schema.clone(),
            )?
            .append_only_input(self.append_only_input),
        ))
    }

    fn name(&self) -> &'static str {
        "TopN"
    }

    fn describe(&self) -> String {
        let order: Vec<String> = self.sort.iter().map(|s| s.to_string()).collect();
        let partition: Vec<String> = self.partition.iter().map(|e| e.to_string()).collect();
        format!(
            "partition: [{}], order: [{}], offset: {}, limit: {}, row number: {}{}",
            partition.join(", "),
            order.join(", "),
            self.offset,
            self.limit
                .map(|l| l.to_string())
                .unwrap_or_else(|| "none".into()),
            self.row_number,
            match self.kept_rows() {
                Some(kept) => format!(", append-only input: keeps {kept} rows per partition"),
                None => String::new(),
            }
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state_rows(&self) -> usize {
        self.partitions.rows()
    }

    fn spilled_entries(&self) -> usize {
        self.partitions.spilled_len()
    }

    /// The partitions (spilled ones included): count, then per partition its key and rows.
    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        Ok(self.partitions.snapshot(out)?)
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        Ok(self.partitions.restore(input)?)
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        if self.append_only_input && !changes.is_insert_only() {
            return Err(RuntimeError::Internal(
                "top-N over an append-only input received a retraction".into(),
            ));
        }
        let count = changes.num_rows();
        let partition_columns = evaluate_all(&self.partition, &changes.data)?;
        let partitions = self.partition_codec.encode(&partition_columns, count)?;
        let sort_exprs: Vec<_> = self.sort.iter().map(|s| Arc::clone(&s.expr)).collect();
        let keys = evaluate_all(&sort_exprs, &changes.data)?;
        let keys = self.sort_codec.encode(&keys, count)?;

        let mut touched: Vec<Box<[u8]>> = Vec::new();
        {
            let mut seen = hashbrown::HashSet::new();
            for i in 0..count {
                if seen.insert(partitions.row(i)) {
                    touched.push(Box::from(partitions.row(i)));
                }
            }
        }
        self.partitions.load(touched.iter().map(|p| p.as_ref()))?;
        let mut delta: HashMap<Selected, i64> = HashMap::new();
        for partition in &touched {
            for selected in self.selected(partition) {
                *delta.entry(selected).or_insert(0) -= 1;
            }
        }
        let keep = self.kept_rows();
        // Over an append-only input, a row whose sort key is past a full partition's last row
        // can never be selected (rows only ever join, so the cut only moves up): skip it
        // before encoding the whole row. (Measured on Nexmark q9 and q19 at 10 M events: no
        // change outside the run-to-run spread, see docs/benchmarks.md.)
        let candidates: Vec<u32> = match keep {
            Some(keep) => (0..count)
                .filter(|&i| {
                    self.partitions
                        .get(partitions.row(i))
                        .is_none_or(|ordered| !ordered.beyond_key(keys.row(i), keep))
                })
                .map(|i| i as u32)
                .collect(),
            None => (0..count as u32).collect(),
        };
        let rows = if candidates.len() == count {
            self.row_codec.encode(changes.data.columns(), count)?
        } else {
            let indices = arrow::array::UInt32Array::from(candidates.clone());
            let columns = crate::change::take_columns(changes.data.columns(), &indices)?;
            self.row_codec.encode(&columns, candidates.len())?
        };
        for (at, &i) in candidates.iter().enumerate() {
            let i = i as usize;
            let ordered = self.partitions.entry(partitions.row(i));
            if keep.is_some_and(|keep| ordered.beyond(keys.row(i), rows.row(at), keep)) {
                continue;
            }
            ordered.add(keys.row(i), rows.row(at), changes.weights.value(i));
            if ordered.is_empty() {
                self.partitions.remove(partitions.row(i));
            }
        }
        if let Some(keep) = keep {
            for partition in &touched {
                self.truncate(partition, keep);
            }
        }
        for partition in &touched {
            for selected in self.selected(partition) {
                *delta.entry(selected).or_insert(0) += 1;
            }
        }
        self.partitions.settle()?;
        let delta: Vec<(Selected, i64)> = delta.into_iter().filter(|(_, w)| *w != 0).collect();
        if delta.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let mut columns: Vec<ArrayRef> = self
            .row_codec
            .decode(delta.iter().map(|((row, _), _)| row.as_ref()))?;
        if self.row_number {
            let numbers: UInt64Array = delta.iter().map(|((_, number), _)| *number).collect();
            columns.push(Arc::new(numbers));
        }
        let columns = crate::change::cast_to_schema(&columns, &self.schema)?;
        let data = batch_with_row_count(&self.schema, columns, delta.len())?;
        let weights = delta.iter().map(|(_, w)| *w).collect::<Vec<_>>().into();
        ChangeBatch::new(data, weights)
    }
}
