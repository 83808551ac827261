//! Tests of the built-in Nexmark source (`'connector' = 'nexmark'`): determinism, splits,
//! proportions, id references, event times, bounds, options, schema mapping, pacing, offsets,
//! and field values pinned against the reference generator (Apache Beam's, run on a JVM with
//! `java.util.Random` for the same event ids). The `#[ignore]`d test measures speed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use arrow::row::{RowConverter, SortField};

use sluice_runtime::connectors::nexmark::{nexmark_schema, NexmarkSource};
use sluice_runtime::connectors::{
    create_source, create_split_source, BadRowPolicy, ConnectorOptions, Source, SourceEvent,
    SourceSpec,
};
use sluice_runtime::Result;

/// Reference (Beam) base time: 2015-07-15T00:00:00Z.
const BASE_TIME: i64 = 1_436_918_400_000;

fn options(pairs: &[(&str, &str)]) -> ConnectorOptions {
    ConnectorOptions::new(
        [("connector", "nexmark")]
            .iter()
            .chain(pairs)
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn spec_with_schema(schema: SchemaRef, pairs: &[(&str, &str)], batch_size: usize) -> SourceSpec {
    SourceSpec {
        table: "datagen".into(),
        schema,
        metadata: Vec::new(),
        options: options(pairs),
        bad_rows: BadRowPolicy::Fail,
        batch_size,
        primary_key: Vec::new(),
    }
}

fn spec(pairs: &[(&str, &str)], batch_size: usize) -> SourceSpec {
    spec_with_schema(nexmark_schema(TimeUnit::Millisecond), pairs, batch_size)
}

fn source(pairs: &[(&str, &str)], batch_size: usize) -> Result<NexmarkSource> {
    NexmarkSource::new(spec(pairs, batch_size))
}

/// All batches of a bounded source.
fn drain(source: &mut NexmarkSource) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    while let Some(batch) = source.generate_batch()? {
        batches.push(batch);
    }
    Ok(batches)
}

fn struct_column<'a>(batch: &'a RecordBatch, name: &str) -> &'a StructArray {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_struct()
}

fn int64_field<'a>(column: &'a StructArray, name: &str) -> &'a Int64Array {
    column
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .as_primitive()
}

fn string_field<'a>(column: &'a StructArray, name: &str) -> &'a StringArray {
    column
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .as_string()
}

fn millis_field<'a>(column: &'a StructArray, name: &str) -> &'a TimestampMillisecondArray {
    column
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .as_primitive()
}

fn event_types(batch: &RecordBatch) -> &Int32Array {
    batch
        .column_by_name("event_type")
        .expect("event_type")
        .as_primitive()
}

/// The event time of each row, whichever struct it is in.
fn event_times(batch: &RecordBatch) -> Vec<i64> {
    let kinds = event_types(batch);
    let times = [
        millis_field(struct_column(batch, "person"), "datetime"),
        millis_field(struct_column(batch, "auction"), "datetime"),
        millis_field(struct_column(batch, "bid"), "datetime"),
    ];
    (0..batch.num_rows())
        .map(|row| times[kinds.value(row) as usize].value(row))
        .collect()
}

/// Rows of `batches` as a sorted multiset of encoded rows.
fn row_multiset(batches: &[RecordBatch]) -> Result<Vec<Vec<u8>>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let converter = RowConverter::new(
        first
            .schema()
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )?;
    let mut rows = Vec::new();
    for batch in batches {
        let converted = converter.convert_columns(batch.columns())?;
        rows.extend(converted.iter().map(|row| row.as_ref().to_vec()));
    }
    rows.sort();
    Ok(rows)
}

#[test]
fn same_options_give_identical_batches() -> Result<()> {
    let opts = [("events.num", "20000")];
    let first = drain(&mut source(&opts, 1024)?)?;
    let second = drain(&mut source(&opts, 1024)?)?;
    assert_eq!(first.len(), 20);
    assert_eq!(first, second);
    // A different batch size cuts the same stream differently, but the rows are the same.
    let third = drain(&mut source(&opts, 777)?)?;
    let concat = |batches: &[RecordBatch]| {
        arrow::compute::concat_batches(&batches[0].schema(), batches).expect("concat")
    };
    assert_eq!(concat(&first), concat(&third));
    Ok(())
}

