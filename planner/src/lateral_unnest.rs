//! `CROSS JOIN UNNEST(arr) [AS t[(a, b, ..)]]` as Flink runs it: a lateral join of every row
//! with the elements of its array. For an `ARRAY<ROW<..>>` (or a MAP, whose entries are rows
//! `(key, value)`) the row's fields become the columns (`t.a`, `t.b`, or the field names when
//! there is no column list), as in Flink.
//!
//! Two parts:
//! - [`UnnestRowsPlanner`], a DataFusion relation planner for `UNNEST(..)` table factors whose
//!   argument is an array of rows or a map: it plans the table factor as
//!   `Projection(get_field(element, f) AS f, ..) <- Unnest(element) <- Projection(arr AS element)
//!   <- one empty row`, so the fields resolve by name. (DataFusion's own planning would yield
//!   one struct column.) The argument refers to the row of the left side (an outer
//!   reference), so DataFusion wraps the factor into a lateral subquery.
//! - [`LateralUnnest`], an analyzer rule that removes such lateral subqueries: an inner join
//!   without condition between `left` and a subquery made of projections, filters and unnests
//!   over one empty row becomes those same nodes applied to `left` itself, carrying the left
//!   columns along (a lateral join with a per-row table function is exactly that). This also
//!   serves `CROSS JOIN UNNEST(arr) AS t(x)` over arrays of scalars, which DataFusion plans
//!   the same way but cannot execute. A left join (`LEFT JOIN UNNEST(arr) ON TRUE`) becomes
//!   the same unnest keeping every left row: a NULL or empty array yields one row whose
//!   unnested columns are NULL (Flink's left lateral join with a table function).

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, DFSchema, JoinType, NullHandling, Result, ScalarValue};
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{
    Expr, ExprSchemable, Filter, LogicalPlan, LogicalPlanBuilder, Projection,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast::TableFactor;

/// The column holding the array (before the unnest) and then each element.
const ELEMENT: &str = "__sluice_unnest_element";

/// Plans `UNNEST(array of rows | map)` table factors with one column per field.
#[derive(Debug)]
pub struct UnnestRowsPlanner;

impl RelationPlanner for UnnestRowsPlanner {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        let TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_offset_alias: None,
            with_ordinality: false,
        } = &relation
        else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let [argument] = array_exprs.as_slice() else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let empty = DFSchema::empty();
        let mut array = context.sql_to_expr(argument.clone(), &empty)?;
        let Ok(mut data_type) = array.get_type(&empty) else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        if let DataType::Map(_, _) = data_type {
            array = datafusion::functions_nested::map_entries::map_entries(array);
            data_type = array.get_type(&empty)?;
        }
        let element = match &data_type {
            DataType::List(field) | DataType::LargeList(field) => field.data_type().clone(),
            DataType::FixedSizeList(field, _) => field.data_type().clone(),
            _ => return Ok(RelationPlanning::Original(Box::new(relation))),
        };
        let DataType::Struct(fields) = element else {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        };
        let columns: Vec<Expr> = fields
            .iter()
            .map(|field| {
                datafusion::functions::core::expr_fn::get_field(
                    Expr::Column(Column::from_name(ELEMENT)),
                    field.name().as_str(),
                )
                .alias(field.name())
            })
            .collect();
        let plan = LogicalPlanBuilder::empty(true)
            .project(vec![array.alias(ELEMENT)])?
            .unnest_column(ELEMENT)?
            .project(columns)?
            .build()?;
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan,
            alias.clone(),
        ))))
    }
}

/// Turns lateral joins with an UNNEST subquery into an unnest of the left side.
#[derive(Debug)]
pub struct LateralUnnest;

impl AnalyzerRule for LateralUnnest {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up(rewrite_join).data()
    }

    fn name(&self) -> &str {
        "sluice_lateral_unnest"
    }
}

fn rewrite_join(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Join(join) = &node else {
        return Ok(Transformed::no(node));
    };
    let unconditional = join.on.is_empty()
        && join
            .filter
            .as_ref()
            .is_none_or(|f| matches!(f, Expr::Literal(ScalarValue::Boolean(Some(true)), _)));
    let keep_left = match join.join_type {
        JoinType::Inner => false,
        JoinType::Left => true,
        _ => return Ok(Transformed::no(node)),
    };
    if !unconditional {
        return Ok(Transformed::no(node));
    }
    let subquery = match join.right.as_ref() {
        LogicalPlan::SubqueryAlias(alias) => match alias.input.as_ref() {
            LogicalPlan::Subquery(subquery) => subquery,
            _ => return Ok(Transformed::no(node)),
        },
        LogicalPlan::Subquery(subquery) => subquery,
        _ => return Ok(Transformed::no(node)),
    };
    let left_columns = join.left.schema().columns();
    let Some(applied) = per_row(&subquery.subquery, &join.left, &left_columns, keep_left)? else {
        return Ok(Transformed::no(node));
    };
    // The join's own output: the left columns, then the subquery's under its alias.
    if applied.schema().fields().len() != join.schema.fields().len() {
        return Ok(Transformed::no(node));
    }
    let exprs: Vec<Expr> = applied
        .schema()
        .iter()
        .zip(join.schema.iter())
        .map(|((qualifier, field), (join_qualifier, join_field))| {
            Expr::Column(Column::from((qualifier, field)))
                .alias_qualified(join_qualifier.cloned(), join_field.name())
        })
        .collect();
    let projection = Projection::try_new(exprs, Arc::new(applied))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}

/// Replace outer references (to the left side's columns) by plain columns.
fn strip_outer(expr: &Expr) -> Result<Expr> {
    expr.clone()
        .transform_up(|e| match e {
            Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
            other => Ok(Transformed::no(other)),
        })
        .data()
}

/// `plan` (a per-row subquery over one empty row) applied to every row of `left`, keeping the
/// left columns first; with `keep_left`, a row whose unnest yields nothing still appears
/// once. `None` when the subquery has another shape (for `keep_left`, also a filter: it would
/// drop left rows).
fn per_row(
    plan: &LogicalPlan,
    left: &Arc<LogicalPlan>,
    left_columns: &[Column],
    keep_left: bool,
) -> Result<Option<LogicalPlan>> {
    Ok(Some(match plan {
        LogicalPlan::EmptyRelation(empty) if empty.produce_one_row => left.as_ref().clone(),
        LogicalPlan::Projection(projection) => {
            let Some(input) = per_row(&projection.input, left, left_columns, keep_left)? else {
                return Ok(None);
            };
            let mut exprs: Vec<Expr> = left_columns.iter().cloned().map(Expr::Column).collect();
            for expr in &projection.expr {
                exprs.push(strip_outer(expr)?);
            }
            LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input))?)
        }
        LogicalPlan::Filter(_) if keep_left => return Ok(None),
        LogicalPlan::Filter(filter) => {
            let Some(input) = per_row(&filter.input, left, left_columns, keep_left)? else {
                return Ok(None);
            };
            LogicalPlan::Filter(Filter::try_new(
                strip_outer(&filter.predicate)?,
                Arc::new(input),
            )?)
        }
        LogicalPlan::Unnest(unnest) => {
            let Some(input) = per_row(&unnest.input, left, left_columns, keep_left)? else {
                return Ok(None);
            };
            let mut options = unnest.options.clone();
            if keep_left {
                options = options.with_null_handling(NullHandling::PreserveAndExpandEmpty);
            }
            LogicalPlanBuilder::from(input)
                .unnest_columns_with_options(unnest.exec_columns.clone(), options)?
                .build()?
        }
        _ => return Ok(None),
    }))
}
