//! Flink built-in scalar functions that DataFusion lacks or names differently, as DataFusion
//! UDFs: `MOD`, `PROCTIME()`, `HOUR`, `DATE_FORMAT` (Java date patterns), `SPLIT`, `SPLIT_INDEX`,
//! `REGEXP_EXTRACT`, `TIMESTAMPDIFF` and `TIMESTAMPADD` (units passed as strings by the Flink rewrite), and `COUNT_CHAR` (the Nexmark benchmark's UDF, accepted by its class
//! name in `CREATE FUNCTION`).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Utc};
use datafusion::common::{exec_err, plan_err, DataFusionError, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    binary_expr, ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

type DfResult<T> = datafusion::common::Result<T>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Mod,
    Proctime,
    Hour,
    DateFormat,
    Split,
    SplitIndex,
    TimestampDiff,
    /// Flink's `TIMESTAMPADD(unit, n, time)` (the unit passed as a string, as for
    /// `TIMESTAMPDIFF`): `time` moved by `n` units, of `time`'s type.
    TimestampAdd,
    RegexpExtract,
    CountChar,
    ToTimestampLtz,
    HashColumns,
    /// DataSQRL's `text_search(query, text..)`: the share of the query's words found in the
    /// texts.
    TextSearch,
    /// DataSQRL's `format(pattern, value..)` (Java's `String.format` with `%s`, `%S`, `%d`,
    /// `%n` and `%%`).
    Format,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FlinkFunction {
    kind: Kind,
    signature: Signature,
}

/// Class names of Flink UDFs that are built in here, for `CREATE FUNCTION name AS 'class'`.
pub fn builtin_for_class(class: &str) -> Option<&'static str> {
    match class {
        "com.github.nexmark.flink.udf.CountChar" => Some("count_char"),
        _ => None,
    }
}

/// `array` cast to UTF-8 text.
pub(crate) fn utf8(array: &ArrayRef) -> DfResult<StringArray> {
    arrow::compute::cast(array, &DataType::Utf8)?
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("string cast".into()))
}

/// DataSQRL's text search score: the query and the texts split at whitespace and
/// lower-cased; the share of the query's words (each occurrence counted) that some text
/// has; 1 for a query without words.
fn text_search<'a>(query: &str, texts: impl Iterator<Item = &'a str>) -> f64 {
    let query: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if query.is_empty() {
        return 1.0;
    }
    let words: std::collections::HashSet<String> = texts
        .flat_map(str::split_whitespace)
        .map(str::to_lowercase)
        .collect();
    let found = query.iter().filter(|word| words.contains(*word)).count();
    found as f64 / query.len() as f64
}

/// Java's `String.format` for the conversions DataSQRL's `format` is used with: `%s` (the
/// value, `null` for NULL), `%S` (upper case), `%d` (an integer value), `%n` and `%%`;
/// values are taken in order.
fn java_format(pattern: &str, values: &[Option<&str>]) -> DfResult<String> {
    let mut out = String::with_capacity(pattern.len() + 16 * values.len());
    let mut next = values.iter();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let conversion = chars.next();
        match conversion {
            Some('%') => out.push('%'),
            Some('n') => out.push('\n'),
            Some(kind @ ('s' | 'S' | 'd')) => {
                let Some(value) = next.next() else {
                    return exec_err!("format: '{pattern}' has more placeholders than values");
                };
                let text = value.unwrap_or("null");
                match kind {
                    'S' => out.push_str(&text.to_uppercase()),
                    'd' if value.is_some() && text.parse::<i128>().is_err() => {
                        return exec_err!("format: %d given '{text}', not an integer");
                    }
                    _ => out.push_str(text),
                }
            }
            other => {
                return exec_err!(
                    "format: the conversion '%{}' is not supported (only %s, %S, %d, %n, %%)",
                    other.map(String::from).unwrap_or_default()
                )
            }
        }
    }
    Ok(out)
}

/// The first argument's rows as text, and the other arguments' (`what`: the error for no
/// arguments).
fn first_and_rest(
    args: &[ColumnarValue],
    rows: usize,
    what: &str,
) -> DfResult<(StringArray, Vec<StringArray>)> {
    let [first, rest @ ..] = args else {
        return plan_err!("{what}");
    };
    let rest = rest
        .iter()
        .map(|a| strings(a, rows))
        .collect::<DfResult<Vec<_>>>()?;
    Ok((strings(first, rows)?, rest))
}

/// Each row of an argument as text.
pub(crate) fn strings(value: &ColumnarValue, rows: usize) -> DfResult<StringArray> {
    utf8(&value.to_array(rows)?)
}

