//! Incremental rewrite: an optimized DataFusion `LogicalPlan` becomes a dataflow of
//! incremental operators.
//!
//! | logical node            | operator                                   |
//! |-------------------------|--------------------------------------------|
//! | TableScan               | Scan of the stored relation (projection)   |
//! | Projection              | Project (DataFusion physical expressions)  |
//! | Filter                  | Filter                                     |
//! | Join (equi + residual)  | HashJoin (inner/outer/semi/anti)           |
//! | Aggregate, Distinct     | GroupAggregate                             |
//! | Union                   | Union                                      |
//! | Values, EmptyRelation   | Constant                                   |
//! | Sort (no limit), alias  | pass-through (a relation has no order)     |
//! | Sort with fetch, Limit  | TopN (ORDER BY .. LIMIT .. OFFSET)         |
//! | Window (ROW_NUMBER)     | TopN per partition, numbering every row    |
//!
//! Anything else is rejected with an error naming the feature. Scans ignore pushed-down
//! filters: the stored-table provider declares no pushdown, so filters stay in the plan.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{DFSchema, JoinType, NullEquality};
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan};
use datafusion::logical_expr::{FetchType, SkipType};
use datafusion::physical_expr::aggregate::LoweredAggregateBuilder;
use datafusion::physical_expr::{create_physical_expr, create_physical_sort_exprs, PhysicalExpr};
use sluice_runtime::operators::{
    AggregateCall, Constant, Filter, GroupAggregate, HashJoin, JoinKind, Project, Scan, TopN, Union,
};
use sluice_runtime::{Dataflow, DataflowBuilder, NodeId};

use crate::error::{PlanError, Result};

/// Compile `plan` (already optimized) into a dataflow.
pub fn compile(plan: &LogicalPlan) -> Result<Dataflow> {
    reject_volatile(plan)?;
    let props = ExecutionProps::new();
    let mut compiler = Compiler {
        builder: DataflowBuilder::new(),
        props: &props,
    };
    let output = compiler.node(plan)?;
    Ok(compiler.builder.build(output)?)
}

/// The stored relation a scan reads: the bare table name.
pub fn relation_name(table: &datafusion::common::TableReference) -> String {
    table.table().to_string()
}

fn reject_volatile(plan: &LogicalPlan) -> Result<()> {
    let mut volatile = None;
    plan.apply(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarFunction(function) = e {
                    if function.func.signature().volatility
                        == datafusion::logical_expr::Volatility::Volatile
                    {
                        volatile = Some(function.func.name().to_string());
                    }
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
        })
    })
    .map_err(|e| PlanError::Internal(e.to_string()))?;
    match volatile {
        Some(name) => Err(PlanError::Unsupported(format!(
            "volatile function {name}() in a materialized view (its result could not be retracted)"
        ))),
        None => Ok(()),
    }
}

/// A filter `rn <= n` (or `rn < n`, `rn = 1`) directly over a ROW_NUMBER window, possibly
/// through a projection that passes the number through: the window, the projection and n.
fn row_number_bound(
    filter: &datafusion::logical_expr::Filter,
) -> Option<(
    &datafusion::logical_expr::Window,
    Option<&datafusion::logical_expr::Projection>,
    usize,
)> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::Operator;
    let (projection, window) = match filter.input.as_ref() {
        LogicalPlan::Window(window) => (None, window),
        LogicalPlan::Projection(projection) => match projection.input.as_ref() {
            LogicalPlan::Window(window) => (Some(projection), window),
            _ => return None,
        },
        _ => return None,
    };
    if window.window_expr.len() != 1 {
        return None;
    }
    let number_name = window.schema.fields().last()?.name().clone();
    if let Some(projection) = projection {
        // The projection must pass columns through unchanged.
        if !projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) {
            return None;
        }
    }
    let Expr::BinaryExpr(binary) = &filter.predicate else {
        return None;
    };
    let (Expr::Column(column), Expr::Literal(value, _)) =
        (binary.left.as_ref(), binary.right.as_ref())
    else {
        return None;
    };
    if column.name != number_name {
        return None;
    }
    let value = match value {
        ScalarValue::UInt64(Some(v)) => *v as i64,
        ScalarValue::Int64(Some(v)) => *v,
        ScalarValue::Int32(Some(v)) => *v as i64,
        _ => return None,
    };
    let bound = match binary.op {
        Operator::LtEq => value,
        Operator::Lt => value - 1,
        Operator::Eq if value == 1 => 1,
        _ => return None,
    };
    (bound >= 0).then_some((window, projection, bound as usize))
}