#[test]
fn splits_together_equal_one_generator() -> Result<()> {
    let whole = drain(&mut source(&[("events.num", "10001")], 1000)?)?;
    let mut parts = Vec::new();
    let mut part_rows = Vec::new();
    for index in ["0", "1", "2"] {
        let batches = drain(&mut source(
            &[
                ("events.num", "10001"),
                ("split.index", index),
                ("split.count", "3"),
            ],
            1000,
        )?)?;
        part_rows.push(batches.iter().map(|b| b.num_rows()).sum::<usize>());
        parts.extend(batches);
    }
    assert_eq!(part_rows, vec![3334, 3334, 3333]);
    assert_eq!(row_multiset(&whole)?, row_multiset(&parts)?);

    // Each split's events are the whole stream's rows at its positions.
    let whole = arrow::compute::concat_batches(&whole[0].schema(), &whole)?;
    let split = drain(&mut source(
        &[
            ("events.num", "10001"),
            ("split.index", "1"),
            ("split.count", "3"),
        ],
        5000,
    )?)?;
    let split = arrow::compute::concat_batches(&split[0].schema(), &split)?;
    for (k, n) in [(0, 1), (1, 4), (3332, 9997)] {
        assert_eq!(
            split.slice(k, 1),
            whole.slice(n, 1),
            "split row {k} = event {n}"
        );
    }
    Ok(())
}

#[test]
fn proportions_are_exact_per_fifty_events() -> Result<()> {
    let batches = drain(&mut source(&[("events.num", "50000")], 4096)?)?;
    let kinds: Vec<i32> = batches
        .iter()
        .flat_map(|b| event_types(b).values().to_vec())
        .collect();
    assert_eq!(kinds.len(), 50_000);
    for (epoch, chunk) in kinds.chunks(50).enumerate() {
        // One person, then three auctions, then 46 bids.
        assert_eq!(chunk[0], 0, "epoch {epoch}");
        assert_eq!(&chunk[1..4], &[1, 1, 1], "epoch {epoch}");
        assert!(chunk[4..].iter().all(|k| *k == 2), "epoch {epoch}");
    }

    // Other proportions: 2 persons, 1 auction, 7 bids per 10 events.
    let batches = drain(&mut source(
        &[
            ("events.num", "1000"),
            ("person.proportion", "2"),
            ("auction.proportion", "1"),
            ("bid.proportion", "7"),
        ],
        1000,
    )?)?;
    let mut counts = HashMap::new();
    for kind in event_types(&batches[0]).values() {
        *counts.entry(*kind).or_insert(0) += 1;
    }
    assert_eq!(counts, HashMap::from([(0, 200), (1, 100), (2, 700)]));
    Ok(())
}

#[test]
fn exactly_one_struct_per_row_and_null_fields() -> Result<()> {
    let batches = drain(&mut source(&[("events.num", "500")], 500)?)?;
    let batch = &batches[0];
    let kinds = event_types(batch);
    let structs = [
        struct_column(batch, "person"),
        struct_column(batch, "auction"),
        struct_column(batch, "bid"),
    ];
    for row in 0..batch.num_rows() {
        for (kind, column) in structs.iter().enumerate() {
            assert_eq!(column.is_valid(row), kind as i32 == kinds.value(row));
            // A null struct's fields read as NULL too.
            for child in column.columns() {
                assert_eq!(child.is_valid(row), column.is_valid(row));
            }
        }
    }
    Ok(())
}

