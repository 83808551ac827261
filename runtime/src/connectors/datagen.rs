//! The `datagen` source: rows of random or sequential values at a limited rate, with Flink's
//! options.
//!
//! Options:
//! - `rows-per-second` (default 10000): the rate, enforced with a token bucket (at most one
//!   second of rows can accumulate while the consumer is slow).
//! - `number-of-rows`: makes the source bounded; it ends after that many rows.
//! - `seed` (ours, not Flink's): seeds the random generators so runs are reproducible. Every
//!   column has its own generator, so the values of a column depend only on the seed, the
//!   column's position and the row number (not on how rows are split into batches). Random
//!   timestamps and dates are relative to the current time, so they are not reproducible.
//! - `fields.<column>.kind`: `random` (default) or `sequence`.
//! - random: `fields.<column>.min` / `.max` for numbers (default: the type's range;
//!   `[0, MAX]` for floating point as in Flink), `.max-past` for DATE / TIMESTAMP (a Flink
//!   duration; values are drawn from `[now - max-past, now]`, default: now), `.length` for
//!   strings, binary and arrays (default 100) and `.var-len` (`true`: string / binary lengths
//!   are drawn from `[1, length]`). Strings are lowercase hexadecimal digits, as in Flink.
//!   Array elements use the column's `min` / `max` / `max-past`.
//! - sequence: `fields.<column>.start` and `.end` (both required, integers; for DECIMAL columns
//!   the sequence steps by one, for strings the values are the numbers as text). The source
//!   ends when the shortest sequence is exhausted (or at `number-of-rows`, whichever is first).
//! - `fields.<column>.null-rate`: the probability that a value is NULL (default 0).
//!
//! Supported types: BOOLEAN, all integers, FLOAT / DOUBLE, DECIMAL, VARCHAR, VARBINARY, DATE,
//! TIME, TIMESTAMP and TIMESTAMP_LTZ, and ARRAYs of those. Any other type, an option naming no
//! column, an option that does not apply to the column's type or kind, and a value out of the
//! type's range are errors naming the column.
//!
//! Offsets are the number of rows produced; [`Source::seek`] regenerates (and discards) that
//! many rows when a seed is set, so a seeded source resumes with exactly the next rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::{
    new_null_array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    Float64Array, GenericListArray, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray, Time64NanosecondArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::cast;
use arrow::compute::kernels::cast_utils::parse_decimal;
use arrow::datatypes::{DataType, Decimal128Type, Field, SchemaRef, TimeUnit};
use rand::distr::{Distribution, Uniform};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::duration::parse_duration;
use super::{ConnectorOptions, Source, SourceCounters, SourceEvent, SourceSpec};
use crate::error::{Result, RuntimeError};

const CONNECTOR: &str = "datagen";
const DEFAULT_ROWS_PER_SECOND: f64 = 10_000.0;
const DEFAULT_LENGTH: usize = 100;
/// Longest a `next()` call waits for tokens before reporting `Idle`.
const MAX_WAIT: Duration = Duration::from_millis(100);
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Generates random or sequential rows; see the module documentation.
pub struct DataGenSource {
    table: String,
    schema: SchemaRef,
    columns: Vec<ColumnGenerator>,
    rows_per_second: f64,
    limit: Option<u64>,
    emitted: u64,
    batch_size: usize,
    seeded: bool,
    tokens: f64,
    last_refill: Option<Instant>,
    counters: Arc<SourceCounters>,
}

struct ColumnGenerator {
    data_type: DataType,
    kind: ValueKind,
    null_rate: f64,
    rng: SmallRng,
}

enum ValueKind {
    /// Row `r` has the value `start + r` (scaled for decimals).
    Sequence {
        start: i128,
        step: i128,
    },
    Random(RandomValues),
}

/// Uniformly distributed floating-point values in `min..=max`, any finite bounds (Flink's
/// default range of a DOUBLE is all positive doubles, whose width `Uniform` cannot hold).
#[derive(Debug, Clone, Copy, PartialEq)]
struct FloatRange {
    min: f64,
    max: f64,
}

impl Distribution<f64> for FloatRange {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let fraction: f64 = rng.random();
        // A weighted mean of the bounds: never overflows, unlike `min + (max - min) * u`.
        (self.min * (1.0 - fraction) + self.max * fraction).clamp(self.min, self.max)
    }
}

