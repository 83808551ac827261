//! Durations written as Flink writes them in table options (`'1 s'`, `'10s'`, `'500 ms'`,
//! `'5 min'`, `'2 h'`, `'1 d'`), parsed like Flink's `TimeUtils.parseDuration`.
//!
//! A duration is a non-negative integer, optional whitespace, and an optional unit (case
//! insensitive, singular or plural): `d`/`day`, `h`/`hour`, `m`/`min`/`minute`,
//! `s`/`sec`/`second`, `ms`/`milli`/`millisecond`, `us`/`µs`/`micro`/`microsecond`,
//! `ns`/`nano`/`nanosecond`. Without a unit the number is milliseconds (as in Flink).

use std::time::Duration;

use crate::error::{Result, RuntimeError};

/// Parse a Flink duration; `key` names the option in the error message.
pub fn parse_duration(key: &str, text: &str) -> Result<Duration> {
    let invalid = |why: &str| {
        RuntimeError::Connector(format!(
            "invalid duration '{text}' for option '{key}': {why} (examples: '1 s', '500 ms', '5 min')"
        ))
    };
    let trimmed = text.trim();
    let digits_end = trimmed
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(trimmed.len(), |(i, _)| i);
    let (number, unit) = trimmed.split_at(digits_end);
    if number.is_empty() {
        return Err(invalid("it must start with a number"));
    }
    let amount: u64 = number
        .parse()
        .map_err(|_| invalid("the number is too large"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let nanos_per_unit: u64 = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        _ => return Err(invalid(&format!("unknown time unit '{unit}'"))),
    };
    let nanos = amount
        .checked_mul(nanos_per_unit)
        .ok_or_else(|| invalid("the duration is too large"))?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flink_durations() {
        let cases = [
            ("1 s", Duration::from_secs(1)),
            ("10s", Duration::from_secs(10)),
            ("500 ms", Duration::from_millis(500)),
            ("250", Duration::from_millis(250)),
            ("5 min", Duration::from_secs(300)),
            ("2 h", Duration::from_secs(7200)),
            ("1 d", Duration::from_secs(86_400)),
            ("3 SECONDS", Duration::from_secs(3)),
            ("7us", Duration::from_micros(7)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration("k", text).ok(), Some(expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for text in ["", "s", "1 fortnight", "-1 s", "99999999999999999999 d"] {
            let error = parse_duration("source.monitor-interval", text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("source.monitor-interval"), "{text}: {error}");
        }
    }
}
