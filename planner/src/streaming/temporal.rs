//! Temporal joins: `JOIN versioned FOR SYSTEM_TIME AS OF time_expr [AS] alias`.
//!
//! The Flink rewrite cuts `FOR SYSTEM_TIME AS OF time_expr` out of the text (leaving an
//! ordinary join) and reports each temporal join ([`crate::flink::TemporalJoin`]). After the
//! statement is planned, [`mark_temporal_joins`] finds each such join in the logical plan (the
//! join whose right input is the versioned relation under its alias) and adds a marker
//! conjunct to its ON condition: `sluice_temporal_join(time, a left column, every right
//! column)`. The marker references both inputs, so the optimizer keeps it in the join's
//! filter; it keeps every right column (the version time among them) through projection
//! pushdown; and it
//! travels with the plan of a view into every query that reads the view. The incremental
//! compiler recognizes the marker ([`split_marker`]) and builds a temporal join operator; a
//! batch query evaluates the marker as TRUE (an ordinary join over the current versions).
//!
//! The time argument is the probe side's time expression, or a NULL timestamp for
//! `PROCTIME()` (a processing-time join; the volatile function itself is not kept).

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result as DfResult, ScalarValue};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::{PlanError, Result};
use crate::flink::TemporalJoin;

/// Name of the marker function.
pub const TEMPORAL_MARKER: &str = "sluice_temporal_join";

/// The marker: TRUE for every row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TemporalMarker {
    signature: Signature,
}

impl ScalarUDFImpl for TemporalMarker {
    fn name(&self) -> &str {
        TEMPORAL_MARKER
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
    }
}

fn marker_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TemporalMarker {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

/// Whether the time expression means processing time.
fn is_processing_time(text: &str) -> bool {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        compact.as_str(),
        "proctime()"
            | "now()"
            | "current_timestamp"
            | "current_timestamp()"
            | "localtimestamp"
            | "localtimestamp()"
    )
}

/// Whether every column of `schema` is qualified by `alias`.
fn qualified_by(schema: &DFSchema, alias: &str) -> bool {
    !schema.fields().is_empty()
        && schema
            .iter()
            .all(|(qualifier, _)| qualifier.is_some_and(|q| q.table().eq_ignore_ascii_case(alias)))
}

/// Add the marker of each of `joins` to its join in `plan` (see the module docs).
pub fn mark_temporal_joins(
    plan: LogicalPlan,
    joins: &[TemporalJoin],
    state: &SessionState,
    sql: &str,
) -> Result<LogicalPlan> {
    let mut found = vec![false; joins.len()];
    let mut error = None;
    let marked = plan
        .transform_up(|node| {
            let LogicalPlan::Join(join) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some(index) = joins.iter().enumerate().position(|(i, temporal)| {
                !found[i] && qualified_by(join.right.schema(), &temporal.table_alias_or_name)
            }) else {
                return Ok(Transformed::no(node));
            };
            found[index] = true;
            let temporal = &joins[index];
            let time = if is_processing_time(&temporal.time_expr) {
                Expr::Literal(ScalarValue::TimestampNanosecond(None, None), None)
            } else {
                match state.create_logical_expr(&temporal.time_expr, join.left.schema()) {
                    Ok(expr) => expr,
                    Err(e) => {
                        error = Some(PlanError::from_datafusion(e, sql));
                        return Ok(Transformed::no(node));
                    }
                }
            };
            // Every right column is an argument: projection pushdown must keep the versioned
            // relation's time column (which the query itself may not read).
            let mut args = vec![time];
            args.extend(
                join.left
                    .schema()
                    .iter()
                    .take(1)
                    .chain(join.right.schema().iter())
                    .map(|(qualifier, field)| {
                        Expr::Column(Column::new(qualifier.cloned(), field.name()))
                    }),
            );
            let marker = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction {
                func: marker_udf(),
                args,
            });
            let filter = match &join.filter {
                Some(filter) => filter.clone().and(marker),
                None => marker,
            };
            let mut join = join.clone();
            join.filter = Some(filter);
            Ok(Transformed::yes(LogicalPlan::Join(join)))
        })
        .map_err(|e| PlanError::from_datafusion(e, sql))?
        .data;
    if let Some(error) = error {
        return Err(error);
    }
    if let Some(missing) = found.iter().position(|f| !f) {
        let temporal = &joins[missing];
        return Err(PlanError::Unsupported(format!(
            "FOR SYSTEM_TIME AS OF at character {}: the versioned table \"{}\" must be the \
             right input of a JOIN",
            temporal.position, temporal.table_alias_or_name
        )));
    }
    Ok(marked)
}

/// If `filter` holds a temporal-join marker: its time argument and the other conjuncts.
pub fn split_marker(filter: &Expr) -> Option<(Expr, Option<Expr>)> {
    let mut time = None;
    let mut rest = Vec::new();
    for conjunct in split_conjunction(filter) {
        match conjunct {
            Expr::ScalarFunction(function)
                if function.func.name() == TEMPORAL_MARKER && time.is_none() =>
            {
                time = function.args.first().cloned();
            }
            other => rest.push(other.clone()),
        }
    }
    time.map(|time| (time, conjunction(rest)))
}

/// Whether a marker's time argument means processing time.
pub fn marks_processing_time(time: &Expr) -> bool {
    matches!(time, Expr::Literal(value, _) if value.is_null())
}
