//! Interval joins: a join whose condition bounds one input's event time by the other's rows
//! forgets rows once the watermark passes their bound. The maintained views equal the batch
//! join over the rows that were not late (kept in plain tables as the oracle), after every
//! statement, for random keys, times, disorder and deletes; late rows are counted and the
//! state shrinks once the watermark moves on.

mod common;

use common::{query_rows as rows, run};

use std::sync::Arc;

use proptest::prelude::*;
use sluice_planner::{Database, Session};

/// `2024-01-01 00:00:00` plus `seconds` (0 <= seconds < 86400).
fn timestamp(seconds: i64) -> String {
    format!(
        "2024-01-01 {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

const DELAY: i64 = 30;

/// Inner join with two-sided bounds (`s.ts BETWEEN o.ts - 5 s AND o.ts + 20 s`): both
/// inputs expire and both have late rows. LEFT joins (two- and one-sided bounds): orders
/// expire, late shipments are dropped, orders never are (shipments stay: the orders'
/// unmatched rows depend on them). FULL join: nothing expires, nothing is late.
const SCHEMA: &str = "
    CREATE TABLE orders (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3),
                         WATERMARK FOR ts AS ts - INTERVAL '30' SECOND);
    CREATE TABLE shipments (id BIGINT, k VARCHAR, w BIGINT, ts TIMESTAMP(3),
                            WATERMARK FOR ts AS ts - INTERVAL '30' SECOND);
    CREATE TABLE o2 (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3));
    CREATE TABLE s2 (id BIGINT, k VARCHAR, w BIGINT, ts TIMESTAMP(3));
    CREATE TABLE s1 (id BIGINT, k VARCHAR, w BIGINT, ts TIMESTAMP(3));
    CREATE MATERIALIZED VIEW inner_join AS
      SELECT o.id AS oid, s.id AS sid, o.v, s.w FROM orders o JOIN shipments s
          ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND;
    CREATE MATERIALIZED VIEW left_join AS
      SELECT o.id AS oid, s.id AS sid, o.v + coalesce(s.w, 0) AS total FROM orders o LEFT JOIN shipments s
          ON o.k = s.k AND o.ts - INTERVAL '5' SECOND <= s.ts AND s.ts <= o.ts + INTERVAL '20' SECOND;
    CREATE MATERIALIZED VIEW one_sided AS
      SELECT o.id AS oid, s.id AS sid FROM orders o LEFT JOIN shipments s
          ON o.k = s.k AND s.ts < o.ts + INTERVAL '15' SECOND;
    CREATE MATERIALIZED VIEW full_join AS
      SELECT o.id AS oid, s.id AS sid FROM orders o FULL JOIN shipments s
          ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND;
    CREATE VIEW pairs AS
      SELECT o.v, s.w, s.ts AS sts FROM orders o JOIN shipments s
          ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND;
    CREATE MATERIALIZED VIEW pair_windows AS
      SELECT window_start, count(*) AS n, sum(v + w) AS total
        FROM TABLE(TUMBLE(TABLE pairs, DESCRIPTOR(sts), INTERVAL '20' SECOND))
       GROUP BY window_start, window_end;";

/// How far the inner join's output watermark stays behind its inputs': its largest bound
/// (`s.ts <= o.ts + 20 s`), so that no pair can fall into a window that has fired.
const JOIN_DELAY: i64 = 20;

const TWO_SIDED: &str =
    "ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND";

/// The maintained views against their batch meaning; `watermark` is the inner join's input
/// watermark (seconds), which fires the windows over its output that end at or below it
/// minus [`JOIN_DELAY`].
async fn check(session: &mut Session, watermark: Option<i64>) {
    let fired = watermark.map_or("FALSE".to_string(), |w| {
        format!(
            "ws + INTERVAL '20' SECOND <= TIMESTAMP '{}'",
            timestamp((w - JOIN_DELAY).max(0))
        )
    });
    let windows = format!(
        "SELECT ws, count(*), sum(v + w) FROM (
           SELECT o.v, s.w, date_bin(INTERVAL '20' SECOND, s.ts, TIMESTAMP '2024-01-01 00:00:00') AS ws
           FROM o2 o JOIN s2 s {TWO_SIDED}) AS p
         WHERE {fired} GROUP BY ws"
    );
    let expected = rows(session, &windows).await;
    assert_eq!(
        rows(session, "SELECT * FROM pair_windows").await,
        expected,
        "pair_windows at join watermark {watermark:?}"
    );
    check_joins(session).await;
}

