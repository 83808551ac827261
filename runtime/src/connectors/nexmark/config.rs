//! The Nexmark generator's configuration: the table's `WITH (...)` options parsed and checked,
//! and the event timeline (event number -> event time).
//!
//! Option names and defaults are those of the reference Flink connector (`nexmark-flink`'s
//! `NexmarkSourceOptions`), plus Beam's `num-active-people` / `num-in-flight-auctions` and our
//! own `base-time`, `split.index`, `split.count` and `throttle`. See [`KNOWN_OPTIONS`].
//!
//! Invariants once built: every proportion is >= 0 and their total >= 1; the hot ratios are
//! >= 1; every rate of the timeline is >= 1 event/s; `split.index < split.count`.

use std::f64::consts::PI;

use crate::connectors::ConnectorOptions;
use crate::error::{Result, RuntimeError};

/// Connector name, for messages.
pub const CONNECTOR: &str = "nexmark";

/// Every option this connector accepts (besides the common ones).
pub const KNOWN_OPTIONS: &[&str] = &[
    "first-event.rate",
    "next-event.rate",
    "rate.shape",
    "rate.period",
    "rate.limited",
    "events.num",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
    "person.avg-size",
    "auction.avg-size",
    "bid.avg-size",
    "bid.hot-ratio.auctions",
    "bid.hot-ratio.bidders",
    "auction.hot-ratio.sellers",
    "num-active-people",
    "num-in-flight-auctions",
    "keep-alive",
    "stop-at",
    "max-emit-speed",
    "base-time",
    "split.index",
    "split.count",
    "throttle",
];

/// Beam's `NexmarkUtils.BASE_TIME`: 2015-07-15T00:00:00Z, in ms since the epoch.
pub const DEFAULT_BASE_TIME_MS: i64 = 1_436_918_400_000;
/// Ids start here so queries over small data sets find matches (reference constants).
pub const FIRST_PERSON_ID: i64 = 1000;
pub const FIRST_AUCTION_ID: i64 = 1000;
pub const FIRST_CATEGORY_ID: i64 = 10;
/// Number of auction categories.
pub const NUM_CATEGORIES: i32 = 5;
/// How many not-yet-generated persons / auctions a random choice may reach ahead.
pub const PERSON_ID_LEAD: i64 = 10;
pub const AUCTION_ID_LEAD: i64 = 10;

/// Shape of the event rate when `first-event.rate` differs from `next-event.rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateShape {
    /// Alternate between the two rates, each for half of `rate.period`.
    Square,
    /// A cosine from the first rate to the next and back over `rate.period`, in 10 steps.
    Sine,
}

impl RateShape {
    /// Number of constant-rate steps in one period.
    fn steps(self) -> u64 {
        match self {
            RateShape::Square => 2,
            RateShape::Sine => SINE_STEPS,
        }
    }
}

/// Largest sum of the proportions (keeps id arithmetic far from overflow).
const MAX_TOTAL_PROPORTION: u64 = 1 << 20;

/// Steps approximating the sine shape (Beam's `RateShape.N`).
const SINE_STEPS: u64 = 10;

/// The kind of an event, and the value of the `event_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Person = 0,
    Auction = 1,
    Bid = 2,
}

/// One constant-rate step of a timeline epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RateStep {
    /// Events per second during this step.
    rate: u64,
    /// Index, within the epoch, of the step's first event.
    first_event: u64,
    /// Offset of the step's start from the epoch's start, in ms.
    start_ms: i64,
}

/// Event time as a pure function of the event number.
///
/// With one rate `r` (events/s), event `n` happens at `base + floor(n * 1000 / r)` ms: the
/// reference's `baseTime + n * interEventDelayUs / 1000`, computed exactly (the reference rounds
/// the inter-event delay to whole microseconds, which drifts for rates that do not divide 10^6
/// and collapses to 0 above 2 million events/s). With several rates (rate shapes), time runs in
/// epochs of `rate.period`, each split into equal steps of constant rate, as in Beam's
/// `timestampAndInterEventDelayUsForEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    base_time_ms: i64,
    steps: Vec<RateStep>,
    /// Number of events in one epoch (only used with several steps).
    events_per_epoch: u64,
    /// Length of one epoch in ms (only used with several steps).
    epoch_ms: i64,
}