fn integers(value: &ColumnarValue, rows: usize) -> DfResult<Int64Array> {
    let array = arrow::compute::cast(&value.to_array(rows)?, &DataType::Int64)?;
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("integer cast".into()))
}

/// Timestamps in milliseconds (Flink's TIMESTAMP(3)).
fn timestamp_millis(value: &ColumnarValue, rows: usize) -> DfResult<TimestampMillisecondArray> {
    let array = value.to_array(rows)?;
    let millis = arrow::compute::cast(&array, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    millis
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("timestamp cast".into()))
}

/// Timestamps as UTC date-times (millisecond precision, Flink's TIMESTAMP(3)).
fn datetimes(value: &ColumnarValue, rows: usize) -> DfResult<Vec<Option<DateTime<Utc>>>> {
    Ok(timestamp_millis(value, rows)?
        .iter()
        .map(|m| m.and_then(DateTime::<Utc>::from_timestamp_millis))
        .collect())
}

/// A Java `SimpleDateFormat` pattern as a chrono format string.
fn java_pattern(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let piece = match (c, run) {
            ('y', 2) => "%y".to_string(),
            ('y', _) => "%Y".to_string(),
            ('M', 1) => "%-m".to_string(),
            ('M', 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', 1) => "%-d".to_string(),
            ('d', _) => "%d".to_string(),
            ('H', 1) => "%-H".to_string(),
            ('H', _) => "%H".to_string(),
            ('m', 1) => "%-M".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', 1) => "%-S".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', n) => format!("%{}f", n.min(9)),
            ('E', _) => "%a".to_string(),
            ('a', _) => "%p".to_string(),
            ('\'', _) => String::new(),
            ('%', _) => "%%".repeat(run),
            (other, n) => other.to_string().repeat(n),
        };
        out.push_str(&piece);
        i += run;
    }
    out
}

/// `DATE_FORMAT(ts, pattern)`. With a constant pattern (the usual case) the pattern is
/// translated and parsed once per batch, and consecutive rows in the same second (or the same
/// millisecond, for a pattern with fractions of a second) reuse the previous row's text, so a
/// stream of nearby timestamps formats each distinct value once.
fn date_format(time: &ColumnarValue, pattern: &ColumnarValue, rows: usize) -> DfResult<ArrayRef> {
    use std::fmt::Write;

    let ColumnarValue::Scalar(pattern) = pattern else {
        let times = datetimes(time, rows)?;
        let patterns = strings(pattern, rows)?;
        let mut builder = StringBuilder::with_capacity(rows, rows * 16);
        for (time, pattern) in times.iter().zip(patterns.iter()) {
            match (time, pattern) {
                (Some(time), Some(pattern)) => {
                    let translated = java_pattern(pattern);
                    let items = chrono::format::StrftimeItems::new(&translated);
                    let mut text = String::new();
                    write!(text, "{}", time.format_with_items(items)).map_err(|_| {
                        DataFusionError::Execution(format!(
                            "DATE_FORMAT: unsupported pattern '{pattern}'"
                        ))
                    })?;
                    builder.append_value(text);
                }
                _ => builder.append_null(),
            }
        }
        return Ok(Arc::new(builder.finish()));
    };
    let pattern = match pattern {
        ScalarValue::Utf8(p) | ScalarValue::LargeUtf8(p) | ScalarValue::Utf8View(p) => p.clone(),
        ScalarValue::Null => None,
        other => match other.cast_to(&DataType::Utf8)? {
            ScalarValue::Utf8(p) => p,
            _ => None,
        },
    };
    let Some(pattern) = pattern else {
        return Ok(arrow::array::new_null_array(&DataType::Utf8, rows));
    };
    let translated = java_pattern(&pattern);
    let items: Vec<chrono::format::Item<'_>> =
        chrono::format::StrftimeItems::new(&translated).collect();
    if items.contains(&chrono::format::Item::Error) {
        return plan_err!("DATE_FORMAT: unsupported pattern '{pattern}'");
    }
    // Rows in the same unit of this size format alike.
    let unit_millis = if pattern.contains('S') { 1 } else { 1000 };
    let millis = timestamp_millis(time, rows)?;
    let mut builder = StringBuilder::with_capacity(rows, rows * translated.len().max(8));
    let mut text = String::new();
    let mut last_unit: Option<i64> = None;
    for value in millis.iter() {
        let Some(value) = value else {
            builder.append_null();
            continue;
        };
        let unit = value.div_euclid(unit_millis);
        if last_unit != Some(unit) {
            let Some(time) = DateTime::<Utc>::from_timestamp_millis(value) else {
                builder.append_null();
                last_unit = None;
                continue;
            };
            text.clear();
            write!(text, "{}", time.format_with_items(items.iter()))
                .map_err(|e| DataFusionError::Execution(format!("DATE_FORMAT: {e}")))?;
            last_unit = Some(unit);
        }
        builder.append_value(&text);
    }
    Ok(Arc::new(builder.finish()))
}