async fn check_joins(session: &mut Session) {
    let cases = [
        (
            "SELECT * FROM inner_join".to_string(),
            format!("SELECT o.id, s.id, o.v, s.w FROM o2 o JOIN s2 s {TWO_SIDED}"),
        ),
        (
            "SELECT * FROM left_join".to_string(),
            format!("SELECT o.id, s.id, o.v + coalesce(s.w, 0) FROM orders o LEFT JOIN s1 s {TWO_SIDED}"),
        ),
        (
            "SELECT * FROM one_sided".to_string(),
            "SELECT o.id, s.id FROM orders o LEFT JOIN s1 s ON o.k = s.k AND s.ts < o.ts + INTERVAL '15' SECOND"
                .to_string(),
        ),
        (
            "SELECT * FROM full_join".to_string(),
            format!("SELECT o.id, s.id FROM orders o FULL JOIN shipments s {TWO_SIDED}"),
        ),
    ];
    for (view, batch) in cases {
        let expected = rows(session, &batch).await;
        assert_eq!(rows(session, &view).await, expected, "{view}");
    }
}

#[derive(Debug, Clone)]
enum Event {
    Insert {
        shipment: bool,
        key: u8,
        value: i64,
        jitter: i64,
    },
    /// Delete the row inserted `back` inserts ago.
    Delete { back: usize },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (any::<bool>(), 0..3u8, 1..50i64, -40..=40i64)
            .prop_map(|(shipment, key, value, jitter)| Event::Insert { shipment, key, value, jitter }),
        1 => (1..6usize).prop_map(|back| Event::Delete { back }),
    ]
}

