//! Window table functions: Flink's `TABLE(TUMBLE|HOP|CUMULATE(TABLE t, DESCRIPTOR(ts), ..))`,
//! which the Flink front end rewrites to `sluice_tumble('t', 'ts', size [, offset])`,
//! `sluice_hop('t', 'ts', slide, size [, offset])` and
//! `sluice_cumulate('t', 'ts', step, max_size [, offset])`.
//!
//! Each table function returns a view over `t` (inlined by DataFusion's analyzer) that adds
//! `window_start`, `window_end` and `window_time` (= `window_end` - 1 ms, Flink's rowtime of
//! the window) to every row, using ordinary relational operators: a projection for TUMBLE,
//! and a projection of the list of windows a row belongs to followed by an UNNEST for HOP and
//! CUMULATE. So a window query has a plain batch meaning, and the incremental compiler
//! recognizes the marker functions below to turn `GROUP BY window_start, window_end` over an
//! event-time column into a window aggregate that emits when the watermark passes.
//!
//! Window bounds follow Flink: a tumbling window of size `s` and offset `o` holding `ts` starts
//! at `ts - ((ts - o) mod s)`; a row belongs to the hopping windows `[k*slide + o, .. + size)`
//! that contain it; a cumulating window with step `p` and maximum size `m` has the start of the
//! tumbling window of size `m` and ends `start + p, start + 2p, .., start + m` (those after
//! `ts`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, ListBuilder, PrimitiveBuilder};
use arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::catalog::{Session, TableFunctionImpl};
use datafusion::catalog::{TableFunctionArgs, TableProvider};
use datafusion::common::{plan_err, Column, DataFusionError, ScalarValue, TableReference};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::execution::context::{SessionContext, SessionState};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::lit;

type DfResult<T> = datafusion::common::Result<T>;

/// Name of the function marking a tumbling window's start.
pub const TUMBLE_START: &str = "sluice_tumble_start";
/// Name of the function listing the starts of the hopping windows a row is in.
pub const HOP_STARTS: &str = "sluice_hop_starts";
/// Name of the function listing the ends of the cumulating windows a row is in.
pub const CUMULATE_ENDS: &str = "sluice_cumulate_ends";
/// Name of the function marking a window's end (`bound + size`).
pub const WINDOW_END: &str = "sluice_window_end";
/// Name of the function computing `window_time` from `window_end`.
pub const WINDOW_TIME: &str = "sluice_window_time";

/// Column that carries the list of windows between the projection and the UNNEST.
const WINDOW_LIST: &str = "__sluice_windows";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    TumbleStart,
    HopStarts,
    CumulateEnds,
    WindowEnd,
    WindowTime,
}

/// One of the window marker functions. Arguments after the first are interval literals.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WindowFunction {
    kind: Kind,
    signature: Signature,
}

impl WindowFunction {
    fn udf(kind: Kind) -> ScalarUDF {
        let arguments = match kind {
            Kind::TumbleStart => 3,
            Kind::HopStarts | Kind::CumulateEnds => 4,
            Kind::WindowEnd => 2,
            Kind::WindowTime => 1,
        };
        ScalarUDF::new_from_impl(Self {
            kind,
            signature: Signature::any(arguments, Volatility::Immutable),
        })
    }
}

/// Nanoseconds per unit of a timestamp type.
pub(crate) fn unit_nanos(data_type: &DataType) -> DfResult<i64> {
    sluice_runtime::operators::window_aggregate::nanos_per_unit(data_type)
        .map_err(|e| DataFusionError::Plan(e.to_string()))
}

/// An interval argument in units of the time column (exact, positive unless `zero_ok`).
fn interval_units(value: &ColumnarValue, unit: i64, zero_ok: bool) -> DfResult<i64> {
    let ColumnarValue::Scalar(scalar) = value else {
        return plan_err!("window sizes must be constant intervals");
    };
    let nanos = interval_nanos(scalar)?;
    if nanos % unit != 0 {
        return plan_err!("window interval {scalar} is finer than the time column's precision");
    }
    let units = nanos / unit;
    if units < 0 || (units == 0 && !zero_ok) {
        return plan_err!("window interval {scalar} must be positive");
    }
    Ok(units)
}