impl FlinkFunction {
    fn udf(kind: Kind) -> ScalarUDF {
        let (arguments, volatility) = match kind {
            Kind::Mod => (2, Volatility::Immutable),
            Kind::Proctime => (0, Volatility::Volatile),
            Kind::Hour => (1, Volatility::Immutable),
            Kind::DateFormat | Kind::CountChar | Kind::Split => (2, Volatility::Immutable),
            Kind::SplitIndex | Kind::TimestampDiff | Kind::TimestampAdd => {
                (3, Volatility::Immutable)
            }
            Kind::RegexpExtract => (3, Volatility::Immutable),
            Kind::ToTimestampLtz => (2, Volatility::Immutable),
            Kind::HashColumns | Kind::TextSearch | Kind::Format => (0, Volatility::Immutable),
        };
        let signature = match kind {
            Kind::RegexpExtract | Kind::ToTimestampLtz => Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(2),
                    datafusion::logical_expr::TypeSignature::Any(3),
                ],
                volatility,
            ),
            Kind::Proctime => Signature::nullary(volatility),
            Kind::HashColumns | Kind::TextSearch | Kind::Format => {
                Signature::variadic_any(volatility)
            }
            _ => Signature::any(arguments, volatility),
        };
        ScalarUDF::new_from_impl(Self { kind, signature })
    }
}

