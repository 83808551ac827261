//! Scan: the entry of a stored relation's (table's or view's) changes into a dataflow,
//! keeping the columns the query reads. Stateless.

use arrow::datatypes::SchemaRef;
use sluice_storage::codec::batch_with_row_count;

use super::Operator;
use crate::change::ChangeBatch;
use crate::error::Result;

pub struct Scan {
    relation: String,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
}

impl Scan {
    /// Read `relation`, keeping columns `projection` (all when `None`), output as `schema`.
    pub fn new(relation: String, projection: Option<Vec<usize>>, schema: SchemaRef) -> Self {
        Self {
            relation,
            projection,
            schema,
        }
    }

    pub fn relation(&self) -> &str {
        &self.relation
    }
}

impl Operator for Scan {
    fn name(&self) -> &'static str {
        "Scan"
    }

    fn describe(&self) -> String {
        match &self.projection {
            Some(columns) => format!("relation: {}, columns: {:?}", self.relation, columns),
            None => format!("relation: {}", self.relation),
        }
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let columns = match &self.projection {
            Some(indices) => indices
                .iter()
                .map(|&i| changes.data.column(i).clone())
                .collect(),
            None => changes.data.columns().to_vec(),
        };
        let data = batch_with_row_count(&self.schema, columns, changes.num_rows())?;
        ChangeBatch::new(data, changes.weights)
    }
}