impl Timeline {
    /// A timeline at `rates` events/s, each held for `step_seconds`, cycling.
    fn new(base_time_ms: i64, rates: &[u64], step_seconds: u64) -> Result<Self> {
        if rates.is_empty() || rates.contains(&0) {
            return Err(invalid("event rates must be positive"));
        }
        if rates.len() > 1 && step_seconds == 0 {
            return Err(invalid(
                "option 'rate.period' must be at least one second when 'first-event.rate' \
                 differs from 'next-event.rate'",
            ));
        }
        let step_ms = i64::try_from(step_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut steps = Vec::with_capacity(rates.len());
        let mut first_event = 0_u64;
        let mut start_ms = 0_i64;
        for &rate in rates {
            steps.push(RateStep {
                rate,
                first_event,
                start_ms,
            });
            first_event = first_event.saturating_add(step_seconds.saturating_mul(rate));
            start_ms = start_ms.saturating_add(step_ms);
        }
        Ok(Self {
            base_time_ms,
            steps,
            events_per_epoch: first_event,
            epoch_ms: start_ms,
        })
    }

    /// The event time (ms since the epoch) of event number `n`. Non-decreasing in `n`.
    #[inline]
    pub fn timestamp_ms(&self, n: u64) -> i64 {
        if let [step] = self.steps.as_slice() {
            return self.base_time_ms.saturating_add(offset_ms(n, step.rate));
        }
        let epoch = n / self.events_per_epoch.max(1);
        let in_epoch = n % self.events_per_epoch.max(1);
        // The first step starts at event 0, so a step is always found.
        let Some(step) = self.steps.iter().rev().find(|s| s.first_event <= in_epoch) else {
            return self.base_time_ms;
        };
        let epoch_start = i64::try_from(epoch)
            .unwrap_or(i64::MAX)
            .saturating_mul(self.epoch_ms);
        self.base_time_ms
            .saturating_add(epoch_start)
            .saturating_add(step.start_ms)
            .saturating_add(offset_ms(in_epoch - step.first_event, step.rate))
    }

    /// The time of event 0.
    pub fn base_time_ms(&self) -> i64 {
        self.base_time_ms
    }

    /// The rate in events/s when it is constant (`first-event.rate == next-event.rate`).
    pub fn single_rate(&self) -> Option<u64> {
        match self.steps.as_slice() {
            [step] => Some(step.rate),
            _ => None,
        }
    }
}

/// `floor(n * 1000 / rate)` without overflow, saturating at `i64::MAX`.
#[inline]
fn offset_ms(n: u64, rate: u64) -> i64 {
    let ms = match n.checked_mul(1000) {
        Some(product) => product / rate,
        None => u64::try_from(u128::from(n) * 1000 / u128::from(rate)).unwrap_or(u64::MAX),
    };
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Everything the generator needs, from the table options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexmarkConfig {
    /// `person.proportion` (default 1), `auction.proportion` (3), `bid.proportion` (46): event
    /// number modulo their total decides the kind, persons first, then auctions, then bids.
    pub person_proportion: u64,
    pub auction_proportion: u64,
    pub bid_proportion: u64,
    /// `events.num`: total number of events over all splits; `None` (0 or absent) = unbounded.
    pub events_num: Option<u64>,
    /// `stop-at` (default -1 = never): stop producing (stay idle, not ended) once this many
    /// events have been produced over all splits.
    pub stop_at: Option<u64>,
    /// `keep-alive` (default false): once `events.num` events are out, report idle forever
    /// instead of ending.
    pub keep_alive: bool,
    /// Pace events to their event time against the wall clock (`throttle = 'true'`,
    /// `rate.limited = 'true'` or `max-emit-speed = 'false'`); otherwise generate as fast as
    /// possible (the default).
    pub throttle: bool,
    /// Average byte sizes the `extra` padding aims for: `person.avg-size` (200b),
    /// `auction.avg-size` (500b), `bid.avg-size` (100b).
    pub avg_person_bytes: i32,
    pub avg_auction_bytes: i32,
    pub avg_bid_bytes: i32,
    /// `bid.hot-ratio.auctions` (2): a bid goes to a hot auction with probability
    /// `1 - 1/ratio`.
    pub hot_auction_ratio: i32,
    /// `bid.hot-ratio.bidders` (4).
    pub hot_bidders_ratio: i32,
    /// `auction.hot-ratio.sellers` (4).
    pub hot_sellers_ratio: i32,
    /// `num-active-people` (1000): random persons are chosen among the last this many.
    pub num_active_people: i64,
    /// `num-in-flight-auctions` (100): random auctions are chosen among the last this many;
    /// also sets the average auction length.
    pub num_in_flight_auctions: i64,
    /// `split.index` / `split.count` (0 / 1): this source produces the event numbers congruent
    /// to the index modulo the count.
    pub split_index: u64,
    pub split_count: u64,
    pub timeline: Timeline,
}

impl NexmarkConfig {
    /// Parse and check the options (unknown ones are an error).
    pub fn from_options(options: &ConnectorOptions) -> Result<Self> {
        options.check_known(CONNECTOR, KNOWN_OPTIONS, &[])?;

        let person_proportion = parse_u64(options, "person.proportion", 1)?;
        let auction_proportion = parse_u64(options, "auction.proportion", 3)?;
        let bid_proportion = parse_u64(options, "bid.proportion", 46)?;
        let total = person_proportion
            .checked_add(auction_proportion)
            .and_then(|t| t.checked_add(bid_proportion));
        if !matches!(total, Some(1..=MAX_TOTAL_PROPORTION)) {
            return Err(invalid(format!(
                "the sum of 'person.proportion', 'auction.proportion' and 'bid.proportion' must \
                 be between 1 and {MAX_TOTAL_PROPORTION}"
            )));
        }

        let events_num = Some(parse_u64(options, "events.num", 0)?).filter(|n| *n > 0);
        let stop_at = match options.get("stop-at") {
            None => None,
            Some(value) => {
                let n: i64 = parse_value("stop-at", value, "an integer")?;
                u64::try_from(n).ok()
            }
        };
        let keep_alive = parse_bool(options, "keep-alive", false)?;
        let throttle = parse_bool(options, "throttle", false)?
            || parse_bool(options, "rate.limited", false)?
            || !parse_bool(options, "max-emit-speed", true)?;

        let avg_person_bytes = parse_memory_size(options, "person.avg-size", 200)?;
        let avg_auction_bytes = parse_memory_size(options, "auction.avg-size", 500)?;
        let avg_bid_bytes = parse_memory_size(options, "bid.avg-size", 100)?;

        let hot_auction_ratio = parse_ratio(options, "bid.hot-ratio.auctions", 2)?;
        let hot_bidders_ratio = parse_ratio(options, "bid.hot-ratio.bidders", 4)?;
        let hot_sellers_ratio = parse_ratio(options, "auction.hot-ratio.sellers", 4)?;
        let num_active_people = parse_count(options, "num-active-people", 1000)?;
        let num_in_flight_auctions = parse_count(options, "num-in-flight-auctions", 100)?;

        let split_count = parse_u64(options, "split.count", 1)?;
        let split_index = parse_u64(options, "split.index", 0)?;
        if split_count == 0 || split_index >= split_count {
            return Err(invalid(format!(
                "option 'split.index' ({split_index}) must be below 'split.count' \
                 ({split_count}), which must be positive"
            )));
        }

        let first_rate = parse_rate(options, "first-event.rate")?;
        let next_rate = parse_rate(options, "next-event.rate")?;
        let shape = match options.get("rate.shape") {
            None => RateShape::Square,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "square" => RateShape::Square,
                "sine" => RateShape::Sine,
                _ => {
                    return Err(invalid(format!(
                        "invalid value '{value}' for option 'rate.shape' (expected square or sine)"
                    )))
                }
            },
        };
        let period_seconds = match options.get("rate.period") {
            None => 600,
            Some(value) => parse_duration_seconds("rate.period", value)?,
        };
        let base_time_ms: i64 = match options.get("base-time") {
            None => DEFAULT_BASE_TIME_MS,
            Some(value) => parse_value("base-time", value, "milliseconds since the epoch")?,
        };
        let rates = rate_steps(shape, first_rate, next_rate);
        let step_seconds = period_seconds.div_ceil(shape.steps());
        let timeline = Timeline::new(base_time_ms, &rates, step_seconds)?;

        Ok(Self {
            person_proportion,
            auction_proportion,
            bid_proportion,
            events_num,
            stop_at,
            keep_alive,
            throttle,
            avg_person_bytes,
            avg_auction_bytes,
            avg_bid_bytes,
            hot_auction_ratio,
            hot_bidders_ratio,
            hot_sellers_ratio,
            num_active_people,
            num_in_flight_auctions,
            split_index,
            split_count,
            timeline,
        })
    }

    /// Sum of the three proportions (>= 1).
    #[inline]
    pub fn total_proportion(&self) -> u64 {
        self.person_proportion + self.auction_proportion + self.bid_proportion
    }

    /// The kind of event number `n`.
    #[inline]
    pub fn event_kind(&self, n: u64) -> EventKind {
        let rem = n % self.total_proportion();
        if rem < self.person_proportion {
            EventKind::Person
        } else if rem < self.person_proportion + self.auction_proportion {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// The event time of event number `n`, ms since the epoch.
    #[inline]
    pub fn timestamp_ms(&self, n: u64) -> i64 {
        self.timeline.timestamp_ms(n)
    }

    /// One past the last event number any split may produce now: the smaller of `events.num`
    /// and `stop-at`.
    pub fn event_limit(&self) -> u64 {
        self.events_num
            .unwrap_or(u64::MAX)
            .min(self.stop_at.unwrap_or(u64::MAX))
    }
}

/// The rates of the steps of one epoch (Beam's `RateShape.interEventDelayUs`, as rates).
fn rate_steps(shape: RateShape, first: u64, next: u64) -> Vec<u64> {
    if first == next {
        return vec![first];
    }
    match shape {
        RateShape::Square => vec![first, next],
        RateShape::Sine => {
            let mid = (first as f64 + next as f64) / 2.0;
            let amplitude = (first as f64 - next as f64) / 2.0;
            (0..SINE_STEPS)
                .map(|i| {
                    let angle = 2.0 * PI * i as f64 / SINE_STEPS as f64;
                    ((mid + amplitude * angle.cos()).round() as u64).max(1)
                })
                .collect()
        }
    }
}

fn invalid(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Connector(format!("connector '{CONNECTOR}': {}", message.into()))
}

fn parse_value<T: std::str::FromStr>(key: &str, value: &str, expected: &str) -> Result<T> {
    value.trim().parse().map_err(|_| {
        invalid(format!(
            "invalid value '{value}' for option '{key}' (expected {expected})"
        ))
    })
}

fn parse_u64(options: &ConnectorOptions, key: &str, default: u64) -> Result<u64> {
    match options.get(key) {
        None => Ok(default),
        Some(value) => parse_value(key, value, "a non-negative integer"),
    }
}

fn parse_rate(options: &ConnectorOptions, key: &str) -> Result<u64> {
    let rate = parse_u64(options, key, 10_000)?;
    if rate == 0 {
        return Err(invalid(format!(
            "option '{key}' must be a positive number of events per second"
        )));
    }
    Ok(rate)
}

fn parse_ratio(options: &ConnectorOptions, key: &str, default: i32) -> Result<i32> {
    match options.get(key) {
        None => Ok(default),
        Some(value) => {
            let ratio: i32 = parse_value(key, value, "a positive integer")?;
            if ratio < 1 {
                return Err(invalid(format!(
                    "invalid value '{value}' for option '{key}' (expected a positive integer)"
                )));
            }
            Ok(ratio)
        }
    }
}

fn parse_count(options: &ConnectorOptions, key: &str, default: i64) -> Result<i64> {
    match options.get(key) {
        None => Ok(default),
        Some(value) => {
            let count: u32 = parse_value(key, value, "a non-negative integer")?;
            Ok(i64::from(count))
        }
    }
}

fn parse_bool(options: &ConnectorOptions, key: &str, default: bool) -> Result<bool> {
    match options.get(key) {
        None => Ok(default),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(format!(
                "invalid value '{value}' for option '{key}' (expected true or false)"
            ))),
        },
    }
}

/// Split `"12 kb"` into `(12, "kb")`.
fn split_number_unit(value: &str) -> Option<(u64, String)> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let number = value[..digits].parse().ok()?;
    Some((number, value[digits..].trim().to_ascii_lowercase()))
}

