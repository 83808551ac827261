//! SESSION windows (the window TVF and Flink's legacy `GROUP BY SESSION(..)`): the maintained
//! view equals its batch meaning, written as plain SQL (LAG-based session numbering) over the
//! rows that were not late, restricted to the sessions the watermark has closed.

mod common;

use common::{query_rows as rows, run};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sluice_planner::{Database, Session};
use sluice_storage::DurableOptions;

async fn error(session: &mut Session, sql: &str) -> String {
    let (_, error) = session.execute(sql).await;
    match error {
        Some(error) => error.to_string(),
        None => panic!("{sql}: expected an error"),
    }
}

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
const GAP: i64 = 10;

const SCHEMA: &str = "
    CREATE TABLE clicks (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3),
                         WATERMARK FOR ts AS ts - INTERVAL '30' SECOND);
    CREATE TABLE accepted (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3));
    CREATE MATERIALIZED VIEW sessions AS
      SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total, max(v) AS top
        FROM TABLE(SESSION(TABLE clicks PARTITION BY k, DESCRIPTOR(ts), INTERVAL '10' SECOND))
       GROUP BY k, window_start, window_end;
    CREATE MATERIALIZED VIEW legacy AS
      SELECT c.k, SESSION_START(c.ts, INTERVAL '10' SECOND) AS s,
             SESSION_END(c.ts, INTERVAL '10' SECOND) AS e, count(*) AS n
        FROM clicks c GROUP BY c.k, SESSION(c.ts, INTERVAL '10' SECOND);
    CREATE MATERIALIZED VIEW global AS
      SELECT window_start, window_end, count(*) AS n, count(DISTINCT k) AS keys
        FROM TABLE(SESSION(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
       GROUP BY window_start, window_end;";

/// The batch meaning over the rows in `accepted`: sessions per `partition` (a column list
/// with a trailing comma, or empty) closed at `watermark` (seconds).
fn oracle(partition: &str, select: &str, watermark: i64) -> String {
    format!(
        "WITH previous AS (
           SELECT *, LAG(ts) OVER (PARTITION BY {partition} 1 ORDER BY ts) AS prev FROM accepted),
         numbered AS (
           SELECT *, SUM(CASE WHEN prev IS NULL OR prev + INTERVAL '{GAP}' SECOND < ts
                              THEN 1 ELSE 0 END)
                     OVER (PARTITION BY {partition} 1 ORDER BY ts) AS sid
             FROM previous)
         SELECT {select} FROM numbered GROUP BY {partition} sid
         HAVING max(ts) + INTERVAL '{GAP}' SECOND <= TIMESTAMP '{}'",
        timestamp(watermark)
    )
}

async fn check(session: &mut Session, watermark: Option<i64>) {
    let watermark = watermark.unwrap_or(-1);
    let cases = [
        (
            "SELECT * FROM sessions",
            oracle(
                "k,",
                "k, min(ts), max(ts) + INTERVAL '10' SECOND, count(*), sum(v), max(v)",
                watermark,
            ),
        ),
        (
            "SELECT * FROM legacy",
            oracle(
                "k,",
                "k, min(ts), max(ts) + INTERVAL '10' SECOND, count(*)",
                watermark,
            ),
        ),
        (
            "SELECT * FROM global",
            oracle(
                "",
                "min(ts), max(ts) + INTERVAL '10' SECOND, count(*), count(DISTINCT k)",
                watermark,
            ),
        ),
    ];
    for (view, batch) in cases {
        let expected = if watermark < 0 {
            Vec::new()
        } else {
            rows(session, &batch).await
        };
        assert_eq!(rows(session, view).await, expected, "{view}");
    }
}

#[derive(Debug, Clone)]
enum Event {
    Insert {
        key: u8,
        value: i64,
        jitter: i64,
    },
    /// Delete the row inserted `back` inserts ago.
    Delete {
        back: usize,
    },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0..3u8, 1..50i64, -45..=45i64)
            .prop_map(|(key, value, jitter)| Event::Insert { key, value, jitter }),
        1 => (1..6usize).prop_map(|back| Event::Delete { back }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Random keys and times (increasing by 4 s per row with up to 45 s of disorder, more
    /// than the 30 s watermark delay, so some rows are late), inserted in statements of
    /// random size, with deletes: after every statement the views hold exactly the closed
    /// sessions of the batch meaning over the rows that were not late; late rows are counted.
    /// With `spill`, operators get a memory budget of 1 byte: every key's open sessions go to
    /// disk after each batch and are read back when the key changes or a session closes.
    #[test]
    fn sessions_equal_their_batch_meaning(
        events in proptest::collection::vec((event(), 1..5usize), 1..60),
        spill in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            // The budget is process-wide and read when an operator is created (the other
            // tests of this binary are indifferent to it).
            sluice_storage::spill::configure(sluice_storage::SpillSettings {
                budget_bytes: spill.then_some(1),
                total_bytes: None,
                dir: None,
            });
            let database = Database::new();
            let mut session = Session::new(Arc::clone(&database));
            run(&mut session, SCHEMA).await;
            let mut watermark: Option<i64> = None;
            // (id, time, accepted) of the rows in `clicks`.
            let mut live: Vec<(usize, i64, bool)> = Vec::new();
            let mut late = 0u64;
            let mut index = 0;
            while index < events.len() {
                let (first, size) = &events[index];
                if let Event::Delete { back } = first {
                    if let Some(at) = live.len().checked_sub(*back) {
                        let (id, time, ok) = live.remove(at);
                        run(&mut session, &format!("DELETE FROM clicks WHERE id = {id}")).await;
                        if ok && watermark.is_none_or(|w| time > w) {
                            run(&mut session, &format!("DELETE FROM accepted WHERE id = {id}")).await;
                        } else {
                            // The retraction of a row behind the watermark is late too.
                            late += 1;
                        }
                    }
                    index += 1;
                    check(&mut session, watermark).await;
                    continue;
                }
                let mut values = Vec::new();
                let mut accepted = Vec::new();
                let mut max_time = None;
                for (event, _) in events.iter().skip(index).take(*size) {
                    let Event::Insert { key, value, jitter } = event else {
                        break;
                    };
                    let time = (600 + index as i64 * 4 + jitter).max(0);
                    let row = format!("({index}, 'k{key}', {value}, '{}')", timestamp(time));
                    let ok = watermark.is_none_or(|w| time > w);
                    if ok {
                        accepted.push(row.clone());
                    } else {
                        late += 1;
                    }
                    values.push(row);
                    live.push((index, time, ok));
                    max_time = max_time.max(Some(time));
                    index += 1;
                }
                if !values.is_empty() {
                    run(&mut session, &format!("INSERT INTO clicks VALUES {}", values.join(", "))).await;
                }
                if !accepted.is_empty() {
                    run(&mut session, &format!("INSERT INTO accepted VALUES {}", accepted.join(", "))).await;
                }
                if let Some(max_time) = max_time {
                    watermark = watermark.max(Some(max_time - DELAY));
                }
                check(&mut session, watermark).await;
            }
            // A row far in the future closes every session of the other keys.
            run(&mut session, &format!("INSERT INTO clicks VALUES (-1, 'end', 0, '{}')", timestamp(80000))).await;
            run(&mut session, &format!("INSERT INTO accepted VALUES (-1, 'end', 0, '{}')", timestamp(80000))).await;
            check(&mut session, Some(80000 - DELAY)).await;
            if spill {
                // The session of key 'end' is open, and on disk.
                let on_disk = rows(
                    &mut session,
                    "SELECT spilled_entries FROM sluice_queries WHERE name = 'sessions'",
                )
                .await;
                assert_ne!(on_disk, vec!["0".to_string()], "nothing on disk");
            }
            let counted = rows(&mut session, "SELECT late_rows FROM sluice_queries WHERE name = 'sessions'").await;
            assert_eq!(counted, vec![late.to_string()]);
        });
    }
}

