//! Tables declared with a connector (`CREATE TABLE .. WITH ('connector' = ..)`): how rows a
//! source produces become rows of the table, and what a sink receives.
//!
//! A connector table's columns are physical (decoded by the source), metadata (`METADATA
//! FROM 'key'`, supplied by the source after the physical ones) or computed (`name AS expr`,
//! evaluated here over the physical and metadata columns). [`ConnectorTable::complete`] turns a
//! source batch into a batch of the table's full schema, in declaration order.
//!
//! Source tables are streams: they keep no rows. Every continuous query that reads one gets
//! its own source instance reading from the connector's start position (Flink's semantics
//! for separate jobs). Sink tables receive the changes of `INSERT INTO .. SELECT` jobs; a
//! `jdbc` sink table is also kept in Sluice, keyed by its primary key, so the results the
//! pipeline writes to its database can be queried under the same name.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::kernels::zip::zip;
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::{Schema, SchemaRef};
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, Column, IsNotNullExpr, IsNullExpr, Literal, NotExpr,
};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use sluice_runtime::connectors::{
    BadRowPolicy, ConnectorOptions, MetadataColumn, SinkSpec, SourceSpec,
    APPEND_ONLY_SOURCE_CONNECTORS, SINK_CONNECTORS, SOURCE_CONNECTORS,
};

use crate::error::{PlanError, Result};

/// Where a column of a connector table comes from.
pub enum ColumnOrigin {
    /// Column `i` of the source batch (physical then metadata columns).
    Source(usize),
    /// An expression over the source batch.
    Computed(Arc<dyn PhysicalExpr>),
}

pub struct ConnectorTable {
    pub name: String,
    pub options: ConnectorOptions,
    /// The table's full schema (all columns in declaration order).
    pub schema: SchemaRef,
    /// What the source produces: physical columns, then metadata columns.
    pub source_schema: SchemaRef,
    pub metadata: Vec<MetadataColumn>,
    /// One per column of `schema`.
    pub columns: Vec<ColumnOrigin>,
    /// Primary key columns (indices into `schema`).
    pub primary_key: Vec<usize>,
    pub bad_rows: BadRowPolicy,
}

