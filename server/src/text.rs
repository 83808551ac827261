//! PostgreSQL text output for the types where arrow-pg's text differs from PostgreSQL's:
//! floats (shortest round-trip digits, exponent outside 1e-4..1e15, as `float8out` with
//! `extra_float_digits = 1`) and timestamps (fraction without trailing zeros; `+00` for
//! timestamptz in the session time zone UTC).

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

/// PostgreSQL's text form of `column[row]` when it must differ from arrow-pg's, else `None`.
/// The caller handles NULLs.
pub fn postgres_text(column: &ArrayRef, row: usize) -> Option<String> {
    match column.data_type() {
        DataType::Float64 => Some(float_text(column.as_primitive::<Float64Type>().value(row))),
        DataType::Float32 => {
            let value = column.as_primitive::<Float32Type>().value(row);
            // Shortest digits of the f32 itself, not of its f64 widening.
            Some(float_text_from(
                &format!("{value:e}"),
                value.is_nan(),
                value.is_infinite(),
                value < 0.0,
            ))
        }
        DataType::Timestamp(unit, zone) => {
            let nanos: i128 = match unit {
                TimeUnit::Second => {
                    column.as_primitive::<TimestampSecondType>().value(row) as i128 * 1_000_000_000
                }
                TimeUnit::Millisecond => {
                    column.as_primitive::<TimestampMillisecondType>().value(row) as i128 * 1_000_000
                }
                TimeUnit::Microsecond => {
                    column.as_primitive::<TimestampMicrosecondType>().value(row) as i128 * 1_000
                }
                TimeUnit::Nanosecond => {
                    column.as_primitive::<TimestampNanosecondType>().value(row) as i128
                }
            };
            Some(timestamp_text(nanos, zone.is_some()))
        }
        _ => None,
    }
}

fn float_text(value: f64) -> String {
    float_text_from(
        &format!("{value:e}"),
        value.is_nan(),
        value.is_infinite(),
        value < 0.0,
    )
}

/// Format from Rust's shortest scientific form ("1.5e-5").
fn float_text_from(scientific: &str, nan: bool, infinite: bool, negative: bool) -> String {
    if nan {
        return "NaN".into();
    }
    if infinite {
        return if negative {
            "-Infinity".into()
        } else {
            "Infinity".into()
        };
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if mantissa == "0" || mantissa == "-0" {
        return mantissa.to_string();
    }
    if (-4..15).contains(&exponent) {
        // Plain notation.
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        if negative {
            format!("-{text}")
        } else {
            text
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

fn timestamp_text(nanos: i128, with_zone: bool) -> String {
    let seconds = nanos.div_euclid(1_000_000_000) as i64;
    let micros = (nanos.rem_euclid(1_000_000_000) / 1_000) as u32;
    let Some(time) = chrono::DateTime::from_timestamp(seconds, micros * 1_000) else {
        return nanos.to_string();
    };
    let mut text = time.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    if micros > 0 {
        let fraction = format!("{micros:06}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    if with_zone {
        text.push_str("+00");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(float_text(3.0), "3");
        assert_eq!(float_text(2.25), "2.25");
        assert_eq!(float_text(-0.5), "-0.5");
        assert_eq!(float_text(0.0001), "0.0001");
        assert_eq!(float_text(0.00001), "1e-05");
        assert_eq!(float_text(1e15), "1e+15");
        assert_eq!(float_text(123456789012345.0), "123456789012345");
        assert_eq!(float_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_text(f64::NAN), "NaN");
    }

    #[test]
    fn timestamps_print_like_postgres() {
        assert_eq!(
            timestamp_text(1_704_103_200_000_000_000, false),
            "2024-01-01 10:00:00"
        );
        assert_eq!(
            timestamp_text(1_704_103_200_123_000_000, true),
            "2024-01-01 10:00:00.123+00"
        );
    }
}

/// A JSON value (compact JSON text, from a column marked with Arrow's JSON extension type)
/// sent as PostgreSQL's `jsonb`: its text in the text format, and in the binary format the
/// version byte 1 followed by the text, as `jsonb_send` writes it.
#[derive(Debug)]
pub struct JsonbText<'a>(pub &'a str);

impl tokio_postgres::types::ToSql for JsonbText<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == tokio_postgres::types::Type::JSONB {
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        matches!(
            *ty,
            tokio_postgres::types::Type::JSONB | tokio_postgres::types::Type::JSON
        )
    }

    tokio_postgres::types::to_sql_checked!();
}

impl pgwire::types::ToSqlText for JsonbText<'_> {
    fn to_sql_text(
        &self,
        _ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
        _format_options: &pgwire::types::format::FormatOptions,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }
}
