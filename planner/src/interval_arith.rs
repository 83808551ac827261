//! Intervals times and divided by numbers: `n * INTERVAL '1' DAY`, `INTERVAL '1 hour' / 4`.
//!
//! DataFusion has no arithmetic between numbers and intervals (it fails with "Cannot get
//! result type for temporal operation Int64 * Interval(MonthDayNano)"), where PostgreSQL
//! and Flink both accept it. The SQL planner hook [`IntervalArithmetic`] sees every binary
//! operation while a statement is planned; a `*` of a number and an interval (either
//! order) or an interval `/` a number becomes a call of [`interval_scale`], which follows
//! PostgreSQL's `interval_mul`: months, days and nanoseconds are scaled separately and a
//! fractional month carries into days (30 per month), a fractional day into time (24 hours
//! per day). Integer factors are exact; a result out of range is an error, as is a division
//! by zero.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoArray};
use arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::{exec_err, plan_err, DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Nanoseconds per day, and days per month as PostgreSQL counts a fraction of a month.
const DAY_NANOS: f64 = 86_400_000_000_000.0;
const MONTH_DAYS: f64 = 30.0;

/// Plans `number * interval`, `interval * number` and `interval / number` (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct IntervalArithmetic;

impl ExprPlanner for IntervalArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let interval = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Interval(_)));
        let number = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_numeric());
        let (interval_side, factor, divide) = match expr.op {
            BinaryOperator::Multiply if interval(&expr.left) && number(&expr.right) => {
                (expr.left.clone(), expr.right.clone(), false)
            }
            BinaryOperator::Multiply if number(&expr.left) && interval(&expr.right) => {
                (expr.right.clone(), expr.left.clone(), false)
            }
            BinaryOperator::Divide if interval(&expr.left) && number(&expr.right) => {
                (expr.left.clone(), expr.right.clone(), true)
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let function = Arc::new(ScalarUDF::new_from_impl(IntervalScale::new(divide)));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(function, vec![interval_side, factor]),
        )))
    }
}

/// `interval_mul(interval, factor)` / `interval_div(interval, divisor)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScale {
    divide: bool,
    signature: Signature,
}

impl IntervalScale {
    fn new(divide: bool) -> Self {
        Self {
            divide,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        if self.divide {
            "interval_div"
        } else {
            "interval_mul"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Interval(_) | DataType::Null, factor]
                if factor.is_numeric() || factor == &DataType::Null =>
            {
                Ok(DataType::Interval(IntervalUnit::MonthDayNano))
            }
            _ => plan_err!(
                "{} takes an interval and a number, found {arg_types:?}",
                self.name()
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let interval = args.args[0].to_array(rows)?;
        let interval =
            arrow::compute::cast(&interval, &DataType::Interval(IntervalUnit::MonthDayNano))?;
        let interval = interval.as_primitive::<IntervalMonthDayNanoType>();
        let factor = args.args[1].to_array(rows)?;
        let integers = factor.data_type().is_integer();
        let as_i64 = arrow::compute::cast(&factor, &DataType::Int64)?;
        let as_i64 = as_i64.as_primitive::<arrow::datatypes::Int64Type>();
        let as_f64 = arrow::compute::cast(&factor, &DataType::Float64)?;
        let as_f64 = as_f64.as_primitive::<arrow::datatypes::Float64Type>();
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            if interval.is_null(r) || as_f64.is_null(r) {
                out.push(None);
                continue;
            }
            let value = interval.value(r);
            let scaled = match (integers, self.divide) {
                (true, false) => multiply_exact(value, as_i64.value(r)),
                (true, true) if as_i64.value(r) == 0 => {
                    return exec_err!("division by zero");
                }
                (_, true) if as_f64.value(r) == 0.0 => return exec_err!("division by zero"),
                (_, true) => scale(value, 1.0 / as_f64.value(r), Some(as_f64.value(r))),
                (false, false) => scale(value, as_f64.value(r), None),
            }?;
            out.push(Some(scaled));
        }
        let array: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(out));
        if all_scalar {
            let scalar = datafusion::common::ScalarValue::try_from_array(&array, 0)?;
            return Ok(ColumnarValue::Scalar(scalar));
        }
        Ok(ColumnarValue::Array(array))
    }
}

