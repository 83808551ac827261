//! Interval joins: a join whose condition bounds an event-time column of one input by the
//! rows of the other (`b.ts BETWEEN a.ts - INTERVAL '1' HOUR AND a.ts`, Nexmark's
//! `B.dateTime BETWEEN A.dateTime AND A.expires`) can forget rows, as Flink's interval join
//! does, instead of keeping both inputs forever.
//!
//! A conjunct `x.t + c <= E(y)` (also `<`, `>=`/`>` mirrored, and either half of BETWEEN),
//! where `x.t` is an event-time column of one input (its relation has a watermark), `c` an
//! optional interval literal and `E` any expression over the other input's columns only,
//! means: a row `y` can only ever match rows `x` with `x.t <= E(y) - c`. Rows of `x` that
//! arrive later have `x.t` above the watermark, so once the watermark reaches `E(y) - c`
//! no future row can match `y` and it leaves the join's state. Its matches already emitted
//! stay; for outer and anti joins an expired row stays as output unmatched, exactly as it
//! would for every later input. The flip side: rows of `x` whose `x.t` is at or below the
//! watermark on arrival are late (they might have matched an expired `y`) and are dropped
//! and counted (Flink joins a late row with whatever rows it still holds, which depends on
//! timing; dropping keeps the result the batch join over the rows that were not late).

use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{binary_expr, Between, BinaryExpr, Expr, Operator};

use super::time::TimeAttr;

/// The interval bounds found in a join condition, per input (0 = left, 1 = right).
#[derive(Debug, Default, Clone)]
pub struct IntervalBounds {
    /// Expressions over the input's own columns: a row expires once the watermark reaches
    /// any of them.
    pub expire: [Vec<Expr>; 2],
    /// Event-time columns of the input whose rows are late at or below the watermark.
    pub late: [Vec<Expr>; 2],
}

impl IntervalBounds {
    /// Whether the condition bounds any input at all.
    pub fn is_empty(&self) -> bool {
        self.expire.iter().all(Vec::is_empty)
    }
}

/// The interval bounds of a join `filter` over inputs with schemas `schemas` and time
/// attributes `attrs`.
pub fn interval_bounds(
    filter: &Expr,
    schemas: [&DFSchema; 2],
    attrs: [&[Option<TimeAttr>]; 2],
) -> IntervalBounds {
    let mut bounds = IntervalBounds::default();
    for conjunct in split_conjunction(filter) {
        for (lower, upper) in at_most_pairs(conjunct) {
            let Some((column, offset)) = time_column(lower) else {
                continue;
            };
            let Some(side) = side_of(column, schemas) else {
                continue;
            };
            let Ok(index) = schemas[side].index_of_column(column) else {
                continue;
            };
            if !bounds_time(attrs[side].get(index).copied().flatten()) {
                continue;
            }
            let other = 1 - side;
            let over_other = upper
                .column_refs()
                .iter()
                .all(|c| side_of(c, schemas) == Some(other));
            if !over_other || upper.column_refs().is_empty() {
                continue;
            }
            // column + offset <= upper  <=>  column <= upper - offset
            let expire = match offset {
                Some((op, amount)) => {
                    let inverse = if op == Operator::Plus {
                        Operator::Minus
                    } else {
                        Operator::Plus
                    };
                    binary_expr(upper.clone(), inverse, amount.clone())
                }
                None => upper.clone(),
            };
            bounds.expire[other].push(expire);
            let late = Expr::Column(column.clone());
            if !bounds.late[side].contains(&late) {
                bounds.late[side].push(late);
            }
        }
    }
    bounds
}

/// Whether a column with attribute `attr` can bound an interval join: an event-time column,
/// or the window end of a window TVF, window aggregate or window join (Nexmark q7's
/// `B1.dateTime`, the end of the window of its maximum). Rows arrive with a window end above
/// the watermark as they do with an event time (a window aggregate emits window `e` when the
/// watermark reaches `e - 1`, before the watermark moves on downstream; a TVF row's window
/// ends after its event time), so once the watermark reaches `E(y) - c` no future row can
/// match `y` either. Window ends do not stay time attributes of the output (Flink's do not).
fn bounds_time(attr: Option<TimeAttr>) -> bool {
    matches!(attr, Some(TimeAttr::EventTime | TimeAttr::WindowEnd))
}