/// Nanoseconds of a fixed-length interval literal (months have no fixed length).
pub fn interval_nanos(scalar: &ScalarValue) -> DfResult<i64> {
    const DAY: i64 = 86_400_000_000_000;
    match scalar {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => Ok(v.days as i64 * DAY + v.nanoseconds),
        ScalarValue::IntervalDayTime(Some(v)) => {
            Ok(v.days as i64 * DAY + v.milliseconds as i64 * 1_000_000)
        }
        ScalarValue::DurationSecond(Some(v)) => Ok(v * 1_000_000_000),
        ScalarValue::DurationMillisecond(Some(v)) => Ok(v * 1_000_000),
        ScalarValue::DurationMicrosecond(Some(v)) => Ok(v * 1_000),
        ScalarValue::DurationNanosecond(Some(v)) => Ok(*v),
        other => plan_err!(
            "window intervals must be fixed-length intervals such as INTERVAL '10' MINUTE, found {other}"
        ),
    }
}

fn timestamps(value: &ColumnarValue, rows: usize) -> DfResult<(Int64Array, DataType)> {
    let array = value.to_array(rows)?;
    let data_type = array.data_type().clone();
    if !matches!(data_type, DataType::Timestamp(_, _)) {
        return plan_err!("the window time column must be a timestamp, found {data_type}");
    }
    let raw = arrow::compute::cast(&array, &DataType::Int64)?;
    let raw = raw
        .as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("timestamp cast".into()))?;
    Ok((raw, data_type))
}

fn floor_to(ts: i64, size: i64, offset: i64) -> i64 {
    ts - (ts - offset).rem_euclid(size)
}

fn as_timestamps(values: Int64Array, data_type: &DataType) -> DfResult<ArrayRef> {
    Ok(arrow::compute::cast(&values, data_type)?)
}

impl ScalarUDFImpl for WindowFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::TumbleStart => TUMBLE_START,
            Kind::HopStarts => HOP_STARTS,
            Kind::CumulateEnds => CUMULATE_ENDS,
            Kind::WindowEnd => WINDOW_END,
            Kind::WindowTime => WINDOW_TIME,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let time = arg_types
            .first()
            .cloned()
            .ok_or_else(|| DataFusionError::Plan("window function without arguments".into()))?;
        Ok(match self.kind {
            Kind::HopStarts | Kind::CumulateEnds => {
                DataType::List(Arc::new(Field::new("item", time, true)))
            }
            _ => time,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let (ts, data_type) = timestamps(&args.args[0], rows)?;
        let unit = unit_nanos(&data_type)?;
        let result: ArrayRef = match self.kind {
            Kind::TumbleStart => {
                let size = interval_units(&args.args[1], unit, false)?;
                let offset = interval_units(&args.args[2], unit, true)?;
                let starts: Int64Array = ts
                    .iter()
                    .map(|t| t.map(|t| floor_to(t, size, offset)))
                    .collect();
                as_timestamps(starts, &data_type)?
            }
            Kind::WindowEnd => {
                let add = interval_units(&args.args[1], unit, true)?;
                let ends: Int64Array = ts.iter().map(|t| t.map(|t| t + add)).collect();
                as_timestamps(ends, &data_type)?
            }
            Kind::WindowTime => {
                let millisecond = (1_000_000 / unit).max(1);
                let times: Int64Array = ts.iter().map(|t| t.map(|t| t - millisecond)).collect();
                as_timestamps(times, &data_type)?
            }
            Kind::HopStarts | Kind::CumulateEnds => {
                let first = interval_units(&args.args[1], unit, false)?;
                let second = interval_units(&args.args[2], unit, false)?;
                let offset = interval_units(&args.args[3], unit, true)?;
                if second % first != 0 {
                    return plan_err!(
                        "window size must be an integral multiple of the {}",
                        if self.kind == Kind::HopStarts {
                            "slide"
                        } else {
                            "step"
                        }
                    );
                }
                let mut builder = ListBuilder::new(PrimitiveBuilder::<Int64Type>::new());
                for t in ts.iter() {
                    match t {
                        None => builder.append_null(),
                        Some(t) => {
                            if self.kind == Kind::HopStarts {
                                let (slide, size) = (first, second);
                                let last = floor_to(t, slide, offset);
                                let mut start = last - size + slide;
                                while start <= last {
                                    builder.values().append_value(start);
                                    start += slide;
                                }
                            } else {
                                let (step, max_size) = (first, second);
                                let start = floor_to(t, max_size, offset);
                                let mut end = start + step;
                                while end <= start + max_size {
                                    if end > t {
                                        builder.values().append_value(end);
                                    }
                                    end += step;
                                }
                            }
                            builder.append(true);
                        }
                    }
                }
                let list = builder.finish();
                let target = DataType::List(Arc::new(Field::new("item", data_type.clone(), true)));
                arrow::compute::cast(&list, &target)?
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

/// The window table functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TableFunction {
    Tumble,
    Hop,
    Cumulate,
    Session,
}

#[derive(Debug)]
struct WindowTableFunction {
    kind: TableFunction,
}

fn string_argument(args: &[Expr], index: usize, what: &str) -> DfResult<String> {
    match args.get(index) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _)) => Ok(s.clone()),
        _ => plan_err!(
            "window table function: argument {} must name the {what}",
            index + 1
        ),
    }
}

