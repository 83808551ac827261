//! Incremental rewrite: an optimized DataFusion `LogicalPlan` becomes a dataflow of
//! incremental operators.
//!
//! | logical node            | operator                                   |
//! |-------------------------|--------------------------------------------|
//! | TableScan               | Scan of the stored relation (projection)   |
//! | Projection              | Project (DataFusion physical expressions)  |
//! | Filter                  | Filter                                     |
//! | Join (equi + residual)  | HashJoin (inner/outer/semi/anti)           |
//! | Join bounding event time| HashJoin with expiry (an interval join)    |
//! | Join marked AS OF       | TemporalJoin (FOR SYSTEM_TIME AS OF)       |
//! | Aggregate, Distinct     | GroupAggregate                             |
//! | Union                   | Union                                      |
//! | Values, EmptyRelation   | Constant                                   |
//! | Sort (no limit), alias  | pass-through (a relation has no order)     |
//! | Sort with fetch, Limit  | TopN (ORDER BY .. LIMIT .. OFFSET)         |
//! | Window (ROW_NUMBER)     | TopN per partition, numbering every row    |
//! | Window (other OVER)     | OverAggregate (frames, LAG/LEAD, ...)      |
//! | Unnest                  | Unnest                                     |
//! | Aggregate on window_end | WindowAggregate (emits on the watermark)   |
//! | Aggregate over SESSION  | SessionWindowAggregate (on the watermark)  |
//!
//! Time attributes ([`TimeAttr`]) are inferred for every node's columns, starting from the
//! event-time columns of watermarked relations: a GROUP BY whose keys include a window end
//! derived from event time (the window table functions) becomes a window aggregate that
//! emits each window once, when the watermark passes its end. Without a watermark the same
//! query is maintained as an ordinary, updating aggregate.
//!
//! Anything else is rejected with an error naming the feature. Scans ignore pushed-down
//! filters: the stored-table provider declares no pushdown, so filters stay in the plan.

use std::collections::HashMap;
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
    AggregateCall, Constant, EventTimeCleanup, Extent, Filter, GroupAggregate, HashJoin, JoinKind,
    OverAggregate, Project, Reach, Scan, SessionWindowAggregate, TemporalJoin, TemporalTime,
    TimeBounds, TopN, Union, Unnest, UnnestColumn, WindowAggregate,
};
use sluice_runtime::{Dataflow, DataflowBuilder, NodeId};

use crate::error::{PlanError, Result};
use crate::streaming::interval_join::interval_bounds;
use crate::streaming::session_window::as_session_window;
use crate::streaming::time::{expr_attr, PROCTIME};
use crate::streaming::TimeAttr;

/// Time attributes of a relation's columns (one entry per column).
pub type TimeAttrs = Vec<Option<TimeAttr>>;

/// Compile `plan` (already optimized) into a dataflow over relations without event time.
pub fn compile(plan: &LogicalPlan) -> Result<Dataflow> {
    Ok(compile_streaming(plan, &|_| None, &|_| false)?.0)
}

/// Compile `plan` (already optimized) into a dataflow; `relation_attrs` gives the time
/// attributes of a stored relation's columns (`None` when it has no event time);
/// `relation_append_only` whether a relation only ever receives insertions (a source stream
/// such as a file, Kafka topic or generator: its rows are never updated or deleted). Returns
/// the dataflow and the time attributes of its output columns.
pub fn compile_streaming(
    plan: &LogicalPlan,
    relation_attrs: &dyn Fn(&str) -> Option<TimeAttrs>,
    relation_append_only: &dyn Fn(&str) -> bool,
) -> Result<(Dataflow, TimeAttrs)> {
    let rewritten = crate::subquery_joins::rewrite(plan.clone())
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
    let plan = &rewritten;
    reject_volatile(plan)?;
    let props = ExecutionProps::new();
    let mut compiler = Compiler {
        builder: DataflowBuilder::new(),
        props: &props,
        attrs: Vec::new(),
        append_only: Vec::new(),
        relation_attrs,
        relation_append_only,
        built: HashMap::new(),
    };
    let output = compiler.node(plan)?;
    let attrs = compiler.attrs_of(output, plan.schema().fields().len());
    check_processing(&attrs, "the result")?;
    Ok((compiler.builder.build(output)?, attrs))
}

/// The stored relation a scan reads: its catalog key (see [`crate::names`]).
pub fn relation_name(table: &datafusion::common::TableReference) -> String {
    crate::names::key(table)
}