/// A Flink `MemorySize` (`200b`, `1 kb`, `2mb`; a bare number is bytes), at most 16 MiB.
fn parse_memory_size(options: &ConnectorOptions, key: &str, default: i32) -> Result<i32> {
    let Some(value) = options.get(key) else {
        return Ok(default);
    };
    let error = || {
        invalid(format!(
            "invalid value '{value}' for option '{key}' (expected a size such as '200b' or \
             '1kb', at most 16mb)"
        ))
    };
    let (number, unit) = split_number_unit(value).ok_or_else(error)?;
    let multiplier: u64 = match unit.as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        _ => return Err(error()),
    };
    number
        .checked_mul(multiplier)
        .filter(|bytes| *bytes <= 16 << 20)
        .and_then(|bytes| i32::try_from(bytes).ok())
        .ok_or_else(error)
}

/// A Flink `Duration` (`600 s`, `10 min`, `1h`; a bare number is milliseconds), in whole
/// seconds (rounded up).
fn parse_duration_seconds(key: &str, value: &str) -> Result<u64> {
    let error = || {
        invalid(format!(
            "invalid value '{value}' for option '{key}' (expected a duration such as '600 s' or \
             '10 min')"
        ))
    };
    let (number, unit) = split_number_unit(value).ok_or_else(error)?;
    let millis_per_unit: u64 = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(error()),
    };
    let millis = number.checked_mul(millis_per_unit).ok_or_else(error)?;
    Ok(millis.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> ConnectorOptions {
        ConnectorOptions::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("connector".to_string(), "nexmark".to_string())]),
        )
    }

    #[test]
    fn defaults_match_the_reference() -> Result<()> {
        let config = NexmarkConfig::from_options(&options(&[]))?;
        assert_eq!(
            config,
            NexmarkConfig::from_options(&ConnectorOptions::default())?
        );
        assert_eq!(config.events_num, None);
        assert!(!config.throttle);
        assert_eq!(config.total_proportion(), 50);
        assert_eq!(config.hot_auction_ratio, 2);
        assert_eq!(config.hot_sellers_ratio, 4);
        assert_eq!(config.hot_bidders_ratio, 4);
        assert_eq!(
            (config.avg_person_bytes, config.avg_auction_bytes),
            (200, 500)
        );
        assert_eq!(config.avg_bid_bytes, 100);
        // 10,000 events/s: 100 us apart, as the reference's default.
        assert_eq!(config.timestamp_ms(0), DEFAULT_BASE_TIME_MS);
        assert_eq!(config.timestamp_ms(10), DEFAULT_BASE_TIME_MS + 1);
        assert_eq!(config.timestamp_ms(10_000), DEFAULT_BASE_TIME_MS + 1000);
        Ok(())
    }

    #[test]
    fn square_rate_alternates() -> Result<()> {
        let config = NexmarkConfig::from_options(&options(&[
            ("first-event.rate", "1000"),
            ("next-event.rate", "100"),
            ("rate.period", "20 s"),
            ("base-time", "0"),
        ]))?;
        // 10 s at 1000/s (10,000 events), then 10 s at 100/s (1,000 events), repeat.
        assert_eq!(config.timestamp_ms(9_999), 9_999);
        assert_eq!(config.timestamp_ms(10_000), 10_000);
        assert_eq!(config.timestamp_ms(10_001), 10_010);
        assert_eq!(config.timestamp_ms(11_000), 20_000);
        assert_eq!(config.timestamp_ms(11_001), 20_001);
        Ok(())
    }

    #[test]
    fn sine_rate_is_monotone() -> Result<()> {
        let config = NexmarkConfig::from_options(&options(&[
            ("first-event.rate", "5000"),
            ("next-event.rate", "1000"),
            ("rate.shape", "SINE"),
            ("rate.period", "10s"),
        ]))?;
        let mut last = i64::MIN;
        for n in 0..100_000 {
            let t = config.timestamp_ms(n);
            assert!(t >= last);
            last = t;
        }
        Ok(())
    }

    #[test]
    fn sizes_and_durations() -> Result<()> {
        let config = NexmarkConfig::from_options(&options(&[
            ("person.avg-size", "1kb"),
            ("bid.avg-size", "64"),
            ("auction.avg-size", "1 mb"),
        ]))?;
        assert_eq!(config.avg_person_bytes, 1024);
        assert_eq!(config.avg_bid_bytes, 64);
        assert_eq!(config.avg_auction_bytes, 1 << 20);
        assert_eq!(parse_duration_seconds("k", "1500")?, 2);
        assert_eq!(parse_duration_seconds("k", "10 min")?, 600);
        assert!(parse_duration_seconds("k", "10 parsecs").is_err());
        Ok(())
    }

    #[test]
    fn bad_values_are_named() {
        for (key, value) in [
            ("first-event.rate", "${TPS}"),
            ("first-event.rate", "0"),
            ("events.num", "-3"),
            ("bid.hot-ratio.auctions", "0"),
            ("throttle", "sometimes"),
            ("rate.shape", "triangle"),
            ("person.avg-size", "lots"),
        ] {
            let error = NexmarkConfig::from_options(&options(&[(key, value)]))
                .expect_err("must fail")
                .to_string();
            assert!(error.contains(key), "{error}");
        }
        let error =
            NexmarkConfig::from_options(&options(&[("split.index", "2"), ("split.count", "2")]))
                .expect_err("index out of range")
                .to_string();
        assert!(error.contains("split.index"), "{error}");
    }
}