enum RandomValues {
    Boolean,
    /// Integers and (scaled) decimals.
    Integer(Uniform<i128>),
    Float(FloatRange),
    Text {
        length: usize,
        variable: bool,
    },
    Bytes {
        length: usize,
        variable: bool,
    },
    /// Days (DATE) or time units (TIMESTAMP, TIME) before now / within a day.
    PastInstant {
        max_past: Duration,
    },
    TimeOfDay,
    List {
        element: Box<RandomValues>,
        element_field: Arc<Field>,
        length: usize,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedOffset {
    rows: u64,
}

impl DataGenSource {
    /// Validate the options against the table's columns.
    pub fn new(spec: SourceSpec) -> Result<Self> {
        let options = &spec.options;
        options.check_known(
            CONNECTOR,
            &["rows-per-second", "number-of-rows", "seed"],
            &["fields."],
        )?;
        if !spec.metadata.is_empty() {
            return Err(RuntimeError::Connector(format!(
                "connector 'datagen' has no metadata columns (table {} asks for '{}')",
                spec.table, spec.metadata[0].key
            )));
        }
        let rows_per_second: f64 = options.parse_or("rows-per-second", DEFAULT_ROWS_PER_SECOND)?;
        if !(rows_per_second.is_finite() && rows_per_second > 0.0) {
            return Err(RuntimeError::Connector(
                "option 'rows-per-second' must be a positive number".into(),
            ));
        }
        let number_of_rows: Option<u64> = match options.get("number-of-rows") {
            None => None,
            Some(_) => Some(options.parse_or("number-of-rows", 0u64)?),
        };
        let seed: Option<u64> = match options.get("seed") {
            None => None,
            Some(_) => Some(options.parse_or("seed", 0u64)?),
        };

        let field_options = field_options(options, &spec.schema)?;
        let mut columns = Vec::with_capacity(spec.schema.fields().len());
        let mut limit = number_of_rows;
        let mut thread_rng = rand::rng();
        for (index, field) in spec.schema.fields().iter().enumerate() {
            let empty = BTreeMap::new();
            let column_options = field_options.get(field.name()).unwrap_or(&empty);
            let column = ColumnOptions {
                name: field.name(),
                options: column_options,
            };
            let (kind, sequence_length) = column.kind(field.data_type())?;
            if let Some(length) = sequence_length {
                limit = Some(limit.map_or(length, |l| l.min(length)));
            }
            let null_rate = column.null_rate()?;
            if null_rate > 0.0 && !field.is_nullable() {
                return Err(RuntimeError::Connector(format!(
                    "option 'fields.{}.null-rate' is set but column '{}' is NOT NULL",
                    field.name(),
                    field.name()
                )));
            }
            let rng = match seed {
                Some(seed) => SmallRng::seed_from_u64(
                    seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                ),
                None => SmallRng::from_rng(&mut thread_rng),
            };
            columns.push(ColumnGenerator {
                data_type: field.data_type().clone(),
                kind,
                null_rate,
                rng,
            });
        }
        Ok(Self {
            table: spec.table,
            schema: spec.schema,
            columns,
            rows_per_second,
            limit,
            emitted: 0,
            batch_size: spec.batch_size.max(1),
            seeded: seed.is_some(),
            tokens: 0.0,
            last_refill: None,
            counters: Arc::new(SourceCounters::default()),
        })
    }

    /// Rows the source will produce in total, if bounded.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let last = *self.last_refill.get_or_insert(now);
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let capacity = self.rows_per_second.max(self.batch_size as f64);
        self.tokens = (self.tokens + elapsed * self.rows_per_second).min(capacity);
        self.last_refill = Some(now);
    }

    /// Rows `first_row .. first_row + n`.
    fn generate(&mut self, n: usize) -> Result<RecordBatch> {
        let first_row = self.emitted;
        let columns = self
            .columns
            .iter_mut()
            .map(|column| column.generate(first_row, n))
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }
}

#[async_trait::async_trait]
impl Source for DataGenSource {
    async fn next(&mut self) -> Result<SourceEvent> {
        let remaining = match self.limit {
            Some(limit) if self.emitted >= limit => return Ok(SourceEvent::End),
            Some(limit) => limit - self.emitted,
            None => u64::MAX,
        };
        // Emit in steps of at most 100 ms worth of rows, so slow rates still make batches.
        let target = (self.batch_size as f64)
            .min(self.rows_per_second / 10.0)
            .min(remaining as f64)
            .max(1.0);
        self.refill();
        if self.tokens < target {
            let needed = Duration::try_from_secs_f64((target - self.tokens) / self.rows_per_second)
                .unwrap_or(MAX_WAIT);
            tokio::time::sleep(needed.min(MAX_WAIT)).await;
            self.refill();
            if self.tokens < 1.0 {
                return Ok(SourceEvent::Idle);
            }
        }
        let n = (self.tokens.floor() as u64)
            .min(self.batch_size as u64)
            .min(remaining) as usize;
        self.tokens -= n as f64;
        let rows = self.generate(n)?;
        self.emitted += n as u64;
        self.counters.add_rows(n as u64);
        Ok(SourceEvent::Batch {
            rows,
            bad_rows: Vec::new(),
        })
    }