fn reject_volatile(plan: &LogicalPlan) -> Result<()> {
    let mut volatile = None;
    plan.apply(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarFunction(function) = e {
                    // PROCTIME() is allowed as a processing-time attribute; the compiler
                    // checks it only feeds processing-time windows (`check_processing`).
                    if function.func.signature().volatility
                        == datafusion::logical_expr::Volatility::Volatile
                        && function.func.name() != PROCTIME
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

/// The error for a processing-time attribute that reaches `what`.
fn processing_misuse(what: &str) -> PlanError {
    PlanError::Unsupported(format!(
        "PROCTIME() used in {what}: in a maintained view a processing-time attribute can only \
         be the time column of a window table function (TUMBLE/HOP/CUMULATE) aggregated by \
         GROUP BY .. window_start, window_end"
    ))
}

/// Refuse processing-time attributes among `attrs` (the input of `what`).
fn check_processing(attrs: &[Option<TimeAttr>], what: &str) -> Result<()> {
    if attrs.iter().flatten().any(|a| a.is_processing()) {
        return Err(processing_misuse(what));
    }
    Ok(())
}

/// Whether `expr` calls PROCTIME() or reads a column with a processing-time attribute.
fn involves_processing(expr: &Expr, schema: &DFSchema, attrs: &[Option<TimeAttr>]) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        match e {
            Expr::ScalarFunction(function) if function.func.name() == PROCTIME => found = true,
            Expr::Column(column) => {
                found |= schema
                    .index_of_column(column)
                    .ok()
                    .and_then(|i| attrs.get(i).copied().flatten())
                    .is_some_and(TimeAttr::is_processing)
            }
            _ => {}
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
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
    match window.window_expr.as_slice() {
        [expr] if is_row_number(expr) => {}
        _ => return None,
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
    /// Time attributes of each node's output columns, by node id (empty = none known).
    attrs: Vec<TimeAttrs>,
    /// Whether each node's output is insert-only (by node id; absent = no): true for scans of
    /// append-only relations and for operators that keep that property (filters,
    /// projections, unions and inner joins of append-only inputs, windows that emit each
    /// window once). A top-N over such an input never has to bring back a row it has
    /// dropped, so it keeps only its first N rows per partition.
    append_only: Vec<bool>,
    relation_attrs: &'a dyn Fn(&str) -> Option<TimeAttrs>,
    relation_append_only: &'a dyn Fn(&str) -> bool,
    /// The node built for each sub-plan so far (by [`crate::plan_key::canonical`]): a
    /// sub-plan that occurs more than once (the same scan, or the same windowed aggregate in
    /// both inputs of a join, as in Nexmark q5) is built once and feeds all its consumers,
    /// so its state is kept and its changes computed once (Flink's sub-plan reuse).
    built: HashMap<LogicalPlan, NodeId>,
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

    fn set_attrs(&mut self, node: NodeId, attrs: TimeAttrs) {
        if self.attrs.len() <= node {
            self.attrs.resize(node + 1, Vec::new());
        }
        self.attrs[node] = attrs;
    }

    fn set_append_only(&mut self, node: NodeId, append_only: bool) {
        if self.append_only.len() <= node {
            self.append_only.resize(node + 1, false);
        }
        self.append_only[node] = append_only;
    }

    fn is_append_only(&self, node: NodeId) -> bool {
        self.append_only.get(node).copied().unwrap_or(false)
    }

    /// Time attributes of a node's `columns` output columns.
    fn attrs_of(&self, node: NodeId, columns: usize) -> TimeAttrs {
        let mut attrs = self.attrs.get(node).cloned().unwrap_or_default();
        attrs.resize(columns, None);
        attrs
    }

    fn node(&mut self, plan: &LogicalPlan) -> Result<NodeId> {
        let key = crate::plan_key::canonical(plan).unwrap_or_else(|| plan.clone());
        if let Some(&node) = self.built.get(&key) {
            return Ok(node);
        }
        let node = self.node_inner(plan)?;
        if self.attrs.get(node).is_none_or(|a| a.is_empty()) {
            // Operators that do not state otherwise drop time attributes.
            self.set_attrs(node, vec![None; plan.schema().fields().len()]);
        }
        self.built.insert(key, node);
        Ok(node)
    }

    fn node_inner(&mut self, plan: &LogicalPlan) -> Result<NodeId> {
        match plan {
            LogicalPlan::TableScan(scan) => {
                if scan.fetch.is_some() {
                    return Err(PlanError::Unsupported(
                        "LIMIT in a materialized view".into(),
                    ));
                }
                let relation = relation_name(&scan.table_name);
                let schema = arrow_schema(&scan.projected_schema);
                let attrs = (self.relation_attrs)(&relation).map(|attrs| match &scan.projection {
                    Some(columns) => columns
                        .iter()
                        .map(|&c| attrs.get(c).copied().flatten())
                        .collect(),
                    None => attrs,
                });
                let append_only = (self.relation_append_only)(&relation);
                let node = self
                    .builder
                    .scan(Scan::new(relation, scan.projection.clone(), schema));
                if let Some(attrs) = attrs {
                    self.set_attrs(node, attrs);
                }
                self.set_append_only(node, append_only);
                Ok(node)
            }
            LogicalPlan::Projection(projection) => {
                let input = self.node(&projection.input)?;
                let node = self.project(projection, input)?;
                self.set_append_only(node, self.is_append_only(input));
                Ok(node)
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
                let attrs = self.attrs_of(input, schema.fields().len());
                let node = self
                    .builder
                    .add(Box::new(Filter::new(predicate, schema)), vec![input]);
                self.set_attrs(node, attrs);
                self.set_append_only(node, self.is_append_only(input));
                Ok(node)
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
                let columns = schema.fields().len();
                let input_attrs: Vec<TimeAttrs> =
                    inputs.iter().map(|&i| self.attrs_of(i, columns)).collect();
                let attrs = (0..columns)
                    .map(|c| {
                        let first = input_attrs.first().and_then(|a| a[c]);
                        input_attrs
                            .iter()
                            .all(|a| a[c] == first)
                            .then_some(first)
                            .flatten()
                    })
                    .collect();
                let append_only = inputs.iter().all(|&i| self.is_append_only(i));
                let node = self
                    .builder
                    .add(Box::new(Union::new(inputs.len(), schema)), inputs);
                self.set_attrs(node, attrs);
                self.set_append_only(node, append_only);
                Ok(node)
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let node = self.node(input)?;
                check_processing(
                    &self.attrs_of(node, input.schema().fields().len()),
                    "DISTINCT",
                )?;
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
                if let Some(node) = self.session_aggregate(aggregate)? {
                    return Ok(node);
                }
                let input = self.node(&aggregate.input)?;
                let input_df_schema = aggregate.input.schema();
                let input_schema = arrow_schema(input_df_schema);
                let group_exprs = aggregate
                    .group_expr
                    .iter()
                    .map(|e| self.physical(e, input_df_schema))
                    .collect::<Result<Vec<_>>>()?;
                let calls = self.aggregate_calls(aggregate)?;
                let schema = arrow_schema(&aggregate.schema);
                let input_attrs = self.attrs_of(input, input_schema.fields().len());
                let group_attrs: Vec<Option<TimeAttr>> = aggregate
                    .group_expr
                    .iter()
                    .map(|e| expr_attr(e, input_df_schema, &input_attrs))
                    .collect();
                // A group key that is a window end derived from event time: emit per window.
                let window_end =
                    aggregate
                        .group_expr
                        .iter()
                        .zip(&group_attrs)
                        .find_map(|(expr, attr)| match (expr, attr) {
                            (Expr::Column(column), Some(TimeAttr::WindowEnd)) => {
                                input_df_schema.index_of_column(column).ok()
                            }
                            _ => None,
                        });
                // A window end derived from PROCTIME(): emit per window by the wall clock.
                let processing_end =
                    aggregate
                        .group_expr
                        .iter()
                        .zip(&group_attrs)
                        .find_map(|(expr, attr)| match (expr, attr) {
                            (Expr::Column(column), Some(TimeAttr::ProcessingWindowEnd)) => {
                                input_df_schema.index_of_column(column).ok()
                            }
                            _ => None,
                        });
                if processing_end.is_none() {
                    let used = aggregate
                        .group_expr
                        .iter()
                        .chain(&aggregate.aggr_expr)
                        .any(|e| involves_processing(e, input_df_schema, &input_attrs));
                    if used {
                        return Err(processing_misuse(
                            "a GROUP BY without the processing-time window's window_end",
                        ));
                    }
                }
                let operator = GroupAggregate::new(&input_schema, group_exprs, calls, schema)?
                    .append_only_input(self.is_append_only(input))?;
                // An event-time window aggregate keeps its event-time keys and its window
                // bounds (Flink's window properties): a GROUP BY on the window end of its
                // output is a window aggregate again (cascaded windows, Nexmark q5's max per
                // window), and a join on the window ends of two such inputs is a window join
                // (see `window_join_keys`). Its rows of window `e` are emitted when the
                // watermark reaches `e - 1`, before the watermark moves on downstream, so no
                // downstream operator sees them as late.
                let mut attrs: TimeAttrs = group_attrs
                    .iter()
                    .map(|a| match a {
                        Some(
                            attr @ (TimeAttr::EventTime
                            | TimeAttr::WindowStart
                            | TimeAttr::WindowEnd),
                        ) if window_end.is_some() => Some(*attr),
                        _ => None,
                    })
                    .collect();
                attrs.resize(aggregate.schema.fields().len(), None);
                let node = match (window_end, processing_end) {
                    (Some(column), _) => {
                        let operator = WindowAggregate::new(operator, &input_schema, column)?;
                        self.builder.add(Box::new(operator), vec![input])
                    }
                    (None, Some(column)) => {
                        let operator =
                            WindowAggregate::processing_time(operator, &input_schema, column)?;
                        self.builder.add(Box::new(operator), vec![input])
                    }
                    (None, None) => self.builder.add(Box::new(operator), vec![input]),
                };
                self.set_attrs(node, attrs);
                // A window aggregate emits each window once, when it closes.
                let windowed = window_end.is_some() || processing_end.is_some();
                self.set_append_only(node, windowed && self.is_append_only(input));
                Ok(node)
            }
            LogicalPlan::Join(join) => {
                if let Some((time, residual)) = join
                    .filter
                    .as_ref()
                    .and_then(crate::streaming::temporal::split_marker)
                {
                    return self.temporal_join(join, &time, residual.as_ref());
                }
                if join.null_aware {
                    return Err(PlanError::Unsupported(
                        "NOT IN over several columns or with a correlated condition in a \
                         materialized view; use NOT EXISTS"
                            .into(),
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
                check_processing(
                    &self.attrs_of(left, join.left.schema().fields().len()),
                    "a join",
                )?;
                check_processing(
                    &self.attrs_of(right, join.right.schema().fields().len()),
                    "a join",
                )?;
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
                // An inner interval join with constant bounds keeps its inputs' event-time
                // columns as time attributes (windows can follow it), holding its output
                // watermark back (see `preserved_time_attributes`); an outer one over
                // append-only inputs, bounded both ways, emits as Flink does (see
                // `interval_bounds`) and keeps its outer side's.
                let (mut bounds, kept) = match &join.filter {
                    Some(filter) => self.interval_bounds(join, filter, [left, right], kind)?,
                    None => (TimeBounds::default(), Default::default()),
                };
                let window_ends = self.window_join_keys(join, [left, right]);
                for &(l, r) in &window_ends {
                    for (side, index, schema) in
                        [(0, l, join.left.schema()), (1, r, join.right.schema())]
                    {
                        let column = Expr::Column(datafusion::common::Column::from(
                            schema.qualified_field(index),
                        ));
                        let bound = self.physical(&column, schema)?;
                        bounds.expire[side].push(bound.clone());
                        bounds.late[side].push(bound);
                    }
                }
                // An outer window join emits its unmatched rows when their window closes.
                bounds.unmatched_on_expiry = self.emits_on_expiry(
                    kind,
                    [0, 1].map(|side| !bounds.expire[side].is_empty()),
                    [left, right],
                );
                let unmatched_on_expiry = bounds.unmatched_on_expiry;
                let operator = HashJoin::new(
                    kind,
                    arrow_schema(join.left.schema()),
                    arrow_schema(join.right.schema()),
                    left_keys,
                    right_keys,
                    filter,
                    join.null_equality == NullEquality::NullEqualsNull,
                    arrow_schema(&join.schema),
                )?
                .with_time_bounds(bounds);
                // An inner join of insertions only produces insertions (expiring interval-join
                // state emits nothing), as does an outer interval join that emits its unmatched
                // rows on expiry.
                let append_only = (kind == JoinKind::Inner || unmatched_on_expiry)
                    && self.is_append_only(left)
                    && self.is_append_only(right);
                let node = self.builder.add(Box::new(operator), vec![left, right]);
                self.set_append_only(node, append_only);
                let window_join = kind == JoinKind::Inner && !window_ends.is_empty();
                if kept.iter().any(|columns| !columns.is_empty()) || window_join {
                    let left_columns = join.left.schema().fields().len();
                    let mut attrs: TimeAttrs = vec![None; join.schema.fields().len()];
                    for (side, offset) in [(0, 0), (1, left_columns)] {
                        for &index in &kept[side] {
                            if let Some(slot) = attrs.get_mut(offset + index) {
                                *slot = Some(TimeAttr::EventTime);
                            }
                        }
                    }
                    // An inner window join emits a pair of window `e` while the watermark is
                    // below `e` (later rows of `e` are late), so the output keeps the window
                    // ends of both inputs, as Flink's window join keeps its window bounds.
                    if window_join {
                        for &(l, r) in &window_ends {
                            for index in [l, left_columns + r] {
                                if let Some(slot) = attrs.get_mut(index) {
                                    *slot = Some(TimeAttr::WindowEnd);
                                }
                            }
                        }
                    }
                    self.set_attrs(node, attrs);
                }
                Ok(node)
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
            LogicalPlan::Extension(extension)
                if as_session_window(&LogicalPlan::Extension(extension.clone())).is_some() =>
            {
                Err(PlanError::Unsupported(
                    "a SESSION window that is not aggregated by GROUP BY .. window_start, \
                     window_end directly (Flink supports session windows only in window \
                     aggregations; filter the input in a view instead)"
                        .into(),
                ))
            }
            LogicalPlan::Window(window) => self.window(window, None),
            LogicalPlan::Unnest(unnest) => self.unnest(unnest),
            LogicalPlan::RecursiveQuery(_) => Err(PlanError::Unsupported(
                "WITH RECURSIVE in a materialized view".into(),
            )),
            other => Err(PlanError::Unsupported(format!(
                "{} in a materialized view",
                other.display()
            ))),
        }
    }

    /// The equi-join keys of `join` that equate the window ends of both inputs (event-time
    /// window bounds, from window TVFs or window aggregates): as (left, right) column
    /// indexes. Such a join is a window join: no row of a window ending at `e` arrives once
    /// the watermark reaches `e` (it would be late upstream, or it is late here), so a row
    /// leaves the join's state then, as Flink's window join forgets a window when it fires.
    fn window_join_keys(
        &self,
        join: &datafusion::logical_expr::Join,
        [left, right]: [NodeId; 2],
    ) -> Vec<(usize, usize)> {
        let schemas = [join.left.schema(), join.right.schema()];
        let attrs = [
            self.attrs_of(left, schemas[0].fields().len()),
            self.attrs_of(right, schemas[1].fields().len()),
        ];
        join.on
            .iter()
            .filter_map(|(l, r)| {
                let index = |side: usize, expr: &Expr| {
                    plain_column(expr)
                        .and_then(|c| schemas[side].index_of_column(c).ok())
                        .filter(|&i| attrs[side].get(i) == Some(&Some(TimeAttr::WindowEnd)))
                };
                Some((index(0, l)?, index(1, r)?))
            })
            .collect()
    }

    /// The interval-join bounds of a join condition, as expressions over each input, and
    /// with `keep_time` the event-time columns of each input the output keeps as time
    /// attributes (with the watermark delay that needs, in the bounds).
    ///
    /// An outer join over append-only inputs whose condition bounds both inputs follows
    /// Flink's interval join: an outer row that matched nothing is emitted NULL-padded when
    /// it expires (both inputs' rows expire), so the output is append-only and the outer
    /// side's event-time columns stay time attributes (the padded side's are NULL there).
    /// Otherwise (an input that retracts, a bound on one side only) an outer join emits an
    /// unmatched row at once and retracts it when a match arrives, keeping no attributes.
    fn interval_bounds(
        &self,
        join: &datafusion::logical_expr::Join,
        filter: &Expr,
        [left, right]: [NodeId; 2],
        kind: JoinKind,
    ) -> Result<(TimeBounds, [Vec<usize>; 2])> {
        let schemas = [join.left.schema().as_ref(), join.right.schema().as_ref()];
        let left_attrs = self.attrs_of(left, schemas[0].fields().len());
        let right_attrs = self.attrs_of(right, schemas[1].fields().len());
        let found = interval_bounds(filter, schemas, [&left_attrs, &right_attrs]);
        let on_expiry = self.emits_on_expiry(
            kind,
            [0, 1].map(|side| !found.expire[side].is_empty()),
            [left, right],
        );
        let keep = match kind {
            JoinKind::Inner => [true, true],
            JoinKind::Left if on_expiry => [true, false],
            JoinKind::Right if on_expiry => [false, true],
            _ => [false, false],
        };
        let (kept, delay) = crate::streaming::interval_join::preserved_time_attributes(
            &found,
            schemas,
            [&left_attrs, &right_attrs],
            keep,
        );
        let mut bounds = TimeBounds {
            watermark_delay: delay,
            ..TimeBounds::default()
        };
        for (side, schema) in schemas.into_iter().enumerate() {
            for expr in &found.expire[side] {
                bounds.expire[side].push(self.physical(expr, schema)?);
            }
            for expr in &found.late[side] {
                bounds.late[side].push(self.physical(expr, schema)?);
            }
        }
        Ok((bounds, kept))
    }

    /// Whether an outer join of `inputs` emits its unmatched rows when they expire (see
    /// `interval_bounds`): both inputs are `bounded` and append-only.
    fn emits_on_expiry(&self, kind: JoinKind, bounded: [bool; 2], inputs: [NodeId; 2]) -> bool {
        matches!(kind, JoinKind::Left | JoinKind::Right | JoinKind::Full)
            && bounded.iter().all(|b| *b)
            && inputs.iter().all(|&input| self.is_append_only(input))
    }

    /// The physical aggregate calls of `aggregate` over its input.
    fn aggregate_calls(
        &self,
        aggregate: &datafusion::logical_expr::Aggregate,
    ) -> Result<Vec<AggregateCall>> {
        let input_df_schema = aggregate.input.schema();
        let input_schema = arrow_schema(input_df_schema);
        aggregate
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
            .collect()
    }

    /// `GROUP BY [keys,] window_start, window_end` over a SESSION window (directly, or
    /// through a projection of its columns): a session window aggregate. `None` when the
    /// aggregate does not read a session window.
    fn session_aggregate(
        &mut self,
        aggregate: &datafusion::logical_expr::Aggregate,
    ) -> Result<Option<NodeId>> {
        // Aliases, and at most one projection, may lie between the aggregate and the window.
        let mut below = aggregate.input.as_ref();
        let mut projection = None;
        let session = loop {
            match below {
                LogicalPlan::SubqueryAlias(alias) => below = alias.input.as_ref(),
                LogicalPlan::Projection(p) if projection.is_none() => {
                    projection = Some(p);
                    below = p.input.as_ref();
                }
                other => match as_session_window(other) {
                    Some(session) => break session,
                    None => return Ok(None),
                },
            }
        };
        let input_columns = session.input_columns();
        // Position in the session's output of each column of the aggregate's input.
        let positions: Vec<Option<usize>> = match projection {
            None => (0..session.schema.fields().len()).map(Some).collect(),
            Some(projection) => projection
                .expr
                .iter()
                .map(|e| {
                    plain_column(e).and_then(|c| projection.input.schema().index_of_column(c).ok())
                })
                .collect(),
        };
        let input_df_schema = aggregate.input.schema();
        let group_positions: Vec<Option<usize>> = aggregate
            .group_expr
            .iter()
            .map(|e| match e {
                Expr::Column(column) => input_df_schema
                    .index_of_column(column)
                    .ok()
                    .and_then(|i| positions.get(i).copied().flatten()),
                _ => None,
            })
            .collect();
        if !group_positions.contains(&Some(input_columns + 1)) {
            return Err(PlanError::Unsupported(
                "an aggregate over a SESSION window without window_end in its GROUP BY (group \
                 by window_start, window_end as Flink requires)"
                    .into(),
            ));
        }
        let input = self.node(&session.input)?;
        let input_attrs = self.attrs_of(input, input_columns);
        let processing = match input_attrs.get(session.time).copied().flatten() {
            Some(TimeAttr::EventTime) => false,
            // Its input must only insert: the operator fails the view on a retraction.
            Some(TimeAttr::ProcessingTime | TimeAttr::ArrivalTime) => true,
            _ => {
                return Err(PlanError::Unsupported(
                    "a SESSION window over a column that is neither an event-time attribute \
                     (the table needs a WATERMARK) nor PROCTIME()"
                        .into(),
                ))
            }
        };
        let project = match projection {
            Some(projection) => {
                let exprs = projection
                    .expr
                    .iter()
                    .map(|e| self.physical(e, projection.input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                Some(Project::new(exprs, arrow_schema(aggregate.input.schema())))
            }
            None => None,
        };
        let input_schema = arrow_schema(input_df_schema);
        let group_exprs = aggregate
            .group_expr
            .iter()
            .map(|e| self.physical(e, input_df_schema))
            .collect::<Result<Vec<_>>>()?;
        let calls = self.aggregate_calls(aggregate)?;
        let grouped = GroupAggregate::new(
            &input_schema,
            group_exprs,
            calls,
            arrow_schema(&aggregate.schema),
        )?;
        // The session's columns the aggregate reads (through the projection, if any): a
        // session holds only those of its rows (all of them if a reference is not found).
        let (reads, read_schema): (Vec<&Expr>, _) = match projection {
            Some(projection) => (projection.expr.iter().collect(), projection.input.schema()),
            None => (
                aggregate
                    .group_expr
                    .iter()
                    .chain(aggregate.aggr_expr.iter())
                    .collect(),
                input_df_schema,
            ),
        };
        let mut needed = vec![false; input_columns];
        for column in reads.iter().flat_map(|e| e.column_refs()) {
            match read_schema.index_of_column(column) {
                Ok(i) if i < input_columns => needed[i] = true,
                Ok(_) => {} // a window column
                Err(_) => needed.iter_mut().for_each(|n| *n = true),
            }
        }
        let operator = SessionWindowAggregate::new(
            arrow_schema(session.input.schema()),
            session.time,
            session.gap_units,
            session.partition.clone(),
            arrow_schema(&session.schema),
            project,
            grouped,
        )?
        .keep_columns(&needed)?;
        let operator = if processing {
            operator.processing_time()
        } else {
            operator
        };
        let node = self.builder.add(Box::new(operator), vec![input]);
        // window_time of event-time sessions stays an event-time attribute (for windows over
        // the result); that of processing-time sessions is a plain timestamp.
        let mut attrs: TimeAttrs = group_positions
            .iter()
            .map(|p| (!processing && *p == Some(input_columns + 2)).then_some(TimeAttr::EventTime))
            .collect();
        attrs.resize(aggregate.schema.fields().len(), None);
        self.set_attrs(node, attrs);
        Ok(Some(node))
    }

    /// A join marked as temporal (`FOR SYSTEM_TIME AS OF`, see [`crate::streaming::temporal`]).
    fn temporal_join(
        &mut self,
        join: &datafusion::logical_expr::Join,
        time: &Expr,
        residual: Option<&Expr>,
    ) -> Result<NodeId> {
        let left_outer = match join.join_type {
            JoinType::Inner => false,
            JoinType::Left => true,
            other => {
                return Err(PlanError::Unsupported(format!(
                    "{other} temporal join (FOR SYSTEM_TIME AS OF supports INNER and LEFT joins)"
                )))
            }
        };
        if join.on.is_empty() {
            return Err(PlanError::Plan(
                "a temporal join (FOR SYSTEM_TIME AS OF) needs an equality condition on the \
                 versioned table's primary key"
                    .into(),
            ));
        }
        let left = self.node(&join.left)?;
        let right = self.node(&join.right)?;
        let left_schema = join.left.schema();
        let right_schema = join.right.schema();
        let left_attrs = self.attrs_of(left, left_schema.fields().len());
        let right_attrs = self.attrs_of(right, right_schema.fields().len());
        check_processing(&left_attrs, "a temporal join")?;
        check_processing(&right_attrs, "a temporal join")?;
        let mode = if crate::streaming::temporal::marks_processing_time(time) {
            TemporalTime::Processing
        } else if expr_attr(time, left_schema, &left_attrs) == Some(TimeAttr::EventTime) {
            let version_time = right_attrs
                .iter()
                .position(|a| *a == Some(TimeAttr::EventTime))
                .ok_or_else(|| {
                    PlanError::Plan(
                        "an event-time temporal join (FOR SYSTEM_TIME AS OF) needs a versioned \
                         table with an event-time attribute (a table with a WATERMARK, or a \
                         view that keeps its time column); join AS OF PROCTIME() for the \
                         current version instead"
                            .into(),
                    )
                })?;
            TemporalTime::Event {
                left: self.physical(time, left_schema)?,
                right: version_time,
            }
        } else {
            // A processing-time attribute (e.g. a PROCTIME() computed column).
            TemporalTime::Processing
        };
        let left_keys = join
            .on
            .iter()
            .map(|(l, _)| self.physical(l, left_schema))
            .collect::<Result<Vec<_>>>()?;
        let right_keys = join
            .on
            .iter()
            .map(|(_, r)| self.physical(r, right_schema))
            .collect::<Result<Vec<_>>>()?;
        let filter = match residual {
            Some(filter) => {
                let combined = left_schema
                    .join(right_schema)
                    .map_err(|e| PlanError::from_datafusion(e, ""))?;
                Some(self.physical(filter, &combined)?)
            }
            None => None,
        };
        let operator = TemporalJoin::new(
            left_outer,
            mode,
            arrow_schema(left_schema),
            arrow_schema(right_schema),
            left_keys,
            right_keys,
            filter,
            arrow_schema(&join.schema),
        )?;
        let node = self.builder.add(Box::new(operator), vec![left, right]);
        // The probe side's time attributes survive (its rows are emitted once, at their time).
        let mut attrs = left_attrs;
        attrs.resize(join.schema.fields().len(), None);
        self.set_attrs(node, attrs);
        Ok(node)
    }

    /// A window node. A single `ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..)` is a
    /// partitioned top-N that numbers every row (with `limit`, only the first rows of each
    /// partition); any other window functions become an [`OverAggregate`].
    fn window(
        &mut self,
        window: &datafusion::logical_expr::Window,
        limit: Option<usize>,
    ) -> Result<NodeId> {
        use datafusion::logical_expr::expr::WindowFunction;
        let single_row_number = match window.window_expr.as_slice() {
            [expr] => is_row_number(expr),
            _ => false,
        };
        if !single_row_number {
            return self.over_aggregate(window);
        }
        let Some(Expr::WindowFunction(function)) = window
            .window_expr
            .first()
            .map(|e| e.clone().unalias_nested().data)
        else {
            return self.over_aggregate(window);
        };
        let WindowFunction { params, .. } = function.as_ref();
        let input = self.node(&window.input)?;
        let input_df_schema = window.input.schema();
        let input_schema = arrow_schema(input_df_schema);
        check_processing(
            &self.attrs_of(input, input_schema.fields().len()),
            "ROW_NUMBER() OVER",
        )?;
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
        )?
        .append_only_input(self.is_append_only(input));
        // The input columns pass through (a deduplicated relation keeps its time column, as
        // Flink's versioned views do); the row number has none.
        let mut attrs = self.attrs_of(input, input_schema.fields().len());
        attrs.resize(window.schema.fields().len(), None);
        let node = self.builder.add(Box::new(operator), vec![input]);
        self.set_attrs(node, attrs);
        Ok(node)
    }

    /// Window functions other than a lone ROW_NUMBER: an [`OverAggregate`] over the window's
    /// input, appending one column per function. The functions must share their PARTITION BY
    /// and ORDER BY (DataFusion gives each combination its own window node).
    fn over_aggregate(&mut self, window: &datafusion::logical_expr::Window) -> Result<NodeId> {
        let functions: Vec<_> = window
            .window_expr
            .iter()
            .map(|e| match e.clone().unalias_nested().data {
                Expr::WindowFunction(function) => Ok(function),
                other => Err(PlanError::Unsupported(format!(
                    "window expression {other} in a materialized view"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = functions.first() else {
            return Err(PlanError::Internal(
                "a window node without functions".into(),
            ));
        };
        let (partition_by, order_by) = (&first.params.partition_by, &first.params.order_by);
        if functions
            .iter()
            .any(|f| &f.params.partition_by != partition_by || &f.params.order_by != order_by)
        {
            return Err(PlanError::Unsupported(
                "window functions with different PARTITION BY / ORDER BY in one window node of a \
                 materialized view"
                    .into(),
            ));
        }
        let input = self.node(&window.input)?;
        let input_df_schema = window.input.schema();
        let input_schema = arrow_schema(input_df_schema);
        let input_attrs = self.attrs_of(input, input_schema.fields().len());
        check_processing(&input_attrs, "an OVER window")?;
        let planning = PhysicalPlanningContext::default();
        let window_exprs = window
            .window_expr
            .iter()
            .map(|e| {
                datafusion::physical_planner::create_window_expr(
                    e,
                    input_df_schema,
                    self.props,
                    &planning,
                )
                .map_err(|e| PlanError::from_datafusion(e, ""))
            })
            .collect::<Result<Vec<_>>>()?;
        let partition = partition_by
            .iter()
            .map(|e| self.physical(e, input_df_schema))
            .collect::<Result<Vec<_>>>()?;
        let order = create_physical_sort_exprs(order_by, input_df_schema, self.props, &planning)
            .map_err(|e| PlanError::from_datafusion(e, ""))?;
        let reach = functions
            .iter()
            .map(|f| function_reach(f))
            .reduce(|a, b| a.union(&b))
            .unwrap_or_else(Reach::whole_partition);
        // Event-time ORDER BY with only `RANGE INTERVAL .. PRECEDING AND CURRENT ROW` frames:
        // rows that fell behind the watermark by more than the interval leave the state.
        let event_time_order = match order_by.as_slice() {
            [sort] if sort.asc => {
                expr_attr(&sort.expr, input_df_schema, &input_attrs) == Some(TimeAttr::EventTime)
            }
            _ => false,
        };
        let bounded_back = !reach.preceding.unbounded
            && reach.preceding.rows == 0
            && reach.following
                == Extent {
                    peers: true,
                    ..Extent::default()
                };
        let cleanup = match &reach.preceding.range {
            Some(range) if event_time_order && bounded_back => {
                interval_nanos(range).map(|horizon_nanos| EventTimeCleanup { horizon_nanos })
            }
            _ => None,
        };
        let operator = OverAggregate::new(
            &input_schema,
            partition,
            order,
            window_exprs,
            reach,
            cleanup,
            arrow_schema(&window.schema),
        )?;
        // The input columns pass through; the function values have no time attribute.
        let mut attrs = input_attrs;
        attrs.resize(window.schema.fields().len(), None);
        let node = self.builder.add(Box::new(operator), vec![input]);
        self.set_attrs(node, attrs);
        Ok(node)
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
        let input_schema = projection.input.schema();
        let input_attrs = self.attrs_of(input, input_schema.fields().len());
        let attrs: TimeAttrs = projection
            .expr
            .iter()
            .map(|e| expr_attr(e, input_schema, &input_attrs))
            .collect();
        for (expr, attr) in projection.expr.iter().zip(&attrs) {
            if !attr.is_some_and(TimeAttr::is_processing)
                && involves_processing(expr, input_schema, &input_attrs)
            {
                return Err(processing_misuse(&format!("the expression {expr}")));
            }
        }
        let node = self
            .builder
            .add(Box::new(Project::new(exprs, schema)), vec![input]);
        self.set_attrs(node, attrs);
        Ok(node)
    }

    /// UNNEST of list columns (struct columns are not supported yet).
    fn unnest(&mut self, unnest: &datafusion::logical_expr::Unnest) -> Result<NodeId> {
        if !unnest.struct_type_columns.is_empty() {
            return Err(PlanError::Unsupported(
                "UNNEST of a struct in a materialized view".into(),
            ));
        }
        if unnest
            .list_type_columns
            .iter()
            .any(|(_, list)| list.depth != 1)
        {
            return Err(PlanError::Unsupported(
                "recursive UNNEST in a materialized view".into(),
            ));
        }
        let input = self.node(&unnest.input)?;
        let input_columns = unnest.input.schema().fields().len();
        let input_attrs = self.attrs_of(input, input_columns);
        let unnested: Vec<usize> = unnest
            .list_type_columns
            .iter()
            .map(|(index, _)| *index)
            .collect();
        let mut columns = Vec::new();
        let mut attrs = Vec::new();
        let mut emitted = Vec::new();
        for &dependency in &unnest.dependency_indices {
            if unnested.contains(&dependency) {
                columns.push(UnnestColumn::Elements(dependency));
                attrs.push(match input_attrs.get(dependency).copied().flatten() {
                    Some(TimeAttr::WindowList) => Some(TimeAttr::WindowStart),
                    Some(TimeAttr::ProcessingWindowList) => Some(TimeAttr::ProcessingWindowStart),
                    _ => None,
                });
                emitted.push(dependency);
            } else {
                columns.push(UnnestColumn::Repeat(dependency));
                attrs.push(input_attrs.get(dependency).copied().flatten());
            }
        }
        let operator = Unnest::new(
            columns,
            unnest.options.null_handling,
            arrow_schema(&unnest.schema),
        );
        let node = self.builder.add(Box::new(operator), vec![input]);
        self.set_attrs(node, attrs);
        self.set_append_only(node, self.is_append_only(input));
        Ok(node)
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
        check_processing(
            &self.attrs_of(input, input_schema.fields().len()),
            "ORDER BY .. LIMIT",
        )?;
        let order = create_physical_sort_exprs(
            &sort.expr,
            sort.input.schema(),
            self.props,
            &PhysicalPlanningContext::default(),
        )
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
        let operator = TopN::new(&input_schema, order, offset, limit)?
            .append_only_input(self.is_append_only(input));
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

/// Whether a window expression is a plain `ROW_NUMBER() OVER (..)` (no FILTER, no DISTINCT).
fn is_row_number(expr: &Expr) -> bool {
    use datafusion::logical_expr::expr::WindowFunctionDefinition;
    let expr = match expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::WindowFunction(function) = expr else {
        return false;
    };
    matches!(&function.fun, WindowFunctionDefinition::WindowUDF(udf) if udf.name() == "row_number")
        && function.params.filter.is_none()
        && !function.params.distinct
}

/// A ROWS frame offset as a row count.
fn frame_rows(value: &datafusion::common::ScalarValue) -> Option<u64> {
    use datafusion::common::ScalarValue;
    match value.cast_to(&arrow::datatypes::DataType::UInt64).ok()? {
        ScalarValue::UInt64(Some(rows)) => Some(rows),
        _ => None,
    }
}

/// How far the values of a window frame look from each row.
fn frame_reach(frame: &datafusion::logical_expr::WindowFrame) -> Reach {
    use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits};
    let range = match frame.units {
        WindowFrameUnits::Rows => false,
        WindowFrameUnits::Range => true,
        // GROUPS frames count peer groups: recompute whole partitions.
        WindowFrameUnits::Groups => return Reach::whole_partition(),
    };
    let mut reach = Reach::default();
    match &frame.start_bound {
        WindowFrameBound::Preceding(value) if value.is_null() => {
            reach.preceding = Extent::unbounded()
        }
        WindowFrameBound::Preceding(value) if range => reach.preceding.range = Some(value.clone()),
        WindowFrameBound::Preceding(value) => match frame_rows(value) {
            Some(rows) => reach.preceding.rows = rows,
            None => return Reach::whole_partition(),
        },
        WindowFrameBound::CurrentRow | WindowFrameBound::Following(_) => {
            reach.preceding.peers = range
        }
    }
    match &frame.end_bound {
        WindowFrameBound::Following(value) if value.is_null() => {
            reach.following = Extent::unbounded()
        }
        WindowFrameBound::Following(value) if range => reach.following.range = Some(value.clone()),
        WindowFrameBound::Following(value) => match frame_rows(value) {
            Some(rows) => reach.following.rows = rows,
            None => return Reach::whole_partition(),
        },
        WindowFrameBound::CurrentRow | WindowFrameBound::Preceding(_) => {
            reach.following.peers = range
        }
    }
    reach
}

/// How far the value of a window function looks from each row: its frame for aggregates and
/// frame-based functions, its offset for LAG/LEAD; the whole partition when unknown.
fn function_reach(function: &datafusion::logical_expr::expr::WindowFunction) -> Reach {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::expr::WindowFunctionDefinition;
    let params = &function.params;
    if params.order_by.is_empty() {
        // Every row is a peer of every other.
        return Reach::whole_partition();
    }
    let udf = match &function.fun {
        WindowFunctionDefinition::AggregateUDF(_) => return frame_reach(&params.window_frame),
        WindowFunctionDefinition::WindowUDF(udf) => udf,
    };
    match udf.name() {
        name @ ("lag" | "lead") => {
            let offset = match params.args.get(1) {
                None => Some(1),
                Some(Expr::Literal(value, _)) => {
                    match value.cast_to(&arrow::datatypes::DataType::Int64) {
                        Ok(ScalarValue::Int64(Some(offset))) => Some(offset),
                        _ => None,
                    }
                }
                Some(_) => None,
            };
            let Some(offset) = offset else {
                return Reach::whole_partition();
            };
            let mut reach = Reach::default();
            if (name == "lag") == (offset >= 0) {
                reach.preceding.rows = offset.unsigned_abs();
            } else {
                reach.following.rows = offset.unsigned_abs();
            }
            reach
        }
        "first_value" | "last_value" | "nth_value" => frame_reach(&params.window_frame),
        "row_number" => Reach {
            preceding: Extent::unbounded(),
            following: Extent::default(),
        },
        "rank" | "dense_rank" => Reach {
            preceding: Extent::unbounded(),
            following: Extent {
                peers: true,
                ..Extent::default()
            },
        },
        _ => Reach::whole_partition(),
    }
}

/// A non-negative interval or duration in nanoseconds (`None` for months, which vary).
fn interval_nanos(value: &datafusion::common::ScalarValue) -> Option<i64> {
    use datafusion::common::ScalarValue;
    const DAY: i64 = 86_400_000_000_000;
    let nanos = match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => (v.days as i64)
            .checked_mul(DAY)?
            .checked_add(v.nanoseconds)?,
        ScalarValue::IntervalDayTime(Some(v)) => (v.days as i64)
            .checked_mul(DAY)?
            .checked_add((v.milliseconds as i64).checked_mul(1_000_000)?)?,
        ScalarValue::DurationSecond(Some(v)) => v.checked_mul(1_000_000_000)?,
        ScalarValue::DurationMillisecond(Some(v)) => v.checked_mul(1_000_000)?,
        ScalarValue::DurationMicrosecond(Some(v)) => v.checked_mul(1_000)?,
        ScalarValue::DurationNanosecond(Some(v)) => *v,
        _ => return None,
    };
    (nanos >= 0).then_some(nanos)
}

/// Columns of `plan`'s output that form a unique key of every state of its result, if the
/// plan shows one: the primary key of a scanned table (`relation_key`), the GROUP BY columns
/// of an aggregate (window aggregates included), the PARTITION BY columns of a ROW_NUMBER
/// deduplication (`rn = 1`), carried through projections that pass them on, filters, aliases
/// and sorts. A materialized view with such a key keeps its rows indexed by it, so a point
/// lookup by key reads one row.
pub fn unique_key(
    plan: &LogicalPlan,
    relation_key: &dyn Fn(&str) -> Option<Vec<usize>>,
) -> Option<Vec<usize>> {
    let key = match plan {
        LogicalPlan::TableScan(scan) => {
            let key = relation_key(&relation_name(&scan.table_name))?;
            match &scan.projection {
                None => key,
                Some(columns) => key
                    .iter()
                    .map(|k| columns.iter().position(|c| c == k))
                    .collect::<Option<Vec<_>>>()?,
            }
        }
        LogicalPlan::Projection(projection) => {
            let input_key = unique_key(&projection.input, relation_key)?;
            let input_schema = projection.input.schema();
            project_key(&input_key, input_schema, projection)?
        }
        LogicalPlan::Filter(filter) => match row_number_bound(filter) {
            Some((window, None, 1)) => window_partition_key(window)?,
            Some((window, Some(projection), 1)) => {
                let key = window_partition_key(window)?;
                project_key(&key, window.schema.as_ref(), projection)?
            }
            Some(_) => return None,
            None => unique_key(&filter.input, relation_key)?,
        },
        LogicalPlan::SubqueryAlias(alias) => unique_key(&alias.input, relation_key)?,
        LogicalPlan::Sort(sort) => unique_key(&sort.input, relation_key)?,
        LogicalPlan::Aggregate(aggregate) => {
            if aggregate.group_expr.is_empty()
                || aggregate
                    .group_expr
                    .iter()
                    .any(|e| matches!(e, Expr::GroupingSet(_)))
            {
                return None;
            }
            (0..aggregate.group_expr.len()).collect()
        }
        _ => return None,
    };
    (!key.is_empty()).then_some(key)
}

/// The column an expression is, possibly under aliases.
pub(crate) fn plain_column(expr: &Expr) -> Option<&datafusion::common::Column> {
    match expr {
        Expr::Column(column) => Some(column),
        Expr::Alias(alias) => plain_column(&alias.expr),
        _ => None,
    }
}

/// The output positions of key columns `key` of a projection's input, if it passes each on.
fn project_key(
    key: &[usize],
    input_schema: &DFSchema,
    projection: &datafusion::logical_expr::Projection,
) -> Option<Vec<usize>> {
    key.iter()
        .map(|&k| {
            let (qualifier, field) = input_schema.qualified_field(k);
            projection.expr.iter().position(|e| {
                plain_column(e)
                    .is_some_and(|c| c.name == *field.name() && c.relation.as_ref() == qualifier)
            })
        })
        .collect()
}

/// The input positions of a ROW_NUMBER window's PARTITION BY columns (plain columns only).
fn window_partition_key(window: &datafusion::logical_expr::Window) -> Option<Vec<usize>> {
    use datafusion::logical_expr::expr::WindowFunction;
    let [expr] = window.window_expr.as_slice() else {
        return None;
    };
    let expr = match expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::WindowFunction(function) = expr else {
        return None;
    };
    let WindowFunction { params, .. } = function.as_ref();
    params
        .partition_by
        .iter()
        .map(|e| match e {
            Expr::Column(column) => window.input.schema().index_of_column(column).ok(),
            _ => None,
        })
        .collect()
}
