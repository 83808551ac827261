//! Constant: a relation with fixed rows (VALUES, or a query without FROM). It emits its rows
//! once, as the initial changes, and never changes afterwards.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::Operator;
use crate::change::ChangeBatch;
use crate::error::Result;

pub struct Constant {
    rows: Vec<RecordBatch>,
    schema: SchemaRef,
}

impl Constant {
    pub fn new(rows: Vec<RecordBatch>, schema: SchemaRef) -> Self {
        Self { rows, schema }
    }
}

impl Operator for Constant {
    fn name(&self) -> &'static str {
        "Constant"
    }

    fn describe(&self) -> String {
        let rows: usize = self.rows.iter().map(|b| b.num_rows()).sum();
        format!("rows: {rows}")
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn initial(&mut self) -> Result<Option<ChangeBatch>> {
        let batches: Vec<ChangeBatch> = self
            .rows
            .iter()
            .map(|b| ChangeBatch::inserts(b.clone()))
            .collect();
        Ok(Some(ChangeBatch::concat(&self.schema, &batches)?))
    }

    fn process(&mut self, _port: usize, _changes: ChangeBatch) -> Result<ChangeBatch> {
        Ok(ChangeBatch::empty(self.schema.clone()))
    }
}
