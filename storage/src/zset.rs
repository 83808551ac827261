//! A multiset of encoded rows with signed weights (a Z-set).
//!
//! Invariant: no entry has weight 0 (entries that reach 0 are removed). A stored relation
//! (table without key, materialized view) only ever holds positive weights; operator-internal
//! sets may transiently hold negative ones if inputs arrive out of order.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use hashbrown::HashMap;

use crate::codec::RowCodec;
use crate::error::Result;
use crate::state::{StateReader, StateWriter};

/// Rows (as memcomparable bytes) with their multiplicities.
#[derive(Debug, Default, Clone)]
pub struct ZSet {
    rows: HashMap<Box<[u8]>, i64>,
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Write the set: count, then (row, weight) pairs (checkpoints and spilled state).
    pub fn write_to(&self, out: &mut StateWriter) {
        out.put_u64(self.rows.len() as u64);
        for (row, weight) in &self.rows {
            out.put_bytes(row);
            out.put_i64(*weight);
        }
    }

    /// Read a set written by [`ZSet::write_to`].
    pub fn read_from(input: &mut StateReader) -> Result<Self> {
        let mut set = ZSet::new();
        for _ in 0..input.len_prefix()? {
            let row = input.bytes()?;
            let weight = input.i64()?;
            set.add(row, weight);
        }
        Ok(set)
    }

    /// Add `weight` to `row`; returns the new weight.
    pub fn add(&mut self, row: &[u8], weight: i64) -> i64 {
        if weight == 0 {
            return self.weight(row);
        }
        match self.rows.get_mut(row) {
            Some(current) => {
                *current += weight;
                let new = *current;
                if new == 0 {
                    self.rows.remove(row);
                }
                new
            }
            None => {
                self.rows.insert(row.into(), weight);
                weight
            }
        }
    }

    /// The weight of `row` (0 when absent).
    pub fn weight(&self, row: &[u8]) -> i64 {
        self.rows.get(row).copied().unwrap_or(0)
    }

    /// Number of distinct rows.
    pub fn distinct_len(&self) -> usize {
        self.rows.len()
    }

    /// Sum of all weights (the row count of a relation with positive weights).
    pub fn total_weight(&self) -> i64 {
        self.rows.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Distinct rows with their weights, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        self.rows
            .iter()
            .map(|(row, weight)| (row.as_ref(), *weight))
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Materialize as a batch, repeating each row by its (positive) weight.
    pub fn to_batch(&self, codec: &RowCodec, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut expanded: Vec<&[u8]> = Vec::with_capacity(self.rows.len());
        for (row, weight) in &self.rows {
            for _ in 0..(*weight).max(0) {
                expanded.push(row);
            }
        }
        codec.decode_batch(schema, expanded)
    }
}