impl ScalarUDFImpl for FlinkFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Mod => "mod",
            Kind::Proctime => "proctime",
            Kind::Hour => "hour",
            Kind::DateFormat => "date_format",
            Kind::Split => "split",
            Kind::SplitIndex => "split_index",
            Kind::TimestampDiff => "timestampdiff",
            Kind::TimestampAdd => "timestampadd",
            Kind::RegexpExtract => "regexp_extract",
            Kind::CountChar => "count_char",
            Kind::ToTimestampLtz => "to_timestamp_ltz",
            Kind::HashColumns => "hash_columns",
            Kind::TextSearch => "text_search",
            Kind::Format => "format",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            Kind::Mod => {
                if arg_types.iter().all(|t| t.is_integer()) {
                    DataType::Int64
                } else {
                    DataType::Float64
                }
            }
            Kind::Proctime | Kind::ToTimestampLtz => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()))
            }
            Kind::Hour | Kind::CountChar => DataType::Int64,
            Kind::Split => DataType::new_list(DataType::Utf8, true),
            Kind::TimestampDiff => DataType::Int32,
            Kind::TimestampAdd => match arg_types.get(2) {
                Some(time @ (DataType::Timestamp(..) | DataType::Date32)) => time.clone(),
                Some(DataType::Null) => DataType::Timestamp(TimeUnit::Millisecond, None),
                Some(DataType::Date64) => DataType::Timestamp(TimeUnit::Millisecond, None),
                Some(other) => {
                    return plan_err!(
                    "TIMESTAMPADD takes a TIMESTAMP or DATE as its third argument, found {other}"
                )
                }
                None => return plan_err!("TIMESTAMPADD takes three arguments"),
            },
            Kind::DateFormat
            | Kind::SplitIndex
            | Kind::RegexpExtract
            | Kind::HashColumns
            | Kind::Format => DataType::Utf8,
            Kind::TextSearch => DataType::Float64,
        })
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        if self.kind != Kind::Mod {
            return Ok(ExprSimplifyResult::Original(args));
        }
        let [left, right]: [Expr; 2] = args
            .try_into()
            .map_err(|_| DataFusionError::Plan("MOD takes two arguments".into()))?;
        Ok(ExprSimplifyResult::Simplified(binary_expr(
            left,
            Operator::Modulo,
            right,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let result: ArrayRef = match self.kind {
            Kind::Mod => {
                let left = integers(&args.args[0], rows)?;
                let right = integers(&args.args[1], rows)?;
                Arc::new(arrow::compute::kernels::numeric::rem(&left, &right)?)
            }
            Kind::Proctime => {
                let now = Utc::now().timestamp_millis();
                return Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
                    Some(now),
                    Some("+00:00".into()),
                )));
            }
            Kind::Hour => {
                use chrono::Timelike;
                let times = datetimes(&args.args[0], rows)?;
                Arc::new(
                    times
                        .iter()
                        .map(|t| t.map(|t| t.hour() as i64))
                        .collect::<Int64Array>(),
                )
            }
            Kind::DateFormat => date_format(&args.args[0], &args.args[1], rows)?,
            Kind::Split => {
                let text = strings(&args.args[0], rows)?;
                let delimiter = strings(&args.args[1], rows)?;
                let mut builder = ListBuilder::new(StringBuilder::new());
                for r in 0..rows {
                    if text.is_null(r) || delimiter.is_null(r) {
                        builder.append_null();
                        continue;
                    }
                    for part in flink_split(text.value(r), delimiter.value(r)) {
                        builder.values().append_value(part);
                    }
                    builder.append(true);
                }
                Arc::new(builder.finish())
            }
            Kind::TimestampDiff => {
                let units = strings(&args.args[0], rows)?;
                let from = datetimes(&args.args[1], rows)?;
                let to = datetimes(&args.args[2], rows)?;
                let mut out = Vec::with_capacity(rows);
                for r in 0..rows {
                    let (Some(from), Some(to)) = (from[r], to[r]) else {
                        out.push(None);
                        continue;
                    };
                    if units.is_null(r) {
                        out.push(None);
                        continue;
                    }
                    out.push(Some(timestamp_diff(units.value(r), from, to)?));
                }
                Arc::new(Int32Array::from(out))
            }
            Kind::TimestampAdd => {
                let units = strings(&args.args[0], rows)?;
                let amounts = integers(&args.args[1], rows)?;
                let time = args.args[2].to_array(rows)?;
                timestamp_add(&units, &amounts, &time)?
            }
            Kind::SplitIndex => {
                let text = strings(&args.args[0], rows)?;
                let delimiter = strings(&args.args[1], rows)?;
                let index = integers(&args.args[2], rows)?;
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            if text.is_null(r) || delimiter.is_null(r) || index.is_null(r) {
                                return None;
                            }
                            let index = usize::try_from(index.value(r)).ok()?;
                            text.value(r)
                                .split(delimiter.value(r))
                                .nth(index)
                                .map(str::to_string)
                        })
                        .collect::<StringArray>(),
                )
            }
            Kind::RegexpExtract => {
                let text = strings(&args.args[0], rows)?;
                let patterns = strings(&args.args[1], rows)?;
                let groups = match args.args.get(2) {
                    Some(group) => integers(group, rows)?,
                    None => Int64Array::from(vec![0; rows]),
                };
                let mut cache: Option<(String, regex::Regex)> = None;
                let mut out = Vec::with_capacity(rows);
                for r in 0..rows {
                    if text.is_null(r) || patterns.is_null(r) || groups.is_null(r) {
                        out.push(None);
                        continue;
                    }
                    let pattern = patterns.value(r);
                    if cache.as_ref().is_none_or(|(p, _)| p != pattern) {
                        let compiled = regex::Regex::new(pattern).map_err(|e| {
                            DataFusionError::Execution(format!("invalid regular expression: {e}"))
                        })?;
                        cache = Some((pattern.to_string(), compiled));
                    }
                    let Some((_, compiled)) = cache.as_ref() else {
                        out.push(None);
                        continue;
                    };
                    let group = usize::try_from(groups.value(r)).unwrap_or(usize::MAX);
                    out.push(
                        compiled
                            .captures(text.value(r))
                            .and_then(|c| c.get(group))
                            .map(|m| m.as_str().to_string()),
                    );
                }
                Arc::new(StringArray::from(out))
            }
            Kind::ToTimestampLtz => {
                // TO_TIMESTAMP_LTZ(epoch, precision): precision 0 = seconds, 3 = milliseconds.
                let epoch = integers(&args.args[0], rows)?;
                let precision = match args.args.get(1) {
                    Some(p) => integers(p, rows)?,
                    None => Int64Array::from(vec![3; rows]),
                };
                let mut out = Vec::with_capacity(rows);
                for r in 0..rows {
                    if epoch.is_null(r) || precision.is_null(r) {
                        out.push(None);
                        continue;
                    }
                    let millis = match precision.value(r) {
                        0 => epoch.value(r).checked_mul(1000),
                        3 => Some(epoch.value(r)),
                        other => {
                            return plan_err!(
                                "TO_TIMESTAMP_LTZ precision must be 0 or 3, found {other}"
                            )
                        }
                    };
                    out.push(millis);
                }
                Arc::new(TimestampMillisecondArray::from(out).with_timezone("+00:00"))
            }
            Kind::HashColumns => {
                // DataSQRL's HASH_COLUMNS: a stable hash of the argument values, as hex.
                use std::hash::{Hash, Hasher};
                let columns = args
                    .args
                    .iter()
                    .map(|a| strings(a, rows))
                    .collect::<DfResult<Vec<_>>>()?;
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            let mut hasher = std::collections::hash_map::DefaultHasher::new();
                            for column in &columns {
                                column.is_null(r).hash(&mut hasher);
                                if !column.is_null(r) {
                                    column.value(r).hash(&mut hasher);
                                }
                            }
                            Some(format!("{:016x}", hasher.finish()))
                        })
                        .collect::<StringArray>(),
                )
            }
            Kind::TextSearch => {
                let (query, texts) =
                    first_and_rest(&args.args, rows, "text_search takes a query and texts")?;
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            (!query.is_null(r)).then(|| {
                                let words =
                                    texts.iter().filter(|t| !t.is_null(r)).map(|t| t.value(r));
                                text_search(query.value(r), words)
                            })
                        })
                        .collect::<Float64Array>(),
                )
            }
            Kind::Format => {
                let (pattern, values) =
                    first_and_rest(&args.args, rows, "format takes a pattern and its values")?;
                let mut builder = StringBuilder::with_capacity(rows, rows * 32);
                let mut row_values = Vec::with_capacity(values.len());
                for r in 0..rows {
                    if pattern.is_null(r) {
                        builder.append_null();
                        continue;
                    }
                    row_values.clear();
                    row_values.extend(values.iter().map(|v| (!v.is_null(r)).then(|| v.value(r))));
                    builder.append_value(java_format(pattern.value(r), &row_values)?);
                }
                Arc::new(builder.finish())
            }
            Kind::CountChar => {
                let text = strings(&args.args[0], rows)?;
                let needle = strings(&args.args[1], rows)?;
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            if text.is_null(r) || needle.is_null(r) {
                                return None;
                            }
                            let needle = needle.value(r).chars().next()?;
                            Some(text.value(r).chars().filter(|&c| c == needle).count() as i64)
                        })
                        .collect::<Int64Array>(),
                )
            }
        };
        if result.len() != rows {
            return plan_err!("{} produced {} rows for {rows}", self.name(), result.len());
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// Flink's `SPLIT(text, delimiter)`: the pieces between delimiters, empty pieces included
/// (a leading, trailing or repeated delimiter); an empty delimiter splits into characters.
fn flink_split<'a>(text: &'a str, delimiter: &str) -> Vec<&'a str> {
    if delimiter.is_empty() {
        return text
            .char_indices()
            .map(|(at, c)| &text[at..at + c.len_utf8()])
            .collect();
    }
    text.split(delimiter).collect()
}

