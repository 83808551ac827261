//! Unnest: each input row becomes one row per element of its list column(s) (`UNNEST(arr)`,
//! `CROSS JOIN UNNEST(arr) AS t(x)`, and the window-assigning HOP/CUMULATE functions).
//! Stateless: a row's output depends on that row only, so a retraction of the row retracts
//! exactly the rows it produced.
//!
//! Several list columns unnested together are zipped: row `r` yields `max(len)` rows and
//! shorter lists are padded with NULL (DataFusion's semantics). What a NULL or empty list
//! yields follows DataFusion's [`NullHandling`]: no row (`Drop`); one row with a NULL element
//! for a NULL list (`Preserve`); and also for an empty list (`PreserveAndExpandEmpty`: the
//! left lateral join `LEFT JOIN UNNEST(..) ON TRUE`, where every left row appears).

use arrow::array::{Array, ArrayRef, GenericListArray, Int64Array, OffsetSizeTrait, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::NullHandling;
use sluice_storage::codec::batch_with_row_count;

use super::Operator;
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

/// Where an output column comes from.
#[derive(Clone, Debug)]
pub enum UnnestColumn {
    /// Input column `i`, repeated for every produced row.
    Repeat(usize),
    /// The elements of list column `i`.
    Elements(usize),
}

#[derive(Clone)]
pub struct Unnest {
    columns: Vec<UnnestColumn>,
    null_handling: NullHandling,
    schema: SchemaRef,
}

impl Unnest {
    pub fn new(columns: Vec<UnnestColumn>, null_handling: NullHandling, schema: SchemaRef) -> Self {
        Self {
            columns,
            null_handling,
            schema,
        }
    }
}

/// Per row of a list array: (start offset into the values, length, is_null).
type Spans = Vec<(usize, usize, bool)>;

/// Offsets and validity of a list array, and its values.
fn list_spans(array: &ArrayRef) -> Result<(Spans, ArrayRef)> {
    fn spans<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> (Spans, ArrayRef) {
        let offsets = list.value_offsets();
        let spans = (0..list.len())
            .map(|i| {
                let start = offsets[i].as_usize();
                let end = offsets[i + 1].as_usize();
                if list.is_null(i) {
                    (start, 0, true)
                } else {
                    (start, end - start, false)
                }
            })
            .collect();
        (spans, list.values().clone())
    }
    match array.data_type() {
        DataType::List(_) => Ok(spans(
            array
                .as_any()
                .downcast_ref::<GenericListArray<i32>>()
                .ok_or_else(|| RuntimeError::Internal("list downcast".into()))?,
        )),
        DataType::LargeList(_) => Ok(spans(
            array
                .as_any()
                .downcast_ref::<GenericListArray<i64>>()
                .ok_or_else(|| RuntimeError::Internal("large list downcast".into()))?,
        )),
        other => Err(RuntimeError::Internal(format!(
            "UNNEST of a {other} column is not supported (expected an array)"
        ))),
    }
}

impl Operator for Unnest {
    fn partitioning(&self) -> super::Partitioning {
        super::Partitioning::Any
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }

    fn name(&self) -> &'static str {
        "Unnest"
    }

    fn describe(&self) -> String {
        let lists: Vec<String> = self
            .columns
            .iter()
            .filter_map(|c| match c {
                UnnestColumn::Elements(i) => Some(format!("#{i}")),
                UnnestColumn::Repeat(_) => None,
            })
            .collect();
        let nulls = match self.null_handling {
            NullHandling::Drop => "",
            NullHandling::Preserve => ", NULL list: one NULL row",
            NullHandling::PreserveAndExpandEmpty => ", NULL or empty list: one NULL row",
        };
        format!("lists: [{}]{nulls}", lists.join(", "))
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let rows = changes.num_rows();
        let mut lists = Vec::new();
        for column in &self.columns {
            if let UnnestColumn::Elements(i) = column {
                lists.push((*i, list_spans(changes.data.column(*i))?));
            }
        }
        // Rows produced per input row.
        let counts: Vec<usize> = (0..rows)
            .map(|r| {
                let longest = lists.iter().map(|(_, (s, _))| s[r].1).max().unwrap_or(0);
                let one_null_row = longest == 0
                    && match self.null_handling {
                        NullHandling::Drop => false,
                        NullHandling::Preserve => lists.iter().all(|(_, (s, _))| s[r].2),
                        NullHandling::PreserveAndExpandEmpty => true,
                    };
                if one_null_row {
                    1
                } else {
                    longest
                }
            })
            .collect();
        let total: usize = counts.iter().sum();
        let mut repeat = Vec::with_capacity(total);
        let mut position = Vec::with_capacity(total);
        for (r, &count) in counts.iter().enumerate() {
            for k in 0..count {
                repeat.push(r as u32);
                position.push(k);
            }
        }
        let repeat = UInt32Array::from(repeat);
        let mut output = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            match column {
                UnnestColumn::Repeat(i) => {
                    output.push(take(changes.data.column(*i), &repeat, None)?)
                }
                UnnestColumn::Elements(i) => {
                    let (spans, values) = lists
                        .iter()
                        .find(|(c, _)| c == i)
                        .map(|(_, l)| l)
                        .ok_or_else(|| RuntimeError::Internal("unnest list missing".into()))?;
                    let indices: UInt32Array = repeat
                        .values()
                        .iter()
                        .zip(&position)
                        .map(|(&r, &k)| {
                            let (start, len, _) = spans[r as usize];
                            (k < len).then(|| (start + k) as u32)
                        })
                        .collect();
                    output.push(take(values, &indices, None)?);
                }
            }
        }
        let output = output
            .into_iter()
            .zip(self.schema.fields())
            .map(|(array, field)| {
                if array.data_type() == field.data_type() {
                    Ok(array)
                } else {
                    Ok(arrow::compute::cast(&array, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let data = batch_with_row_count(&self.schema, output, total)?;
        let weights = take(&changes.weights, &repeat, None)?;
        let weights = weights
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| RuntimeError::Internal("weights downcast".into()))?;
        ChangeBatch::new(data, weights)
    }
}
