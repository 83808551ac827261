//! Union (UNION ALL): forwards changes from every input port under one schema.
//!
//! Stateless and linear. UNION (distinct) is planned as a distinct aggregate over this.

use arrow::datatypes::SchemaRef;

use super::Operator;
use crate::change::{cast_to_schema, ChangeBatch};
use crate::error::Result;

#[derive(Clone)]
pub struct Union {
    inputs: usize,
    schema: SchemaRef,
}

impl Union {
    pub fn new(inputs: usize, schema: SchemaRef) -> Self {
        Self { inputs, schema }
    }
}

impl Operator for Union {
    fn partitioning(&self) -> super::Partitioning {
        super::Partitioning::Any
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }

    fn name(&self) -> &'static str {
        "Union"
    }

    fn describe(&self) -> String {
        format!("inputs: {}", self.inputs)
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let columns = cast_to_schema(changes.data.columns(), &self.schema)?;
        let data =
            sluice_storage::codec::batch_with_row_count(&self.schema, columns, changes.num_rows())?;
        ChangeBatch::new(data, changes.weights)
    }
}