/// Flink's `TIMESTAMPDIFF(unit, from, to)`: whole `unit`s from `from` to `to`, truncated
/// toward zero; months, quarters and years count calendar months as Calcite does (a month
/// is complete when the day and time of month are reached).
fn timestamp_diff(unit: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> DfResult<i32> {
    let millis = (to - from).num_milliseconds();
    let per_unit: i64 = match unit.to_ascii_uppercase().as_str() {
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        "WEEK" => 7 * 86_400_000,
        "MONTH" => return months_between(from, to),
        "QUARTER" => return months_between(from, to).map(|months| months / 3),
        "YEAR" => return months_between(from, to).map(|months| months / 12),
        other => {
            return plan_err!(
                "TIMESTAMPDIFF unit must be SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR, found {other}"
            )
        }
    };
    i32::try_from(millis / per_unit)
        .map_err(|_| DataFusionError::Execution("TIMESTAMPDIFF result out of range".into()))
}

/// A `TIMESTAMPADD` unit: a fixed number of seconds, or of calendar months.
enum AddUnit {
    Seconds(i64),
    Months(i64),
}

fn add_unit(unit: &str) -> DfResult<AddUnit> {
    Ok(match unit.to_ascii_uppercase().as_str() {
        "SECOND" => AddUnit::Seconds(1),
        "MINUTE" => AddUnit::Seconds(60),
        "HOUR" => AddUnit::Seconds(3_600),
        "DAY" => AddUnit::Seconds(86_400),
        "WEEK" => AddUnit::Seconds(7 * 86_400),
        "MONTH" => AddUnit::Months(1),
        "QUARTER" => AddUnit::Months(3),
        "YEAR" => AddUnit::Months(12),
        other => {
            return plan_err!(
                "TIMESTAMPADD unit must be SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR, found {other}"
            )
        }
    })
}

/// Flink's `TIMESTAMPADD(unit, n, time)` over arrays: timestamps (any precision and zone,
/// kept) and dates (a DATE moves by whole days only). Months are calendar months, the day
/// clamped to the month's last (Jan 31 + 1 month = Feb 28/29), as Calcite does.
fn timestamp_add(units: &StringArray, amounts: &Int64Array, time: &ArrayRef) -> DfResult<ArrayRef> {
    use chrono::Months;
    let out_of_range = || DataFusionError::Execution("TIMESTAMPADD result out of range".into());
    let data_type = match time.data_type() {
        DataType::Null | DataType::Date64 => DataType::Timestamp(TimeUnit::Millisecond, None),
        other => other.clone(),
    };
    let time = arrow::compute::cast(time, &data_type)?;
    // Ticks of the input per second, and what one tick is as a chrono duration.
    let (per_second, date) = match &data_type {
        DataType::Date32 => (1, true),
        DataType::Timestamp(TimeUnit::Second, _) => (1, false),
        DataType::Timestamp(TimeUnit::Millisecond, _) => (1_000, false),
        DataType::Timestamp(TimeUnit::Microsecond, _) => (1_000_000, false),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (1_000_000_000, false),
        other => return plan_err!("TIMESTAMPADD of a {other}"),
    };
    let ticks = arrow::compute::cast(&time, &DataType::Int64)?;
    let ticks = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&ticks);
    let nanos_per_tick = 1_000_000_000 / per_second;
    let mut out = Vec::with_capacity(ticks.len());
    for r in 0..ticks.len() {
        if ticks.is_null(r) || amounts.is_null(r) || units.is_null(r) {
            out.push(None);
            continue;
        }
        let (value, amount) = (ticks.value(r), amounts.value(r));
        let moved = match add_unit(units.value(r))? {
            AddUnit::Seconds(seconds) if date => {
                if seconds % 86_400 != 0 {
                    return plan_err!("TIMESTAMPADD of a unit shorter than a day to a DATE");
                }
                amount
                    .checked_mul(seconds / 86_400)
                    .and_then(|days| value.checked_add(days))
            }
            AddUnit::Seconds(seconds) => amount
                .checked_mul(seconds)
                .and_then(|s| s.checked_mul(per_second))
                .and_then(|delta| value.checked_add(delta)),
            AddUnit::Months(months) => {
                let at = if date {
                    DateTime::from_timestamp(value.checked_mul(86_400).ok_or_else(out_of_range)?, 0)
                } else {
                    DateTime::from_timestamp(
                        value.div_euclid(per_second),
                        (value.rem_euclid(per_second) * nanos_per_tick) as u32,
                    )
                }
                .ok_or_else(out_of_range)?;
                let months = amount.checked_mul(months).ok_or_else(out_of_range)?;
                let count =
                    Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| out_of_range())?);
                let moved = if months >= 0 {
                    at.checked_add_months(count)
                } else {
                    at.checked_sub_months(count)
                }
                .ok_or_else(out_of_range)?;
                let seconds = moved.timestamp();
                if date {
                    Some(seconds.div_euclid(86_400))
                } else {
                    seconds.checked_mul(per_second).and_then(|t| {
                        t.checked_add(i64::from(moved.timestamp_subsec_nanos()) / nanos_per_tick)
                    })
                }
            }
        };
        out.push(Some(moved.ok_or_else(out_of_range)?));
    }
    let moved: ArrayRef = match data_type {
        DataType::Date32 => Arc::new(arrow::array::Date32Array::from(
            out.into_iter()
                .map(|d| d.map(i32::try_from).transpose())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| out_of_range())?,
        )),
        _ => Arc::new(Int64Array::from(out)),
    };
    Ok(arrow::compute::cast(&moved, &data_type)?)
}

