//! SESSION windows: `TABLE(SESSION(TABLE t [PARTITION BY k, ..], DESCRIPTOR(ts), gap))`,
//! which the Flink front end rewrites to `sluice_session('t', 'ts', gap, 'k,..')` (the legacy
//! `GROUP BY k, SESSION(ts, gap)` is rewritten to the same call).
//!
//! Unlike TUMBLE/HOP/CUMULATE, a row's session depends on the other rows, so it is not a
//! projection: the table function returns a [`SessionWindowNode`], a logical extension node
//! that adds `window_start`, `window_end` and `window_time` to every row of its input.
//!
//! - Batch meaning ([`expand`]): per partition, rows ordered by time; a row more than `gap`
//!   after the previous one starts a new session (a running sum over `LAG`); a session is
//!   `[min(ts), max(ts) + gap)` and `window_time` is its end - 1 ms. Rows without a time
//!   belong to no session. [`SessionQueryPlanner`] expands the node this way before
//!   DataFusion's physical planning, so ad-hoc queries (the oracle of the tests) run it.
//! - Incremental meaning: `GROUP BY [keys,] window_start, window_end` directly over the node
//!   (through a projection of its columns at most) becomes a
//!   [`sluice_runtime::operators::SessionWindowAggregate`] that emits each session when the
//!   watermark passes its end (see `incremental.rs`). Anything else over the node is refused,
//!   as in Flink, where session windows exist only in window aggregations.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{plan_err, Column, DFSchema, DFSchemaRef, DataFusionError, ScalarValue};
use datafusion::execution::context::QueryPlanner;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::functions_window::expr_fn::lag;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    cast, col, lit, when, Expr, ExprFunctionExt, Extension, LogicalPlan, LogicalPlanBuilder,
    UserDefinedLogicalNodeCore,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

type DfResult<T> = datafusion::common::Result<T>;

/// Names of the columns the session window adds.
pub const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// Session windows over `input`: its columns followed by `window_start`, `window_end`,
/// `window_time` (all of the time column's type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionWindowNode {
    pub input: LogicalPlan,
    /// Index of the time column in the input.
    pub time: usize,
    /// The gap as written (a fixed-length interval).
    pub gap: ScalarValue,
    /// The gap in units of the time column.
    pub gap_units: i64,
    /// Indices of the partition columns in the input.
    pub partition: Vec<usize>,
    pub schema: DFSchemaRef,
}

impl PartialOrd for SessionWindowNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.input, self.time, self.gap_units, &self.partition).partial_cmp(&(
            &other.input,
            other.time,
            other.gap_units,
            &other.partition,
        ))
    }
}

impl SessionWindowNode {
    /// Session windows over `input` by column `time` with `gap`, partitioned by `partition`
    /// (column names of the input).
    pub fn try_new(
        input: LogicalPlan,
        time: &str,
        gap: ScalarValue,
        partition: &[String],
    ) -> DfResult<Self> {
        let index_of = |name: &str, what: &str| -> DfResult<usize> {
            input
                .schema()
                .qualified_field_with_unqualified_name(name)
                .ok()
                .and_then(|(qualifier, _)| {
                    input
                        .schema()
                        .index_of_column(&Column::new(qualifier.cloned(), name))
                        .ok()
                })
                .ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "column \"{name}\" given in {what} of SESSION does not exist"
                    ))
                })
        };
        let time = index_of(time, "DESCRIPTOR")?;
        let time_type = input.schema().field(time).data_type().clone();
        let unit = super::windows::unit_nanos(&time_type).map_err(|_| {
            DataFusionError::Plan(format!(
                "the DESCRIPTOR column of SESSION must be a timestamp, found {time_type}"
            ))
        })?;
        let nanos = super::windows::interval_nanos(&gap)?;
        if nanos <= 0 {
            return plan_err!("the SESSION gap {gap} must be positive");
        }
        if nanos % unit != 0 {
            return plan_err!("the SESSION gap {gap} is finer than the time column's precision");
        }
        let partition = partition
            .iter()
            .map(|name| index_of(name, "PARTITION BY"))
            .collect::<DfResult<Vec<_>>>()?;
        let mut fields: Vec<_> = input
            .schema()
            .iter()
            .map(|(qualifier, field)| (qualifier.cloned(), Arc::clone(field)))
            .collect();
        for name in WINDOW_COLUMNS {
            fields.push((None, Arc::new(Field::new(name, time_type.clone(), true))));
        }
        let schema = DFSchema::new_with_metadata(fields, input.schema().metadata().clone())?;
        Ok(Self {
            input,
            time,
            gap,
            gap_units: nanos / unit,
            partition,
            schema: Arc::new(schema),
        })
    }

    /// The node as a logical plan.
    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(Extension {
            node: Arc::new(self),
        })
    }

    /// Number of input columns (the window columns follow them).
    pub fn input_columns(&self) -> usize {
        self.input.schema().fields().len()
    }
}