/// A row of `orders` or `shipments` and which oracle tables hold it.
struct Live {
    id: usize,
    shipment: bool,
    time: i64,
    in_two_sided: bool,
    in_one_sided: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Random keys and times (4 s apart with up to 40 s of disorder against a 30 s watermark
    /// delay, so some rows are late), statements of random size into either input, deletes.
    /// With `spill`, operators get a memory budget of 1 KiB: join state and the expiry queues
    /// live on disk almost entirely.
    #[test]
    fn interval_joins_equal_their_batch_meaning(
        events in proptest::collection::vec((event(), 1..5usize), 1..60),
        spill in any::<bool>(),
    ) {
        // The budget is process-wide and read when an operator is created (the other tests
        // of this binary are indifferent to it; the property tests take turns).
        let _budget = SPILL_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            common::operator_budget(spill.then_some(1 << 10));
            let database = Database::new();
            let mut session = Session::new(Arc::clone(&database));
            run(&mut session, SCHEMA).await;
            // Each input's watermark (its highest time minus the delay); the joins see the
            // smaller one, once both inputs have one.
            let mut watermarks: [Option<i64>; 2] = [None, None];
            let join_watermark = |w: &[Option<i64>; 2]| match w {
                [Some(a), Some(b)] => Some((*a).min(*b)),
                _ => None,
            };
            let mut live: Vec<Live> = Vec::new();
            let (mut late_two, mut late_one) = (0u64, 0u64);
            let mut index = 0;
            while index < events.len() {
                let (first, size) = &events[index];
                let watermark = join_watermark(&watermarks);
                let is_late = |time: i64| watermark.is_some_and(|w| time <= w);
                if let Event::Delete { back } = first {
                    if let Some(at) = live.len().checked_sub(*back) {
                        let row = live.remove(at);
                        let (table, two, one) = if row.shipment {
                            ("shipments", "s2", Some("s1"))
                        } else {
                            ("orders", "o2", None)
                        };
                        let id = row.id;
                        run(&mut session, &format!("DELETE FROM {table} WHERE id = {id}")).await;
                        // A retraction behind the watermark is late like an insert (the
                        // retraction of a row that was late is late too).
                        if !row.in_two_sided || is_late(row.time) {
                            late_two += 1;
                        } else {
                            run(&mut session, &format!("DELETE FROM {two} WHERE id = {id}")).await;
                        }
                        if let Some(one) = one {
                            if !row.in_one_sided || is_late(row.time) {
                                late_one += 2; // left_join and one_sided
                            } else {
                                run(&mut session, &format!("DELETE FROM {one} WHERE id = {id}")).await;
                            }
                        }
                    }
                    index += 1;
                    check(&mut session, join_watermark(&watermarks)).await;
                    continue;
                }
                let Event::Insert { shipment, .. } = first else { unreachable!() };
                let shipment = *shipment;
                let (mut values, mut two, mut one) = (Vec::new(), Vec::new(), Vec::new());
                let mut max_time = None;
                for (event, _) in events.iter().skip(index).take(*size) {
                    let Event::Insert { shipment: s, key, value, jitter } = event else {
                        break;
                    };
                    if *s != shipment {
                        break;
                    }
                    let time = (600 + index as i64 * 4 + jitter).max(0);
                    let row = format!("({index}, 'k{key}', {value}, '{}')", timestamp(time));
                    let in_two_sided = !is_late(time);
                    let in_one_sided = !shipment || !is_late(time);
                    if in_two_sided { two.push(row.clone()) } else { late_two += 1 }
                    if shipment {
                        if in_one_sided { one.push(row.clone()) } else { late_one += 2 }
                    }
                    values.push(row);
                    live.push(Live { id: index, shipment, time, in_two_sided, in_one_sided });
                    max_time = max_time.max(Some(time));
                    index += 1;
                }
                let (table, two_table) = if shipment { ("shipments", "s2") } else { ("orders", "o2") };
                run(&mut session, &format!("INSERT INTO {table} VALUES {}", values.join(", "))).await;
                if !two.is_empty() {
                    run(&mut session, &format!("INSERT INTO {two_table} VALUES {}", two.join(", "))).await;
                }
                if !one.is_empty() {
                    run(&mut session, &format!("INSERT INTO s1 VALUES {}", one.join(", "))).await;
                }
                if let Some(max_time) = max_time {
                    let side = usize::from(shipment);
                    watermarks[side] = watermarks[side].max(Some(max_time - DELAY));
                }
                check(&mut session, join_watermark(&watermarks)).await;
            }
            let late = |name: &str| format!("SELECT late_rows FROM sluice_queries WHERE name = '{name}'");
            let inner: u64 = rows(&mut session, &late("inner_join")).await[0].parse().unwrap();
            let left: u64 = rows(&mut session, &late("left_join")).await[0].parse().unwrap();
            let one: u64 = rows(&mut session, &late("one_sided")).await[0].parse().unwrap();
            let full: u64 = rows(&mut session, &late("full_join")).await[0].parse().unwrap();
            assert_eq!(inner, late_two);
            // The held-back watermark lets no pair arrive after its window fired.
            let windows: u64 = rows(&mut session, &late("pair_windows")).await[0].parse().unwrap();
            assert_eq!(windows, late_two, "only the join's late rows, none at the windows");
            assert_eq!(left + one, late_one);
            assert_eq!(full, 0);
        });
    }
}

