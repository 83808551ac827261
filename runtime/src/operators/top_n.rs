//! Top-N: the first `limit` rows (after skipping `offset`) of the input in ORDER BY order,
//! maintained under inserts and deletes (`ORDER BY .. LIMIT n [OFFSET m]` in a view).
//!
//! State: an ordered multiset keyed by (sort key, row), where the sort key is encoded with the
//! ORDER BY's directions and NULL placement, so byte order is the query's order. Rows that
//! tie on the sort key are ordered by their encoded bytes, which makes the choice among ties
//! deterministic. For each batch the top rows are read before and after applying it and the
//! difference is emitted; cost O((offset + limit) + changes x log n).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalSortExpr;
use hashbrown::HashMap;
use sluice_storage::RowCodec;

use super::{evaluate_all, Operator};
use crate::change::ChangeBatch;
use crate::error::Result;

/// (sort key, row) -> multiplicity; byte order of the key pair is the output order.
type OrderedRows = BTreeMap<(Box<[u8]>, Box<[u8]>), i64>;

pub struct TopN {
    sort: Vec<PhysicalSortExpr>,
    sort_codec: RowCodec,
    row_codec: RowCodec,
    offset: usize,
    limit: Option<usize>,
    rows: OrderedRows,
    schema: SchemaRef,
}

impl TopN {
    pub fn new(
        input_schema: &SchemaRef,
        sort: Vec<PhysicalSortExpr>,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Self> {
        let fields = sort
            .iter()
            .map(|s| Ok((s.expr.data_type(input_schema)?, s.options)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            sort_codec: RowCodec::new_ordered(fields)?,
            row_codec: RowCodec::for_schema(input_schema)?,
            sort,
            offset,
            limit,
            rows: BTreeMap::new(),
            schema: input_schema.clone(),
        })
    }

    /// The selected rows with their multiplicities, in order.
    fn selected(&self) -> Vec<(Box<[u8]>, i64)> {
        let mut skip = self.offset as i64;
        let mut take = self.limit.map(|l| l as i64).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        for ((_, row), &weight) in &self.rows {
            if take <= 0 {
                break;
            }
            let mut weight = weight.max(0);
            let skipped = weight.min(skip);
            skip -= skipped;
            weight -= skipped;
            let taken = weight.min(take);
            take -= taken;
            if taken > 0 {
                out.push((row.clone(), taken));
            }
        }
        out
    }
}

impl Operator for TopN {
    fn name(&self) -> &'static str {
        "TopN"
    }

    fn describe(&self) -> String {
        let order: Vec<String> = self.sort.iter().map(|s| s.to_string()).collect();
        format!(
            "order: [{}], offset: {}, limit: {}",
            order.join(", "),
            self.offset,
            self.limit
                .map(|l| l.to_string())
                .unwrap_or_else(|| "none".into())
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn state_rows(&self) -> usize {
        self.rows.len()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let before = self.selected();
        let sort_exprs: Vec<_> = self.sort.iter().map(|s| Arc::clone(&s.expr)).collect();
        let keys = evaluate_all(&sort_exprs, &changes.data)?;
        let keys = self.sort_codec.encode(&keys, changes.num_rows())?;
        let rows = self
            .row_codec
            .encode(changes.data.columns(), changes.num_rows())?;
        for i in 0..changes.num_rows() {
            let entry = (Box::from(keys.row(i)), Box::from(rows.row(i)));
            let weight = self.rows.entry(entry.clone()).or_insert(0);
            *weight += changes.weights.value(i);
            if *weight == 0 {
                self.rows.remove(&entry);
            }
        }
        let after = self.selected();
        let mut delta: HashMap<Box<[u8]>, i64> = HashMap::new();
        for (row, weight) in before {
            *delta.entry(row).or_insert(0) -= weight;
        }
        for (row, weight) in after {
            *delta.entry(row).or_insert(0) += weight;
        }
        let delta: Vec<(Box<[u8]>, i64)> = delta.into_iter().filter(|(_, w)| *w != 0).collect();
        if delta.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let data = self
            .row_codec
            .decode_batch(&self.schema, delta.iter().map(|(row, _)| row.as_ref()))?;
        let weights = delta.iter().map(|(_, w)| *w).collect::<Vec<_>>().into();
        ChangeBatch::new(data, weights)
    }
}
