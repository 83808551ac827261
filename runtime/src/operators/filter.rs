//! Filter: keeps the changes whose row satisfies a predicate (NULL counts as false).
//!
//! Stateless and linear: filter(a + b) = filter(a) + filter(b), so retractions pass through
//! exactly as the insertions they cancel did.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;

use super::{evaluate_predicate, Operator};
use crate::change::ChangeBatch;
use crate::error::Result;

#[derive(Clone)]
pub struct Filter {
    predicate: Arc<dyn PhysicalExpr>,
    schema: SchemaRef,
}

impl Filter {
    pub fn new(predicate: Arc<dyn PhysicalExpr>, schema: SchemaRef) -> Self {
        Self { predicate, schema }
    }
}

impl Operator for Filter {
    fn partitioning(&self) -> super::Partitioning {
        super::Partitioning::Any
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }

    fn name(&self) -> &'static str {
        "Filter"
    }

    fn describe(&self) -> String {
        format!("predicate: {}", self.predicate)
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        if changes.is_empty() {
            return Ok(changes);
        }
        let mask = evaluate_predicate(&self.predicate, &changes.data)?;
        changes.filter(&mask)?.with_schema(self.schema.clone())
    }
}
