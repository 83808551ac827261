//! Encoding helpers for checkpointed operator state: row maps, Z-sets and Arrow batches on
//! top of [`StateWriter`]/[`StateReader`].
//!
//! Row bytes are the memcomparable encoding the operators keep in memory, written as they
//! are. Arrow batches (accumulator states, pending window output) use Arrow IPC.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion::common::ScalarValue;
use sluice_storage::{RowCodec, StateReader, StateWriter, StorageError, ZSet};

use crate::change::ChangeBatch;
use crate::error::Result;

/// Write a Z-set: count, then (row, weight) pairs (the encoding spilled state uses too).
pub fn put_zset(out: &mut StateWriter, set: &ZSet) {
    set.write_to(out);
}

/// Read a Z-set written by [`put_zset`].
pub fn get_zset(input: &mut StateReader) -> Result<ZSet> {
    Ok(ZSet::read_from(input)?)
}

pub use sluice_storage::spill::OrderedRows;

/// Write one Arrow batch (IPC stream: schema and one message).
pub fn put_batch(out: &mut StateWriter, batch: &RecordBatch) -> Result<()> {
    let mut bytes = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut bytes, batch.schema_ref())?;
        writer.write(batch)?;
        writer.finish()?;
    }
    out.put_bytes(&bytes);
    Ok(())
}

/// Write columns of equal length as one batch (field names are positional).
pub fn put_columns(out: &mut StateWriter, columns: Vec<ArrayRef>, rows: usize) -> Result<()> {
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )?;
    put_batch(out, &batch)
}

/// Read a batch written by [`put_batch`], relabelled with `schema` when given.
pub fn get_batch(input: &mut StateReader, schema: Option<&SchemaRef>) -> Result<RecordBatch> {
    let bytes = input.bytes()?;
    let mut reader = StreamReader::try_new(bytes, None)?;
    let batch = match reader.next() {
        Some(batch) => batch?,
        None => {
            return Err(StorageError::Corrupt("operator state: a batch is missing".into()).into())
        }
    };
    match schema {
        Some(schema) if batch.schema_ref() != schema => Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            batch.columns().to_vec(),
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?),
        _ => Ok(batch),
    }
}

/// Scalar values of fixed types written as one byte string: Arrow's row format when it supports
/// the types, a one-row IPC batch otherwise (per-entry state such as an aggregate group's
/// accumulator state and output values).
pub struct ScalarCodec {
    types: Vec<DataType>,
    rows: Option<RowCodec>,
}

impl ScalarCodec {
    pub fn new(types: Vec<DataType>) -> Self {
        let rows = RowCodec::new(types.clone()).ok();
        Self { types, rows }
    }

    /// Write `values` (cast to the codec's types).
    pub fn put(&self, out: &mut StateWriter, values: &[ScalarValue]) -> Result<()> {
        let arrays = values
            .iter()
            .zip(&self.types)
            .map(|(value, data_type)| Ok(value.cast_to(data_type)?.to_array()?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        match &self.rows {
            Some(codec) => {
                out.put_bytes(codec.encode(&arrays, 1)?.row(0));
                Ok(())
            }
            None => put_columns(out, arrays, 1),
        }
    }

    /// Read values written by [`ScalarCodec::put`].
    pub fn get(&self, input: &mut StateReader) -> Result<Vec<ScalarValue>> {
        let arrays = match &self.rows {
            Some(codec) => codec.decode([input.bytes()?])?,
            None => get_batch(input, None)?.columns().to_vec(),
        };
        Ok(arrays
            .iter()
            .map(|array| ScalarValue::try_from_array(array, 0))
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

/// Write a change batch: its rows, then its weights.
pub fn put_changes(out: &mut StateWriter, changes: &ChangeBatch) -> Result<()> {
    put_batch(out, &changes.data)?;
    out.put_u64(changes.weights.len() as u64);
    for weight in changes.weights.values() {
        out.put_i64(*weight);
    }
    Ok(())
}

/// Read a change batch written by [`put_changes`].
pub fn get_changes(input: &mut StateReader, schema: &SchemaRef) -> Result<ChangeBatch> {
    let data = get_batch(input, Some(schema))?;
    let n = input.len_prefix()?;
    let mut weights = Vec::with_capacity(n);
    for _ in 0..n {
        weights.push(input.i64()?);
    }
    ChangeBatch::new(data, Int64Array::from(weights))
}