/// Whole calendar months from `from` to `to` (negative when `to` is earlier).
fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> DfResult<i32> {
    use chrono::{Datelike, Months};
    if to < from {
        return months_between(to, from).map(|months| -months);
    }
    let mut months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    // Adding `months` to `from` (clamped to the month's last day) must not pass `to`.
    while months > 0 {
        let reached = u32::try_from(months)
            .ok()
            .and_then(|m| from.checked_add_months(Months::new(m)))
            .is_some_and(|date| date <= to);
        if reached {
            break;
        }
        months -= 1;
    }
    Ok(months)
}

/// Register the functions in `context`.
pub fn register(context: &SessionContext) {
    for kind in [
        Kind::Mod,
        Kind::Proctime,
        Kind::Hour,
        Kind::DateFormat,
        Kind::Split,
        Kind::SplitIndex,
        Kind::TimestampDiff,
        Kind::TimestampAdd,
        Kind::RegexpExtract,
        Kind::CountChar,
        Kind::ToTimestampLtz,
        Kind::HashColumns,
        Kind::TextSearch,
        Kind::Format,
    ] {
        context.register_udf(FlinkFunction::udf(kind));
    }
}

#[cfg(test)]
mod tests {
    use super::{flink_split, java_format, java_pattern, text_search, timestamp_diff};

