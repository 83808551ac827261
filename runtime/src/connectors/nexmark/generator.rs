//! The Nexmark event model: what event number `n` is, written straight into column buffers.
//!
//! Everything about an event is a pure function of its number `n` (which is also its event id,
//! as in the reference with `firstEventId = 0`): its kind (`n` modulo the proportions), its ids
//! (person / auction ids count the persons / auctions among events `0..=n`), its time (the
//! [`Timeline`](super::config::Timeline)) and its random fields, drawn from a
//! [`JavaRandom`] seeded with `n`, in the reference's order:
//!
//! - person: first name, last name, email (`nextString(7)@nextString(5).com`), credit card
//!   (four `%04d` groups), city, state, `extra`;
//! - auction: seller (hot or random), category, initial bid, expiry, item name, description,
//!   reserve, `extra`;
//! - bid: auction (hot or random), bidder (hot or random), price, channel/url, `extra`.
//!
//! Persons and auctions match Apache Beam's generator field for field. Bids follow the
//! `nexmark-flink` generator, which adds `channel`/`url` (drawn between price and `extra`) but
//! with two corrections: the bidder id gets `FIRST_PERSON_ID` added once (nexmark-flink adds it
//! twice, nexmark/nexmark#30; Beam once), and channel URLs are derived from fixed seeds (the
//! reference draws them from unseeded randomness, so they differ between runs).
//!
//! Invariants: after `push_event` then `fill_placeholders`, every column holds one value per
//! row (rows of the other event types get a placeholder: 0 or the empty string); string offsets are non-decreasing and fit `i32` as long
//! as the caller respects [`max_row_bytes`]; all generated text is ASCII.

use std::sync::OnceLock;

use super::config::{
    EventKind, NexmarkConfig, AUCTION_ID_LEAD, FIRST_AUCTION_ID, FIRST_CATEGORY_ID,
    FIRST_PERSON_ID, NUM_CATEGORIES, PERSON_ID_LEAD,
};
use super::random::JavaRandom;

/// Hot sellers are the first person of each batch of this many (reference constant).
const HOT_SELLER_RATIO: i64 = 100;
/// Hot auctions are the first auction of each batch of this many.
const HOT_AUCTION_RATIO: i64 = 100;
/// Hot bidders are the second person of each batch of this many.
const HOT_BIDDER_RATIO: i64 = 100;
/// A bid uses a hot channel with probability `1 - 1/HOT_CHANNELS_RATIO`.
const HOT_CHANNELS_RATIO: i32 = 2;
/// Number of ordinary channels.
const CHANNELS_NUMBER: i32 = 10_000;
/// Seeds of the hot channels' URLs (ordinary channel `c` uses seed `c`).
const HOT_URL_SEED: i64 = 10_000;
const MIN_STRING_LENGTH: i32 = 3;

const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// The most bytes one row can add to any single string column under `config` (the longest
/// `extra`, or the fixed fields' maxima: a 99-byte description, a URL).
pub(crate) fn max_row_bytes(config: &NexmarkConfig) -> usize {
    let longest_extra = [
        config.avg_person_bytes,
        config.avg_auction_bytes,
        config.avg_bid_bytes,
    ]
    .into_iter()
    .map(|avg| usize::try_from(avg).unwrap_or(0))
    .max()
    .unwrap_or(0);
    (longest_extra + longest_extra / 5 + 2).max(256)
}

/// A UTF-8 column under construction: Arrow offsets and value bytes.
#[derive(Debug, Default)]
pub(crate) struct Utf8Column {
    pub offsets: Vec<i32>,
    pub values: Vec<u8>,
}

impl Utf8Column {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            values: Vec::with_capacity(bytes),
        }
    }

    /// Give every row before `row` that has no value yet the empty string.
    #[inline]
    fn fill_to(&mut self, row: usize) {
        if self.offsets.len() <= row {
            let last = self.offsets.last().copied().unwrap_or(0);
            self.offsets.resize(row + 1, last);
        }
    }

    /// Close the current row (whatever was appended to `values` since the last one).
    #[inline]
    fn end_row(&mut self) {
        // Fits: callers cap rows per batch by `max_row_bytes` (see module invariants).
        self.offsets.push(self.values.len() as i32);
    }

    #[inline]
    fn push(&mut self, value: &[u8]) {
        self.values.extend_from_slice(value);
        self.end_row();
    }
}