/// The event-time columns of each input (0 = left, 1 = right; indexes into the input's
/// schema) that can stay event-time attributes of an inner interval join's output, and how
/// far (nanoseconds) the join's output watermark must then stay behind its inputs'.
///
/// A pair is emitted when its later row arrives. A row of input `s` that is not late has
/// its time above the watermark; the earlier row `x` of the pair, of the other input, is
/// only bounded by the condition: a bound `x` expires at `x.t + e` (from `y.s <= x.t + e`,
/// `y.s` the arriving row's event time, above the watermark) means `x.t > watermark - e`.
/// So `x.t` stays a time attribute when some expiry bound of its input is `x.t` plus a
/// constant `e`, and the output watermark is held back by the largest such `e` (the
/// smallest per column); a bound over another expression (Nexmark's `A.expires`) leaves
/// the column's time unbounded, and it is not kept. Only the inputs `sides` marks are
/// considered (an outer join's padded side has NULLs in its columns). An outer join that
/// emits an unmatched row `x` when it expires does so at the watermark that reaches
/// `x.t + e`, before the output watermark (held back by `e`) passes `x.t`: the same bound.
pub fn preserved_time_attributes(
    found: &IntervalBounds,
    schemas: [&DFSchema; 2],
    attrs: [&[Option<TimeAttr>]; 2],
    sides: [bool; 2],
) -> ([Vec<usize>; 2], i64) {
    let mut kept: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    let mut delay = 0_i64;
    for side in (0..2).filter(|&side| sides[side]) {
        // Per event-time column of this side: the tightest bound found.
        let mut tightest: std::collections::BTreeMap<usize, i64> = Default::default();
        for expire in &found.expire[side] {
            let Some((column, offset)) = time_column(expire) else {
                continue;
            };
            let Ok(index) = schemas[side].index_of_column(column) else {
                continue;
            };
            if attrs[side].get(index).copied().flatten() != Some(TimeAttr::EventTime) {
                continue;
            }
            let nanos = match offset {
                None => Some(0),
                Some((op, amount)) => interval_nanos(amount).map(|n| match op {
                    Operator::Minus => n.saturating_neg(),
                    _ => n,
                }),
            };
            if let Some(nanos) = nanos {
                let entry = tightest.entry(index).or_insert(nanos);
                *entry = (*entry).min(nanos);
            }
        }
        for (index, nanos) in tightest {
            kept[side].push(index);
            delay = delay.max(nanos);
        }
    }
    (kept, delay)
}

/// The length of an interval literal in nanoseconds (`None` for months, which vary).
fn interval_nanos(expr: &Expr) -> Option<i64> {
    const DAY: i64 = 86_400_000_000_000;
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            (v.days as i64).checked_mul(DAY)?.checked_add(v.nanoseconds)
        }
        ScalarValue::IntervalDayTime(Some(v)) => (v.days as i64)
            .checked_mul(DAY)?
            .checked_add((v.milliseconds as i64).checked_mul(1_000_000)?),
        ScalarValue::DurationSecond(Some(v)) => v.checked_mul(1_000_000_000),
        ScalarValue::DurationMillisecond(Some(v)) => v.checked_mul(1_000_000),
        ScalarValue::DurationMicrosecond(Some(v)) => v.checked_mul(1_000),
        ScalarValue::DurationNanosecond(Some(v)) => Some(*v),
        _ => None,
    }
}

/// The pairs `(a, b)` a conjunct states `a <= b` (or `a < b`) of.
fn at_most_pairs(conjunct: &Expr) -> Vec<(&Expr, &Expr)> {
    match conjunct {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::Lt | Operator::LtEq => vec![(left.as_ref(), right.as_ref())],
            Operator::Gt | Operator::GtEq => vec![(right.as_ref(), left.as_ref())],
            _ => Vec::new(),
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => vec![
            (low.as_ref(), expr.as_ref()),
            (expr.as_ref(), high.as_ref()),
        ],
        _ => Vec::new(),
    }
}