#[test]
fn ids_reference_generated_persons_and_auctions() -> Result<()> {
    const LEAD: i64 = 10;
    let batches = drain(&mut source(&[("events.num", "200000")], 8192)?)?;
    let (mut last_person, mut last_auction) = (999_i64, 999_i64);
    let (mut bids, mut bids_to_existing) = (0_u64, 0_u64);
    for batch in &batches {
        let kinds = event_types(batch);
        let person = struct_column(batch, "person");
        let auction = struct_column(batch, "auction");
        let bid = struct_column(batch, "bid");
        let (person_id, auction_id) = (int64_field(person, "id"), int64_field(auction, "id"));
        let (seller, category) = (
            int64_field(auction, "seller"),
            int64_field(auction, "category"),
        );
        let (bid_auction, bidder) = (int64_field(bid, "auction"), int64_field(bid, "bidder"));
        let (initial_bid, reserve) = (
            int64_field(auction, "initialbid"),
            int64_field(auction, "reserve"),
        );
        for row in 0..batch.num_rows() {
            match kinds.value(row) {
                0 => {
                    // Person ids are consecutive from FIRST_PERSON_ID.
                    assert_eq!(person_id.value(row), last_person + 1);
                    last_person += 1;
                }
                1 => {
                    assert_eq!(auction_id.value(row), last_auction + 1);
                    last_auction += 1;
                    let seller = seller.value(row);
                    assert!((1000..=last_person + LEAD).contains(&seller), "{seller}");
                    assert!((10..15).contains(&category.value(row)));
                    assert!(reserve.value(row) >= initial_bid.value(row));
                }
                _ => {
                    let (auction, bidder) = (bid_auction.value(row), bidder.value(row));
                    assert!((1000..=last_auction + LEAD).contains(&auction), "{auction}");
                    assert!((1000..=last_person + LEAD).contains(&bidder), "{bidder}");
                    bids += 1;
                    if auction <= last_auction && bidder <= last_person {
                        bids_to_existing += 1;
                    }
                }
            }
        }
    }
    assert_eq!((last_person, last_auction), (999 + 4000, 999 + 12000));
    // The leads are rare: random auctions (half the bids) are drawn among ~111 ids of which 10
    // lie ahead, random and some hot bidders reach ahead too; ~94% of bids join existing ones.
    assert!(
        bids_to_existing * 100 > bids * 92,
        "{bids_to_existing} of {bids}"
    );
    Ok(())
}

#[test]
fn event_times_follow_the_rate() -> Result<()> {
    let batches = drain(&mut source(
        &[
            ("events.num", "5000"),
            ("first-event.rate", "1000"),
            ("next-event.rate", "1000"),
            ("base-time", "1000000"),
        ],
        700,
    )?)?;
    let times: Vec<i64> = batches.iter().flat_map(event_times).collect();
    assert_eq!(times.len(), 5000);
    for (n, time) in times.iter().enumerate() {
        // 1000 events/s: event n at base + n ms.
        assert_eq!(*time, 1_000_000 + n as i64);
    }

    // Default rate (10,000/s) from the reference base time: monotone, 10 events per ms.
    let batches = drain(&mut source(&[("events.num", "3000")], 1000)?)?;
    let times: Vec<i64> = batches.iter().flat_map(event_times).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        (times[0], times[9], times[10]),
        (BASE_TIME, BASE_TIME, BASE_TIME + 1)
    );
    assert_eq!(times[2999], BASE_TIME + 299);
    Ok(())
}