struct Compiler<'a> {
    builder: DataflowBuilder,
    props: &'a ExecutionProps,
}

fn arrow_schema(schema: &DFSchema) -> SchemaRef {
    Arc::new(schema.as_arrow().clone())
}

impl Compiler<'_> {
    fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        create_physical_expr(
            expr,
            schema,
            self.props,
            &PhysicalPlanningContext::default(),
        )
        .map_err(|e| PlanError::from_datafusion(e, ""))
    }

    fn node(&mut self, plan: &LogicalPlan) -> Result<NodeId> {
        match plan {
            LogicalPlan::TableScan(scan) => {
                if scan.fetch.is_some() {
                    return Err(PlanError::Unsupported(
                        "LIMIT in a materialized view".into(),
                    ));
                }
                let schema = arrow_schema(&scan.projected_schema);
                Ok(self.builder.scan(Scan::new(
                    relation_name(&scan.table_name),
                    scan.projection.clone(),
                    schema,
                )))
            }
            LogicalPlan::Projection(projection) => {
                let input = self.node(&projection.input)?;
                self.project(projection, input)
            }
            LogicalPlan::Filter(filter) => {
                let input = match row_number_bound(filter) {
                    // `rn <= n` over ROW_NUMBER: the top-N keeps only the first n per partition.
                    Some((window, projection, bound)) => {
                        let window_node = self.window(window, Some(bound))?;
                        match projection {
                            Some(projection) => self.project(projection, window_node)?,
                            None => window_node,
                        }
                    }
                    None => self.node(&filter.input)?,
                };
                let predicate = self.physical(&filter.predicate, filter.input.schema())?;
                let schema = arrow_schema(filter.input.schema());
                Ok(self
                    .builder
                    .add(Box::new(Filter::new(predicate, schema)), vec![input]))
            }
            LogicalPlan::SubqueryAlias(alias) => self.node(&alias.input),
            LogicalPlan::Sort(sort) => match sort.fetch {
                // A relation has no order: ORDER BY alone changes nothing.
                None => self.node(&sort.input),
                Some(fetch) => self.top_n(sort, 0, Some(fetch)),
            },
            LogicalPlan::Limit(limit) => {
                let LogicalPlan::Sort(sort) = limit.input.as_ref() else {
                    return Err(PlanError::Unsupported(
                        "LIMIT/OFFSET without ORDER BY in a materialized view (the rows kept would be arbitrary)".into(),
                    ));
                };
                let skip = match limit.get_skip_type() {
                    Ok(SkipType::Literal(skip)) => skip,
                    _ => return Err(PlanError::Unsupported("a non-constant OFFSET".into())),
                };
                let fetch = match limit.get_fetch_type() {
                    Ok(FetchType::Literal(fetch)) => fetch,
                    _ => return Err(PlanError::Unsupported("a non-constant LIMIT".into())),
                };
                self.top_n(sort, skip, fetch)
            }
            LogicalPlan::Union(union) => {
                let inputs = union
                    .inputs
                    .iter()
                    .map(|input| self.node(input))
                    .collect::<Result<Vec<_>>>()?;
                let schema = arrow_schema(&union.schema);
                Ok(self
                    .builder
                    .add(Box::new(Union::new(inputs.len(), schema)), inputs))
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let node = self.node(input)?;
                let input_schema = arrow_schema(input.schema());
                let group_exprs: Vec<Arc<dyn PhysicalExpr>> = input
                    .schema()
                    .columns()
                    .iter()
                    .map(|c| self.physical(&Expr::Column(c.clone()), input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let aggregate =
                    GroupAggregate::new(&input_schema, group_exprs, vec![], input_schema.clone())?;
                Ok(self.builder.add(Box::new(aggregate), vec![node]))
            }
            LogicalPlan::Distinct(Distinct::On(_)) => Err(PlanError::Unsupported(
                "SELECT DISTINCT ON in a materialized view".into(),
            )),
            LogicalPlan::Aggregate(aggregate) => {
                if aggregate
                    .group_expr
                    .iter()
                    .any(|e| matches!(e, Expr::GroupingSet(_)))
                {
                    return Err(PlanError::Unsupported(
                        "GROUPING SETS / ROLLUP / CUBE in a materialized view".into(),
                    ));
                }
                let input = self.node(&aggregate.input)?;
                let input_df_schema = aggregate.input.schema();
                let input_schema = arrow_schema(input_df_schema);
                let group_exprs = aggregate
                    .group_expr
                    .iter()
                    .map(|e| self.physical(e, input_df_schema))
                    .collect::<Result<Vec<_>>>()?;
                let calls = aggregate
                    .aggr_expr
                    .iter()
                    .map(|e| {
                        let planning = PhysicalPlanningContext::default();
                        let lowered = LoweredAggregateBuilder::new(
                            e,
                            input_df_schema,
                            &input_schema,
                            self.props,
                            &planning,
                        )
                        .build()
                        .map_err(|e| PlanError::from_datafusion(e, ""))?;
                        Ok(AggregateCall {
                            function: lowered.aggregate,
                            filter: lowered.filter,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let schema = arrow_schema(&aggregate.schema);
                let operator = GroupAggregate::new(&input_schema, group_exprs, calls, schema)?;
                Ok(self.builder.add(Box::new(operator), vec![input]))
            }
            LogicalPlan::Join(join) => {
                if join.null_aware {
                    return Err(PlanError::Unsupported(
                        "NOT IN (subquery) in a materialized view; use NOT EXISTS".into(),
                    ));
                }
                let kind = match join.join_type {
                    JoinType::Inner => JoinKind::Inner,
                    JoinType::Left => JoinKind::Left,
                    JoinType::Right => JoinKind::Right,
                    JoinType::Full => JoinKind::Full,
                    JoinType::LeftSemi => JoinKind::LeftSemi,
                    JoinType::LeftAnti => JoinKind::LeftAnti,
                    JoinType::RightSemi => JoinKind::RightSemi,
                    JoinType::RightAnti => JoinKind::RightAnti,
                    other => {
                        return Err(PlanError::Unsupported(format!(
                            "{other} join in a materialized view"
                        )))
                    }
                };
                let left = self.node(&join.left)?;
                let right = self.node(&join.right)?;
                let left_keys = join
                    .on
                    .iter()
                    .map(|(l, _)| self.physical(l, join.left.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let right_keys = join
                    .on
                    .iter()
                    .map(|(_, r)| self.physical(r, join.right.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let filter = match &join.filter {
                    Some(filter) => {
                        let combined = join
                            .left
                            .schema()
                            .join(join.right.schema())
                            .map_err(|e| PlanError::from_datafusion(e, ""))?;
                        Some(self.physical(filter, &combined)?)
                    }
                    None => None,
                };
                let operator = HashJoin::new(
                    kind,
                    arrow_schema(join.left.schema()),
                    arrow_schema(join.right.schema()),
                    left_keys,
                    right_keys,
                    filter,
                    join.null_equality == NullEquality::NullEqualsNull,
                    arrow_schema(&join.schema),
                )?;
                Ok(self.builder.add(Box::new(operator), vec![left, right]))
            }
            LogicalPlan::Values(values) => {
                let schema = arrow_schema(&values.schema);
                let batch = self.evaluate_rows(&values.values, &schema)?;
                Ok(self
                    .builder
                    .add(Box::new(Constant::new(vec![batch], schema)), vec![]))
            }
            LogicalPlan::EmptyRelation(empty) => {
                let schema = arrow_schema(&empty.schema);
                let rows = usize::from(empty.produce_one_row);
                let batch = RecordBatch::try_new_with_options(
                    schema.clone(),
                    schema
                        .fields()
                        .iter()
                        .map(|f| arrow::array::new_null_array(f.data_type(), rows))
                        .collect(),
                    &RecordBatchOptions::new().with_row_count(Some(rows)),
                )?;
                Ok(self
                    .builder
                    .add(Box::new(Constant::new(vec![batch], schema)), vec![]))
            }
            LogicalPlan::Window(window) => self.window(window, None),
            LogicalPlan::Unnest(_) => Err(PlanError::Unsupported(
                "UNNEST in a materialized view".into(),
            )),
            LogicalPlan::RecursiveQuery(_) => Err(PlanError::Unsupported(
                "WITH RECURSIVE in a materialized view".into(),
            )),
            other => Err(PlanError::Unsupported(format!(
                "{} in a materialized view",
                other.display()
            ))),
        }
    }

    /// `ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..)`: a partitioned top-N that numbers
    /// every row. Other window functions are not maintained yet.
    fn window(
        &mut self,
        window: &datafusion::logical_expr::Window,
        limit: Option<usize>,
    ) -> Result<NodeId> {
        use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
        let unsupported = || {
            PlanError::Unsupported(
                "window functions other than a single ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..) in a materialized view".into(),
            )
        };
        let [expr] = window.window_expr.as_slice() else {
            return Err(unsupported());
        };
        let expr = match expr {
            Expr::Alias(alias) => alias.expr.as_ref(),
            other => other,
        };
        let Expr::WindowFunction(function) = expr else {
            return Err(unsupported());
        };
        let WindowFunction { fun, params } = function.as_ref();
        let is_row_number =
            matches!(fun, WindowFunctionDefinition::WindowUDF(udf) if udf.name() == "row_number");
        if !is_row_number || params.filter.is_some() || params.distinct {
            return Err(unsupported());
        }
        let input = self.node(&window.input)?;
        let input_df_schema = window.input.schema();
        let input_schema = arrow_schema(input_df_schema);
        let partition = params
            .partition_by
            .iter()
            .map(|e| self.physical(e, input_df_schema))
            .collect::<Result<Vec<_>>>()?;
        let order = create_physical_sort_exprs(
            &params.order_by,
            input_df_schema,
            self.props,
            &PhysicalPlanningContext::default(),
        )
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
        let operator = TopN::partitioned(
            &input_schema,
            partition,
            order,
            0,
            limit,
            true,
            arrow_schema(&window.schema),
        )?;
        Ok(self.builder.add(Box::new(operator), vec![input]))
    }

    fn project(
        &mut self,
        projection: &datafusion::logical_expr::Projection,
        input: NodeId,
    ) -> Result<NodeId> {
        let exprs = projection
            .expr
            .iter()
            .map(|e| self.physical(e, projection.input.schema()))
            .collect::<Result<Vec<_>>>()?;
        let schema = arrow_schema(&projection.schema);
        Ok(self
            .builder
            .add(Box::new(Project::new(exprs, schema)), vec![input]))
    }

    /// ORDER BY .. LIMIT: a top-N operator over the sort's input.
    fn top_n(
        &mut self,
        sort: &datafusion::logical_expr::Sort,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<NodeId> {
        let input = self.node(&sort.input)?;
        let input_schema = arrow_schema(sort.input.schema());
        let order = create_physical_sort_exprs(
            &sort.expr,
            sort.input.schema(),
            self.props,
            &PhysicalPlanningContext::default(),
        )
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
        let operator = TopN::new(&input_schema, order, offset, limit)?;
        Ok(self.builder.add(Box::new(operator), vec![input]))
    }

    /// Evaluate constant rows (VALUES) into one batch.
    fn evaluate_rows(&self, rows: &[Vec<Expr>], schema: &SchemaRef) -> Result<RecordBatch> {
        let empty = DFSchema::empty();
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); schema.fields().len()];
        for row in rows {
            for (index, expr) in row.iter().enumerate() {
                let value = self
                    .physical(expr, &empty)?
                    .evaluate(&one_row)
                    .map_err(|e| PlanError::from_datafusion(e, ""))?
                    .into_array(1)
                    .map_err(|e| PlanError::from_datafusion(e, ""))?;
                let target = schema.field(index).data_type();
                let value = if value.data_type() == target {
                    value
                } else {
                    arrow::compute::cast(&value, target)?
                };
                columns[index].push(value);
            }
        }
        let columns = columns
            .into_iter()
            .map(|parts| {
                let refs: Vec<&dyn arrow::array::Array> =
                    parts.iter().map(|a| a.as_ref()).collect();
                Ok(arrow::compute::concat(&refs)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}
