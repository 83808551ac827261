//! Mapping generated columns onto the table's schema, and assembling Arrow record batches.
//!
//! The table declares (a subset of) `event_type INT`, `person ROW<..>`, `auction ROW<..>`,
//! `bid ROW<..>` (see [`nexmark_schema`]); top-level columns and struct fields are matched by
//! case-insensitive name, in whatever order the table declares them. Timestamps are produced in
//! the unit and time zone the schema asks for (values are UTC instants); numbers and strings are
//! produced as `Int32`/`Int64`/`Utf8` and cast when the schema declares another castable type.
//!
//! Invariants of a produced batch: exactly `schema`; per row exactly one of the three structs
//! is non-null, the one named by `event_type` (0 person, 1 auction, 2 bid); the fields of a null
//! struct carry that struct's nulls too (so reading `person.id` of a bid row gives NULL).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    StringViewArray, StructArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::{can_cast_types, cast};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use super::config::{EventKind, CONNECTOR};
use super::generator::{Columns, Utf8Column};
use crate::error::{Result, RuntimeError};

/// The physical columns of the reference `ddl_gen.sql` table, with lower-case names (as Sluice
/// folds unquoted identifiers), every column nullable, timestamps in `unit` without time zone.
pub fn nexmark_schema(unit: TimeUnit) -> SchemaRef {
    let struct_field = |name: &str, fields: &[(&str, Generated, ValueKind)]| {
        let children: Fields = fields
            .iter()
            .map(|(name, _, kind)| Field::new(*name, kind.canonical_type(unit), true))
            .collect();
        Field::new(name, DataType::Struct(children), true)
    };
    Arc::new(Schema::new(vec![
        Field::new("event_type", DataType::Int32, true),
        struct_field("person", PERSON_FIELDS),
        struct_field("auction", AUCTION_FIELDS),
        struct_field("bid", BID_FIELDS),
    ]))
}

/// A generated column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generated {
    PersonId,
    PersonName,
    PersonEmailAddress,
    PersonCreditCard,
    PersonCity,
    PersonState,
    PersonDateTime,
    PersonExtra,
    AuctionId,
    AuctionItemName,
    AuctionDescription,
    AuctionInitialBid,
    AuctionReserve,
    AuctionDateTime,
    AuctionExpires,
    AuctionSeller,
    AuctionCategory,
    AuctionExtra,
    BidAuction,
    BidBidder,
    BidPrice,
    BidChannel,
    BidUrl,
    BidDateTime,
    BidExtra,
}

/// How a generated column is stored before conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Int64,
    Utf8,
    /// Milliseconds since the epoch.
    Timestamp,
}

impl ValueKind {
    fn canonical_type(self, unit: TimeUnit) -> DataType {
        match self {
            ValueKind::Int64 => DataType::Int64,
            ValueKind::Utf8 => DataType::Utf8,
            ValueKind::Timestamp => DataType::Timestamp(unit, None),
        }
    }

    /// Whether this kind can be produced as `data_type`.
    fn can_produce(self, data_type: &DataType) -> bool {
        match self {
            ValueKind::Int64 => can_cast_types(&DataType::Int64, data_type),
            ValueKind::Utf8 => matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ),
            ValueKind::Timestamp => matches!(data_type, DataType::Timestamp(_, _)),
        }
    }
}

/// Field names (lower case) of each struct, in `ddl_gen.sql` order.
const PERSON_FIELDS: &[(&str, Generated, ValueKind)] = &[
    ("id", Generated::PersonId, ValueKind::Int64),
    ("name", Generated::PersonName, ValueKind::Utf8),
    (
        "emailaddress",
        Generated::PersonEmailAddress,
        ValueKind::Utf8,
    ),
    ("creditcard", Generated::PersonCreditCard, ValueKind::Utf8),
    ("city", Generated::PersonCity, ValueKind::Utf8),
    ("state", Generated::PersonState, ValueKind::Utf8),
    ("datetime", Generated::PersonDateTime, ValueKind::Timestamp),
    ("extra", Generated::PersonExtra, ValueKind::Utf8),
];
const AUCTION_FIELDS: &[(&str, Generated, ValueKind)] = &[
    ("id", Generated::AuctionId, ValueKind::Int64),
    ("itemname", Generated::AuctionItemName, ValueKind::Utf8),
    (
        "description",
        Generated::AuctionDescription,
        ValueKind::Utf8,
    ),
    ("initialbid", Generated::AuctionInitialBid, ValueKind::Int64),
    ("reserve", Generated::AuctionReserve, ValueKind::Int64),
    ("datetime", Generated::AuctionDateTime, ValueKind::Timestamp),
    ("expires", Generated::AuctionExpires, ValueKind::Timestamp),
    ("seller", Generated::AuctionSeller, ValueKind::Int64),
    ("category", Generated::AuctionCategory, ValueKind::Int64),
    ("extra", Generated::AuctionExtra, ValueKind::Utf8),
];
const BID_FIELDS: &[(&str, Generated, ValueKind)] = &[
    ("auction", Generated::BidAuction, ValueKind::Int64),
    ("bidder", Generated::BidBidder, ValueKind::Int64),
    ("price", Generated::BidPrice, ValueKind::Int64),
    ("channel", Generated::BidChannel, ValueKind::Utf8),
    ("url", Generated::BidUrl, ValueKind::Utf8),
    ("datetime", Generated::BidDateTime, ValueKind::Timestamp),
    ("extra", Generated::BidExtra, ValueKind::Utf8),
];