    fn offset(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(&SavedOffset { rows: self.emitted }).ok()
    }

    fn seek(&mut self, offset: &[u8]) -> Result<()> {
        let saved: SavedOffset = serde_json::from_slice(offset).map_err(|error| {
            RuntimeError::Connector(format!(
                "datagen source for table {}: invalid offset: {error}",
                self.table
            ))
        })?;
        let rows = self.limit.map_or(saved.rows, |limit| saved.rows.min(limit));
        if self.seeded {
            // Replay the generators so the next rows are the ones that followed.
            self.emitted = 0;
            while self.emitted < rows {
                let n = (rows - self.emitted).min(self.batch_size as u64) as usize;
                self.generate(n)?;
                self.emitted += n as u64;
            }
        }
        self.emitted = rows;
        Ok(())
    }

    fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }
}

/// `fields.<column>.<option>` grouped by column; errors on a column the table lacks.
fn field_options<'a>(
    options: &'a ConnectorOptions,
    schema: &SchemaRef,
) -> Result<BTreeMap<String, BTreeMap<&'a str, &'a str>>> {
    let mut grouped: BTreeMap<String, BTreeMap<&str, &str>> = BTreeMap::new();
    for (key, value) in options.iter() {
        let Some(rest) = key.strip_prefix("fields.") else {
            continue;
        };
        let Some((column, option)) = rest.rsplit_once('.') else {
            return Err(RuntimeError::Connector(format!(
                "invalid datagen option '{key}' (expected fields.<column>.<option>)"
            )));
        };
        if schema.field_with_name(column).is_err() {
            return Err(RuntimeError::Connector(format!(
                "datagen option '{key}' names no column of the table (columns: {})",
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        grouped
            .entry(column.to_string())
            .or_default()
            .insert(option, value);
    }
    Ok(grouped)
}

/// The `fields.<name>.*` options of one column.
struct ColumnOptions<'a> {
    name: &'a str,
    options: &'a BTreeMap<&'a str, &'a str>,
}

impl ColumnOptions<'_> {
    fn key(&self, option: &str) -> String {
        format!("fields.{}.{option}", self.name)
    }

    fn get(&self, option: &str) -> Option<&str> {
        self.options.get(option).copied()
    }

    fn error(&self, message: String) -> RuntimeError {
        RuntimeError::Connector(format!("datagen column '{}': {message}", self.name))
    }

    fn invalid(&self, option: &str, value: &str, expected: &str) -> RuntimeError {
        self.error(format!(
            "invalid value '{value}' for option '{}' (expected {expected})",
            self.key(option)
        ))
    }

    /// Only `allowed` options (and `kind`, `null-rate`) may be set.
    fn allow_only(&self, allowed: &[&str], data_type: &DataType, kind: &str) -> Result<()> {
        for option in self.options.keys() {
            if !allowed.contains(option) && *option != "kind" && *option != "null-rate" {
                return Err(self.error(format!(
                    "option '{}' does not apply to a {kind} generator of type {data_type}",
                    self.key(option)
                )));
            }
        }
        Ok(())
    }

    fn null_rate(&self) -> Result<f64> {
        match self.get("null-rate") {
            None => Ok(0.0),
            Some(text) => match text.trim().parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
                _ => Err(self.invalid("null-rate", text, "a number between 0 and 1")),
            },
        }
    }

    fn integer(&self, option: &str) -> Result<Option<i128>> {
        self.get(option)
            .map(|text| {
                text.trim()
                    .parse::<i128>()
                    .map_err(|_| self.invalid(option, text, "an integer"))
            })
            .transpose()
    }

    fn length(&self) -> Result<usize> {
        match self.get("length") {
            None => Ok(DEFAULT_LENGTH),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| self.invalid("length", text, "a non-negative integer")),
        }
    }

    fn variable_length(&self) -> Result<bool> {
        match self.get("var-len").map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(self.invalid("var-len", &v, "true or false")),
        }
    }

    fn max_past(&self) -> Result<Duration> {
        match self.get("max-past") {
            None => Ok(Duration::ZERO),
            Some(text) => parse_duration(&self.key("max-past"), text),
        }
    }

    /// The generator for this column, and the number of rows if it is a sequence.
    fn kind(&self, data_type: &DataType) -> Result<(ValueKind, Option<u64>)> {
        let kind = self
            .get("kind")
            .unwrap_or("random")
            .trim()
            .to_ascii_lowercase();
        match kind.as_str() {
            "random" => Ok((ValueKind::Random(self.random(data_type, false)?), None)),
            "sequence" => {
                let (start, step, count) = self.sequence(data_type)?;
                Ok((ValueKind::Sequence { start, step }, Some(count)))
            }
            other => Err(self.invalid("kind", other, "random or sequence")),
        }
    }

    fn sequence(&self, data_type: &DataType) -> Result<(i128, i128, u64)> {
        self.allow_only(&["start", "end"], data_type, "sequence")?;
        let (low, high, step) = match data_type {
            DataType::Decimal128(precision, scale) if *scale >= 0 => {
                let (low, high) = decimal_bounds(*precision);
                (low, high, 10i128.pow(u32::from(scale.unsigned_abs())))
            }
            DataType::Float32 | DataType::Float64 => (-(1i128 << 53), 1i128 << 53, 1),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                (i128::from(i64::MIN), i128::from(i64::MAX), 1)
            }
            other => match integer_bounds(other) {
                Some((low, high)) => (low, high, 1),
                None => {
                    return Err(self.error(format!(
                        "a sequence generator cannot produce type {other} (use numbers or strings)"
                    )))
                }
            },
        };
        let start = self.integer("start")?;
        let end = self.integer("end")?;
        let (Some(start), Some(end)) = (start, end) else {
            return Err(self.error(format!(
                "a sequence generator needs both '{}' and '{}'",
                self.key("start"),
                self.key("end")
            )));
        };
        if start > end {
            return Err(self.error(format!(
                "'{}' ({start}) is greater than '{}' ({end})",
                self.key("start"),
                self.key("end")
            )));
        }
        let scaled = |value: i128| value.checked_mul(step);
        let (Some(first), Some(last)) = (scaled(start), scaled(end)) else {
            return Err(self.error(format!("the sequence {start}..{end} overflows {data_type}")));
        };
        if first < low || last > high {
            return Err(self.error(format!(
                "the sequence {start}..{end} does not fit type {data_type}"
            )));
        }
        let count = u64::try_from(end - start + 1)
            .map_err(|_| self.error("the sequence is too long".into()))?;
        Ok((first, step, count))
    }

    fn random(&self, data_type: &DataType, element: bool) -> Result<RandomValues> {
        let unsupported = || {
            self.error(format!(
                "datagen cannot generate type {data_type}: nested rows, maps and nested arrays are not supported"
            ))
        };
        let uniform_integers =
            |low: i128, high: i128, parse: &dyn Fn(&str, &str) -> Result<i128>| {
                let min = self
                    .get("min")
                    .map(|v| parse("min", v))
                    .transpose()?
                    .unwrap_or(low);
                let max = self
                    .get("max")
                    .map(|v| parse("max", v))
                    .transpose()?
                    .unwrap_or(high);
                if min < low || max > high {
                    return Err(self.error(format!(
                        "'{}' / '{}' are outside the range of type {data_type}",
                        self.key("min"),
                        self.key("max")
                    )));
                }
                Uniform::new_inclusive(min, max)
                    .map(RandomValues::Integer)
                    .map_err(|_| {
                        self.error(format!(
                            "'{}' ({min}) is greater than '{}' ({max})",
                            self.key("min"),
                            self.key("max")
                        ))
                    })
            };
        let allowed: &[&str] = match data_type {
            DataType::List(_) | DataType::LargeList(_) => &["length", "min", "max", "max-past"],
            _ if element => &["length", "var-len", "min", "max", "max-past"],
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => &["length", "var-len"],
            DataType::Binary | DataType::LargeBinary => &["length", "var-len"],
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => &["max-past"],
            DataType::Boolean | DataType::Time32(_) | DataType::Time64(_) => &[],
            _ => &["min", "max"],
        };
        if !element {
            self.allow_only(allowed, data_type, "random")?;
        }
        match data_type {
            DataType::Boolean => Ok(RandomValues::Boolean),
            DataType::Decimal128(precision, scale) => {
                let (low, high) = decimal_bounds(*precision);
                let parse = |option: &str, text: &str| {
                    parse_decimal::<Decimal128Type>(text.trim(), *precision, *scale)
                        .map_err(|_| self.invalid(option, text, &format!("a {data_type} value")))
                };
                uniform_integers(low, high, &parse)
            }
            DataType::Float32 | DataType::Float64 => {
                let type_max = if *data_type == DataType::Float32 {
                    f64::from(f32::MAX)
                } else {
                    f64::MAX
                };
                let parse = |option: &str, text: &str| {
                    text.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && v.abs() <= type_max)
                        .ok_or_else(|| self.invalid(option, text, "a finite number"))
                };
                let min = self
                    .get("min")
                    .map(|v| parse("min", v))
                    .transpose()?
                    .unwrap_or(0.0);
                let max = self
                    .get("max")
                    .map(|v| parse("max", v))
                    .transpose()?
                    .unwrap_or(type_max);
                if min > max {
                    return Err(self.error(format!(
                        "'{}' must not be greater than '{}'",
                        self.key("min"),
                        self.key("max")
                    )));
                }
                Ok(RandomValues::Float(FloatRange { min, max }))
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(RandomValues::Text {
                length: if element {
                    DEFAULT_LENGTH
                } else {
                    self.length()?
                },
                variable: self.variable_length()?,
            }),
            DataType::Binary | DataType::LargeBinary => Ok(RandomValues::Bytes {
                length: if element {
                    DEFAULT_LENGTH
                } else {
                    self.length()?
                },
                variable: self.variable_length()?,
            }),
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
                Ok(RandomValues::PastInstant {
                    max_past: self.max_past()?,
                })
            }
            DataType::Time32(_) | DataType::Time64(_) => Ok(RandomValues::TimeOfDay),
            DataType::List(field) | DataType::LargeList(field) if !element => {
                Ok(RandomValues::List {
                    element: Box::new(self.random(field.data_type(), true)?),
                    element_field: field.clone(),
                    length: self.length()?,
                })
            }
            other => match integer_bounds(other) {
                Some((low, high)) => {
                    let parse = |option: &str, text: &str| {
                        text.trim()
                            .parse::<i128>()
                            .map_err(|_| self.invalid(option, text, "an integer"))
                    };
                    uniform_integers(low, high, &parse)
                }
                None => Err(unsupported()),
            },
        }
    }
}