fn interval_argument(args: &[Expr], index: usize) -> DfResult<Expr> {
    match args.get(index) {
        Some(expr @ Expr::Literal(value, _)) => {
            interval_nanos(value)?;
            Ok(expr.clone())
        }
        Some(other) => plan_err!(
            "window table function: argument {} must be an interval literal, found {other}",
            index + 1
        ),
        None => plan_err!("window table function: missing argument {}", index + 1),
    }
}

fn udf(kind: Kind, args: Vec<Expr>) -> Expr {
    WindowFunction::udf(kind).call(args)
}

/// `bound + interval` in the type of `bound` (a timestamp).
pub(crate) fn window_end(bound: Expr, interval: ScalarValue) -> Expr {
    udf(Kind::WindowEnd, vec![bound, lit(interval)])
}

/// A window's rowtime: `end - 1 ms`.
pub(crate) fn window_time(end: Expr) -> Expr {
    udf(Kind::WindowTime, vec![end])
}

impl WindowTableFunction {
    fn input_plan(&self, session: &dyn Session, table: &str) -> DfResult<LogicalPlan> {
        let state = session
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("window TVF outside a session".into()))?;
        // A catalog key: `schema.table` for a table of a user schema.
        let reference = crate::names::reference(table, |schema| {
            state
                .schema_for_ref(TableReference::partial(schema, ""))
                .is_ok()
        });
        let schema = state.schema_for_ref(reference.clone())?;
        let provider: Option<Arc<dyn TableProvider>> =
            futures::executor::block_on(schema.table(reference.table()))?;
        let Some(provider) = provider else {
            return Err(DataFusionError::Plan(format!(
                "table \"{table}\" in a window table function does not exist"
            )));
        };
        match provider.get_logical_plan() {
            Some(plan) => LogicalPlanBuilder::from(plan.into_owned())
                .alias(reference)?
                .build(),
            None => {
                LogicalPlanBuilder::scan(reference, provider_as_source(provider), None)?.build()
            }
        }
    }

    fn plan(&self, args: &[Expr], session: &dyn Session) -> DfResult<LogicalPlan> {
        let time = string_argument(args, 1, "time column")?;
        // The input: a named relation, or the plan of a WITH query the session passed as
        // `EXISTS (SELECT * FROM cte)` (see `crate::names::qualify_statement`).
        let (table, input) = match args.first() {
            Some(Expr::Exists(exists)) => (
                "the WITH query".to_string(),
                exists.subquery.subquery.as_ref().clone(),
            ),
            _ => {
                let table = string_argument(args, 0, "table")?;
                let input = self.input_plan(session, &table)?;
                (table, input)
            }
        };
        let (qualifier, field) = input
            .schema()
            .qualified_field_with_unqualified_name(&time)
            .map_err(|_| {
                DataFusionError::Plan(format!(
                    "column \"{time}\" given in DESCRIPTOR does not exist in \"{table}\""
                ))
            })?;
        if !matches!(field.data_type(), DataType::Timestamp(_, _)) {
            return plan_err!(
                "the DESCRIPTOR column \"{time}\" must be a timestamp, found {}",
                field.data_type()
            );
        }
        let time_column = Expr::Column(Column::new(qualifier.cloned(), time.clone()));
        let input_columns: Vec<Expr> = input
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let zero = lit(ScalarValue::new_interval_mdn(0, 0, 0));
        let optional = |index: usize| -> DfResult<Expr> {
            if args.len() > index {
                interval_argument(args, index)
            } else {
                Ok(zero.clone())
            }
        };
        let expected = match self.kind {
            TableFunction::Tumble => 3..=4,
            TableFunction::Hop | TableFunction::Cumulate => 4..=5,
            TableFunction::Session => 3..=4,
        };
        if !expected.contains(&args.len()) {
            return plan_err!("window table function called with {} arguments", args.len());
        }
        let window_columns = |start: Expr, end: Expr| -> Vec<Expr> {
            vec![
                start.alias("window_start"),
                end.clone().alias("window_end"),
                udf(Kind::WindowTime, vec![end]).alias("window_time"),
            ]
        };
        match self.kind {
            TableFunction::Session => {
                let gap = match interval_argument(args, 2)? {
                    Expr::Literal(value, _) => value,
                    _ => return plan_err!("the SESSION gap must be an interval literal"),
                };
                let partition = if args.len() > 3 {
                    string_argument(args, 3, "partition keys")?
                } else {
                    String::new()
                };
                let partition: Vec<String> = partition
                    .split(',')
                    .filter(|key| !key.is_empty())
                    .map(str::to_string)
                    .collect();
                Ok(super::session_window::SessionWindowNode::try_new(
                    input, &time, gap, &partition,
                )?
                .into_plan())
            }
            TableFunction::Tumble => {
                let size = interval_argument(args, 2)?;
                let offset = optional(3)?;
                let start = udf(Kind::TumbleStart, vec![time_column, size.clone(), offset]);
                let end = udf(Kind::WindowEnd, vec![start.clone(), size]);
                let mut exprs = input_columns;
                exprs.extend(window_columns(start, end));
                LogicalPlanBuilder::from(input).project(exprs)?.build()
            }
            TableFunction::Hop | TableFunction::Cumulate => {
                let first = interval_argument(args, 2)?;
                let second = interval_argument(args, 3)?;
                let offset = optional(4)?;
                let hop = self.kind == TableFunction::Hop;
                let list_kind = if hop {
                    Kind::HopStarts
                } else {
                    Kind::CumulateEnds
                };
                let list = udf(
                    list_kind,
                    vec![time_column.clone(), first, second.clone(), offset.clone()],
                );
                let mut exprs = input_columns.clone();
                exprs.push(list.alias(WINDOW_LIST));
                let unnested = LogicalPlanBuilder::from(input)
                    .project(exprs)?
                    .unnest_column(WINDOW_LIST)?
                    .build()?;
                let bound = Expr::Column(Column::from_name(WINDOW_LIST));
                let zero = lit(ScalarValue::new_interval_mdn(0, 0, 0));
                let (start, end) = if hop {
                    (bound.clone(), udf(Kind::WindowEnd, vec![bound, second]))
                } else {
                    (
                        udf(Kind::TumbleStart, vec![time_column, second, offset]),
                        udf(Kind::WindowEnd, vec![bound, zero]),
                    )
                };
                let mut exprs = input_columns;
                exprs.extend(window_columns(start, end));
                LogicalPlanBuilder::from(unnested).project(exprs)?.build()
            }
        }
    }
}

impl TableFunctionImpl for WindowTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let plan = self.plan(args.exprs(), args.session())?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// Register the window table functions and marker functions in `context`.
pub fn register(context: &SessionContext) {
    for (name, kind) in [
        ("sluice_tumble", TableFunction::Tumble),
        ("sluice_hop", TableFunction::Hop),
        ("sluice_cumulate", TableFunction::Cumulate),
        ("sluice_session", TableFunction::Session),
    ] {
        context.register_udtf(name, Arc::new(WindowTableFunction { kind }));
    }
    for kind in [
        Kind::TumbleStart,
        Kind::HopStarts,
        Kind::CumulateEnds,
        Kind::WindowEnd,
        Kind::WindowTime,
    ] {
        context.register_udf(WindowFunction::udf(kind));
    }
}

#[cfg(test)]
mod tests {
    use super::floor_to;

    #[test]
    fn floor_handles_offsets_and_negative_times() {
        assert_eq!(floor_to(17, 10, 0), 10);
        assert_eq!(floor_to(17, 10, 5), 15);
        assert_eq!(floor_to(-3, 10, 0), -10);
        assert_eq!(floor_to(20, 10, 0), 20);
    }
}