impl UserDefinedLogicalNodeCore for SessionWindowNode {
    fn name(&self) -> &str {
        "SessionWindow"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let (_, time) = self.input.schema().qualified_field(self.time);
        let partition: Vec<String> = self
            .partition
            .iter()
            .map(|&p| self.input.schema().field(p).name().clone())
            .collect();
        write!(
            f,
            "SessionWindow: time={}, gap={}, partition=[{}]",
            time.name(),
            self.gap,
            partition.join(", ")
        )
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        if !exprs.is_empty() {
            return plan_err!("SessionWindow takes no expressions");
        }
        let [input] = <[LogicalPlan; 1]>::try_from(inputs)
            .map_err(|_| DataFusionError::Internal("SessionWindow takes one input".into()))?;
        if input.schema().fields().len() != self.input.schema().fields().len() {
            return Err(DataFusionError::Internal(
                "SessionWindow input changed its columns".into(),
            ));
        }
        Ok(Self {
            input,
            ..self.clone()
        })
    }
}

/// The session node of an extension, if it is one.
pub fn as_session_window(plan: &LogicalPlan) -> Option<&SessionWindowNode> {
    match plan {
        LogicalPlan::Extension(extension) => {
            extension.node.as_any().downcast_ref::<SessionWindowNode>()
        }
        _ => None,
    }
}

const PREVIOUS: &str = "__sluice_session_previous";
const NEW_SESSION: &str = "__sluice_session_new";
const SESSION_NUMBER: &str = "__sluice_session_number";
const SESSION_FIRST: &str = "__sluice_session_first";
const SESSION_LAST: &str = "__sluice_session_last";

fn over(function: Expr, partition: Vec<Expr>, order: Option<Expr>) -> DfResult<Expr> {
    let builder = function.partition_by(partition);
    match order {
        Some(order) => builder.order_by(vec![order.sort(true, true)]).build(),
        None => builder.build(),
    }
}

fn aggregate_window(function: Expr, partition: Vec<Expr>, order: Option<Expr>) -> DfResult<Expr> {
    // An aggregate used as a window function.
    let Expr::AggregateFunction(aggregate) = function else {
        return Err(DataFusionError::Internal("not an aggregate".into()));
    };
    let window = Expr::from(WindowFunction::new(aggregate.func, aggregate.params.args));
    over(window, partition, order)
}

/// The batch meaning of a session node: window functions over its input.
pub fn expand(node: &SessionWindowNode) -> DfResult<LogicalPlan> {
    let schema = node.input.schema();
    let column = |index: usize| Expr::Column(Column::from(schema.qualified_field(index)));
    let time = column(node.time);
    let time_type = schema.field(node.time).data_type().clone();
    let units = cast(time.clone(), DataType::Int64);
    let partition: Vec<Expr> = node.partition.iter().map(|&p| column(p)).collect();
    let input_columns: Vec<Expr> = (0..schema.fields().len()).map(column).collect();
    let with_previous = LogicalPlanBuilder::from(node.input.clone())
        .filter(time.clone().is_not_null())?
        .window(vec![over(
            lag(units.clone(), Some(1), None),
            partition.clone(),
            Some(time.clone()),
        )?
        .alias(PREVIOUS)])?
        .build()?;
    let mut exprs = input_columns.clone();
    exprs.push(
        when(
            col(PREVIOUS)
                .is_null()
                .or((units.clone() - col(PREVIOUS)).gt(lit(node.gap_units))),
            lit(1i64),
        )
        .otherwise(lit(0i64))?
        .alias(NEW_SESSION),
    );
    // The running count of session starts (RANGE frame: rows with equal times are peers and
    // get the same number) numbers the sessions of a partition.
    let numbered = LogicalPlanBuilder::from(with_previous)
        .project(exprs)?
        .window(vec![aggregate_window(
            sum(col(NEW_SESSION)),
            partition.clone(),
            Some(time.clone()),
        )?
        .alias(SESSION_NUMBER)])?
        .build()?;
    let mut session_partition = partition;
    session_partition.push(col(SESSION_NUMBER));
    let bounded = LogicalPlanBuilder::from(numbered)
        .window(vec![
            aggregate_window(min(time.clone()), session_partition.clone(), None)?
                .alias(SESSION_FIRST),
            aggregate_window(max(time), session_partition, None)?.alias(SESSION_LAST),
        ])?
        .build()?;
    let end = super::windows::window_end(col(SESSION_LAST), node.gap.clone());
    let mut exprs = input_columns;
    exprs.push(cast(col(SESSION_FIRST), time_type.clone()).alias(WINDOW_COLUMNS[0]));
    exprs.push(cast(end.clone(), time_type.clone()).alias(WINDOW_COLUMNS[1]));
    exprs.push(cast(super::windows::window_time(end), time_type).alias(WINDOW_COLUMNS[2]));
    LogicalPlanBuilder::from(bounded).project(exprs)?.build()
}

/// Replace every session node in `plan` by its batch meaning.
pub fn expand_all(plan: &LogicalPlan) -> DfResult<LogicalPlan> {
    Ok(plan
        .clone()
        .transform_up(|node| match as_session_window(&node) {
            Some(session) => Ok(Transformed::yes(expand(session)?)),
            None => Ok(Transformed::no(node)),
        })?
        .data)
}

/// DataFusion's physical planner, after expanding session nodes into their batch meaning.
#[derive(Debug, Default)]
pub struct SessionQueryPlanner;

#[async_trait]
impl QueryPlanner for SessionQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let plan = expand_all(logical_plan)?;
        DefaultPhysicalPlanner::default()
            .create_physical_plan(&plan, session)
            .await
    }
}