#[tokio::test]
async fn events_num_bounds_the_stream() -> Result<()> {
    let mut source = create_source(spec(&[("events.num", "1234")], 500))?;
    let mut sizes = Vec::new();
    loop {
        match source.next().await? {
            SourceEvent::Batch { rows, bad_rows } => {
                assert!(bad_rows.is_empty());
                sizes.push(rows.num_rows());
            }
            SourceEvent::End => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sizes, vec![500, 500, 234]);
    assert!(matches!(source.next().await?, SourceEvent::End));
    let counters = source.counters();
    assert_eq!(
        counters.rows.load(std::sync::atomic::Ordering::Relaxed),
        1234
    );
    assert!(counters.bytes.load(std::sync::atomic::Ordering::Relaxed) > 1234 * 50);

    // With keep-alive the source stays idle instead of ending; stop-at pauses it early.
    let mut kept = create_source(spec(&[("events.num", "10"), ("keep-alive", "true")], 100))?;
    assert!(matches!(kept.next().await?, SourceEvent::Batch { .. }));
    assert!(matches!(kept.next().await?, SourceEvent::Idle));
    let mut stopped = create_source(spec(&[("events.num", "100"), ("stop-at", "30")], 100))?;
    match stopped.next().await? {
        SourceEvent::Batch { rows, .. } => assert_eq!(rows.num_rows(), 30),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(stopped.next().await?, SourceEvent::Idle));
    Ok(())
}

#[test]
fn unknown_and_unparsable_options_are_errors() {
    let error = source(&[("events.num", "10"), ("rows-per-second", "5")], 100)
        .expect_err("unknown option")
        .to_string();
    assert!(error.contains("'rows-per-second'"), "{error}");

    let error = source(&[("first-event.rate", "${TPS}")], 100)
        .expect_err("placeholder")
        .to_string();
    assert!(
        error.contains("${TPS}") && error.contains("first-event.rate"),
        "{error}"
    );

    let error = source(&[("split.index", "3"), ("split.count", "3")], 100)
        .expect_err("split")
        .to_string();
    assert!(error.contains("split.index"), "{error}");
}

#[test]
fn schema_is_matched_by_name_with_any_time_unit() -> Result<()> {
    // Mixed case, reordered, a subset, microseconds, a string view.
    let bid = Fields::from(vec![
        Field::new(
            "dateTime",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("Price", DataType::Int64, true),
        Field::new("channel", DataType::Utf8View, true),
    ]);
    let person = Fields::from(vec![
        Field::new("emailAddress", DataType::Utf8, true),
        Field::new(
            "dateTime",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("bid", DataType::Struct(bid), true),
        Field::new("EVENT_TYPE", DataType::Int64, true),
        Field::new("person", DataType::Struct(person), true),
    ]));
    let mut source = NexmarkSource::new(spec_with_schema(
        schema.clone(),
        &[("events.num", "100")],
        100,
    ))?;
    let batch = source.generate_batch()?.expect("a batch");
    assert_eq!(batch.schema(), schema);
    let person = batch.column(2).as_struct();
    let person_time: &TimestampMicrosecondArray = person.column(1).as_primitive();
    assert_eq!(person_time.value(0), BASE_TIME * 1000);
    assert_eq!(person.column(0).as_string::<i32>().value(0), "nhd@xcat.com");
    let bid = batch.column(0).as_struct();
    let bid_time: &TimestampMicrosecondArray = bid.column(0).as_primitive();
    assert_eq!(bid_time.value(4), BASE_TIME * 1000);
    assert_eq!(bid.column(2).data_type(), &DataType::Utf8View);

    // Unknown columns/fields and non-nullable structs are refused at creation.
    let refuse = |fields: Vec<Field>| {
        NexmarkSource::new(spec_with_schema(Arc::new(Schema::new(fields)), &[], 100))
            .expect_err("refused")
            .to_string()
    };
    let error = refuse(vec![Field::new("price", DataType::Int64, true)]);
    assert!(error.contains("'price'"), "{error}");
    let error = refuse(vec![Field::new(
        "bid",
        DataType::Struct(Fields::from(vec![Field::new(
            "color",
            DataType::Utf8,
            true,
        )])),
        true,
    )]);
    assert!(error.contains("'color'"), "{error}");
    let error = refuse(vec![Field::new(
        "bid",
        DataType::Struct(Fields::from(vec![Field::new(
            "price",
            DataType::Int64,
            true,
        )])),
        false,
    )]);
    assert!(error.contains("nullable"), "{error}");
    Ok(())
}

/// A source producing exactly event `n` first (split `n` of `n + 1`).
fn event(n: u64) -> Result<RecordBatch> {
    let index = n.to_string();
    let count = (n + 1).to_string();
    let mut source = source(&[("split.index", &index), ("split.count", &count)], 1)?;
    Ok(source.generate_batch()?.expect("one event"))
}

/// Values printed by the reference generator (Beam, `java.util.Random(eventId)`, default
/// configuration, base time 2015-07-15) for the same event ids.
#[test]
fn fields_match_the_reference_generator() -> Result<()> {
    let first = event(0)?;
    assert_eq!(event_types(&first).value(0), 0);
    let person = struct_column(&first, "person");
    assert_eq!(int64_field(person, "id").value(0), 1000);
    assert_eq!(string_field(person, "name").value(0), "Peter Jones");
    assert_eq!(
        string_field(person, "emailaddress").value(0),
        "nhd@xcat.com"
    );
    assert_eq!(
        string_field(person, "creditcard").value(0),
        "7241 7320 9143 4888"
    );
    assert_eq!(string_field(person, "city").value(0), "Portland");
    assert_eq!(string_field(person, "state").value(0), "WY");
    assert_eq!(millis_field(person, "datetime").value(0), BASE_TIME);
    assert_eq!(
        string_field(person, "extra").value(0),
        "WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvlxtkn_ZZ^T\\mqgdjzvlkymsmfrhkfVYSXK_OY\
         [aVYVKa\\X^]RO]OYguwiduWJNQLLaMLHOTaHY_J[YKWaUOSJN_VHWXZ]`SgbnjqeVVQ\\[["
    );

    let auction_batch = event(1)?;
    let auction = struct_column(&auction_batch, "auction");
    assert_eq!(int64_field(auction, "id").value(0), 1000);
    assert_eq!(string_field(auction, "itemname").value(0), "wkx mgee");
    assert_eq!(
        string_field(auction, "description").value(0),
        "eszpqxtdxrvwmmywkmogoahf"
    );
    assert_eq!(int64_field(auction, "initialbid").value(0), 28873);
    assert_eq!(int64_field(auction, "reserve").value(0), 29448);
    assert_eq!(millis_field(auction, "datetime").value(0), BASE_TIME);
    assert_eq!(millis_field(auction, "expires").value(0), BASE_TIME + 11);
    assert_eq!(int64_field(auction, "seller").value(0), 1000);
    assert_eq!(int64_field(auction, "category").value(0), 13);
    assert!(string_field(auction, "extra")
        .value(0)
        .starts_with("zcurskufssowmihzpmZHWQM^fnleramznyyqimoheaRSWV^OjtfjhgXRa`[PVHUO"));

    let auction_batch = event(1_000_003)?;
    let auction = struct_column(&auction_batch, "auction");
    assert_eq!(int64_field(auction, "id").value(0), 61002);
    assert_eq!(string_field(auction, "itemname").value(0), "kntlf");
    assert_eq!(int64_field(auction, "initialbid").value(0), 24_415_014);
    assert_eq!(int64_field(auction, "reserve").value(0), 26_958_646);
    assert_eq!(
        millis_field(auction, "datetime").value(0),
        BASE_TIME + 100_000
    );
    assert_eq!(
        millis_field(auction, "expires").value(0),
        BASE_TIME + 100_202
    );
    assert_eq!(int64_field(auction, "seller").value(0), 21000);
    assert_eq!(int64_field(auction, "category").value(0), 10);

    // Bids: auction, bidder and price are drawn as in Beam (channel/url come after).
    for (n, auction, bidder, price, time) in [
        (4, 1000, 1001, 32_530_001, BASE_TIME),
        (5, 1000, 1009, 468_715, BASE_TIME),
        (777, 1000, 1014, 23_903_176, BASE_TIME + 77),
        (123_456_789, 7_408_400, 2_470_101, 55_171, 1_436_930_745_678),
    ] {
        let batch = event(n)?;
        assert_eq!(event_types(&batch).value(0), 2);
        let bid = struct_column(&batch, "bid");
        assert_eq!(int64_field(bid, "auction").value(0), auction, "event {n}");
        assert_eq!(int64_field(bid, "bidder").value(0), bidder, "event {n}");
        assert_eq!(int64_field(bid, "price").value(0), price, "event {n}");
        assert_eq!(millis_field(bid, "datetime").value(0), time, "event {n}");
        let channel = string_field(bid, "channel").value(0);
        let url = string_field(bid, "url").value(0);
        assert!(
            ["Google", "Facebook", "Baidu", "Apple"].contains(&channel)
                || channel.starts_with("channel-"),
            "{channel}"
        );
        assert!(url.starts_with("https://www.nexmark.com/"), "{url}");
    }
    Ok(())
}

#[test]
fn extra_pads_events_to_the_average_sizes() -> Result<()> {
    let batches = drain(&mut source(&[("events.num", "100000")], 10_000)?)?;
    let mut bytes = [0_usize; 3];
    let mut counts = [0_usize; 3];
    for batch in &batches {
        let kinds = event_types(batch);
        let person = struct_column(batch, "person");
        let auction = struct_column(batch, "auction");
        let bid = struct_column(batch, "bid");
        for row in 0..batch.num_rows() {
            let kind = kinds.value(row) as usize;
            // The reference's size estimate: 8 per number plus the string lengths.
            let size = match kind {
                0 => {
                    8 + [
                        "name",
                        "emailaddress",
                        "creditcard",
                        "city",
                        "state",
                        "extra",
                    ]
                    .iter()
                    .map(|f| string_field(person, f).value(row).len())
                    .sum::<usize>()
                }
                1 => {
                    8 + 40
                        + ["itemname", "description", "extra"]
                            .iter()
                            .map(|f| string_field(auction, f).value(row).len())
                            .sum::<usize>()
                }
                _ => 32 + string_field(bid, "extra").value(row).len(),
            };
            bytes[kind] += size;
            counts[kind] += 1;
        }
    }
    let average = |kind: usize| bytes[kind] as f64 / counts[kind] as f64;
    assert!((average(0) - 200.0).abs() < 3.0, "{}", average(0));
    assert!((average(1) - 500.0).abs() < 3.0, "{}", average(1));
    assert!((average(2) - 100.0).abs() < 1.0, "{}", average(2));
    Ok(())
}

#[tokio::test]
async fn throttle_paces_events_to_the_wall_clock() -> Result<()> {
    // 1000 events/s: event n is due n ms after the first poll.
    let mut source = source(
        &[
            ("throttle", "true"),
            ("first-event.rate", "1000"),
            ("next-event.rate", "1000"),
        ],
        100_000,
    )?;
    let start = Instant::now();
    let mut produced = 0_usize;
    let mut idle = 0;
    while start.elapsed().as_millis() < 300 {
        match source.next().await? {
            SourceEvent::Batch { rows, .. } => produced += rows.num_rows(),
            SourceEvent::Idle => idle += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = start.elapsed().as_millis() as usize;
    // Never ahead of the clock, and not far behind it.
    assert!(produced <= elapsed + 1, "{produced} events in {elapsed} ms");
    assert!(
        produced >= 200,
        "{produced} events in {elapsed} ms ({idle} idle)"
    );

    // The reference's options select pacing too.
    for pairs in [[("rate.limited", "true")], [("max-emit-speed", "false")]] {
        assert!(NexmarkSource::new(spec(&pairs, 10))?.config().throttle);
    }
    Ok(())
}

#[tokio::test]
async fn offsets_resume_the_same_stream() -> Result<()> {
    let opts = [
        ("events.num", "3000"),
        ("split.index", "1"),
        ("split.count", "2"),
    ];
    let mut original = source(&opts, 500)?;
    let _ = original.generate_batch()?;
    let offset = original.offset().expect("an offset");
    let expected = drain(&mut original)?;

    let mut resumed = source(&opts, 500)?;
    resumed.seek(&offset)?;
    assert_eq!(drain(&mut resumed)?, expected);

    // An offset of another split is refused.
    let mut other = source(&[("split.index", "0"), ("split.count", "2")], 500)?;
    assert!(other.seek(&offset).is_err());
    assert!(other.seek(&[1, 2, 3]).is_err());
    Ok(())
}

/// Generation speed, single-threaded. Run with
/// `cargo test --release --workspace nexmark_generator_speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn nexmark_generator_speed() -> Result<()> {
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // Rows per batch: DataFusion's default unless NEXMARK_BENCH_BATCH_SIZE says otherwise.
    let batch_size = setting("NEXMARK_BENCH_BATCH_SIZE", 8192);
    let events = setting("NEXMARK_BENCH_EVENTS", 10_000_000) as u64;
    let mut source = source(&[("events.num", &events.to_string())], batch_size)?;
    let start = Instant::now();
    let mut rows = 0;
    while let Some(batch) = source.generate_batch()? {
        rows += batch.num_rows();
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(rows as u64, events);
    println!(
        "nexmark generator: {events} events in batches of {batch_size} in {seconds:.3} s = {:.2} \
         million events/s",
        events as f64 / seconds / 1e6
    );
    Ok(())
}

/// All batches of a source polled through [`Source::next`] until it ends.
async fn drain_source(source: &mut dyn Source) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    loop {
        match source.next().await? {
            SourceEvent::Batch { rows, .. } => batches.push(rows),
            // The batches of a round are one generator batch.
            SourceEvent::Round { batches: round, .. } => {
                batches.push(arrow::compute::concat_batches(&round[0].schema(), &round)?)
            }
            SourceEvent::End => return Ok(batches),
            SourceEvent::Idle => {}
            SourceEvent::Changes { .. } => panic!("nexmark produced changes"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_source_delivers_the_rounds_of_one_generator() -> Result<()> {
    let opts = [("events.num", "10001")];
    // Three splits of 1000-event batches: round r is exactly the events 3000 r .. 3000 (r+1),
    // what one generator with 3000-event batches delivers as its batch r.
    let whole = drain(&mut source(&opts, 3000)?)?;
    let mut split = create_split_source(spec(&opts, 1000), 3)?;
    let rounds = drain_source(split.as_mut()).await?;
    assert_eq!(rounds.len(), whole.len());
    for (round, batch) in rounds.iter().zip(&whole) {
        assert_eq!(
            row_multiset(std::slice::from_ref(round))?,
            row_multiset(std::slice::from_ref(batch))?
        );
    }
    assert_eq!(
        split
            .counters()
            .rows
            .load(std::sync::atomic::Ordering::Relaxed),
        10001
    );

    // Resuming from the position after two rounds delivers the remaining rounds.
    let mut original = create_split_source(spec(&opts, 1000), 3)?;
    for _ in 0..2 {
        assert!(matches!(original.next().await?, SourceEvent::Round { .. }));
    }
    let offset = original.offset().expect("an offset");
    let mut resumed = create_split_source(spec(&opts, 1000), 3)?;
    resumed.seek(&offset)?;
    let rest = drain_source(resumed.as_mut()).await?;
    assert_eq!(rest.len(), rounds.len() - 2);
    for (got, expected) in rest.iter().zip(&rounds[2..]) {
        assert_eq!(
            row_multiset(std::slice::from_ref(got))?,
            row_multiset(std::slice::from_ref(expected))?
        );
    }

    // A position of another split count, or of one generator, is refused with a reason.
    let mut two = create_split_source(spec(&opts, 1000), 2)?;
    let error = two.seek(&offset).expect_err("3 splits into 2").to_string();
    assert!(error.contains("3 splits"), "{error}");
    let single = source(&opts, 1000)?.offset().expect("an offset");
    let error = two.seek(&single).expect_err("single offset").to_string();
    assert!(error.contains("number of workers"), "{error}");

    // One split, or a table that fixes its split, reads as one source.
    let fixed = [
        ("events.num", "100"),
        ("split.index", "0"),
        ("split.count", "2"),
    ];
    let mut one = create_split_source(spec(&fixed, 1000), 4)?;
    let rows: usize = drain_source(one.as_mut())
        .await?
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 50);
    Ok(())
}

/// Strings produced as `Utf8View` (the type DataFusion gives `VARCHAR`), which point into the
/// generated buffer, equal the `Utf8` strings of the same events, NULLs included (short
/// inline and long referenced values alike).
#[test]
fn string_views_equal_the_strings() -> Result<()> {
    let plain = nexmark_schema(TimeUnit::Millisecond);
    let as_view = |field: &Arc<Field>| -> Field {
        match field.data_type() {
            DataType::Utf8 => field.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => field.as_ref().clone(),
        }
    };
    let views = Arc::new(Schema::new(
        plain
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                DataType::Struct(children) => field
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Struct(children.iter().map(as_view).collect())),
                _ => as_view(field),
            })
            .collect::<Vec<_>>(),
    ));
    let opts = [("events.num", "700")];
    let expected = drain(&mut source(&opts, 256)?)?;
    let got = drain(&mut NexmarkSource::new(spec_with_schema(
        views.clone(),
        &opts,
        256,
    ))?)?;
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got.schema(), views);
        let person = got.column(1).as_struct();
        assert_eq!(person.column(1).data_type(), &DataType::Utf8View);
        for (column, want) in got.columns().iter().zip(expected.columns()) {
            let cast = arrow::compute::cast(column, want.data_type())?;
            assert_eq!(&cast, want);
        }
    }
    Ok(())
}