#[tokio::test]
async fn expired_rows_leave_the_state() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, SCHEMA).await;
    let insert = |table: &str, id: i64, key: &str, seconds: i64| {
        format!(
            "INSERT INTO {table} VALUES ({id}, '{key}', {id}, '{}')",
            timestamp(seconds)
        )
    };
    for i in 0..50 {
        run(&mut session, &insert("orders", i, "a", 100 + i)).await;
        run(&mut session, &insert("shipments", i, "a", 105 + i)).await;
    }
    let state = "SELECT state_rows FROM sluice_queries WHERE name = 'inner_join'";
    let before: u64 = rows(&mut session, state).await[0].parse().unwrap();
    // Both watermarks move far beyond every bound: every row expires.
    run(&mut session, &insert("orders", 1000, "z", 5000)).await;
    run(&mut session, &insert("shipments", 1000, "y", 5000)).await;
    let after: u64 = rows(&mut session, state).await[0].parse().unwrap();
    assert!(before >= 40, "state before: {before}");
    // Only the two newest rows (ahead of the watermark) remain.
    assert!(after <= 2, "state after: {after}");
    // Matches stay: every order matched the shipments within [-5 s, +20 s].
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM inner_join").await,
        rows(
            &mut session,
            &format!("SELECT count(*) FROM orders o JOIN shipments s {TWO_SIDED}")
        )
        .await
    );
    // A shipment behind the watermark is late: dropped and counted.
    run(&mut session, &insert("shipments", 2000, "a", 120)).await;
    assert_eq!(
        rows(
            &mut session,
            "SELECT late_rows FROM sluice_queries WHERE name = 'inner_join'"
        )
        .await,
        vec!["1"]
    );
    // EXPLAIN names the bounds.
    let explain = rows(
        &mut session,
        &format!(
            "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT o.id FROM orders o JOIN shipments s \
             {TWO_SIDED}"
        ),
    )
    .await;
    let text = explain.join("\n");
    assert!(text.contains("rows expire at watermark"), "{text}");
}

/// Nexmark q7's shape: bids joined with the maximum price of each 10 s window, bounded by
/// the window's end (`B.ts BETWEEN B1.ts - 10 s AND B1.ts`, `B1.ts` the window end). The
/// window end bounds the join like an event time: bids leave the state 10 s after their
/// time, windows when the watermark reaches their end.
const HIGHEST: &str = "
    SELECT B.id, B.price, B.ts FROM bids B
    JOIN (SELECT MAX(price) AS maxprice, window_end AS ts
            FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
           GROUP BY window_start, window_end) B1
      ON B.price = B1.maxprice
   WHERE B.ts BETWEEN B1.ts - INTERVAL '10' SECOND AND B1.ts";

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Rounds of bids (random prices, times up to 3 s behind a clock that advances 0 to 3 s
    /// per round, so none is late against the 4 s watermark delay), some deleted again in
    /// their round; after every round the view equals the batch query over the windows
    /// that fired. With `spill` the state lives on disk (a 1-byte budget).
    #[test]
    fn window_end_bounded_joins_equal_their_batch_meaning(
        rounds in proptest::collection::vec(
            (proptest::collection::vec((0..6i64, 0..4i64), 1..12), 0..4i64, 0..3usize),
            1..40,
        ),
        spill in any::<bool>(),
    ) {
        let _budget = SPILL_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            common::operator_budget(spill.then_some(1));
            let database = Database::new();
            let mut session = Session::new(Arc::clone(&database));
            run(&mut session, "CREATE TABLE bids (id BIGINT, price BIGINT, ts TIMESTAMP(3),
                                 WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)").await;
            run(&mut session, &format!("CREATE MATERIALIZED VIEW highest AS {HIGHEST}")).await;
            let (mut clock, mut id, mut max_time) = (100_i64, 0_i64, i64::MIN);
            for (bids, advance, deletes) in rounds {
                clock += advance;
                let first = id;
                let values: Vec<String> = bids
                    .iter()
                    .map(|(price, behind)| {
                        id += 1;
                        max_time = max_time.max(clock - behind);
                        format!("({id}, {price}, '{}')", timestamp(clock - behind))
                    })
                    .collect();
                run(&mut session, &format!("INSERT INTO bids VALUES {}", values.join(", "))).await;
                for delete in 0..deletes.min(bids.len()) {
                    let victim = first + 1 + delete as i64;
                    run(&mut session, &format!("DELETE FROM bids WHERE id = {victim}")).await;
                }
                let watermark = max_time - 4;
                let expected = rows(
                    &mut session,
                    &format!("{HIGHEST} AND B1.ts <= TIMESTAMP '{}'", timestamp(watermark)),
                )
                .await;
                prop_assert_eq!(
                    rows(&mut session, "SELECT * FROM highest").await,
                    expected,
                    "at watermark {}", watermark
                );
            }
            // Far ahead: every window but the last fires and the earlier rows all leave.
            id += 1;
            run(&mut session, &format!("INSERT INTO bids VALUES ({id}, 0, '{}')",
                                       timestamp(clock + 100))).await;
            let expected = rows(
                &mut session,
                &format!("{HIGHEST} AND B1.ts <= TIMESTAMP '{}'", timestamp(clock + 96)),
            )
            .await;
            prop_assert_eq!(rows(&mut session, "SELECT * FROM highest").await, expected);
            let state: u64 = rows(
                &mut session,
                "SELECT state_rows FROM sluice_queries WHERE name = 'highest'",
            )
            .await[0]
                .parse()
                .unwrap_or(u64::MAX);
            // The newest bid and its open window's partial maximum remain.
            prop_assert!(state <= 3, "state rows left: {}", state);
            common::operator_budget(None);
            Ok(())
        })?;
    }
}