/// Give every row before `row` that has no value yet a 0.
#[inline]
fn fill_to(values: &mut Vec<i64>, row: usize) {
    if values.len() < row {
        values.resize(row, 0);
    }
}

/// Value-byte sizes of the string columns of a finished batch, to size the next one.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SizeHint {
    rows: usize,
    bytes: [usize; STRING_COLUMNS],
}

const STRING_COLUMNS: usize = 12;

impl SizeHint {
    fn bytes_for(&self, column: usize, rows: usize) -> usize {
        match (self.rows, self.bytes.get(column)) {
            (0, _) | (_, None) => rows * 16,
            // The previous batch's bytes per row, plus an eighth.
            (hint_rows, Some(bytes)) => bytes.saturating_mul(rows) / hint_rows / 8 * 9,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct PersonColumns {
    pub id: Vec<i64>,
    pub name: Utf8Column,
    pub email_address: Utf8Column,
    pub credit_card: Utf8Column,
    pub city: Utf8Column,
    pub state: Utf8Column,
    pub date_time: Vec<i64>,
    pub extra: Utf8Column,
}

#[derive(Debug, Default)]
pub(crate) struct AuctionColumns {
    pub id: Vec<i64>,
    pub item_name: Utf8Column,
    pub description: Utf8Column,
    pub initial_bid: Vec<i64>,
    pub reserve: Vec<i64>,
    pub date_time: Vec<i64>,
    pub expires: Vec<i64>,
    pub seller: Vec<i64>,
    pub category: Vec<i64>,
    pub extra: Utf8Column,
}

#[derive(Debug, Default)]
pub(crate) struct BidColumns {
    pub auction: Vec<i64>,
    pub bidder: Vec<i64>,
    pub price: Vec<i64>,
    pub channel: Utf8Column,
    pub url: Utf8Column,
    pub date_time: Vec<i64>,
    pub extra: Utf8Column,
}

/// One batch of events, column by column. Timestamps are ms since the epoch.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    pub event_type: Vec<i32>,
    pub person: PersonColumns,
    pub auction: AuctionColumns,
    pub bid: BidColumns,
}

impl PersonColumns {
    /// Placeholders for the rows before `row` (rows of other event types).
    fn fill_to(&mut self, row: usize) {
        fill_to(&mut self.id, row);
        self.name.fill_to(row);
        self.email_address.fill_to(row);
        self.credit_card.fill_to(row);
        self.city.fill_to(row);
        self.state.fill_to(row);
        fill_to(&mut self.date_time, row);
        self.extra.fill_to(row);
    }
}

impl AuctionColumns {
    /// Placeholders for the rows before `row` (rows of other event types).
    fn fill_to(&mut self, row: usize) {
        fill_to(&mut self.id, row);
        self.item_name.fill_to(row);
        self.description.fill_to(row);
        fill_to(&mut self.initial_bid, row);
        fill_to(&mut self.reserve, row);
        fill_to(&mut self.date_time, row);
        fill_to(&mut self.expires, row);
        fill_to(&mut self.seller, row);
        fill_to(&mut self.category, row);
        self.extra.fill_to(row);
    }
}

impl BidColumns {
    /// Placeholders for the rows before `row` (rows of other event types).
    fn fill_to(&mut self, row: usize) {
        fill_to(&mut self.auction, row);
        fill_to(&mut self.bidder, row);
        fill_to(&mut self.price, row);
        self.channel.fill_to(row);
        self.url.fill_to(row);
        fill_to(&mut self.date_time, row);
        self.extra.fill_to(row);
    }
}

impl Columns {
    /// Empty columns with room for `rows` rows, string buffers sized after `hint`.
    pub fn with_capacity(rows: usize, hint: &SizeHint) -> Self {
        let int = || Vec::with_capacity(rows);
        let text = |column: usize| Utf8Column::with_capacity(rows, hint.bytes_for(column, rows));
        Self {
            event_type: Vec::with_capacity(rows),
            person: PersonColumns {
                id: int(),
                name: text(0),
                email_address: text(1),
                credit_card: text(2),
                city: text(3),
                state: text(4),
                date_time: int(),
                extra: text(5),
            },
            auction: AuctionColumns {
                id: int(),
                item_name: text(6),
                description: text(7),
                initial_bid: int(),
                reserve: int(),
                date_time: int(),
                expires: int(),
                seller: int(),
                category: int(),
                extra: text(8),
            },
            bid: BidColumns {
                auction: int(),
                bidder: int(),
                price: int(),
                channel: text(9),
                url: text(10),
                date_time: int(),
                extra: text(11),
            },
        }
    }

    /// The string value sizes of this batch, to size the next one.
    pub fn size_hint(&self) -> SizeHint {
        let lengths = [
            self.person.name.values.len(),
            self.person.email_address.values.len(),
            self.person.credit_card.values.len(),
            self.person.city.values.len(),
            self.person.state.values.len(),
            self.person.extra.values.len(),
            self.auction.item_name.values.len(),
            self.auction.description.values.len(),
            self.auction.extra.values.len(),
            self.bid.channel.values.len(),
            self.bid.url.values.len(),
            self.bid.extra.values.len(),
        ];
        SizeHint {
            rows: self.event_type.len(),
            bytes: lengths,
        }
    }

    /// Bytes of generated data: all string bytes plus 8 per number/timestamp and 4 for the
    /// event type (for the source's byte counter).
    pub fn payload_bytes(&self) -> u64 {
        let hint = self.size_hint();
        let text: usize = hint.bytes.iter().sum();
        let numbers: usize = self
            .event_type
            .iter()
            .map(|kind| match kind {
                0 => 4 + 2 * 8,
                1 => 4 + 7 * 8,
                _ => 4 + 4 * 8,
            })
            .sum();
        (text + numbers) as u64
    }

    /// Generate `event` and append it as one row.
    pub fn push_event(&mut self, config: &NexmarkConfig, event: &EventInfo) {
        let row = self.event_type.len();
        let mut random = JavaRandom::new(event.n as i64);
        let kind = event.kind(config);
        self.event_type.push(kind as i32);
        // The other two structs get placeholders lazily, in bulk (see `fill_to`).
        match kind {
            EventKind::Person => {
                self.person.fill_to(row);
                self.push_person(config, event, &mut random);
            }
            EventKind::Auction => {
                self.auction.fill_to(row);
                self.push_auction(config, event, &mut random);
            }
            EventKind::Bid => {
                self.bid.fill_to(row);
                self.push_bid(config, event, &mut random);
            }
        }
    }

    /// Placeholders in every column for the rows of other event types, so that every column
    /// has one value per row. Call once all events are pushed.
    pub fn fill_placeholders(&mut self) {
        let rows = self.event_type.len();
        self.person.fill_to(rows);
        self.auction.fill_to(rows);
        self.bid.fill_to(rows);
    }

    fn push_person(&mut self, config: &NexmarkConfig, event: &EventInfo, random: &mut JavaRandom) {
        let person = &mut self.person;
        person
            .id
            .push(event.last_base0_person_id(config) + FIRST_PERSON_ID);

        let first_name = pick(&FIRST_NAMES, random);
        let last_name = pick(&LAST_NAMES, random);
        let name = &mut person.name;
        name.values.extend_from_slice(first_name.as_bytes());
        name.values.push(b' ');
        name.values.extend_from_slice(last_name.as_bytes());
        name.end_row();
        let name_len = first_name.len() + 1 + last_name.len();

        let email = &mut person.email_address;
        let mut email_len = next_string(random, 7, b' ', &mut email.values);
        email.values.push(b'@');
        email_len += 1 + next_string(random, 5, b' ', &mut email.values);
        email.values.extend_from_slice(b".com");
        email.end_row();
        email_len += 4;

        let card = &mut person.credit_card;
        for group in 0..4 {
            if group > 0 {
                card.values.push(b' ');
            }
            push_four_digits(random.next_int_bounded(10_000), &mut card.values);
        }
        card.end_row();
        let card_len = 4 * 4 + 3;

        let city = pick(&US_CITIES, random);
        person.city.push(city.as_bytes());
        let state = pick(&US_STATES, random);
        person.state.push(state.as_bytes());

        let current_size = 8 + name_len + email_len + card_len + city.len() + state.len();
        next_extra(
            random,
            current_size,
            config.avg_person_bytes,
            &mut person.extra.values,
        );
        person.extra.end_row();
        person.date_time.push(event.timestamp);
    }

    fn push_auction(&mut self, config: &NexmarkConfig, event: &EventInfo, random: &mut JavaRandom) {
        let timestamp = event.timestamp;
        let auction = &mut self.auction;
        auction
            .id
            .push(event.last_base0_auction_id(config) + FIRST_AUCTION_ID);

        let seller = if random.next_int_bounded(config.hot_sellers_ratio) > 0 {
            (event.last_base0_person_id(config) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        } else {
            next_base0_person_id(config, event, random)
        };
        auction.seller.push(seller + FIRST_PERSON_ID);
        auction
            .category
            .push(FIRST_CATEGORY_ID + i64::from(random.next_int_bounded(NUM_CATEGORIES)));

        let initial_bid = next_price(random);
        auction.initial_bid.push(initial_bid);
        let length = next_auction_length_ms(config, event, random);
        auction.expires.push(timestamp.saturating_add(length));

        let name_len = next_string(random, 20, b' ', &mut auction.item_name.values);
        auction.item_name.end_row();
        let description_len = next_string(random, 100, b' ', &mut auction.description.values);
        auction.description.end_row();

        auction
            .reserve
            .push(initial_bid.saturating_add(next_price(random)));
        let current_size = 8 + name_len + description_len + 8 + 8 + 8 + 8 + 8;
        next_extra(
            random,
            current_size,
            config.avg_auction_bytes,
            &mut auction.extra.values,
        );
        auction.extra.end_row();
        auction.date_time.push(timestamp);
    }

    fn push_bid(&mut self, config: &NexmarkConfig, event: &EventInfo, random: &mut JavaRandom) {
        let bid = &mut self.bid;
        let auction = if random.next_int_bounded(config.hot_auction_ratio) > 0 {
            (event.last_base0_auction_id(config) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        } else {
            next_base0_auction_id(config, event, random)
        };
        bid.auction.push(auction + FIRST_AUCTION_ID);

        let bidder = if random.next_int_bounded(config.hot_bidders_ratio) > 0 {
            // The second person of the batch, so hot bidders and hot sellers differ.
            (event.last_base0_person_id(config) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        } else {
            next_base0_person_id(config, event, random)
        };
        bid.bidder.push(bidder + FIRST_PERSON_ID);
        bid.price.push(next_price(random));

        let channels = channel_table();
        let channel = if random.next_int_bounded(HOT_CHANNELS_RATIO) > 0 {
            channels
                .hot
                .get(random.next_int_bounded(HOT_CHANNELS.len() as i32) as usize)
        } else {
            channels
                .ordinary
                .get(random.next_int_bounded(CHANNELS_NUMBER) as usize)
        };
        let (name, url) = channel.map_or((&b""[..], &b""[..]), |c| (&c.name[..], &c.url[..]));
        bid.channel.push(name);
        bid.url.push(url);

        next_extra(
            random,
            8 + 8 + 8 + 8,
            config.avg_bid_bytes,
            &mut bid.extra.values,
        );
        bid.extra.end_row();
        bid.date_time.push(event.timestamp);
    }
}

/// Event number `n` and what follows from the number alone: its position in the cycle of
/// `total_proportion` events (`n = epoch * total + offset`) and its event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventInfo {
    /// The event number, also its id (`n <= i64::MAX`).
    pub n: u64,
    pub epoch: i64,
    pub offset: i64,
    /// Event time, ms since the epoch.
    pub timestamp: i64,
}

impl EventInfo {
    /// Event `n` (`n <= i64::MAX`), computed with divisions; see [`EventCursor`] for a run.
    pub fn of(config: &NexmarkConfig, n: u64) -> Self {
        let total = config.total_proportion();
        Self {
            n,
            epoch: (n / total) as i64,
            offset: (n % total) as i64,
            timestamp: config.timestamp_ms(n),
        }
    }

    #[inline]
    pub fn kind(&self, config: &NexmarkConfig) -> EventKind {
        let offset = self.offset as u64;
        if offset < config.person_proportion {
            EventKind::Person
        } else if offset < config.person_proportion + config.auction_proportion {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// The last person id (base 0) generated at or before this event: the current one when it
    /// is a person. -1 before the first person.
    #[inline]
    pub fn last_base0_person_id(&self, config: &NexmarkConfig) -> i64 {
        let person = config.person_proportion as i64;
        // An auction or bid: the last person of this epoch.
        self.epoch * person + self.offset.min(person - 1)
    }

    /// The last auction id (base 0) generated at or before this event: the current one when it
    /// is an auction. -1 before the first auction.
    #[inline]
    pub fn last_base0_auction_id(&self, config: &NexmarkConfig) -> i64 {
        let person = config.person_proportion as i64;
        let auction = config.auction_proportion as i64;
        if self.offset < person {
            // A person: the last auction of the previous epoch.
            (self.epoch - 1) * auction + auction - 1
        } else if self.offset >= person + auction {
            // A bid: the last auction of this epoch.
            self.epoch * auction + auction - 1
        } else {
            self.epoch * auction + self.offset - person
        }
    }
}

/// The events `first, first + stride, first + 2 * stride, ...`, stepped without divisions.
#[derive(Debug, Clone)]
pub(crate) struct EventCursor {
    current: EventInfo,
    stride: u64,
    total: i64,
    stride_epochs: i64,
    stride_offset: i64,
    /// Exact event time stepping for a single-rate timeline; `None`: ask the timeline.
    clock: Option<Clock>,
}

impl EventCursor {
    pub fn new(config: &NexmarkConfig, first: u64, stride: u64) -> Self {
        let total = config.total_proportion();
        let clock = config
            .timeline
            .single_rate()
            .map(|rate| Clock::new(config.timeline.base_time_ms(), rate, first, stride));
        Self {
            current: EventInfo::of(config, first),
            stride,
            total: total as i64,
            stride_epochs: i64::try_from(stride / total).unwrap_or(i64::MAX),
            stride_offset: (stride % total) as i64,
            clock,
        }
    }

    #[inline]
    pub fn current(&self) -> &EventInfo {
        &self.current
    }

    /// Move to the next event of the run.
    #[inline]
    pub fn advance(&mut self, config: &NexmarkConfig) {
        let event = &mut self.current;
        event.n = event.n.saturating_add(self.stride);
        event.epoch = event.epoch.saturating_add(self.stride_epochs);
        event.offset += self.stride_offset;
        if event.offset >= self.total {
            event.offset -= self.total;
            event.epoch = event.epoch.saturating_add(1);
        }
        event.timestamp = match &mut self.clock {
            Some(clock) => clock.advance(),
            None => config.timestamp_ms(event.n),
        };
    }
}

/// `base + floor(n * 1000 / rate)` for `n` stepped by `stride`, kept as quotient and remainder.
#[derive(Debug, Clone)]
struct Clock {
    base: i64,
    rate: u64,
    millis: u64,
    remainder: u64,
    stride_millis: u64,
    stride_remainder: u64,
}

impl Clock {
    fn new(base: i64, rate: u64, first: u64, stride: u64) -> Self {
        let rate = rate.max(1);
        let split = |n: u64| {
            let scaled = u128::from(n) * 1000;
            let rate = u128::from(rate);
            (
                u64::try_from(scaled / rate).unwrap_or(u64::MAX),
                (scaled % rate) as u64,
            )
        };
        let (millis, remainder) = split(first);
        let (stride_millis, stride_remainder) = split(stride);
        Self {
            base,
            rate,
            millis,
            remainder,
            stride_millis,
            stride_remainder,
        }
    }

    /// Step one stride and return the new time.
    #[inline]
    fn advance(&mut self) -> i64 {
        self.millis = self.millis.saturating_add(self.stride_millis);
        self.remainder += self.stride_remainder;
        if self.remainder >= self.rate {
            self.remainder -= self.rate;
            self.millis = self.millis.saturating_add(1);
        }
        self.base
            .saturating_add(i64::try_from(self.millis).unwrap_or(i64::MAX))
    }
}

/// A random person among the last `num-active-people`, up to `PERSON_ID_LEAD` ahead.
#[inline]
fn next_base0_person_id(config: &NexmarkConfig, event: &EventInfo, random: &mut JavaRandom) -> i64 {
    let num_people = event.last_base0_person_id(config) + 1;
    let active_people = num_people.min(config.num_active_people);
    let n = random.next_long_below(active_people + PERSON_ID_LEAD);
    num_people - active_people + n
}

/// A random auction among the last `num-in-flight-auctions`, up to `AUCTION_ID_LEAD` ahead.
#[inline]
fn next_base0_auction_id(
    config: &NexmarkConfig,
    event: &EventInfo,
    random: &mut JavaRandom,
) -> i64 {
    let max_auction = event.last_base0_auction_id(config);
    let min_auction = (max_auction - config.num_in_flight_auctions).max(0);
    min_auction + random.next_long_below(max_auction - min_auction + 1 + AUCTION_ID_LEAD)
}

/// Auction length: uniform in `[1, 2 * horizon]` where the horizon is the time until
/// `num-in-flight-auctions` more auctions have been generated.
fn next_auction_length_ms(
    config: &NexmarkConfig,
    event: &EventInfo,
    random: &mut JavaRandom,
) -> i64 {
    let (n, timestamp) = (event.n, event.timestamp);
    let events_for_auctions = (config.num_in_flight_auctions as u64)
        .saturating_mul(config.total_proportion())
        .checked_div(config.auction_proportion)
        .unwrap_or(0);
    let future_auction = config.timestamp_ms(n.saturating_add(events_for_auctions));
    let horizon = future_auction.saturating_sub(timestamp);
    1 + random.next_long_below(horizon.saturating_mul(2).max(1))
}

/// A price in cents, log-uniform between 1 and 10^6 dollars.
#[inline]
fn next_price(random: &mut JavaRandom) -> i64 {
    (10f64.powf(random.next_double() * 6.0) * 100.0).round() as i64
}

#[inline]
fn pick(list: &[&'static str], random: &mut JavaRandom) -> &'static str {
    let index = random.next_int_bounded(list.len() as i32) as usize;
    list.get(index).copied().unwrap_or("")
}

/// `%04d` of `value` in `[0, 10000)`.
#[inline]
fn push_four_digits(value: i32, out: &mut Vec<u8>) {
    let value = value.clamp(0, 9999) as u16;
    out.extend_from_slice(&[
        b'0' + (value / 1000) as u8,
        b'0' + (value / 100 % 10) as u8,
        b'0' + (value / 10 % 10) as u8,
        b'0' + (value % 10) as u8,
    ]);
}

/// The reference's `nextString(random, maxLength)`: 3 to `max_length - 1` characters, each a
/// `space` with probability 1/13 else a lower-case letter, then trimmed of spaces. Appends to
/// `out` and returns the length appended. `max_length` is at most 100.
#[inline]
fn next_string(random: &mut JavaRandom, max_length: i32, space: u8, out: &mut Vec<u8>) -> usize {
    let length = (MIN_STRING_LENGTH + random.next_int_bounded(max_length - MIN_STRING_LENGTH))
        .clamp(0, 128) as usize;
    let mut buffer = [0_u8; 128];
    for byte in buffer.iter_mut().take(length) {
        *byte = if random.next_int_bounded(13) == 0 {
            space
        } else {
            b'a' + random.next_int_bounded(26) as u8
        };
    }
    let text = buffer.get(..length).unwrap_or(&[]);
    let trimmed = text.trim_ascii();
    out.extend_from_slice(trimmed);
    trimmed.len()
}

/// The reference's `nextExactString`: `length` characters, six per `nextInt()`. As in the
/// reference (Java's `%` keeps the sign), characters range over ASCII `H`..=`z`.
#[inline]
fn next_exact_string(random: &mut JavaRandom, length: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + length, 0);
    let Some(target) = out.get_mut(start..) else {
        return;
    };
    let mut chunks = target.chunks_exact_mut(6);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&six_letters(random.next_int()));
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        for (byte, letter) in rest.iter_mut().zip(six_letters(random.next_int())) {
            *byte = letter;
        }
    }
}

/// The six characters Java's `nextExactString` makes of one `nextInt()` value: it appends
/// `'a' + rnd % 26` then does `rnd /= 26`, six times. Java's `/` truncates toward zero, so the
/// i-th remainder is the i-th base-26 digit of `|rnd|`, negated when `rnd < 0`.
///
/// The six low digits of `m = |rnd|` are those of `r = m mod 26^6`. Holding `r / 26^6` as a
/// 64-bit binary fraction (rounded up), each multiplication by 26 moves the next digit, most
/// significant first, into the integer part. This is exact: the rounding error, at most
/// `26^6 / 2^64 < 2^-35` after six steps, stays below the `26^-6 > 2^-29` gap between a
/// fraction `k / 26^j` and the next digit boundary.
#[inline]
fn six_letters(rnd: i32) -> [u8; 6] {
    const DIGITS_MODULUS: u64 = 308_915_776; // 26^6
    const SCALE: u128 = 1 << 64;
    // ceil(2^64 / 26^6), so that `r * INVERSE` is `r / 26^6` rounded up (r < 26^6).
    const INVERSE: u64 = SCALE.div_ceil(DIGITS_MODULUS as u128) as u64;
    let remainder = u64::from(rnd.unsigned_abs()) % DIGITS_MODULUS;
    let mut fraction = remainder.wrapping_mul(INVERSE);
    // 0 when rnd >= 0, -1 when negative: `(d ^ sign) - sign` is `d` or `-d`.
    let sign = rnd >> 31;
    let mut letters = [0_u8; 6];
    for letter in letters.iter_mut().rev() {
        let product = u128::from(fraction) * 26;
        let digit = (product >> 64) as i32;
        fraction = product as u64;
        *letter = (i32::from(b'a') + ((digit ^ sign) - sign)) as u8;
    }
    letters
}

/// The reference's `nextExtra`: padding so that `current_size` plus its length averages
/// `desired_average_size` (uniform within ±20% of the missing bytes).
#[inline]
fn next_extra(
    random: &mut JavaRandom,
    current_size: usize,
    desired_average_size: i32,
    out: &mut Vec<u8>,
) {
    let current_size = i32::try_from(current_size).unwrap_or(i32::MAX);
    if current_size > desired_average_size {
        return;
    }
    let missing = desired_average_size - current_size;
    let delta = (f64::from(missing) * 0.2).round() as i32;
    let min_size = missing - delta;
    let size = if delta == 0 {
        min_size
    } else {
        min_size + random.next_int_bounded(2 * delta)
    };
    next_exact_string(random, usize::try_from(size).unwrap_or(0), out);
}

/// A channel name and its URL.
#[derive(Debug)]
struct Channel {
    name: Box<[u8]>,
    url: Box<[u8]>,
}

/// The 10,000 ordinary channels and the 4 hot ones, built once.
#[derive(Debug)]
struct ChannelTable {
    ordinary: Vec<Channel>,
    hot: Vec<Channel>,
}

fn channel_table() -> &'static ChannelTable {
    static TABLE: OnceLock<ChannelTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let ordinary = (0..CHANNELS_NUMBER)
            .map(|number| {
                let mut random = JavaRandom::new(i64::from(number));
                let mut url = base_url(&mut random);
                if random.next_int_bounded(10) > 0 {
                    // Java's Math.abs(Integer.reverse(n)), which keeps i32::MIN negative.
                    let id = number.reverse_bits().wrapping_abs();
                    url.extend_from_slice(format!("&channel_id={id}").as_bytes());
                }
                Channel {
                    name: format!("channel-{number}").into_bytes().into(),
                    url: url.into(),
                }
            })
            .collect();
        let hot = HOT_CHANNELS
            .iter()
            .zip(HOT_URL_SEED..)
            .map(|(name, seed)| Channel {
                name: name.as_bytes().into(),
                url: base_url(&mut JavaRandom::new(seed)).into(),
            })
            .collect();
        ChannelTable { ordinary, hot }
    })
}

/// `https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1` with 3-4 character path parts.
fn base_url(random: &mut JavaRandom) -> Vec<u8> {
    let mut url = b"https://www.nexmark.com/".to_vec();
    for _ in 0..3 {
        next_string(random, 5, b'_', &mut url);
        url.push(b'/');
    }
    url.extend_from_slice(b"item.htm?query=1");
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_strings_follow_java_remainders() {
        let mut random = JavaRandom::new(7);
        let mut out = Vec::new();
        next_exact_string(&mut random, 40, &mut out);
        assert_eq!(out.len(), 40);
        assert!(out.iter().all(|b| (b'H'..=b'z').contains(b)));
    }

    /// Java's loop, literally: `'a' + rnd % 26`, then `rnd /= 26`.
    fn java_letters(mut rnd: i32) -> [u8; 6] {
        let mut letters = [0_u8; 6];
        for letter in &mut letters {
            *letter = (i32::from(b'a') + rnd % 26) as u8;
            rnd /= 26;
        }
        letters
    }

    #[test]
    fn six_letters_match_javas_loop() {
        let mut edges = vec![i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX, i32::MAX - 1];
        for power in [26, 676, 17_576, 456_976, 11_881_376, 308_915_776] {
            for k in [1, 2, 5, 6, 7] {
                let base = (power as i64 * k).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                for delta in -2..=2 {
                    edges.push(base.saturating_add(delta));
                    edges.push(base.saturating_add(delta).saturating_neg());
                }
            }
        }
        for rnd in edges {
            assert_eq!(six_letters(rnd), java_letters(rnd), "{rnd}");
        }
        let mut random = JavaRandom::new(1);
        for _ in 0..2_000_000 {
            let rnd = random.next_int();
            assert_eq!(six_letters(rnd), java_letters(rnd), "{rnd}");
        }
    }

    #[test]
    fn cursor_matches_direct_computation() -> crate::error::Result<()> {
        for rates in [
            ("10000", "10000"),
            ("7", "7"),
            ("3000000", "3000000"),
            ("900", "50"),
        ] {
            let options = crate::connectors::ConnectorOptions::new([
                ("first-event.rate".to_string(), rates.0.to_string()),
                ("next-event.rate".to_string(), rates.1.to_string()),
                ("rate.period".to_string(), "4 s".to_string()),
            ]);
            let config = NexmarkConfig::from_options(&options)?;
            for (first, stride) in [(0, 1), (5, 3), (49, 50), (7, 51), (1_000_003, 1_000_004)] {
                let mut cursor = EventCursor::new(&config, first, stride);
                for k in 0..3000_u64 {
                    let n = first + k * stride;
                    assert_eq!(
                        *cursor.current(),
                        EventInfo::of(&config, n),
                        "{rates:?} {n}"
                    );
                    cursor.advance(&config);
                }
            }
        }
        Ok(())
    }

    /// The reference's id formulas, with divisions, for the default proportions.
    #[test]
    fn ids_follow_the_reference_formulas() -> crate::error::Result<()> {
        let config = NexmarkConfig::from_options(&crate::connectors::ConnectorOptions::default())?;
        let cases = [
            // (event id, last person base 0, last auction base 0)
            (0, 0, -1),
            (1, 0, 0),
            (3, 0, 2),
            (4, 0, 2),
            (49, 0, 2),
            (50, 1, 2),
            (51, 1, 3),
            (1_000_003, 20_000, 60_002),
        ];
        for (n, person, auction) in cases {
            let event = EventInfo::of(&config, n);
            assert_eq!(event.last_base0_person_id(&config), person, "{n}");
            assert_eq!(event.last_base0_auction_id(&config), auction, "{n}");
        }
        Ok(())
    }

    #[test]
    fn channel_urls_are_fixed() {
        let table = channel_table();
        assert_eq!(table.ordinary.len(), 10_000);
        assert_eq!(table.hot.len(), 4);
        assert_eq!(&table.ordinary[42].name[..], b"channel-42");
        for channel in table.ordinary.iter().chain(&table.hot) {
            assert!(channel.url.starts_with(b"https://www.nexmark.com/"));
            assert!(std::str::from_utf8(&channel.url).is_ok());
        }
    }
}
