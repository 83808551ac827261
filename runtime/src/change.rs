//! Change batches: Arrow rows with a signed weight each.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, filter, filter_record_batch, prep_null_mask_filter, take};
use arrow::datatypes::SchemaRef;
use hashbrown::HashMap;
use sluice_storage::codec::batch_with_row_count;
use sluice_storage::RowCodec;

use crate::error::Result;

/// A batch of changes: `data` row `i` changes with multiplicity `weights[i]`.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    pub data: RecordBatch,
    pub weights: Int64Array,
}

impl ChangeBatch {
    /// Rows with explicit weights (lengths must agree).
    pub fn new(data: RecordBatch, weights: Int64Array) -> Result<Self> {
        if data.num_rows() != weights.len() {
            return Err(crate::RuntimeError::Internal(format!(
                "change batch has {} rows but {} weights",
                data.num_rows(),
                weights.len()
            )));
        }
        Ok(Self { data, weights })
    }

    /// Every row inserted once.
    pub fn inserts(data: RecordBatch) -> Self {
        let weights = Int64Array::from(vec![1; data.num_rows()]);
        Self { data, weights }
    }

    /// Every row deleted once.
    pub fn deletes(data: RecordBatch) -> Self {
        let weights = Int64Array::from(vec![-1; data.num_rows()]);
        Self { data, weights }
    }

    /// No changes.
    pub fn empty(schema: SchemaRef) -> Self {
        Self {
            data: RecordBatch::new_empty(schema),
            weights: Int64Array::from(Vec::<i64>::new()),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.data.schema()
    }

    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.data.num_rows() == 0
    }

    /// The same changes with every weight negated.
    pub fn negate(&self) -> Self {
        let weights: Int64Array = self.weights.iter().map(|w| w.map(|w| -w)).collect();
        Self {
            data: self.data.clone(),
            weights,
        }
    }

    /// Relabel the columns with `schema` (same types; names or nullability may differ).
    pub fn with_schema(self, schema: SchemaRef) -> Result<Self> {
        let data =
            batch_with_row_count(&schema, self.data.columns().to_vec(), self.data.num_rows())?;
        Ok(Self {
            data,
            weights: self.weights,
        })
    }

    /// Keep rows where `mask` is true (NULL counts as false).
    pub fn filter(&self, mask: &BooleanArray) -> Result<Self> {
        let mask = if mask.null_count() > 0 {
            prep_null_mask_filter(mask)
        } else {
            mask.clone()
        };
        let data = if self.data.num_columns() == 0 {
            let kept = mask.true_count();
            batch_with_row_count(&self.data.schema(), vec![], kept)?
        } else {
            filter_record_batch(&self.data, &mask)?
        };
        let weights = filter(&self.weights, &mask)?;
        Ok(Self {
            data,
            weights: as_weights(weights)?,
        })
    }

    /// Rows at `indices`, in that order.
    /// `length` rows from `offset` (zero-copy).
    pub fn slice(&self, offset: usize, length: usize) -> Self {
        Self {
            data: self.data.slice(offset, length),
            weights: self.weights.slice(offset, length),
        }
    }

    /// Whether every row is an insertion (no retraction that consolidation could cancel).
    pub fn is_insert_only(&self) -> bool {
        self.weights.values().iter().all(|w| *w > 0)
    }

    pub fn take(&self, indices: &UInt32Array) -> Result<Self> {
        let columns = self
            .data
            .columns()
            .iter()
            .map(|column| take(column.as_ref(), indices, None))
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let data = batch_with_row_count(&self.data.schema(), columns, indices.len())?;
        let weights = take(&self.weights, indices, None)?;
        Ok(Self {
            data,
            weights: as_weights(weights)?,
        })
    }