/// Tests that set the process-wide spill budget hold this while they run.
static SPILL_BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[tokio::test]
async fn window_end_bounds_are_explained() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE bids (id BIGINT, price BIGINT, ts TIMESTAMP(3),
                            WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)",
    )
    .await;
    let text = rows(
        &mut session,
        &format!("EXPLAIN CREATE MATERIALIZED VIEW x AS {HIGHEST}"),
    )
    .await
    .join("\n");
    assert!(text.contains("left rows expire at watermark"), "{text}");
    assert!(text.contains("right rows expire at watermark"), "{text}");
}

/// Outer interval joins over streams (file sources: append-only) follow Flink's emission:
/// the view holds a row's matches as they arrive and its NULL-padded row only once its
/// interval has passed, never one it retracts later; both inputs' rows leave the state, and
/// a window over the LEFT join's outer time column emits on the watermark.
const STREAM_VIEWS: &[(&str, &str)] = &[
    (
        "left_stream",
        "SELECT o.id AS oid, s.id AS sid FROM orders o LEFT JOIN shipments s
             ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND",
    ),
    (
        "right_stream",
        "SELECT o.id AS oid, s.id AS sid, s.w FROM orders o RIGHT JOIN shipments s
             ON o.k = s.k AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND AND o.v < s.w",
    ),
    (
        "full_stream",
        "SELECT o.id AS oid, s.id AS sid FROM orders o FULL JOIN shipments s
             ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND",
    ),
    (
        "left_windows",
        "SELECT window_start, count(*) AS n, count(sid) AS matched FROM TABLE(TUMBLE(TABLE (
             SELECT o.ts AS ots, s.id AS sid FROM orders o LEFT JOIN shipments s
                 ON o.k = s.k AND s.ts BETWEEN o.ts - INTERVAL '5' SECOND AND o.ts + INTERVAL '20' SECOND),
             DESCRIPTOR(ots), INTERVAL '30' SECOND))
         GROUP BY window_start, window_end",
    ),
    (
        // A LEFT window join: a window of orders without shipments once the window closes.
        "left_window_join",
        "SELECT o.window_start, o.n AS orders, s.n AS shipments FROM
           (SELECT window_start, window_end, count(*) AS n
              FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '20' SECOND))
             GROUP BY window_start, window_end) o
         LEFT JOIN
           (SELECT window_start, window_end, count(*) AS n
              FROM TABLE(TUMBLE(TABLE shipments, DESCRIPTOR(ts), INTERVAL '20' SECOND))
             WHERE w > 10 GROUP BY window_start, window_end) s
         ON o.window_start = s.window_start AND o.window_end = s.window_end",
    ),
];

