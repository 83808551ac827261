//! The `print` sink: writes every change as a line, the way Flink's print connector does.
//!
//! A line is the change kind followed by the row's values, e.g. `+I[1, a, 2020-01-01T00:00]`,
//! prefixed by `identifier> ` when `'print-identifier'` is set. Kinds: `+I` insert, `-D`
//! delete; when the table has a primary key, a delete and an insert of the same key in one
//! batch are an update and print as `-U` / `+U`. A change of weight ±n prints n lines. Within a
//! batch, deletions print before insertions.
//!
//! Values print as Flink prints its Java objects: NULL as `null`, strings unquoted, TIMESTAMP
//! as `LocalDateTime` (`2020-01-01T00:00`, seconds and fractions only when non-zero), TIMESTAMP_LTZ
//! as `Instant` (`2020-01-01T00:00:00Z`), TIME as `LocalTime`, floating point as Java's
//! `Double.toString` (`1.0`, `1.0E10`), ARRAY as `[a, b]`, ROW as `+I[a, b]`, MAP as `{k=v}`,
//! binary as signed bytes `[1, -2]`.
//!
//! Options: `print-identifier`, `standard-error` (`true`: write to standard error),
//! `sink.parallelism` (accepted for compatibility; a sink runs as one task, so it has no
//! effect). The output is flushed after every batch.

use std::collections::HashSet;
use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, NaiveDateTime, NaiveTime, Timelike};

use super::format::bool_option;
use super::{Sink, SinkSpec};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

const CONNECTOR: &str = "print";

/// Prints changes; see the module documentation.
pub struct PrintSink {
    prefix: String,
    primary_key: Vec<usize>,
    out: Box<dyn Write + Send>,
}

impl PrintSink {
    /// A sink printing to standard output (or standard error with `'standard-error'`).
    pub fn new(spec: &SinkSpec) -> Result<Self> {
        let to_stderr = Self::check_options(spec)?;
        let out: Box<dyn Write + Send> = if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        Self::with_writer(spec, out)
    }

    /// A sink printing to `out` (tests, or a log).
    pub fn with_writer(spec: &SinkSpec, out: Box<dyn Write + Send>) -> Result<Self> {
        Self::check_options(spec)?;
        let prefix = match spec.options.get("print-identifier") {
            Some(identifier) => format!("{identifier}> "),
            None => String::new(),
        };
        Ok(Self {
            prefix,
            primary_key: spec.primary_key.clone(),
            out,
        })
    }

    /// Validate the options; whether to print to standard error.
    fn check_options(spec: &SinkSpec) -> Result<bool> {
        spec.options.check_known(
            CONNECTOR,
            &["print-identifier", "standard-error", "sink.parallelism"],
            &[],
        )?;
        if let Some(parallelism) = spec.options.get("sink.parallelism") {
            if !matches!(parallelism.trim().parse::<u32>(), Ok(p) if p > 0) {
                return Err(RuntimeError::Connector(format!(
                    "invalid value '{parallelism}' for option 'sink.parallelism' (expected a positive integer)"
                )));
            }
        }
        bool_option(&spec.options, "standard-error", false)
    }