#[tokio::test]
async fn a_row_bridging_two_sessions_merges_them() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(&mut session, SCHEMA).await;
    let insert = |id: i64, seconds: i64| {
        format!(
            "INSERT INTO clicks VALUES ({id}, 'a', {id}, '{}')",
            timestamp(seconds)
        )
    };
    // Two sessions of `a`: [100, 110) and [118, 128); the watermark stays behind them.
    run(&mut session, &insert(1, 100)).await;
    run(&mut session, &insert(2, 118)).await;
    run(&mut session, &insert(3, 109)).await; // extends the first to [100, 119): now bridged
    run(&mut session, &insert(4, 300)).await; // watermark 270 closes it
    assert_eq!(
        rows(
            &mut session,
            "SELECT k, window_start, window_end, n, total FROM sessions"
        )
        .await,
        vec!["a|2024-01-01T00:01:40|2024-01-01T00:02:08|3|6"]
    );
    assert_eq!(
        rows(&mut session, "SELECT * FROM legacy").await,
        vec!["a|2024-01-01T00:01:40|2024-01-01T00:02:08|3"]
    );
    // Behind the watermark: late, dropped and counted.
    run(&mut session, &insert(5, 120)).await;
    assert_eq!(
        rows(
            &mut session,
            "SELECT late_rows FROM sluice_queries WHERE name = 'sessions'"
        )
        .await,
        vec!["1"]
    );
    // Ad-hoc queries run the batch meaning (every row, every session).
    assert_eq!(
        rows(
            &mut session,
            "SELECT window_start, window_end, count(*) FROM TABLE(SESSION(TABLE clicks PARTITION BY k, \
             DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end"
        )
        .await,
        vec![
            "2024-01-01T00:01:40|2024-01-01T00:02:10|4",
            "2024-01-01T00:05:00|2024-01-01T00:05:10|1"
        ]
    );
}