    #[test]
    fn text_search_scores_the_share_of_query_words_found() {
        assert_eq!(text_search("hello", ["hello world"].into_iter()), 1.0);
        assert_eq!(
            text_search("Garden  gnome", ["Garden", "Tools"].into_iter()),
            0.5
        );
        assert_eq!(
            text_search("gnome gnome elf", ["a GNOME"].into_iter()),
            2.0 / 3.0
        );
        assert_eq!(text_search("x", ["", "y"].into_iter()), 0.0);
        assert_eq!(text_search(" \t", ["y"].into_iter()), 1.0);
    }

    #[test]
    fn java_format_fills_placeholders_in_order() {
        assert_eq!(
            java_format(
                "Go buy: %s in %s with id=%s",
                &[Some("gnome"), Some("garden"), Some("7")]
            )
            .expect("formats"),
            "Go buy: gnome in garden with id=7"
        );
        assert_eq!(
            java_format("%S %d%% %s%n", &[Some("ab"), Some("12"), None]).expect("formats"),
            "AB 12% null\n"
        );
        assert!(java_format("%s %s", &[Some("a")]).is_err());
        assert!(java_format("%d", &[Some("x")]).is_err());
        assert!(java_format("%5.2f", &[Some("1")]).is_err());
    }
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a valid timestamp")
            .with_timezone(&Utc)
    }

    #[test]
    fn timestamp_add_moves_by_fixed_units_and_calendar_months() {
        use super::{timestamp_add, Arc, ArrayRef, Int64Array, StringArray};
        use arrow::array::{AsArray, Date32Array, TimestampMicrosecondArray};
        let micros = |text: &str| at(&format!("{}Z", text.replace(' ', "T"))).timestamp_micros();
        let time: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![
                Some(micros("2024-01-31 10:00:00")),
                Some(micros("2024-03-31 23:59:59")),
                None,
                Some(micros("2024-01-01 00:00:00")),
            ])
            .with_timezone("+00:00"),
        );
        let cases: [(&str, i64, [Option<&str>; 4]); 4] = [
            (
                "MONTH",
                1,
                [
                    Some("2024-02-29 10:00:00"),
                    Some("2024-04-30 23:59:59"),
                    None,
                    Some("2024-02-01 00:00:00"),
                ],
            ),
            (
                "HOUR",
                -25,
                [
                    Some("2024-01-30 09:00:00"),
                    Some("2024-03-30 22:59:59"),
                    None,
                    Some("2023-12-30 23:00:00"),
                ],
            ),
            (
                "quarter",
                -1,
                [
                    Some("2023-10-31 10:00:00"),
                    Some("2023-12-31 23:59:59"),
                    None,
                    Some("2023-10-01 00:00:00"),
                ],
            ),
            (
                "WEEK",
                2,
                [
                    Some("2024-02-14 10:00:00"),
                    Some("2024-04-14 23:59:59"),
                    None,
                    Some("2024-01-15 00:00:00"),
                ],
            ),
        ];
        for (unit, amount, expected) in cases {
            let units = StringArray::from(vec![unit; 4]);
            let amounts = Int64Array::from(vec![amount; 4]);
            let moved = timestamp_add(&units, &amounts, &time).expect("adds");
            assert_eq!(moved.data_type(), time.data_type(), "keeps the type");
            let moved = moved.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let got: Vec<Option<i64>> = moved.iter().collect();
            let want: Vec<Option<i64>> = expected.iter().map(|t| t.map(micros)).collect();
            assert_eq!(got, want, "{unit} {amount}");
        }
        // Dates move by days and months; a shorter unit is refused.
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![19_753])); // 2024-01-31
        let one = |unit: &str| {
            timestamp_add(
                &StringArray::from(vec![unit]),
                &Int64Array::from(vec![1]),
                &dates,
            )
        };
        let month = one("MONTH").expect("a month");
        assert_eq!(
            month
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(0),
            19_782
        );
        let day = one("DAY").expect("a day");
        assert_eq!(
            day.as_primitive::<arrow::datatypes::Date32Type>().value(0),
            19_754
        );
        assert!(one("HOUR").is_err());
        assert!(one("FORTNIGHT").is_err());
    }

    #[test]
    fn timestamp_diff_truncates_toward_zero_and_counts_calendar_months() {
        let cases = [
            (
                "SECOND",
                "1970-01-01T00:00:00Z",
                "1970-01-01T00:01:01.900Z",
                61,
            ),
            (
                "second",
                "1970-01-01T00:01:01.900Z",
                "1970-01-01T00:00:00Z",
                -61,
            ),
            ("HOUR", "2024-01-01T00:00:00Z", "2024-01-01T05:59:59Z", 5),
            ("DAY", "2024-01-01T12:00:00Z", "2024-01-03T11:00:00Z", 1),
            ("WEEK", "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z", 2),
            ("MONTH", "2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", 1),
            ("MONTH", "2024-01-15T10:00:00Z", "2024-02-15T09:00:00Z", 0),
            ("MONTH", "2024-03-15T00:00:00Z", "2024-01-20T00:00:00Z", -1),
            ("QUARTER", "2024-01-01T00:00:00Z", "2024-12-31T00:00:00Z", 3),
            ("YEAR", "2020-02-29T00:00:00Z", "2024-02-28T00:00:00Z", 3),
        ];
        for (unit, from, to, expected) in cases {
            let diff = timestamp_diff(unit, at(from), at(to)).expect("a unit");
            assert_eq!(diff, expected, "TIMESTAMPDIFF({unit}, {from}, {to})");
        }
        assert!(timestamp_diff(
            "FORTNIGHT",
            at("2024-01-01T00:00:00Z"),
            at("2024-01-02T00:00:00Z")
        )
        .is_err());
    }

    #[test]
    fn split_keeps_empty_pieces_and_splits_characters_on_an_empty_delimiter() {
        assert_eq!(flink_split("abcdefg", "c"), ["ab", "defg"]);
        assert_eq!(flink_split("one, two", ","), ["one", " two"]);
        assert_eq!(flink_split(",a,,b,", ","), ["", "a", "", "b", ""]);
        assert_eq!(flink_split("abc", "x"), ["abc"]);
        assert_eq!(flink_split("añb", ""), ["a", "ñ", "b"]);
        assert_eq!(flink_split("", ","), [""]);
    }

    #[test]
    fn date_format_reuses_text_within_a_second_and_keeps_milliseconds_apart() {
        use super::date_format;
        use arrow::array::{Array, StringArray, TimestampMillisecondArray};
        use datafusion::common::ScalarValue;
        use datafusion::logical_expr::ColumnarValue;
        use std::sync::Arc;

        let base = at("2026-11-30T10:15:59Z").timestamp_millis();
        let times = ColumnarValue::Array(Arc::new(TimestampMillisecondArray::from(vec![
            Some(base),
            Some(base + 999),
            Some(base + 1000),
            None,
            Some(base + 1001),
            Some(base - 1),
        ])));
        let text = |pattern: &str| -> Vec<Option<String>> {
            let pattern = ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern.into())));
            let array = date_format(&times, &pattern, 6).expect("formats");
            let strings = array.as_any().downcast_ref::<StringArray>().expect("text");
            (0..strings.len())
                .map(|i| strings.is_valid(i).then(|| strings.value(i).to_string()))
                .collect()
        };
        let owned = |values: &[Option<&str>]| -> Vec<Option<String>> {
            values.iter().map(|v| v.map(String::from)).collect()
        };
        assert_eq!(
            text("HH:mm:ss"),
            owned(&[
                Some("10:15:59"),
                Some("10:15:59"),
                Some("10:16:00"),
                None,
                Some("10:16:00"),
                Some("10:15:58"),
            ])
        );
        assert_eq!(
            text("ss.SSS"),
            owned(&[
                Some("59.000"),
                Some("59.999"),
                Some("00.000"),
                None,
                Some("00.001"),
                Some("58.999"),
            ])
        );
        let null = ColumnarValue::Scalar(ScalarValue::Utf8(None));
        let array = date_format(&times, &null, 6).expect("formats");
        assert_eq!(array.null_count(), 6);
    }

    #[test]
    fn java_patterns_become_chrono_formats() {
        assert_eq!(java_pattern("yyyy-MM-dd"), "%Y-%m-%d");
        assert_eq!(java_pattern("HH:mm"), "%H:%M");
        assert_eq!(
            java_pattern("yyyy-MM-dd HH:mm:ss.SSS"),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
    }
}
