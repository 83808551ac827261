//! Subqueries DataFusion leaves for execution, rewritten into joins the incremental
//! compiler maintains. Applied to a continuous query's optimized plan before it is compiled
//! (batch queries keep DataFusion's own execution of them).
//!
//! - An uncorrelated scalar subquery (`WHERE x > (SELECT max(y) FROM t)`, or
//!   `(SELECT y FROM t WHERE ..)`, which the statement rewrite turns into a checked
//!   single-value aggregate) that always yields exactly one row — a global aggregate under
//!   projections — becomes a cross join with that row: the expression reads the
//!   subquery's column, and a projection restores the node's columns. As the subquery's
//!   result changes, the join retracts and re-emits the rows that depend on it. A scalar
//!   subquery that may yield several rows is left alone (the compiler refuses it).
//! - `x NOT IN (SELECT y FROM t)`, which DataFusion plans as a null-aware anti join, is
//!   true when `t` is empty, or when `x` is not NULL, no `y` is NULL and no `y` equals `x`.
//!   It becomes an ordinary anti join (no `y` equals `x`) crossed with the row counts of `t`
//!   (`count(*)`, `count(y)`) and filtered on `rows = 0 OR (x IS NOT NULL AND rows =
//!   values)`. Only a single-column NOT IN without correlated conditions is rewritten.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{
    col, lit, Expr, Filter, Join, JoinType, LogicalPlan, LogicalPlanBuilder, Projection,
};

/// `plan` with the subqueries described in the module documentation turned into joins.
pub fn rewrite(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut next = 0usize;
    plan.transform_up(|node| rewrite_node(node, &mut next))
        .data()
}

fn rewrite_node(node: LogicalPlan, next: &mut usize) -> Result<Transformed<LogicalPlan>> {
    match node {
        LogicalPlan::Filter(filter) if has_scalar_subquery(&filter.predicate) => {
            let columns = output_columns(&filter.input);
            let (predicate, input) = join_subqueries(filter.predicate, filter.input, next)?;
            let filtered = LogicalPlan::Filter(Filter::try_new(predicate, input)?);
            Ok(Transformed::yes(LogicalPlan::Projection(
                Projection::try_new(columns, Arc::new(filtered))?,
            )))
        }
        LogicalPlan::Projection(projection) if projection.expr.iter().any(has_scalar_subquery) => {
            let mut input = projection.input;
            let mut exprs = Vec::with_capacity(projection.expr.len());
            for (expr, field) in projection.expr.into_iter().zip(projection.schema.fields()) {
                if !has_scalar_subquery(&expr) {
                    exprs.push(expr);
                    continue;
                }
                let (rewritten, joined) = join_subqueries(expr, input, next)?;
                input = joined;
                // The column keeps its name (parents refer to it).
                exprs.push(rewritten.alias(field.name()));
            }
            Ok(Transformed::yes(LogicalPlan::Projection(
                Projection::try_new(exprs, input)?,
            )))
        }
        LogicalPlan::Join(join)
            if join.null_aware
                && join.join_type == JoinType::LeftAnti
                && join.on.len() == 1
                && join.filter.is_none() =>
        {
            not_in(join, next).map(Transformed::yes)
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Whether `expr` holds an uncorrelated scalar subquery that yields exactly one row.
fn has_scalar_subquery(expr: &Expr) -> bool {
    expr.exists(|e| Ok(one_row_subquery(e).is_some()))
        .unwrap_or(false)
}

fn one_row_subquery(expr: &Expr) -> Option<&LogicalPlan> {
    let Expr::ScalarSubquery(subquery) = expr else {
        return None;
    };
    if !subquery.outer_ref_columns.is_empty() || subquery.subquery.schema().fields().len() != 1 {
        return None;
    }
    let mut plan = subquery.subquery.as_ref();
    loop {
        plan = match plan {
            LogicalPlan::Projection(projection) => &projection.input,
            LogicalPlan::SubqueryAlias(alias) => &alias.input,
            LogicalPlan::Aggregate(aggregate) if aggregate.group_expr.is_empty() => {
                return Some(subquery.subquery.as_ref());
            }
            _ => return None,
        };
    }
}

/// The columns of `plan`'s output, qualified as they are.
fn output_columns(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .iter()
        .map(|(qualifier, field)| Expr::Column(Column::new(qualifier.cloned(), field.name())))
        .collect()
}

/// Cross-join `input` with each one-row subquery of `expr`, which then reads its column.
fn join_subqueries(
    expr: Expr,
    input: Arc<LogicalPlan>,
    next: &mut usize,
) -> Result<(Expr, Arc<LogicalPlan>)> {
    let mut joined = Arc::unwrap_or_clone(input);
    let expr = expr
        .transform_up(|e| {
            let Some(subquery) = one_row_subquery(&e) else {
                return Ok(Transformed::no(e));
            };
            let alias = format!("__sluice_scalar_{}", *next);
            *next += 1;
            let name = subquery.schema().field(0).name().clone();
            let right = LogicalPlanBuilder::from(subquery.clone())
                .alias(alias.as_str())?
                .build()?;
            joined = LogicalPlanBuilder::from(joined.clone())
                .cross_join(right)?
                .build()?;
            Ok(Transformed::yes(Expr::Column(Column::new(
                Some(alias.as_str()),
                name,
            ))))
        })?
        .data;
    Ok((expr, Arc::new(joined)))
}

/// A null-aware anti join (`x NOT IN (SELECT y ..)`) as an anti join, the counts of the
/// right side and a filter (see the module documentation).
fn not_in(join: Join, next: &mut usize) -> Result<LogicalPlan> {
    let (left_key, right_key) = join.on[0].clone();
    let columns = output_columns(&join.left);
    let anti = LogicalPlan::Join(Join {
        null_aware: false,
        ..join.clone()
    });
    let alias = format!("__sluice_not_in_{}", *next);
    *next += 1;
    let stats = LogicalPlanBuilder::from(Arc::unwrap_or_clone(join.right))
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                count(lit(ScalarValue::Int64(Some(1)))).alias("rows"),
                count(right_key).alias("values"),
            ],
        )?
        .alias(alias.as_str())?
        .build()?;
    let rows = col(Column::new(Some(alias.as_str()), "rows"));
    let values = col(Column::new(Some(alias.as_str()), "values"));
    let keep = rows
        .clone()
        .eq(lit(0i64))
        .or(left_key.is_not_null().and(rows.eq(values)));
    LogicalPlanBuilder::from(anti)
        .cross_join(stats)?
        .filter(keep)?
        .project(columns)?
        .build()
}