/// A session holds only the columns its aggregate reads (besides key and time): EXPLAIN
/// names them (`id` of `clicks (id, k, v, ts)` is never read; `v` only by the first view).
#[tokio::test]
async fn sessions_hold_only_the_columns_the_aggregate_reads() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE clicks (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3),
                              WATERMARK FOR ts AS ts - INTERVAL '30' SECOND);",
    )
    .await;
    let explain = |sql: &str| format!("EXPLAIN CREATE MATERIALIZED VIEW x AS {sql}");
    let cases = [
        (
            "SELECT k, window_start, window_end, sum(v) AS total
               FROM TABLE(SESSION(TABLE clicks PARTITION BY k, DESCRIPTOR(ts), INTERVAL '10' SECOND))
              GROUP BY k, window_start, window_end",
            "holds columns [1, 2, 3]",
        ),
        (
            "SELECT c.k, SESSION_END(c.ts, INTERVAL '10' SECOND) AS e, count(*) AS n
               FROM clicks c GROUP BY c.k, SESSION(c.ts, INTERVAL '10' SECOND)",
            "holds columns [1, 3]",
        ),
    ];
    for (sql, expected) in cases {
        let text = rows(&mut session, &explain(sql)).await.join("\n");
        assert!(text.contains(expected), "{expected} in {text}");
    }
}

#[tokio::test]
async fn unsupported_session_forms_are_named() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE clicks (k VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts);
         CREATE TABLE plain (k VARCHAR, ts TIMESTAMP(3));",
    )
    .await;
    let message = error(
        &mut session,
        "CREATE MATERIALIZED VIEW v AS SELECT k, window_start FROM TABLE(SESSION(TABLE clicks \
         PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
    )
    .await;
    assert!(message.contains("SESSION window"), "{message}");
    let message = error(
        &mut session,
        "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) FROM TABLE(SESSION(TABLE clicks \
         PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start",
    )
    .await;
    assert!(message.contains("window_end"), "{message}");
    let message = error(
        &mut session,
        "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) FROM TABLE(SESSION(TABLE plain \
         PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end",
    )
    .await;
    assert!(message.contains("event-time"), "{message}");
    let message = error(
        &mut session,
        "SELECT count(*) FROM TABLE(SESSION(TABLE clicks PARTITION BY nope, DESCRIPTOR(ts), \
         INTERVAL '1' SECOND))",
    )
    .await;
    assert!(message.contains("nope"), "{message}");
    let message = error(
        &mut session,
        "SELECT count(*) FROM TABLE(SESSION(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MONTH))",
    )
    .await;
    assert!(message.contains("fixed-length"), "{message}");
}