/// `column`, `column + literal` or `column - literal` (through casts that keep the order of
/// timestamps): the column and the offset.
fn time_column(expr: &Expr) -> Option<(&Column, Option<(Operator, &Expr)>)> {
    match expr {
        Expr::Column(column) => Some((column, None)),
        Expr::Cast(cast) if cast.field.data_type().is_temporal() => time_column(&cast.expr),
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::Plus | Operator::Minus)
                && matches!(right.as_ref(), Expr::Literal(value, _) if is_interval(value)) =>
        {
            match left.as_ref() {
                Expr::Column(column) => Some((column, Some((*op, right.as_ref())))),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_interval(value: &ScalarValue) -> bool {
    matches!(
        value,
        ScalarValue::IntervalDayTime(Some(_))
            | ScalarValue::IntervalMonthDayNano(Some(_))
            | ScalarValue::IntervalYearMonth(Some(_))
            | ScalarValue::DurationSecond(Some(_))
            | ScalarValue::DurationMillisecond(Some(_))
            | ScalarValue::DurationMicrosecond(Some(_))
            | ScalarValue::DurationNanosecond(Some(_))
    )
}

/// Which input a column of the join condition belongs to.
fn side_of(column: &Column, schemas: [&DFSchema; 2]) -> Option<usize> {
    let left = schemas[0].index_of_column(column).is_ok();
    let right = schemas[1].index_of_column(column).is_ok();
    match (left, right) {
        (true, false) => Some(0),
        (false, true) => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, TimeUnit};
    use datafusion::logical_expr::{col, lit};

    fn schema(qualifier: &str) -> DFSchema {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        DFSchema::try_from_qualified_schema(
            qualifier,
            &arrow::datatypes::Schema::new(vec![
                Field::new("id", DataType::Int64, true),
                Field::new("ts", ts.clone(), true),
                Field::new("expires", ts, true),
            ]),
        )
        .unwrap()
    }

    fn hour() -> Expr {
        lit(ScalarValue::IntervalMonthDayNano(Some(
            arrow::datatypes::IntervalMonthDayNano::new(0, 0, 3_600_000_000_000),
        )))
    }

    const EVENT: [Option<TimeAttr>; 3] = [None, Some(TimeAttr::EventTime), None];

    #[test]
    fn between_bounds_both_sides() {
        let (a, b) = (schema("a"), schema("b"));
        // b.ts BETWEEN a.ts AND a.expires
        let filter = col("b.ts").between(col("a.ts"), col("a.expires"));
        let bounds = interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]);
        // b.ts <= a.expires: a rows expire at a.expires; a.ts <= b.ts: b rows expire at b.ts.
        assert_eq!(bounds.expire[0], vec![col("a.expires")]);
        assert_eq!(bounds.expire[1], vec![col("b.ts")]);
        assert_eq!(bounds.late[1], vec![col("b.ts")]);
        assert_eq!(bounds.late[0], vec![col("a.ts")]);
    }

    #[test]
    fn offsets_move_to_the_other_side() {
        let (a, b) = (schema("a"), schema("b"));
        // a.ts - 1 hour <= b.ts  -> a.ts <= b.ts + 1 hour: b expires at b.ts + 1 hour.
        let filter = (col("a.ts") - hour()).lt_eq(col("b.ts"));
        let bounds = interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]);
        assert_eq!(bounds.expire[1], vec![col("b.ts") + hour()]);
        assert!(bounds.expire[0].is_empty());
        assert_eq!(bounds.late[0], vec![col("a.ts")]);
    }

    #[test]
    fn constant_bounds_keep_time_attributes() {
        let (a, b) = (schema("a"), schema("b"));
        // b.ts BETWEEN a.ts - 1 hour AND a.ts: `a.ts - 1 hour <= b.ts` bounds a by b (b rows
        // expire at b.ts + 1 hour), `b.ts <= a.ts` bounds b by a (a rows expire at a.ts).
        let filter = col("b.ts").between(col("a.ts") - hour(), col("a.ts"));
        let bounds = interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]);
        let (kept, delay) =
            preserved_time_attributes(&bounds, [&a, &b], [&EVENT, &EVENT], [true, true]);
        assert_eq!(kept, [vec![1], vec![1]]);
        assert_eq!(delay, 3_600_000_000_000);
        // Nexmark's b.ts BETWEEN a.ts AND a.expires: a's bound is a.expires, not a.ts + c.
        let filter = col("b.ts").between(col("a.ts"), col("a.expires"));
        let bounds = interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]);
        let (kept, delay) =
            preserved_time_attributes(&bounds, [&a, &b], [&EVENT, &EVENT], [true, true]);
        assert_eq!(kept, [vec![], vec![1]]);
        assert_eq!(delay, 0);
    }

    #[test]
    fn needs_event_time_and_the_other_side() {
        let (a, b) = (schema("a"), schema("b"));
        let none: [Option<TimeAttr>; 3] = [None; 3];
        let filter = col("b.ts").lt_eq(col("a.ts"));
        assert!(interval_bounds(&filter, [&a, &b], [&none, &none]).is_empty());
        // Both sides of the comparison on one input bound nothing.
        let filter = col("b.ts").lt_eq(col("b.expires"));
        assert!(interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]).is_empty());
        // Equality bounds nothing (it is a join key or a residual).
        let filter = col("b.ts").eq(col("a.ts"));
        assert!(interval_bounds(&filter, [&a, &b], [&EVENT, &EVENT]).is_empty());
    }
}
