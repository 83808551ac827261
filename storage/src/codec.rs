//! Memcomparable row encoding over Arrow columns.
//!
//! Wraps `arrow::row::RowConverter` and adds the zero-column case (a global aggregate's group
//! key, or a scan that keeps no column), where every row encodes to the empty byte string.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, RowParser, Rows, SortField};

use crate::error::Result;

/// Encodes columns of fixed types to byte rows and back.
pub struct RowCodec {
    converter: Option<(RowConverter, RowParser)>,
    types: Vec<DataType>,
}

impl std::fmt::Debug for RowCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCodec")
            .field("types", &self.types)
            .finish()
    }
}

/// The encoded rows of one batch.
pub struct EncodedRows {
    rows: Option<Rows>,
    len: usize,
}

impl EncodedRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of row `i`.
    pub fn row(&self, i: usize) -> &[u8] {
        match &self.rows {
            Some(rows) => rows.row(i).data(),
            None => &[],
        }
    }
}

impl RowCodec {
    /// A codec for rows whose columns have `types`.
    pub fn new(types: Vec<DataType>) -> Result<Self> {
        let converter = if types.is_empty() {
            None
        } else {
            let converter = RowConverter::new(types.iter().cloned().map(SortField::new).collect())?;
            let parser = converter.parser();
            Some((converter, parser))
        };
        Ok(Self { converter, types })
    }

    /// A codec whose byte order follows the given sort options per column (descending,
    /// NULLS FIRST/LAST), for ordered state such as top-N.
    pub fn new_ordered(fields: Vec<(DataType, arrow::compute::SortOptions)>) -> Result<Self> {
        let types: Vec<DataType> = fields.iter().map(|(t, _)| t.clone()).collect();
        let converter = if fields.is_empty() {
            None
        } else {
            let converter = RowConverter::new(
                fields
                    .into_iter()
                    .map(|(t, options)| SortField::new_with_options(t, options))
                    .collect(),
            )?;
            let parser = converter.parser();
            Some((converter, parser))
        };
        Ok(Self { converter, types })
    }

    /// A codec for all columns of `schema`.
    pub fn for_schema(schema: &SchemaRef) -> Result<Self> {
        Self::new(
            schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
        )
    }

    /// The column types this codec encodes.
    pub fn types(&self) -> &[DataType] {
        &self.types
    }

    /// Encode `num_rows` rows given as columns (which may be empty for zero-column rows).
    pub fn encode(&self, columns: &[ArrayRef], num_rows: usize) -> Result<EncodedRows> {
        match &self.converter {
            Some((converter, _)) => {
                let rows = converter.convert_columns(columns)?;
                Ok(EncodedRows {
                    len: rows.num_rows(),
                    rows: Some(rows),
                })
            }
            None => Ok(EncodedRows {
                rows: None,
                len: num_rows,
            }),
        }
    }

    /// Decode byte rows produced by this codec back into columns.
    pub fn decode<'a, I>(&self, rows: I) -> Result<Vec<ArrayRef>>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        match &self.converter {
            Some((converter, parser)) => {
                Ok(converter.convert_rows(rows.into_iter().map(|bytes| parser.parse(bytes)))?)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Decode rows into a record batch of `schema` (whose column types must match this codec).
    pub fn decode_batch<'a, I>(&self, schema: &SchemaRef, rows: I) -> Result<RecordBatch>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let rows: Vec<&[u8]> = rows.into_iter().collect();
        let count = rows.len();
        let columns = self.decode(rows)?;
        batch_with_row_count(schema, columns, count)
    }
}

/// Build a batch, allowing zero columns with a given row count. Nullability of decoded columns
/// may be wider than the schema says, so the schema's fields are relaxed where needed.
pub fn batch_with_row_count(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    row_count: usize,
) -> Result<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(row_count));
    let needs_relaxing = schema
        .fields()
        .iter()
        .zip(&columns)
        .any(|(field, column)| !field.is_nullable() && column.null_count() > 0);
    let schema = if needs_relaxing {
        Arc::new(arrow::datatypes::Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        ))
    } else {
        schema.clone()
    };
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn round_trip_preserves_rows_and_order() {
        let codec = RowCodec::new(vec![DataType::Int64, DataType::Utf8]).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), None, Some(-1)]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("c"), Some("a"), None]));
        let rows = codec.encode(&[ids.clone(), names.clone()], 3).unwrap();
        assert_eq!(rows.len(), 3);
        // memcomparable: -1 < 3 and NULL sorts first
        assert!(rows.row(2) < rows.row(0));
        assert!(rows.row(1) < rows.row(2));
        let decoded = codec.decode((0..3).map(|i| rows.row(i))).unwrap();
        assert_eq!(decoded[0].as_ref(), ids.as_ref());
        assert_eq!(decoded[1].as_ref(), names.as_ref());
    }

    #[test]
    fn zero_columns_keep_the_row_count() {
        let codec = RowCodec::new(vec![]).unwrap();
        let rows = codec.encode(&[], 4).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows.row(0), &[] as &[u8]);
        let schema = Arc::new(Schema::new(Vec::<Field>::new()));
        let batch = codec
            .decode_batch(&schema, (0..4).map(|i| rows.row(i)))
            .unwrap();
        assert_eq!(batch.num_rows(), 4);
    }
}
