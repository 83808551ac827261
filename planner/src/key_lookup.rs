//! The fast path of prepared point lookups: `SELECT cols FROM r WHERE k1 = $1 [AND k2 = $2]`
//! over a stored table or materialized view whose key is exactly the filtered columns.
//!
//! Planned once, when the statement is prepared ([`plan_key_lookup`]): each execution reads
//! the row from the relation's key index and projects it, without planning, optimizing and
//! executing a DataFusion plan per call (which costs far more than the lookup). The result is
//! what the general path returns: the same filter on the same rows. If the relation changed
//! shape since (dropped and re-created), the lookup declines and the general path runs.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, Operator};

use crate::database::Catalog;
use crate::error::{PlanError, Result};
use crate::incremental::{plain_column, relation_name};

/// Where a key column's value comes from.
#[derive(Debug, Clone)]
enum KeyValue {
    /// Positional parameter (0-based).
    Parameter(usize),
    Literal(ScalarValue),
}

/// A planned point lookup (see the module docs).
#[derive(Debug, Clone)]
pub struct KeyLookup {
    relation: String,
    /// The relation's key columns and the value of each, in key order.
    key: Vec<usize>,
    values: Vec<KeyValue>,
    /// Relation columns to return, in order.
    columns: Vec<usize>,
    /// The relation's schema when planned, and the result's.
    relation_schema: SchemaRef,
    schema: SchemaRef,
}

fn key_value(expr: &Expr) -> Option<KeyValue> {
    match expr {
        Expr::Placeholder(placeholder) => {
            let number: usize = placeholder.id.strip_prefix('$')?.parse().ok()?;
            Some(KeyValue::Parameter(number.checked_sub(1)?))
        }
        Expr::Literal(value, _) if !value.is_null() => Some(KeyValue::Literal(value.clone())),
        _ => None,
    }
}

/// The lookup `plan` (a query as planned from SQL, parameters unbound) is, if it has the
/// shape of one (see the module docs).
pub(crate) fn plan_key_lookup(plan: &LogicalPlan, catalog: &Catalog) -> Option<KeyLookup> {
    let LogicalPlan::Projection(projection) = plan else {
        return None;
    };
    let LogicalPlan::Filter(filter) = projection.input.as_ref() else {
        return None;
    };
    let scan_plan = match filter.input.as_ref() {
        LogicalPlan::SubqueryAlias(alias) => alias.input.as_ref(),
        other => other,
    };
    let LogicalPlan::TableScan(scan) = scan_plan else {
        return None;
    };
    if scan.projection.is_some() || !scan.filters.is_empty() || scan.fetch.is_some() {
        return None;
    }
    let relation = relation_name(&scan.table_name);
    let store = catalog.store(&relation)?;
    let key = store.primary_key().to_vec();
    if key.is_empty() {
        return None;
    }
    let input_schema = filter.input.schema();
    let mut values: Vec<Option<KeyValue>> = vec![None; key.len()];
    for conjunct in split_conjunction(&filter.predicate) {
        let Expr::BinaryExpr(binary) = conjunct else {
            return None;
        };
        if binary.op != Operator::Eq {
            return None;
        }
        let (column, value) = match (plain_column(&binary.left), plain_column(&binary.right)) {
            (Some(column), None) => (column, key_value(&binary.right)?),
            (None, Some(column)) => (column, key_value(&binary.left)?),
            _ => return None,
        };
        let index = input_schema.index_of_column(column).ok()?;
        let slot = key.iter().position(|&k| k == index)?;
        if values[slot].replace(value).is_some() {
            return None;
        }
    }
    let values = values.into_iter().collect::<Option<Vec<_>>>()?;
    let columns = projection
        .expr
        .iter()
        .map(|e| input_schema.index_of_column(plain_column(e)?).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(KeyLookup {
        relation,
        key,
        values,
        columns,
        relation_schema: store.schema(),
        schema: Arc::new(plan.schema().as_arrow().clone()),
    })
}

impl KeyLookup {
    /// Run the lookup: `None` if the relation no longer matches the plan (run the general
    /// path instead).
    pub(crate) fn run(
        &self,
        catalog: &Catalog,
        parameters: Option<&ParamValues>,
    ) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>> {
        let Some(store) = catalog.store(&self.relation) else {
            return Ok(None);
        };
        if store.primary_key() != self.key.as_slice() || store.schema() != self.relation_schema {
            return Ok(None);
        }
        catalog.check_readable(std::slice::from_ref(&self.relation))?;
        let mut key = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let value = match value {
                KeyValue::Literal(value) => value.clone(),
                KeyValue::Parameter(index) => match parameters {
                    Some(ParamValues::List(list)) => {
                        list.get(*index).map(|v| v.value.clone()).ok_or_else(|| {
                            PlanError::Plan(format!("no value for parameter ${}", index + 1))
                        })?
                    }
                    _ => return Ok(None),
                },
            };
            if value.is_null() {
                // `k = NULL` is never true.
                return Ok(Some((self.schema.clone(), Vec::new())));
            }
            key.push(value);
        }
        let batches = store
            .lookup(&key)?
            .into_iter()
            .map(|batch| {
                let columns = self
                    .columns
                    .iter()
                    .map(|&c| batch.column(c).clone())
                    .collect();
                let options =
                    arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Some((self.schema.clone(), batches)))
    }
}