impl std::fmt::Debug for ConnectorTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorTable")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ConnectorTable {
    pub fn connector(&self) -> &str {
        self.options.connector().unwrap_or("")
    }

    /// Whether continuous queries can read this table.
    pub fn is_source(&self) -> bool {
        SOURCE_CONNECTORS.contains(&self.connector())
    }

    /// Whether `INSERT INTO` this table writes to its connector.
    pub fn is_sink(&self) -> bool {
        SINK_CONNECTORS.contains(&self.connector())
    }

    /// Whether the source only ever produces new rows (files, generators, Kafka topics read
    /// as streams), never updates or deletes (`upsert-kafka` is a changelog).
    pub fn is_append_only_source(&self) -> bool {
        APPEND_ONLY_SOURCE_CONNECTORS.contains(&self.connector())
    }

    /// Whether Sluice keeps the rows written to this table (queryable with SELECT).
    pub fn is_stored(&self) -> bool {
        matches!(self.connector(), "jdbc" | "jdbc-sqrl")
    }

    /// Whether changes go to the connector's sink. A `jdbc` table is kept in Sluice (it
    /// replaces the pipeline's database); its rows are forwarded to the external database
    /// only when the URL is complete (no unresolved `${..}`) and `'sluice.forward'` is not
    /// `'false'`. Other sink connectors always receive the changes.
    pub fn forwards(&self) -> bool {
        if !self.is_sink() {
            return false;
        }
        if self.options.get("sluice.forward") == Some("false") {
            return false;
        }
        if self.is_stored() {
            return self
                .options
                .get("url")
                .is_some_and(|url| !url.contains("${"));
        }
        true
    }

    /// A source batch as a batch of the full table schema.
    pub fn complete(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .columns
            .iter()
            .map(|origin| match origin {
                ColumnOrigin::Source(i) => Ok(batch.column(*i).clone()),
                ColumnOrigin::Computed(expr) => evaluate_computed(expr.as_ref(), batch)
                    .map_err(|e| PlanError::from_datafusion(e, "")),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(array, field)| {
                if array.data_type() == field.data_type() {
                    Ok(array)
                } else {
                    Ok(arrow::compute::cast(&array, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(sluice_storage::codec::batch_with_row_count(
            &self.schema,
            columns,
            batch.num_rows(),
        )?)
    }

    /// What a source for this table must produce.
    pub fn source_spec(&self, batch_size: usize) -> SourceSpec {
        let source_key = self
            .primary_key
            .iter()
            .filter_map(|&c| match self.columns.get(c) {
                Some(ColumnOrigin::Source(i)) => Some(*i),
                _ => None,
            })
            .collect();
        SourceSpec {
            table: self.name.clone(),
            schema: self.source_schema.clone(),
            metadata: self.metadata.clone(),
            options: self.options.clone(),
            bad_rows: self.bad_rows,
            batch_size,
            primary_key: source_key,
        }
    }

    /// What a sink for this table consumes: the full schema.
    pub fn sink_spec(&self) -> SinkSpec {
        SinkSpec {
            table: self.name.clone(),
            schema: self.schema.clone(),
            primary_key: self.primary_key.clone(),
            options: self.options.clone(),
        }
    }
}

/// The schema of the source batches: `physical` fields then the metadata fields.
pub fn source_schema(physical: &Schema, metadata: &[MetadataColumn]) -> SchemaRef {
    let mut fields: Vec<_> = physical.fields().iter().cloned().collect();
    fields.extend(metadata.iter().map(|m| m.field.clone()));
    Arc::new(Schema::new(fields))
}

/// Evaluate a computed column over a source batch.
fn evaluate_computed(
    expr: &dyn PhysicalExpr,
    batch: &RecordBatch,
) -> datafusion::error::Result<ArrayRef> {
    if let Some(case) = (expr as &dyn Any).downcast_ref::<CaseExpr>() {
        if let Some(result) = case_without_filtering(case, batch)? {
            return Ok(result);
        }
    }
    expr.evaluate(batch)?.into_array(batch.num_rows())
}

/// `CASE WHEN c1 THEN v1 .. [ELSE e] END` whose conditions and values cannot fail on any row
/// (columns, fields of struct columns, literals, comparisons): every branch is evaluated over
/// the whole batch and the results merged with `zip`, last branch first so the first true
/// condition wins. DataFusion instead filters each branch's input rows, which copies whole
/// struct columns per branch (Nexmark's `dateTime` picks a field of one of three structs).
/// `None` when the expression is not of this shape.
fn case_without_filtering(
    case: &CaseExpr,
    batch: &RecordBatch,
) -> datafusion::error::Result<Option<ArrayRef>> {
    let branches = case.when_then_expr();
    let all_infallible = case.expr().is_none()
        && case.else_expr().is_none_or(|e| infallible(e.as_ref()))
        && branches
            .iter()
            .all(|(when, then)| infallible(when.as_ref()) && infallible(then.as_ref()));
    if !all_infallible {
        return Ok(None);
    }
    let rows = batch.num_rows();
    let data_type = case.data_type(batch.schema_ref())?;
    let mut result = match case.else_expr() {
        Some(otherwise) => otherwise.evaluate(batch)?.into_array(rows)?,
        None => new_null_array(&data_type, rows),
    };
    for (when, then) in branches.iter().rev() {
        let condition = when.evaluate(batch)?.into_array(rows)?;
        let Some(condition) = condition.as_boolean_opt() else {
            return Ok(None);
        };
        let value = then.evaluate(batch)?.into_array(rows)?;
        if value.data_type() != result.data_type() {
            return Ok(None);
        }
        let mask = if condition.null_count() > 0 {
            prep_null_mask_filter(condition)
        } else {
            condition.clone()
        };
        result = zip(&mask, &value, &result)?;
    }
    Ok(Some(result))
}

/// Whether evaluating `expr` can never fail, whatever the row.
fn infallible(expr: &dyn PhysicalExpr) -> bool {
    let any: &dyn Any = expr;
    if any.is::<Column>() || any.is::<Literal>() {
        return true;
    }
    if let Some(function) = any.downcast_ref::<ScalarFunctionExpr>() {
        return function.name() == "get_field" && children_ok(expr);
    }
    if let Some(binary) = any.downcast_ref::<BinaryExpr>() {
        use datafusion::logical_expr::Operator::*;
        return matches!(
            binary.op(),
            Eq | NotEq | Lt | LtEq | Gt | GtEq | And | Or | IsDistinctFrom | IsNotDistinctFrom
        ) && children_ok(expr);
    }
    (any.is::<IsNullExpr>() || any.is::<IsNotNullExpr>() || any.is::<NotExpr>())
        && children_ok(expr)
}

fn children_ok(expr: &dyn PhysicalExpr) -> bool {
    expr.children()
        .iter()
        .all(|child| infallible(child.as_ref()))
}