/// The batch meaning of [`STREAM_VIEWS`], over the plain tables holding the files' rows.
fn stream_oracle(query: &str) -> String {
    let bucket = "date_bin(INTERVAL '20' SECOND, ts, TIMESTAMP '2024-01-01 00:00:00')";
    let query = query
        .replace("FROM orders o", "FROM orders_t o")
        .replace("JOIN shipments s", "JOIN shipments_t s");
    let query = ["orders", "shipments"].iter().fold(query, |query, table| {
        query.replace(
            &format!("TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(ts), INTERVAL '20' SECOND))"),
            &format!(
                "(SELECT *, {bucket} AS window_start, {bucket} + INTERVAL '20' SECOND AS window_end \
                 FROM {table}_t) AS t"
            ),
        )
    });
    // The window's rows: the join's rows by the 30 s bucket of the order's time.
    match query.split_once("FROM TABLE(TUMBLE(TABLE (") {
        Some((select, rest)) => {
            let (join, _) = rest.split_once("),").expect("the window's query");
            format!(
                "{select} FROM (SELECT date_bin(INTERVAL '30' SECOND, ots, \
                 TIMESTAMP '2024-01-01 00:00:00') AS window_start, sid FROM ({join}) AS j) AS w \
                 GROUP BY window_start"
            )
        }
        None => query,
    }
}