    /// Concatenate batches of one schema.
    pub fn concat(schema: &SchemaRef, batches: &[ChangeBatch]) -> Result<Self> {
        let batches: Vec<&ChangeBatch> = batches.iter().filter(|b| !b.is_empty()).collect();
        match batches.len() {
            0 => return Ok(Self::empty(schema.clone())),
            1 => return batches[0].clone().with_schema(schema.clone()),
            _ => {}
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let data = if schema.fields().is_empty() {
            batch_with_row_count(schema, vec![], rows)?
        } else {
            let relabeled = batches
                .iter()
                .map(|b| batch_with_row_count(schema, b.data.columns().to_vec(), b.num_rows()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let schema = relabeled[0].schema();
            concat_batches(&schema, &relabeled)?
        };
        let weights: Int64Array = batches
            .iter()
            .flat_map(|b| b.weights.values().iter().copied())
            .collect::<Vec<i64>>()
            .into();
        Ok(Self { data, weights })
    }

    /// Merge equal rows (summing weights) and drop rows whose weight is 0.
    /// Output order is the order of first occurrence.
    pub fn consolidate(&self, codec: &RowCodec) -> Result<Self> {
        if self.is_empty() {
            return Ok(self.clone());
        }
        let rows = codec.encode(self.data.columns(), self.num_rows())?;
        let mut position: HashMap<&[u8], usize> = HashMap::with_capacity(rows.len());
        let mut firsts: Vec<u32> = Vec::new();
        let mut sums: Vec<i64> = Vec::new();
        for i in 0..rows.len() {
            let weight = self.weights.value(i);
            match position.get(rows.row(i)) {
                Some(&slot) => sums[slot] += weight,
                None => {
                    position.insert(rows.row(i), firsts.len());
                    firsts.push(i as u32);
                    sums.push(weight);
                }
            }
        }
        let (indices, weights): (Vec<u32>, Vec<i64>) = firsts
            .into_iter()
            .zip(sums)
            .filter(|(_, weight)| *weight != 0)
            .unzip();
        let taken = self.take(&UInt32Array::from(indices))?;
        Ok(Self {
            data: taken.data,
            weights: Int64Array::from(weights),
        })
    }

    /// Expand to plain rows: each row repeated `weight` times. Fails on negative weights.
    pub fn to_positive_rows(&self) -> Result<RecordBatch> {
        let mut indices = Vec::with_capacity(self.num_rows());
        for (i, weight) in self.weights.values().iter().enumerate() {
            if *weight < 0 {
                return Err(crate::RuntimeError::Internal(
                    "negative multiplicity in a relation".into(),
                ));
            }
            for _ in 0..*weight {
                indices.push(i as u32);
            }
        }
        Ok(self.take(&UInt32Array::from(indices))?.data)
    }
}

fn as_weights(array: ArrayRef) -> Result<Int64Array> {
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| crate::RuntimeError::Internal("weights are not Int64".into()))
}

/// Cast each column to the type of the matching field of `schema` where they differ.
pub fn cast_to_schema(columns: &[ArrayRef], schema: &SchemaRef) -> Result<Vec<ArrayRef>> {
    columns
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                Ok(arrow::compute::cast(column, field.data_type())?)
            }
        })
        .collect()
}

/// Indices `0..n` repeated by `|weight|`, for feeding rows to accumulators once per unit of
/// weight. Returns (indices for positive weights, indices for negative weights).
pub fn expand_by_weight(weights: &Int64Array) -> (Vec<u32>, Vec<u32>) {
    let mut positive = Vec::new();
    let mut negative = Vec::new();
    for (i, weight) in weights.values().iter().enumerate() {
        let target = if *weight > 0 {
            &mut positive
        } else {
            &mut negative
        };
        for _ in 0..weight.unsigned_abs() {
            target.push(i as u32);
        }
    }
    (positive, negative)
}

/// Take `indices` from every column.
pub fn take_columns(columns: &[ArrayRef], indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    Ok(columns
        .iter()
        .map(|column| take(column.as_ref(), indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Shorthand used by tests and sources.
pub fn batch_of(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[allow(dead_code)]
fn _assert_send(_: Arc<ChangeBatch>) {}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn consolidate_sums_weights_and_drops_zeros() {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let data = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec!["a", "b", "a", "b", "c"]))],
        )
        .unwrap();
        let changes = ChangeBatch::new(data, Int64Array::from(vec![1, 1, 2, -1, -1])).unwrap();
        let codec = RowCodec::for_schema(&schema).unwrap();
        let merged = changes.consolidate(&codec).unwrap();
        assert_eq!(merged.num_rows(), 2);
        assert_eq!(merged.weights.values().to_vec(), vec![3, -1]);
    }
}