fn integer_bounds(data_type: &DataType) -> Option<(i128, i128)> {
    Some(match data_type {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

/// The largest unscaled magnitude of a DECIMAL(precision, _).
fn decimal_bounds(precision: u8) -> (i128, i128) {
    let max = 10i128
        .checked_pow(u32::from(precision))
        .map_or(i128::MAX, |p| p - 1);
    (-max, max)
}

impl ColumnGenerator {
    fn generate(&mut self, first_row: u64, n: usize) -> Result<ArrayRef> {
        let null_rate = self.null_rate;
        let rng = &mut self.rng;
        let mut draw_valid = |rng: &mut SmallRng| !(null_rate > 0.0 && rng.random_bool(null_rate));
        match &self.kind {
            ValueKind::Sequence { start, step } => {
                let values: Vec<Option<i128>> = (0..n)
                    .map(|i| {
                        draw_valid(rng).then(|| start + (i128::from(first_row) + i as i128) * step)
                    })
                    .collect();
                integers_to_array(values, &self.data_type)
            }
            ValueKind::Random(random) => {
                random_array(random, &self.data_type, rng, n, &mut draw_valid)
            }
        }
    }
}

/// `n` random values of `data_type`; `draw_valid` decides (and records) each value's NULL.
fn random_array(
    random: &RandomValues,
    data_type: &DataType,
    rng: &mut SmallRng,
    n: usize,
    draw_valid: &mut dyn FnMut(&mut SmallRng) -> bool,
) -> Result<ArrayRef> {
    match random {
        RandomValues::Boolean => Ok(Arc::new(
            (0..n)
                .map(|_| draw_valid(rng).then(|| rng.random_bool(0.5)))
                .collect::<BooleanArray>(),
        )),
        RandomValues::Integer(uniform) => {
            let values = (0..n)
                .map(|_| draw_valid(rng).then(|| uniform.sample(rng)))
                .collect();
            integers_to_array(values, data_type)
        }
        RandomValues::Float(uniform) => {
            let values: Float64Array = (0..n)
                .map(|_| draw_valid(rng).then(|| uniform.sample(rng)))
                .collect();
            Ok(cast(&values, data_type)?)
        }
        RandomValues::Text { length, variable } => {
            let values: StringArray = (0..n)
                .map(|_| {
                    draw_valid(rng).then(|| {
                        let len = random_length(rng, *length, *variable);
                        (0..len)
                            .map(|_| char::from(HEX_DIGITS[rng.random_range(0..16)]))
                            .collect::<String>()
                    })
                })
                .collect();
            Ok(cast(&values, data_type)?)
        }
        RandomValues::Bytes { length, variable } => {
            let values: Vec<Option<Vec<u8>>> = (0..n)
                .map(|_| {
                    draw_valid(rng).then(|| {
                        let len = random_length(rng, *length, *variable);
                        (0..len).map(|_| rng.random::<u8>()).collect()
                    })
                })
                .collect();
            let values = BinaryArray::from_iter(values);
            Ok(cast(&values, data_type)?)
        }
        RandomValues::PastInstant { max_past } => {
            past_instants(data_type, *max_past, rng, n, draw_valid)
        }
        RandomValues::TimeOfDay => {
            let per_day: i64 = match data_type {
                DataType::Time32(TimeUnit::Second) => 86_400,
                DataType::Time32(TimeUnit::Millisecond) => 86_400_000,
                DataType::Time64(TimeUnit::Microsecond) => 86_400_000_000,
                DataType::Time64(TimeUnit::Nanosecond) => 86_400_000_000_000,
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "datagen cannot generate type {other}"
                    )))
                }
            };
            let values: Vec<Option<i64>> = (0..n)
                .map(|_| draw_valid(rng).then(|| rng.random_range(0..per_day)))
                .collect();
            let narrow =
                || -> Vec<Option<i32>> { values.iter().map(|v| v.map(|v| v as i32)).collect() };
            Ok(match data_type {
                DataType::Time32(TimeUnit::Second) => Arc::new(Time32SecondArray::from(narrow())),
                DataType::Time32(_) => Arc::new(Time32MillisecondArray::from(narrow())),
                DataType::Time64(TimeUnit::Microsecond) => {
                    Arc::new(Time64MicrosecondArray::from(values))
                }
                _ => Arc::new(Time64NanosecondArray::from(values)),
            })
        }
        RandomValues::List {
            element,
            element_field,
            length,
        } => {
            let valid: Vec<bool> = (0..n).map(|_| draw_valid(rng)).collect();
            let live = valid.iter().filter(|v| **v).count();
            let mut no_nulls = |_: &mut SmallRng| true;
            let values = random_array(
                element,
                element_field.data_type(),
                rng,
                live * length,
                &mut no_nulls,
            )?;
            let lengths = valid.iter().map(|v| if *v { *length } else { 0 });
            let nulls = Some(NullBuffer::from(valid.clone()));
            Ok(match data_type {
                DataType::LargeList(_) => Arc::new(GenericListArray::<i64>::try_new(
                    element_field.clone(),
                    OffsetBuffer::from_lengths(lengths),
                    values,
                    nulls,
                )?),
                _ => Arc::new(GenericListArray::<i32>::try_new(
                    element_field.clone(),
                    OffsetBuffer::from_lengths(lengths),
                    values,
                    nulls,
                )?),
            })
        }
    }
}