async fn outer_stream_scenario(
    orders: &[(u8, i64, i64)],
    shipments: &[(u8, i64, i64)],
    workers: usize,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, rows: &[(u8, i64, i64)], value: &str| {
        let path = dir.path().join(name);
        let lines: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(id, (key, v, time))| {
                format!(
                    r#"{{"id": {id}, "k": "k{key}", "{value}": {v}, "ts": "{}"}}"#,
                    timestamp(*time)
                )
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("write input");
        path
    };
    let orders_file = write("orders.json", orders, "v");
    let shipments_file = write("shipments.json", shipments, "w");
    let database = Database::new();
    database.set_workers(workers).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE orders (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3),
                                  WATERMARK FOR ts AS ts - INTERVAL '30' SECOND)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             CREATE TABLE shipments (id BIGINT, k VARCHAR, w BIGINT, ts TIMESTAMP(3),
                                     WATERMARK FOR ts AS ts - INTERVAL '30' SECOND)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             CREATE TABLE orders_t (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3));
             CREATE TABLE shipments_t (id BIGINT, k VARCHAR, w BIGINT, ts TIMESTAMP(3));",
            orders_file.display(),
            shipments_file.display()
        ),
    )
    .await;
    for (table, rows) in [("orders_t", orders), ("shipments_t", shipments)] {
        if rows.is_empty() {
            continue;
        }
        let values: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(id, (key, v, time))| format!("({id}, 'k{key}', {v}, '{}')", timestamp(*time)))
            .collect();
        run(
            &mut session,
            &format!("INSERT INTO {table} VALUES {}", values.join(", ")),
        )
        .await;
    }
    for (name, query) in STREAM_VIEWS {
        let plan = rows(
            &mut session,
            &format!("EXPLAIN CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await
        .join("\n");
        assert!(plan.contains("emitted when they expire"), "{name}: {plan}");
        run(
            &mut session,
            &format!("CREATE MATERIALIZED VIEW {name} AS {query}"),
        )
        .await;
    }
    // The files end: the sources' last watermark passes every bound. No row is late (each
    // file's disorder stays within its watermark delay).
    for (name, query) in STREAM_VIEWS {
        let expected = rows(&mut session, &stream_oracle(query)).await;
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        common::eventually_rows(&mut session, &format!("SELECT * FROM {name}"), &expected).await;
    }
    let stats = rows(
        &mut session,
        "SELECT name, late_rows, state_rows FROM sluice_queries
          WHERE name LIKE '%stream' OR name = 'left_window_join' ORDER BY name",
    )
    .await;
    assert_eq!(
        stats,
        vec![
            "full_stream|0|0",
            "left_stream|0|0",
            "left_window_join|0|0",
            "right_stream|0|0"
        ],
        "nothing late, and every row left the joins' state"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random keys, values and times (4 s apart, up to 12 s of disorder under a 30 s
    /// watermark delay), one or two workers: every view equals its batch query at the end.
    /// With `spill`, a 1-byte operator budget keeps the joins' rows, their unmatched rows
    /// and the expiry queues on disk.
    #[test]
    fn outer_interval_joins_over_streams_equal_their_batch_meaning(
        orders in proptest::collection::vec((0..4u8, 0..20i64, -12..=12i64), 0..40),
        shipments in proptest::collection::vec((0..4u8, 0..20i64, -12..=12i64), 0..40),
        workers in 1..=2usize,
        spill in any::<bool>(),
    ) {
        let _budget = SPILL_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        common::operator_budget(spill.then_some(1));
        let times = |rows: Vec<(u8, i64, i64)>| -> Vec<(u8, i64, i64)> {
            rows.into_iter()
                .enumerate()
                .map(|(i, (k, v, jitter))| (k, v, 600 + i as i64 * 4 + jitter))
                .collect()
        };
        let (orders, shipments) = (times(orders), times(shipments));
        common::block_on(outer_stream_scenario(&orders, &shipments, workers));
        common::operator_budget(None);
    }
}

/// Emission is on expiry: while an order's interval is open, it is not in the LEFT join's
/// view unmatched; a match arriving later does not retract anything. Tails a directory
/// (`source.monitor-interval`), so the watermark moves with what is written.
#[tokio::test]
async fn unmatched_rows_wait_for_their_interval_to_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (orders, shipments) = (dir.path().join("orders"), dir.path().join("shipments"));
    std::fs::create_dir_all(&orders).expect("dir");
    std::fs::create_dir_all(&shipments).expect("dir");
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE orders (id BIGINT, k VARCHAR, ts TIMESTAMP(3),
                                  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                       'source.monitor-interval' = '20 ms');
             CREATE TABLE shipments (id BIGINT, k VARCHAR, ts TIMESTAMP(3),
                                     WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                       'source.monitor-interval' = '20 ms');
             CREATE MATERIALIZED VIEW open_orders AS
               SELECT o.id AS oid, s.id AS sid, o.ts FROM orders o LEFT JOIN shipments s
                 ON o.k = s.k AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND;",
            orders.display(),
            shipments.display()
        ),
    )
    .await;
    let line = |id: i64, key: &str, seconds: i64| {
        format!(
            r#"{{"id": {id}, "k": "{key}", "ts": "{}"}}"#,
            timestamp(seconds)
        )
    };
    let write = |dir: &std::path::Path, name: &str, lines: &[String]| {
        // Written aside and renamed, so the source never reads half a file.
        let tmp = dir.with_extension("tmp");
        std::fs::write(&tmp, lines.join("\n") + "\n").expect("write");
        std::fs::rename(&tmp, dir.join(name)).expect("rename");
    };
    write(&orders, "1.json", &[line(1, "a", 100), line(2, "b", 100)]);
    write(&shipments, "1.json", &[line(10, "a", 105)]);
    // Order 1 matched; order 2's interval (until 110 s) is open at watermark 99 s.
    common::eventually_rows(&mut session, "SELECT oid, sid FROM open_orders", &["1|10"]).await;
    // Both inputs move to 108 s: order 2 still open, shipment 11 matches it.
    write(&orders, "2.json", &[line(3, "c", 109)]);
    write(&shipments, "2.json", &[line(11, "b", 109)]);
    common::eventually_rows(
        &mut session,
        "SELECT oid, sid FROM open_orders",
        &["1|10", "2|11"],
    )
    .await;
    // Past 119 s: order 3's interval passed unmatched; it appears padded, with its time.
    write(&orders, "3.json", &[line(4, "d", 130)]);
    write(&shipments, "3.json", &[line(12, "e", 130)]);
    common::eventually_rows(
        &mut session,
        "SELECT oid, sid, ts FROM open_orders",
        &[
            "1|10|2024-01-01T00:01:40",
            "2|11|2024-01-01T00:01:40",
            "3|NULL|2024-01-01T00:01:49",
        ],
    )
    .await;
}
