//! Project: computes output columns from each changed row with DataFusion physical
//! expressions (scalar functions, CASE, casts, ...), keeping the row's weight.
//!
//! Stateless and linear. Expressions must be deterministic for retractions to cancel:
//! the planner rejects volatile functions (random(), now()) in maintained views.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use sluice_storage::codec::batch_with_row_count;

use super::{evaluate_all, Operator};
use crate::change::{cast_to_schema, ChangeBatch};
use crate::error::Result;

#[derive(Clone)]
pub struct Project {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl Project {
    pub fn new(exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Self {
        Self { exprs, schema }
    }
}

impl Operator for Project {
    fn partitioning(&self) -> super::Partitioning {
        super::Partitioning::Any
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }

    fn name(&self) -> &'static str {
        "Project"
    }

    fn describe(&self) -> String {
        let exprs: Vec<String> = self.exprs.iter().map(|e| e.to_string()).collect();
        format!("exprs: [{}]", exprs.join(", "))
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        let columns = evaluate_all(&self.exprs, &changes.data)?;
        let columns = cast_to_schema(&columns, &self.schema)?;
        let data = batch_with_row_count(&self.schema, columns, changes.num_rows())?;
        ChangeBatch::new(data, changes.weights)
    }
}