fn random_length(rng: &mut SmallRng, length: usize, variable: bool) -> usize {
    if variable && length > 1 {
        rng.random_range(1..=length)
    } else {
        length
    }
}

/// Dates or timestamps in `[now - max_past, now]`.
fn past_instants(
    data_type: &DataType,
    max_past: Duration,
    rng: &mut SmallRng,
    n: usize,
    draw_valid: &mut dyn FnMut(&mut SmallRng) -> bool,
) -> Result<ArrayRef> {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let (now, past, per_day_unit): (i128, i128, i128) = match data_type {
        DataType::Date32 => (
            (since_epoch.as_secs() / 86_400).into(),
            (max_past.as_secs() / 86_400).into(),
            1,
        ),
        DataType::Date64 => (
            (since_epoch.as_secs() / 86_400).into(),
            (max_past.as_secs() / 86_400).into(),
            86_400_000,
        ),
        DataType::Timestamp(TimeUnit::Second, _) => {
            (since_epoch.as_secs().into(), max_past.as_secs().into(), 1)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => (
            since_epoch.as_millis() as i128,
            max_past.as_millis() as i128,
            1,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => (
            since_epoch.as_micros() as i128,
            max_past.as_micros() as i128,
            1,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (
            since_epoch.as_nanos() as i128,
            max_past.as_nanos() as i128,
            1,
        ),
        other => {
            return Err(RuntimeError::Connector(format!(
                "datagen cannot generate type {other}"
            )))
        }
    };
    let values: Vec<Option<i64>> = (0..n)
        .map(|_| {
            draw_valid(rng).then(|| {
                let back = if past > 0 {
                    rng.random_range(0..=past)
                } else {
                    0
                };
                i64::try_from((now - back) * per_day_unit).unwrap_or(i64::MAX)
            })
        })
        .collect();
    Ok(match data_type {
        DataType::Date32 => Arc::new(Date32Array::from(
            values
                .iter()
                .map(|v| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
                .collect::<Vec<_>>(),
        )),
        DataType::Date64 => Arc::new(Date64Array::from(values)),
        DataType::Timestamp(unit, tz) => match unit {
            TimeUnit::Second => {
                Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz.clone()))
            }
            TimeUnit::Millisecond => {
                Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz.clone()))
            }
            TimeUnit::Microsecond => {
                Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone()))
            }
            TimeUnit::Nanosecond => {
                Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz.clone()))
            }
        },
        other => new_null_array(other, n),
    })
}

