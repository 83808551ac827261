//! The output values of a run of aggregate groups, built column by column.
//!
//! A group aggregate evaluates every group a batch touched (thousands per batch for Nexmark
//! q16). Building a row of `ScalarValue`s per group, comparing it with the previous row and
//! turning the rows back into columns cost more than maintaining the aggregates: here each
//! call appends its value to a typed column (counts and sums as integers or floats, min/max as
//! the encoded extreme, decoded for the whole column at once), and only calls whose result is
//! computed by a DataFusion accumulator go through `ScalarValue`.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, Float64Array, Int64Array, UInt32Array};
use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use sluice_storage::RowCodec;

use crate::error::{Result, RuntimeError};

/// One call's values for a run of groups.
pub(super) enum CallColumn {
    Int64(Vec<Option<i64>>),
    Float64(Vec<Option<f64>>),
    /// min/max: the extreme values, encoded by the call's argument codec, back to back in
    /// `bytes` (`None`: NULL, the group has no non-NULL value).
    Encoded {
        bytes: Vec<u8>,
        ranges: Vec<Option<(u32, u32)>>,
    },
    /// Values computed by an accumulator.
    Scalars(Vec<ScalarValue>),
}

/// One call's value for one group, pushed onto the call's [`CallColumn`].
pub(super) enum CallValue<'a> {
    Int64(Option<i64>),
    Float64(Option<f64>),
    /// An encoded min/max extreme (`None`: NULL).
    Encoded(Option<&'a [u8]>),
    Scalar(ScalarValue),
}

impl CallColumn {
    /// Append `value`; its kind must be the column's.
    pub(super) fn push(&mut self, value: CallValue) -> Result<()> {
        match (self, value) {
            (CallColumn::Int64(values), CallValue::Int64(value)) => values.push(value),
            (CallColumn::Float64(values), CallValue::Float64(value)) => values.push(value),
            (CallColumn::Scalars(values), CallValue::Scalar(value)) => values.push(value),
            (CallColumn::Encoded { bytes, ranges }, CallValue::Encoded(value)) => {
                ranges.push(match value {
                    Some(value) => {
                        let start = offset(bytes.len())?;
                        bytes.extend_from_slice(value);
                        Some((start, offset(bytes.len())?))
                    }
                    None => None,
                })
            }
            _ => {
                return Err(RuntimeError::Internal(
                    "aggregate value does not match its output column".into(),
                ))
            }
        }
        Ok(())
    }

    /// The column as an array of `data_type`; `codec` decodes encoded extremes.
    fn finish(self, codec: &RowCodec, data_type: &DataType) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            CallColumn::Int64(values) => Arc::new(Int64Array::from(values)),
            CallColumn::Float64(values) => Arc::new(Float64Array::from(values)),
            CallColumn::Scalars(values) if values.is_empty() => {
                return Ok(new_null_array(data_type, 0))
            }
            CallColumn::Scalars(values) => ScalarValue::iter_to_array(values)?,
            CallColumn::Encoded { bytes, ranges } => {
                let present: Vec<&[u8]> = ranges
                    .iter()
                    .flatten()
                    .map(|&(start, end)| &bytes[start as usize..end as usize])
                    .collect();
                if present.is_empty() {
                    return Ok(new_null_array(data_type, ranges.len()));
                }
                let decoded = codec
                    .decode(present.iter().copied())?
                    .into_iter()
                    .next()
                    .ok_or_else(|| RuntimeError::Internal("min/max decoded no column".into()))?;
                if present.len() == ranges.len() {
                    decoded
                } else {
                    // NULL where a group has no extreme: take with NULL indices.
                    let mut next = 0_u32;
                    let indices: UInt32Array = ranges
                        .iter()
                        .map(|range| {
                            range.map(|_| {
                                next += 1;
                                next - 1
                            })
                        })
                        .collect();
                    arrow::compute::take(&decoded, &indices, None)?
                }
            }
        };
        if array.data_type() == data_type {
            Ok(array)
        } else {
            Ok(arrow::compute::cast(&array, data_type)?)
        }
    }
}

fn offset(len: usize) -> Result<u32> {
    u32::try_from(len)
        .map_err(|_| RuntimeError::Internal("aggregate output exceeds 4 GiB in one batch".into()))
}

/// The values of every call for a run of groups.
pub(super) struct CallColumns {
    pub(super) columns: Vec<CallColumn>,
}

impl CallColumns {
    pub(super) fn new(columns: Vec<CallColumn>) -> Self {
        Self { columns }
    }

    /// One array per call, of the output `types`; `codecs` are the calls' argument codecs.
    pub(super) fn finish(self, codecs: &[RowCodec], types: &[DataType]) -> Result<Vec<ArrayRef>> {
        self.columns
            .into_iter()
            .zip(codecs)
            .zip(types)
            .map(|((column, codec), data_type)| column.finish(codec, data_type))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn columns_decode_extremes_with_nulls_and_cast_counts() {
        let codec = RowCodec::new(vec![DataType::Utf8]).unwrap();
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["b", "a"]));
        let encoded = codec.encode(&[strings], 2).unwrap();
        let mut columns = CallColumns::new(vec![
            CallColumn::Encoded {
                bytes: Vec::new(),
                ranges: Vec::new(),
            },
            CallColumn::Int64(Vec::new()),
            CallColumn::Scalars(Vec::new()),
        ]);
        for (row, count) in [
            (Some(encoded.row(0)), 3),
            (None, 0),
            (Some(encoded.row(1)), 1),
        ] {
            columns.columns[0].push(CallValue::Encoded(row)).unwrap();
            columns.columns[1]
                .push(CallValue::Int64(Some(count)))
                .unwrap();
            columns.columns[2]
                .push(CallValue::Scalar(ScalarValue::Float64(Some(count as f64))))
                .unwrap();
        }
        assert!(columns.columns[1]
            .push(CallValue::Float64(Some(1.0)))
            .is_err());
        let counts = RowCodec::new(vec![DataType::Int64]).unwrap();
        let floats = RowCodec::new(vec![DataType::Float64]).unwrap();
        let arrays = columns
            .finish(
                &[codec, counts, floats],
                &[DataType::Utf8, DataType::Int32, DataType::Float64],
            )
            .unwrap();
        let text = arrays[0].as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(text.value(0), "b");
        assert!(text.is_null(1));
        assert_eq!(text.value(2), "a");
        assert_eq!(arrays[1].data_type(), &DataType::Int32);
        assert_eq!(arrays[2].len(), 3);
    }
}