    /// The lines printed for `changes`.
    pub fn format_changes(&self, changes: &ChangeBatch) -> Result<Vec<String>> {
        let data = &changes.data;
        let rows: Vec<String> = (0..data.num_rows())
            .map(|row| {
                let values = data
                    .columns()
                    .iter()
                    .map(|column| java_value(column.as_ref(), row))
                    .collect::<Result<Vec<_>>>()?;
                Ok(values.join(", "))
            })
            .collect::<Result<_>>()?;
        let mut weights = Vec::with_capacity(rows.len());
        for weight in changes.weights.iter() {
            weights.push(weight.ok_or_else(|| {
                RuntimeError::Internal("a change batch has a NULL weight".into())
            })?);
        }
        // Keys both deleted and inserted in this batch are updates.
        let (deleted_keys, inserted_keys) = if self.primary_key.is_empty() {
            (HashSet::new(), HashSet::new())
        } else {
            let key_of = |row: usize| -> Result<String> {
                let parts = self
                    .primary_key
                    .iter()
                    .map(|k| {
                        let column = data.columns().get(*k).ok_or_else(|| {
                            RuntimeError::Internal(format!("primary key column {k} is missing"))
                        })?;
                        java_value(column.as_ref(), row)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(parts.join("\u{1f}"))
            };
            let mut deleted = HashSet::new();
            let mut inserted = HashSet::new();
            for (row, weight) in weights.iter().enumerate() {
                if *weight < 0 {
                    deleted.insert(key_of(row)?);
                } else if *weight > 0 {
                    inserted.insert(key_of(row)?);
                }
            }
            let updated: HashSet<String> = deleted.intersection(&inserted).cloned().collect();
            let mut deleted_updates = HashSet::new();
            let mut inserted_updates = HashSet::new();
            for (row, weight) in weights.iter().enumerate() {
                let key = key_of(row)?;
                if updated.contains(&key) {
                    if *weight < 0 {
                        deleted_updates.insert(row);
                    } else {
                        inserted_updates.insert(row);
                    }
                }
            }
            (deleted_updates, inserted_updates)
        };
        let mut lines = Vec::new();
        for (row, weight) in weights.iter().enumerate() {
            if *weight < 0 {
                let kind = if deleted_keys.contains(&row) {
                    "-U"
                } else {
                    "-D"
                };
                for _ in 0..weight.unsigned_abs() {
                    lines.push(format!("{}{kind}[{}]", self.prefix, rows[row]));
                }
            }
        }
        for (row, weight) in weights.iter().enumerate() {
            if *weight > 0 {
                let kind = if inserted_keys.contains(&row) {
                    "+U"
                } else {
                    "+I"
                };
                for _ in 0..*weight {
                    lines.push(format!("{}{kind}[{}]", self.prefix, rows[row]));
                }
            }
        }
        Ok(lines)
    }

    fn io_error(source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: "print sink: cannot write".into(),
            source,
        }
    }
}

#[async_trait::async_trait]
impl Sink for PrintSink {
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for line in self.format_changes(changes)? {
            text.push_str(&line);
            text.push('\n');
        }
        self.out
            .write_all(text.as_bytes())
            .map_err(Self::io_error)?;
        self.out.flush().map_err(Self::io_error)
    }

    async fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(Self::io_error)
    }
}