/// Integer values (already scaled for decimals) as an array of `data_type`.
fn integers_to_array(values: Vec<Option<i128>>, data_type: &DataType) -> Result<ArrayRef> {
    let out_of_range = || {
        RuntimeError::Internal(format!(
            "datagen produced a value out of range for {data_type}"
        ))
    };
    let array: ArrayRef = match data_type {
        DataType::Decimal128(precision, scale) => {
            Arc::new(Decimal128Array::from(values).with_precision_and_scale(*precision, *scale)?)
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let values = values
                .into_iter()
                .map(|v| v.map(u64::try_from).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| out_of_range())?;
            Arc::new(UInt64Array::from(values))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Arc::new(
            values
                .into_iter()
                .map(|v| v.map(|v| v.to_string()))
                .collect::<StringArray>(),
        ),
        DataType::Float32 | DataType::Float64 => Arc::new(
            values
                .into_iter()
                .map(|v| v.map(|v| v as f64))
                .collect::<Float64Array>(),
        ),
        _ => {
            let values = values
                .into_iter()
                .map(|v| v.map(i64::try_from).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| out_of_range())?;
            Arc::new(Int64Array::from(values))
        }
    };
    if array.data_type() == data_type {
        Ok(array)
    } else {
        Ok(cast(&array, data_type)?)
    }
}