fn durable() -> DurableOptions {
    DurableOptions {
        sync_writes: false,
        checkpoint_interval_ms: 0,
        ..Default::default()
    }
}

fn append(path: &Path, events: &[(i64, i64)]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open input");
    for (key, seconds) in events {
        writeln!(
            file,
            r#"{{"k": {key}, "ts": "{}"}}"#,
            timestamp(*seconds).replace(' ', "T")
        )
        .expect("write input");
    }
}

/// Sessions (gap 10 s) per key of in-order `events`, closed at `watermark`: "k|start|end|n".
fn closed_sessions(events: &[(i64, i64)], watermark: i64) -> Vec<String> {
    let mut by_key: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(key, seconds) in events {
        by_key.entry(key).or_default().push(seconds);
    }
    let mut out = Vec::new();
    for (key, mut times) in by_key {
        times.sort();
        let mut sessions: Vec<(i64, i64, usize)> = Vec::new();
        for t in times {
            match sessions.last_mut() {
                Some((_, last, n)) if t - *last <= GAP => {
                    *last = t;
                    *n += 1;
                }
                _ => sessions.push((t, t, 1)),
            }
        }
        for (start, last, n) in sessions {
            if last + GAP <= watermark {
                out.push(format!(
                    "{key}|{}|{}|{n}",
                    timestamp(start).replace(' ', "T"),
                    timestamp(last + GAP).replace(' ', "T")
                ));
            }
        }
    }
    out.sort();
    out
}

async fn wait_for(session: &mut Session, expected: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = rows(session, "SELECT * FROM per_user").await;
        if seen == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "view {seen:?}, want {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Open sessions are part of the checkpoint: rows read after a restart extend and bridge the
/// sessions begun before it, with the same result as an uninterrupted run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sessions_survive_a_checkpoint_restore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("input dir");
    // Times in order; keys 0..3; sessions that span the restart.
    let all: Vec<(i64, i64)> = (0..400)
        .map(|i| (i % 3, 100 + i * 2 + (i / 7) * 15))
        .collect();
    let (first, second) = all.split_at(250);
    append(&input.join("a.json"), first);
    let watermark = |events: &[(i64, i64)]| events.iter().map(|e| e.1).max().unwrap_or(0) - 5;
    {
        let database = Database::open(&data, &durable()).await.expect("open");
        let mut session = Session::new(database.clone());
        run(
            &mut session,
            &format!(
                "CREATE TABLE clicks (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                       'source.monitor-interval' = '50 ms');
                 CREATE MATERIALIZED VIEW per_user AS
                   SELECT k, window_start, window_end, count(*) AS n
                     FROM TABLE(SESSION(TABLE clicks PARTITION BY k, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                    GROUP BY k, window_start, window_end;",
                input.display()
            ),
        )
        .await;
        wait_for(&mut session, &closed_sessions(first, watermark(first))).await;
        run(&mut session, "CHECKPOINT").await;
        drop(session);
        database.close().await.expect("close");
    }
    append(&input.join("a.json"), second);
    let database = Database::open(&data, &durable()).await.expect("reopen");
    let mut session = Session::new(database.clone());
    wait_for(&mut session, &closed_sessions(&all, watermark(&all))).await;
    let read = rows(&mut session, "SELECT source_rows FROM sluice_queries").await;
    assert_eq!(read, vec![second.len().to_string()]);
}
