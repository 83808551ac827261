//! Time attributes: which columns of a relation carry event time, and which carry window
//! bounds derived from event time. The incremental compiler infers them node by node (as
//! Flink propagates its rowtime attributes) to decide where a GROUP BY can be a window
//! aggregate that emits on the watermark.

use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;

/// Name of Flink's processing-time function.
pub const PROCTIME: &str = "proctime";

use super::windows::{CUMULATE_ENDS, HOP_STARTS, TUMBLE_START, WINDOW_END, WINDOW_TIME};

/// What a column means in event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeAttr {
    /// An event-time column whose relation has a watermark.
    EventTime,
    /// The list of window bounds a row belongs to (before the UNNEST of HOP/CUMULATE).
    WindowList,
    /// A window's start (or, for CUMULATE, an unnested bound) derived from event time.
    WindowStart,
    /// A window's end derived from event time: a GROUP BY on it may emit on the watermark.
    WindowEnd,
    /// `PROCTIME()`: the wall clock when the row arrives (evaluated once, on arrival).
    ProcessingTime,
    /// The list of window bounds of a processing-time row (before the UNNEST).
    ProcessingWindowList,
    /// A window's start derived from processing time.
    ProcessingWindowStart,
    /// A window's end derived from processing time: a GROUP BY on it emits by the clock.
    ProcessingWindowEnd,
    /// A connector table's `PROCTIME()` computed column (Flink's processing-time attribute of
    /// a table): the wall clock when the row arrived, stored with the row. Windows over it
    /// are processing-time windows (emitted by the clock); unlike `PROCTIME()` in a view
    /// its value is stable, so reading it anywhere else is fine.
    ArrivalTime,
}

impl TimeAttr {
    /// Whether the attribute derives from processing time (a volatile value that must be
    /// consumed by a processing-time window aggregate).
    pub fn is_processing(self) -> bool {
        matches!(
            self,
            TimeAttr::ProcessingTime
                | TimeAttr::ProcessingWindowList
                | TimeAttr::ProcessingWindowStart
                | TimeAttr::ProcessingWindowEnd
        )
    }
}

/// The attribute of `expr` evaluated over a relation with `schema` and column attributes
/// `inputs`.
pub fn expr_attr(expr: &Expr, schema: &DFSchema, inputs: &[Option<TimeAttr>]) -> Option<TimeAttr> {
    match expr {
        Expr::Alias(alias) => expr_attr(&alias.expr, schema, inputs),
        Expr::Column(column) => {
            let index = schema.index_of_column(column).ok()?;
            inputs.get(index).copied().flatten()
        }
        Expr::ScalarFunction(function) => {
            if function.func.name() == PROCTIME {
                return Some(TimeAttr::ProcessingTime);
            }
            let first = function.args.first()?;
            // Windows over a stored arrival time are processing-time windows.
            let argument = match expr_attr(first, schema, inputs) {
                Some(TimeAttr::ArrivalTime) => Some(TimeAttr::ProcessingTime),
                other => other,
            };
            match function.func.name() {
                TUMBLE_START if argument == Some(TimeAttr::ProcessingTime) => {
                    Some(TimeAttr::ProcessingWindowStart)
                }
                HOP_STARTS | CUMULATE_ENDS if argument == Some(TimeAttr::ProcessingTime) => {
                    Some(TimeAttr::ProcessingWindowList)
                }
                WINDOW_END if argument == Some(TimeAttr::ProcessingWindowStart) => {
                    Some(TimeAttr::ProcessingWindowEnd)
                }
                TUMBLE_START if argument == Some(TimeAttr::EventTime) => {
                    Some(TimeAttr::WindowStart)
                }
                HOP_STARTS | CUMULATE_ENDS if argument == Some(TimeAttr::EventTime) => {
                    Some(TimeAttr::WindowList)
                }
                WINDOW_END if argument == Some(TimeAttr::WindowStart) => Some(TimeAttr::WindowEnd),
                WINDOW_TIME if argument == Some(TimeAttr::WindowEnd) => Some(TimeAttr::EventTime),
                _ => None,
            }
        }
        _ => None,
    }
}