fn out_of_range() -> DataFusionError {
    DataFusionError::Execution("interval out of range".into())
}

/// `value * factor` for an integer factor, field by field.
fn multiply_exact(value: IntervalMonthDayNano, factor: i64) -> Result<IntervalMonthDayNano> {
    let months = i64::from(value.months)
        .checked_mul(factor)
        .and_then(|m| i32::try_from(m).ok());
    let days = i64::from(value.days)
        .checked_mul(factor)
        .and_then(|d| i32::try_from(d).ok());
    let nanos = value.nanoseconds.checked_mul(factor);
    match (months, days, nanos) {
        (Some(months), Some(days), Some(nanos)) => {
            Ok(IntervalMonthDayNano::new(months, days, nanos))
        }
        _ => Err(out_of_range()),
    }
}

/// `value * factor` (for a division, `divisor` is what `factor` is the inverse of: fields
/// are divided by it, which is exact where the quotient is), fractions carried down.
fn scale(
    value: IntervalMonthDayNano,
    factor: f64,
    divisor: Option<f64>,
) -> Result<IntervalMonthDayNano> {
    if !factor.is_finite() {
        return Err(out_of_range());
    }
    let apply = |x: f64| match divisor {
        Some(divisor) => x / divisor,
        None => x * factor,
    };
    let months = apply(f64::from(value.months));
    let whole_months = months.trunc();
    let days = apply(f64::from(value.days)) + (months - whole_months) * MONTH_DAYS;
    let whole_days = days.trunc();
    let nanos = apply(value.nanoseconds as f64) + (days - whole_days) * DAY_NANOS;
    let fits_i32 = |x: f64| x >= f64::from(i32::MIN) && x <= f64::from(i32::MAX);
    let fits_i64 = nanos.is_finite() && nanos.abs() < 9.2e18;
    if !fits_i32(whole_months) || !fits_i32(whole_days) || !fits_i64 {
        return Err(out_of_range());
    }
    Ok(IntervalMonthDayNano::new(
        whole_months as i32,
        whole_days as i32,
        nanos.round() as i64,
    ))
}

/// The planner hook, for a session state's SQL planning.
pub(crate) fn planner() -> Arc<dyn ExprPlanner> {
    Arc::new(IntervalArithmetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn interval(months: i32, days: i32, nanos: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, nanos)
    }

    #[test]
    fn fractions_carry_into_days_and_time_as_postgresql_does() {
        // '1 mon' * 1.5 = '1 mon 15 days'; '1 day' * 1.5 = '1 day 12:00:00'.
        assert_eq!(
            scale(interval(1, 0, 0), 1.5, None).unwrap(),
            interval(1, 15, 0)
        );
        assert_eq!(
            scale(interval(0, 1, 0), 1.5, None).unwrap(),
            interval(0, 1, 12 * HOUR)
        );
        // '1 hour' / 4 = 15 minutes; '1 mon' / 2 = 15 days; '3 days' / 2 = 1 day 12 hours.
        assert_eq!(
            scale(interval(0, 0, HOUR), 0.25, Some(4.0)).unwrap(),
            interval(0, 0, HOUR / 4)
        );
        assert_eq!(
            scale(interval(1, 0, 0), 0.5, Some(2.0)).unwrap(),
            interval(0, 15, 0)
        );
        assert_eq!(
            scale(interval(0, 3, 0), 0.5, Some(2.0)).unwrap(),
            interval(0, 1, 12 * HOUR)
        );
        // Negative factors scale every field.
        assert_eq!(
            multiply_exact(interval(1, 2, 3), -2).unwrap(),
            interval(-2, -4, -6)
        );
        assert!(multiply_exact(interval(i32::MAX, 0, 0), 2).is_err());
        assert!(scale(interval(0, 1, 0), f64::INFINITY, None).is_err());
    }
}