/// One value as Flink prints the Java object it converts to.
pub fn java_value(array: &dyn Array, row: usize) -> Result<String> {
    if array.is_null(row) {
        return Ok("null".into());
    }
    Ok(match array.data_type() {
        DataType::Float16 => java_double(f64::from(array.as_primitive::<Float16Type>().value(row))),
        DataType::Float32 => java_float(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(unit, tz) => {
            let value = timestamp_value(array, row, *unit)?;
            let (seconds, nanos) = split_epoch(value, *unit);
            let instant = DateTime::from_timestamp(seconds, nanos).ok_or_else(|| {
                RuntimeError::Connector(format!("timestamp {value} is out of range"))
            })?;
            if tz.is_some() {
                java_instant(&instant.naive_utc())
            } else {
                java_local_date_time(&instant.naive_utc())
            }
        }
        DataType::Time32(TimeUnit::Second) => {
            let v = array.as_primitive::<Time32SecondType>().value(row);
            java_time_of(i64::from(v), 1_000_000_000)?
        }
        DataType::Time32(_) => {
            let v = array.as_primitive::<Time32MillisecondType>().value(row);
            java_time_of(i64::from(v), 1_000_000)?
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let v = array.as_primitive::<Time64MicrosecondType>().value(row);
            java_time_of(v, 1_000)?
        }
        DataType::Time64(_) => {
            let v = array.as_primitive::<Time64NanosecondType>().value(row);
            java_time_of(v, 1)?
        }
        DataType::Binary => signed_bytes(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => signed_bytes(array.as_binary::<i64>().value(row)),
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            format!("[{}]", join_values(list.as_ref())?)
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>().value(row);
            format!("[{}]", join_values(list.as_ref())?)
        }
        DataType::Struct(_) => {
            let fields = array
                .as_struct()
                .columns()
                .iter()
                .map(|c| java_value(c.as_ref(), row))
                .collect::<Result<Vec<_>>>()?;
            format!("+I[{}]", fields.join(", "))
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            let pairs = (0..entries.len())
                .map(|i| {
                    Ok(format!(
                        "{}={}",
                        java_value(keys.as_ref(), i)?,
                        java_value(values.as_ref(), i)?
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            format!("{{{}}}", pairs.join(", "))
        }
        _ => {
            let options = FormatOptions::new().with_display_error(true);
            ArrayFormatter::try_new(array, &options)?
                .value(row)
                .to_string()
        }
    })
}

fn join_values(values: &dyn Array) -> Result<String> {
    Ok((0..values.len())
        .map(|i| java_value(values, i))
        .collect::<Result<Vec<_>>>()?
        .join(", "))
}

fn signed_bytes(bytes: &[u8]) -> String {
    let values: Vec<String> = bytes.iter().map(|b| (*b as i8).to_string()).collect();
    format!("[{}]", values.join(", "))
}

fn timestamp_value(array: &dyn Array, row: usize, unit: TimeUnit) -> Result<i64> {
    use arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    Ok(match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    })
}

/// Seconds and nanoseconds since the epoch (nanoseconds always non-negative).
fn split_epoch(value: i64, unit: TimeUnit) -> (i64, u32) {
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let seconds = value.div_euclid(per_second);
    let fraction = value.rem_euclid(per_second);
    (seconds, (fraction * (1_000_000_000 / per_second)) as u32)
}

/// Java's fraction printing: 3, 6 or 9 digits, as few as represent the value.
fn java_fraction(nanos: u32) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

/// `LocalTime.toString`: `HH:mm`, then `:ss` and the fraction only when non-zero.
fn java_local_time(time: &NaiveTime) -> String {
    let nanos = time.nanosecond() % 1_000_000_000;
    let mut text = format!("{:02}:{:02}", time.hour(), time.minute());
    if time.second() != 0 || nanos != 0 {
        text.push_str(&format!(":{:02}", time.second()));
        text.push_str(&java_fraction(nanos));
    }
    text
}

fn java_time_of(value: i64, nanos_per_unit: i64) -> Result<String> {
    let nanos = value
        .checked_mul(nanos_per_unit)
        .ok_or_else(|| RuntimeError::Connector(format!("time {value} is out of range")))?;
    let seconds = u32::try_from(nanos.div_euclid(1_000_000_000))
        .map_err(|_| RuntimeError::Connector(format!("time {value} is out of range")))?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(
        seconds,
        nanos.rem_euclid(1_000_000_000) as u32,
    )
    .ok_or_else(|| RuntimeError::Connector(format!("time {value} is out of range")))?;
    Ok(java_local_time(&time))
}

/// `LocalDateTime.toString`: `2020-01-01T00:00`, `2020-01-01T00:00:01.500`.
fn java_local_date_time(value: &NaiveDateTime) -> String {
    format!(
        "{}T{}",
        value.date().format("%Y-%m-%d"),
        java_local_time(&value.time())
    )
}

/// `Instant.toString`: always seconds, fraction in groups of three digits, `Z`.
fn java_instant(value: &NaiveDateTime) -> String {
    format!(
        "{}{}Z",
        value.format("%Y-%m-%dT%H:%M:%S"),
        java_fraction(value.and_utc().timestamp_subsec_nanos() % 1_000_000_000)
    )
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, otherwise `d.dddE±n`.
pub fn java_double(value: f64) -> String {
    java_floating(value, format!("{value:?}"), format!("{value:e}"))
}

/// Java's `Float.toString` (shortest digits of the `f32`).
pub fn java_float(value: f32) -> String {
    java_floating(f64::from(value), format!("{value:?}"), format!("{value:e}"))
}

fn java_floating(value: f64, plain: String, scientific: String) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let magnitude = value.abs();
    if value == 0.0 || (1e-3..1e7).contains(&magnitude) {
        return if plain.contains('.') || plain.contains('e') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    match scientific.split_once('e') {
        Some((mantissa, exponent)) => {
            let mantissa = if mantissa.contains('.') {
                mantissa.to_string()
            } else {
                format!("{mantissa}.0")
            };
            format!("{mantissa}E{exponent}")
        }
        None => scientific,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(-2.25), "-2.25");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(123456.0), "123456.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_float(0.1), "0.1");
    }

    #[test]
    fn times_print_like_java() {
        let t =
            |s, n| NaiveTime::from_num_seconds_from_midnight_opt(s, n).map(|t| java_local_time(&t));
        assert_eq!(t(0, 0).as_deref(), Some("00:00"));
        assert_eq!(t(61, 0).as_deref(), Some("00:01:01"));
        assert_eq!(t(1, 500_000_000).as_deref(), Some("00:00:01.500"));
        assert_eq!(t(1, 1_000).as_deref(), Some("00:00:01.000001"));
    }
}