/// One output column.
#[derive(Debug)]
enum ColumnPlan {
    EventType(DataType),
    Struct {
        kind: EventKind,
        fields: Fields,
        /// The generated column of each field of `fields`.
        children: Vec<Generated>,
    },
}

/// How to turn generated [`Columns`] into batches of a given schema.
#[derive(Debug)]
pub(crate) struct OutputPlan {
    schema: SchemaRef,
    columns: Vec<ColumnPlan>,
}

fn schema_error(message: String) -> RuntimeError {
    RuntimeError::Connector(format!("connector '{CONNECTOR}': {message}"))
}

impl OutputPlan {
    /// Check that `schema` asks only for what the generator produces, and plan it.
    pub fn new(schema: SchemaRef) -> Result<Self> {
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut seen = Vec::new();
        for field in schema.fields() {
            let name = field.name().to_ascii_lowercase();
            if seen.contains(&name) {
                return Err(schema_error(format!(
                    "column '{}' appears twice",
                    field.name()
                )));
            }
            seen.push(name.clone());
            let (kind, known) = match name.as_str() {
                "event_type" => {
                    if !can_cast_types(&DataType::Int32, field.data_type()) {
                        return Err(schema_error(format!(
                            "column '{}' must be an integer, not {}",
                            field.name(),
                            field.data_type()
                        )));
                    }
                    columns.push(ColumnPlan::EventType(field.data_type().clone()));
                    continue;
                }
                "person" => (EventKind::Person, PERSON_FIELDS),
                "auction" => (EventKind::Auction, AUCTION_FIELDS),
                "bid" => (EventKind::Bid, BID_FIELDS),
                _ => {
                    return Err(schema_error(format!(
                        "column '{}' is not produced by this connector (it produces event_type, \
                         person, auction and bid)",
                        field.name()
                    )))
                }
            };
            columns.push(plan_struct(field, kind, known)?);
        }
        Ok(Self { schema, columns })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Assemble `columns` into a batch of the planned schema.
    pub fn finish(&self, mut columns: Columns) -> Result<RecordBatch> {
        let rows = columns.event_type.len();
        let nulls_of = |kind: EventKind| {
            let kind = kind as i32;
            let event_type = &columns.event_type;
            NullBuffer::new(BooleanBuffer::collect_bool(rows, |row| {
                event_type.get(row) == Some(&kind)
            }))
        };
        let person_nulls = nulls_of(EventKind::Person);
        let auction_nulls = nulls_of(EventKind::Auction);
        let bid_nulls = nulls_of(EventKind::Bid);

        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let array: ArrayRef = match column {
                ColumnPlan::EventType(data_type) => {
                    let values = std::mem::take(&mut columns.event_type);
                    let array: ArrayRef = Arc::new(Int32Array::try_new(values.into(), None)?);
                    convert(array, data_type)?
                }
                ColumnPlan::Struct {
                    kind,
                    fields,
                    children,
                } => {
                    let nulls = match kind {
                        EventKind::Person => &person_nulls,
                        EventKind::Auction => &auction_nulls,
                        EventKind::Bid => &bid_nulls,
                    };
                    let mut child_arrays = Vec::with_capacity(children.len());
                    for (field, generated) in fields.iter().zip(children) {
                        child_arrays.push(take_array(
                            &mut columns,
                            *generated,
                            field.data_type(),
                            nulls,
                            rows,
                        )?);
                    }
                    Arc::new(StructArray::try_new(
                        fields.clone(),
                        child_arrays,
                        Some(nulls.clone()),
                    )?)
                }
            };
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

fn plan_struct(
    field: &Field,
    kind: EventKind,
    known: &[(&str, Generated, ValueKind)],
) -> Result<ColumnPlan> {
    let DataType::Struct(fields) = field.data_type() else {
        return Err(schema_error(format!(
            "column '{}' must be a ROW, not {}",
            field.name(),
            field.data_type()
        )));
    };
    if !field.is_nullable() {
        return Err(schema_error(format!(
            "column '{}' must be nullable: it is NULL on rows of the other event types",
            field.name()
        )));
    }
    let mut children = Vec::with_capacity(fields.len());
    for child in fields {
        let Some((_, generated, value_kind)) = known
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(child.name()))
        else {
            return Err(schema_error(format!(
                "field '{}' of column '{}' is not produced by this connector (it produces {})",
                child.name(),
                field.name(),
                known
                    .iter()
                    .map(|(name, _, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if children.contains(generated) {
            return Err(schema_error(format!(
                "field '{}' of column '{}' appears twice",
                child.name(),
                field.name()
            )));
        }
        if !value_kind.can_produce(child.data_type()) {
            return Err(schema_error(format!(
                "field '{}' of column '{}' cannot be produced as {} (expected {})",
                child.name(),
                field.name(),
                child.data_type(),
                value_kind.canonical_type(TimeUnit::Millisecond)
            )));
        }
        children.push(*generated);
    }
    Ok(ColumnPlan::Struct {
        kind,
        fields: fields.clone(),
        children,
    })
}

/// A generated column, moved out of [`Columns`].
enum Taken {
    Int64(Vec<i64>),
    Utf8(Utf8Column),
    Timestamp(Vec<i64>),
}

fn take(columns: &mut Columns, generated: Generated) -> Taken {
    use std::mem::take as t;
    let (p, a, b) = (&mut columns.person, &mut columns.auction, &mut columns.bid);
    match generated {
        Generated::PersonId => Taken::Int64(t(&mut p.id)),
        Generated::PersonName => Taken::Utf8(t(&mut p.name)),
        Generated::PersonEmailAddress => Taken::Utf8(t(&mut p.email_address)),
        Generated::PersonCreditCard => Taken::Utf8(t(&mut p.credit_card)),
        Generated::PersonCity => Taken::Utf8(t(&mut p.city)),
        Generated::PersonState => Taken::Utf8(t(&mut p.state)),
        Generated::PersonDateTime => Taken::Timestamp(t(&mut p.date_time)),
        Generated::PersonExtra => Taken::Utf8(t(&mut p.extra)),
        Generated::AuctionId => Taken::Int64(t(&mut a.id)),
        Generated::AuctionItemName => Taken::Utf8(t(&mut a.item_name)),
        Generated::AuctionDescription => Taken::Utf8(t(&mut a.description)),
        Generated::AuctionInitialBid => Taken::Int64(t(&mut a.initial_bid)),
        Generated::AuctionReserve => Taken::Int64(t(&mut a.reserve)),
        Generated::AuctionDateTime => Taken::Timestamp(t(&mut a.date_time)),
        Generated::AuctionExpires => Taken::Timestamp(t(&mut a.expires)),
        Generated::AuctionSeller => Taken::Int64(t(&mut a.seller)),
        Generated::AuctionCategory => Taken::Int64(t(&mut a.category)),
        Generated::AuctionExtra => Taken::Utf8(t(&mut a.extra)),
        Generated::BidAuction => Taken::Int64(t(&mut b.auction)),
        Generated::BidBidder => Taken::Int64(t(&mut b.bidder)),
        Generated::BidPrice => Taken::Int64(t(&mut b.price)),
        Generated::BidChannel => Taken::Utf8(t(&mut b.channel)),
        Generated::BidUrl => Taken::Utf8(t(&mut b.url)),
        Generated::BidDateTime => Taken::Timestamp(t(&mut b.date_time)),
        Generated::BidExtra => Taken::Utf8(t(&mut b.extra)),
    }
}

/// Build the array of `generated` as `data_type`, with `nulls`.
fn take_array(
    columns: &mut Columns,
    generated: Generated,
    data_type: &DataType,
    nulls: &NullBuffer,
    rows: usize,
) -> Result<ArrayRef> {
    let wrong_length = || {
        RuntimeError::Internal(format!(
            "nexmark column {generated:?} does not have {rows} rows"
        ))
    };
    let nulls = Some(nulls.clone());
    match take(columns, generated) {
        Taken::Int64(values) => {
            if values.len() != rows {
                return Err(wrong_length());
            }
            convert(
                Arc::new(Int64Array::try_new(values.into(), nulls)?),
                data_type,
            )
        }
        Taken::Utf8(column) => {
            let valid_offsets = column.offsets.len() == rows + 1
                && column.offsets.first() == Some(&0)
                && column.offsets.last().and_then(|o| usize::try_from(*o).ok())
                    == Some(column.values.len());
            if !valid_offsets {
                return Err(wrong_length());
            }
            // Generated text is ASCII, so a view of any slice of it is valid UTF-8 (checked
            // once, quickly: validating each view costs more than generating the strings).
            let ascii_in_order = column.values.is_ascii()
                && column.offsets.windows(2).all(|pair| pair[0] <= pair[1]);
            if data_type == &DataType::Utf8View && ascii_in_order {
                return Ok(string_view_array(column, nulls));
            }
            // Offsets start at 0, never decrease (rows only append) and end at the value length.
            let offsets = OffsetBuffer::new(ScalarBuffer::from(column.offsets));
            let array = StringArray::try_new(offsets, Buffer::from_vec(column.values), nulls)?;
            convert(Arc::new(array), data_type)
        }
        Taken::Timestamp(mut values) => {
            if values.len() != rows {
                return Err(wrong_length());
            }
            let DataType::Timestamp(unit, time_zone) = data_type else {
                return Err(RuntimeError::Internal(format!(
                    "nexmark column {generated:?} planned as {data_type}"
                )));
            };
            let scale = |values: &mut Vec<i64>, factor: i64| {
                values
                    .iter_mut()
                    .for_each(|v| *v = v.saturating_mul(factor))
            };
            let array: ArrayRef = match unit {
                TimeUnit::Second => {
                    values.iter_mut().for_each(|v| *v = v.div_euclid(1000));
                    Arc::new(
                        TimestampSecondArray::try_new(values.into(), nulls)?
                            .with_timezone_opt(time_zone.clone()),
                    )
                }
                TimeUnit::Millisecond => Arc::new(
                    TimestampMillisecondArray::try_new(values.into(), nulls)?
                        .with_timezone_opt(time_zone.clone()),
                ),
                TimeUnit::Microsecond => {
                    scale(&mut values, 1000);
                    Arc::new(
                        TimestampMicrosecondArray::try_new(values.into(), nulls)?
                            .with_timezone_opt(time_zone.clone()),
                    )
                }
                TimeUnit::Nanosecond => {
                    scale(&mut values, 1_000_000);
                    Arc::new(
                        TimestampNanosecondArray::try_new(values.into(), nulls)?
                            .with_timezone_opt(time_zone.clone()),
                    )
                }
            };
            Ok(array)
        }
    }
}

/// Generated strings as a `Utf8View` array over their buffer, without copying it (a cast from
/// `Utf8` copies every byte into a builder): per row a view, inline up to 12 bytes, else
/// pointing into the one buffer. Rows without a value (NULL) have empty views. The caller has
/// checked that the offsets start at 0, never decrease and end at the values' length, that
/// there is one row per bit of `nulls`, and that the values are ASCII.
fn string_view_array(column: Utf8Column, nulls: Option<NullBuffer>) -> ArrayRef {
    let Utf8Column { offsets, values } = column;
    let views: Vec<u128> = offsets
        .windows(2)
        .map(|pair| view(&values[pair[0] as usize..pair[1] as usize], pair[0] as u32))
        .collect();
    let values = Buffer::from_vec(values);
    // SAFETY: each view was made by `view` from the bytes `start..end` of `values`
    // (buffer 0), with `0 <= start <= end <= values.len()` (checked by the caller), and
    // `values` is ASCII, so every view's bytes are valid UTF-8; `nulls` has one bit per row.
    Arc::new(unsafe { StringViewArray::new_unchecked(views.into(), vec![values], nulls) })
}

/// The view of `bytes`, found at `offset` of buffer 0 (Arrow's layout, as
/// `arrow::array::builder::make_view`, which is not inlined and costs as much again): length,
/// then up to 12 bytes inline, or the first 4 bytes, buffer index and offset.
#[inline]
fn view(bytes: &[u8], offset: u32) -> u128 {
    let len = bytes.len();
    if len == 0 {
        return 0;
    }
    if len <= 12 {
        let mut view = [0_u8; 16];
        view[..4].copy_from_slice(&(len as u32).to_le_bytes());
        view[4..4 + len].copy_from_slice(bytes);
        return u128::from_le_bytes(view);
    }
    let prefix = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    (len as u128) | (u128::from(prefix) << 32) | (u128::from(offset) << 96)
}

/// `array` as `data_type` (a no-op when it already is).
fn convert(array: ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    if array.data_type() == data_type {
        Ok(array)
    } else {
        Ok(cast(&array, data_type)?)
    }
}
