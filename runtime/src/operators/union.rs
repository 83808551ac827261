//! Union (UNION ALL): forwards changes from every input port under one schema.
//!
//! Stateless and linear. UNION (distinct) is planned as a distinct aggregate over this.

use arrow::datatypes::SchemaRef;

use super::Operator;
use crate::change::ChangeBatch;
use crate::error::Result;

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
        let columns = changes
            .data
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| {
                if column.data_type() == field.data_type() {
                    Ok(column.clone())
                } else {
                    Ok(arrow::compute::cast(column, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let data =
            sluice_storage::codec::batch_with_row_count(&self.schema, columns, changes.num_rows())?;
        ChangeBatch::new(data, changes.weights)
    }
}
