//! Checkpoints: continuous queries over connector sources resume from their checkpointed
//! operator state and source offsets after a restart, instead of replaying their sources, and
//! end with the same results as an uninterrupted run.

mod common;

use common::{eventually_rows, query_rows as rows, run};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_planner::{Database, Session};
use sluice_storage::DurableOptions;

fn options() -> DurableOptions {
    DurableOptions {
        sync_writes: false,
        checkpoint_interval_ms: 0,
        ..Default::default()
    }
}

async fn open(dir: &Path) -> Arc<Database> {
    // A database dropped in this process closes its data directory once its source tasks
    // have let go of it (a task holds it while it delivers a batch): retry briefly. A crashed
    // process has no such tasks.
    let mut attempts = 0;
    loop {
        match Database::open(dir, &options()).await {
            Ok(database) => return database,
            Err(error) if attempts < 50 && error.to_string().contains("in use") => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("open {}: {error}", dir.display()),
        }
    }
}

fn append(path: &Path, values: impl Iterator<Item = i64>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open input");
    for v in values {
        writeln!(file, r#"{{"k": {}, "v": {v}}}"#, v % 7).expect("write input");
    }
}

async fn wait_for_rows(session: &mut Session, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = rows(session, "SELECT coalesce(sum(n), 0) FROM per_k").await;
        if seen == vec![expected.to_string()] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stuck at {seen:?}, want {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Per key: plain, extreme, distinct-count (two sharing one set of values) and float
/// aggregates (each kind keeps a different state; `expected` computes the same columns).
const PER_K: &str = "SELECT k, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi,
        count(DISTINCT v % 5) AS residues, CAST(sum(v * 0.5) * 2 AS BIGINT) AS doubled_halves,
        count(DISTINCT v % 5) FILTER (WHERE v > 10) AS big_residues
    FROM clicks GROUP BY k";

/// The batch results over input values `values`.
fn expected(values: &[i64]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &v in values {
        groups.entry(v % 7).or_default().push(v);
    }
    let per_k = groups
        .iter()
        .map(|(k, vs)| {
            let residues: std::collections::BTreeSet<i64> = vs.iter().map(|v| v % 5).collect();
            let big: std::collections::BTreeSet<i64> =
                vs.iter().filter(|v| **v > 10).map(|v| v % 5).collect();
            format!(
                "{k}|{}|{}|{}|{}|{}|{}|{}",
                vs.len(),
                vs.iter().sum::<i64>(),
                vs.iter().min().copied().unwrap_or_default(),
                vs.iter().max().copied().unwrap_or_default(),
                residues.len(),
                vs.iter().sum::<i64>(),
                big.len()
            )
        })
        .collect();
    let mut top: Vec<String> = groups
        .iter()
        .flat_map(|(k, vs)| {
            let mut vs = vs.clone();
            vs.sort_unstable_by(|a, b| b.cmp(a));
            vs.into_iter().take(2).map(move |v| format!("{k}|{v}"))
        })
        .collect();
    top.sort();
    let present: std::collections::BTreeSet<i64> = values.iter().copied().collect();
    let mut pairs: BTreeMap<i64, usize> = BTreeMap::new();
    for &v in values {
        if present.contains(&(v - 7)) {
            *pairs.entry(v % 7).or_default() += 1;
        }
    }
    let joined = pairs.iter().map(|(k, n)| format!("{k}|{n}")).collect();
    (per_k, top, joined)
}

/// Each view reads the file with its own source, so they catch up independently: wait for
/// each to equal the batch result.
async fn check(session: &mut Session, values: &[i64]) {
    let (per_k, top, joined) = expected(values);
    for (view, expected) in [("per_k", per_k), ("top2", top), ("pairs", joined)] {
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        eventually_rows(session, &format!("SELECT * FROM {view}"), &expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_resume_from_their_checkpoint_and_read_only_new_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("input dir");
    let first: Vec<i64> = (0..500).collect();
    append(&input.join("a.json"), first.iter().copied());
    {
        let database = open(&data).await;
        let mut session = Session::new(database.clone());
        run(
            &mut session,
            &format!(
                "CREATE TABLE clicks (k INT, v BIGINT) WITH (
                     'connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                     'source.monitor-interval' = '50 ms');
                 CREATE MATERIALIZED VIEW per_k AS {PER_K};
                 CREATE MATERIALIZED VIEW top2 AS
                     SELECT k, v FROM (
                         SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn
                         FROM clicks)
                     WHERE rn <= 2;
                 CREATE MATERIALIZED VIEW pairs AS
                     SELECT a.k, count(*) AS n FROM clicks a JOIN clicks b
                     ON a.k = b.k AND a.v = b.v + 7 GROUP BY a.k;",
                input.display()
            ),
        )
        .await;
        wait_for_rows(&mut session, first.len()).await;
        check(&mut session, &first).await;
        run(&mut session, "CHECKPOINT").await;
        drop(session);
        database.close().await.expect("close");
    }
    // While the server is down: more lines in the first file, and a new file.
    let more: Vec<i64> = (500..800).collect();
    append(&input.join("a.json"), more.iter().copied());
    let newer: Vec<i64> = (800..1000).collect();
    append(&input.join("b.json"), newer.iter().copied());
    let all: Vec<i64> = (0..1000).collect();

    let database = open(&data).await;
    let mut session = Session::new(database.clone());
    wait_for_rows(&mut session, all.len()).await;
    check(&mut session, &all).await;
    // Each query's source read only what was added after the checkpoint.
    let read = rows(
        &mut session,
        "SELECT name, source_rows FROM sluice_queries ORDER BY name",
    )
    .await;
    assert_eq!(read, vec!["pairs|500", "per_k|500", "top2|500"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_checkpoint_queries_replay_their_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("in.json");
    let values: Vec<i64> = (0..300).collect();
    append(&file, values.iter().copied());
    let create = format!(
        "CREATE TABLE clicks (k INT, v BIGINT) WITH (
             'connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         CREATE MATERIALIZED VIEW per_k AS {PER_K};",
        file.display()
    );
    {
        let database = open(&data).await;
        let mut session = Session::new(database.clone());
        run(&mut session, &create).await;
        wait_for_rows(&mut session, values.len()).await;
        // Dropped without close (as a crash would): no checkpoint was ever taken.
        drop(session);
        drop(database);
    }
    let database = open(&data).await;
    let mut session = Session::new(database);
    wait_for_rows(&mut session, values.len()).await;
    let (per_k, _, _) = expected(&values);
    assert_eq!(rows(&mut session, "SELECT * FROM per_k").await, per_k);
    assert_eq!(
        rows(&mut session, "SELECT source_rows FROM sluice_queries").await,
        vec!["300"]
    );
}

/// Window aggregates resume with their open windows: the window that was open at the
/// checkpoint closes after the restart with every row, counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_windows_resume_from_their_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("in.json");
    append(&file, 0..450);
    async fn closed_windows(session: &mut Session, want: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = rows(session, "SELECT n, dk, total, hi FROM win").await;
            if got.len() >= want {
                return got;
            }
            assert!(Instant::now() < deadline, "windows stuck at {got:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let expected = |windows: std::ops::Range<i64>| {
        let mut out: Vec<String> = windows
            .map(|w| {
                let total: i64 = (100 * w..100 * w + 100).sum();
                format!("100|7|{total}|{}", 100 * w + 99)
            })
            .collect();
        out.sort();
        out
    };
    {
        let database = open(&data).await;
        let mut session = Session::new(database.clone());
        run(
            &mut session,
            &format!(
                "CREATE TABLE clicks (
                     k INT, v BIGINT,
                     ts AS TO_TIMESTAMP_LTZ(v * 100, 3),
                     WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
                 ) WITH (
                     'connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                     'source.monitor-interval' = '50 ms');
                 CREATE MATERIALIZED VIEW win AS
                     SELECT window_start, window_end, count(*) AS n, count(DISTINCT k) AS dk,
                            sum(v) AS total, max(v) AS hi
                     FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                     GROUP BY window_start, window_end;",
                file.display()
            ),
        )
        .await;
        // Rows up to 44.9 s: the watermark (43.9 s) closed the windows ending at 10..40 s;
        // [40 s, 50 s) is open with 50 of its rows.
        assert_eq!(closed_windows(&mut session, 4).await, expected(0..4));
        drop(session);
        database.close().await.expect("close");
    }
    append(&file, 450..1000);
    let database = open(&data).await;
    let mut session = Session::new(database);
    // Rows up to 99.9 s: the watermark (98.9 s) closes the windows ending at 50..90 s.
    assert_eq!(closed_windows(&mut session, 9).await, expected(0..9));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rows(&mut session, "SELECT n, dk, total, hi FROM win").await,
        expected(0..9)
    );
    assert_eq!(
        rows(
            &mut session,
            "SELECT source_rows, late_rows FROM sluice_queries"
        )
        .await,
        vec!["550|0"]
    );
}

/// An OVER aggregate's per-partition rows survive a restart: rows read after it have frames
/// reaching into the checkpointed state (ROWS 2 PRECEDING, a running COUNT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_aggregates_resume_from_their_checkpoint() {
    async fn wait_for(session: &mut Session, expected: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = rows(session, "SELECT count(*) FROM running").await;
            if seen == vec![expected.to_string()] {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stuck at {seen:?}, want {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    /// k|v|sum of the last three values of k up to v|position of v in k.
    fn expected(values: &[i64]) -> Vec<String> {
        let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for &v in values {
            groups.entry(v % 7).or_default().push(v);
        }
        let mut out = Vec::new();
        for (k, mut vs) in groups {
            vs.sort_unstable();
            for (i, v) in vs.iter().enumerate() {
                let sum: i64 = vs[i.saturating_sub(2)..=i].iter().sum();
                out.push(format!("{k}|{v}|{sum}|{}", i + 1));
            }
        }
        out.sort();
        out
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).expect("input dir");
    let first: Vec<i64> = (0..200).collect();
    append(&input.join("a.json"), first.iter().copied());
    {
        let database = open(&data).await;
        let mut session = Session::new(database.clone());
        run(
            &mut session,
            &format!(
                "CREATE TABLE clicks (k INT, v BIGINT) WITH (
                     'connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                     'source.monitor-interval' = '50 ms');
                 CREATE MATERIALIZED VIEW running AS
                     SELECT k, v,
                            SUM(v) OVER (PARTITION BY k ORDER BY v
                                         ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s3,
                            COUNT(*) OVER (PARTITION BY k ORDER BY v) AS n
                     FROM clicks;",
                input.display()
            ),
        )
        .await;
        wait_for(&mut session, first.len()).await;
        assert_eq!(
            rows(&mut session, "SELECT * FROM running").await,
            expected(&first)
        );
        run(&mut session, "CHECKPOINT").await;
        drop(session);
        database.close().await.expect("close");
    }
    append(&input.join("a.json"), 200..300);
    let all: Vec<i64> = (0..300).collect();
    let database = open(&data).await;
    let mut session = Session::new(database.clone());
    wait_for(&mut session, all.len()).await;
    assert_eq!(
        rows(&mut session, "SELECT * FROM running").await,
        expected(&all)
    );
    let read = rows(
        &mut session,
        "SELECT name, source_rows FROM sluice_queries ORDER BY name",
    )
    .await;
    assert_eq!(read, vec!["running|100"]);
}

/// A Nexmark source read by a query with two workers runs as two splits (one generator task
/// each); the checkpoint holds both splits' positions, and after a restart the query reads
/// exactly the events after them: the final counts equal the batch query over all events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_generator_resumes_every_split_from_its_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Paced at 4000 events/s: about a second to produce, so the checkpoint falls mid-stream.
    let create = "CREATE TABLE gen (event_type INT, bid ROW<auction BIGINT, price BIGINT>)
         WITH ('connector' = 'nexmark', 'events.num' = '4000', 'first-event.rate' = '4000',
               'throttle' = 'true');
         CREATE MATERIALIZED VIEW per_kind AS
             SELECT event_type, count(*) AS n, sum(bid.price) AS total, count(DISTINCT bid.auction) AS auctions
             FROM gen GROUP BY event_type;";
    let query = "SELECT event_type, count(*) AS n, sum(bid.price) AS total,
                        count(DISTINCT bid.auction) AS auctions
                 FROM gen GROUP BY event_type ORDER BY event_type";
    {
        let database = open(&data).await;
        database.set_workers(2).await;
        let mut session = Session::new(database.clone());
        run(&mut session, create).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen: i64 = rows(&mut session, "SELECT coalesce(sum(n), 0) FROM per_kind").await[0]
                .parse()
                .expect("a count");
            if seen >= 1000 {
                break;
            }
            assert!(Instant::now() < deadline, "the source does not advance");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        run(&mut session, "CHECKPOINT").await;
        drop(session);
        database.close().await.expect("close");
    }
    let database = open(&data).await;
    let mut session = Session::new(database.clone());
    let expected = rows(&mut session, query).await;
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(expected.len(), 3, "{expected:?}");
    eventually_rows(
        &mut session,
        "SELECT * FROM per_kind ORDER BY event_type",
        &expected,
    )
    .await;
    // The restarted query generated only the events after the checkpoint (at least 1000
    // had been delivered when it was taken).
    let read: i64 = rows(&mut session, "SELECT source_rows FROM sluice_queries").await[0]
        .parse()
        .expect("a count");
    assert!(read <= 3000, "read {read} events after the restart");
}

/// A temporal join resumes with its versions and the probe rows waiting for the watermark:
/// orders read before the checkpoint but above the watermark join after the restart, with
/// versions read before it, and every order joins the rate current at its time exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_joins_resume_from_their_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (rates, orders) = (
        dir.path().join("rates.json"),
        dir.path().join("orders.json"),
    );
    // Rates: currency c{k} gets a new rate every 3 s (rate 100 * t + k); orders every 0.5 s.
    let write_rates = |seconds: std::ops::Range<i64>| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rates)
            .expect("rates");
        for t in seconds.filter(|t| t % 3 == 0) {
            for k in 0..3 {
                writeln!(
                    file,
                    r#"{{"cur": "c{k}", "rate": {}, "t": {}}}"#,
                    100 * t + k,
                    t * 1000
                )
                .expect("write");
            }
        }
    };
    let write_orders = |ids: std::ops::Range<i64>| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&orders)
            .expect("orders");
        for id in ids {
            writeln!(
                file,
                r#"{{"id": {id}, "cur": "c{}", "t": {}}}"#,
                id % 3,
                id * 500
            )
            .expect("write");
        }
    };
    // Order `id` at `id * 0.5` s joins the rate of its currency set at the latest multiple of
    // 3 s at or before that time.
    let expected = |ids: std::ops::Range<i64>| {
        let mut out: Vec<String> = ids
            .map(|id| format!("{id}|{}", 100 * (id * 500 / 3000 * 3) + id % 3))
            .collect();
        out.sort();
        out
    };
    let schema = format!(
        "CREATE TABLE rates (cur VARCHAR, rate BIGINT, t BIGINT,
             ts AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'source.monitor-interval' = '50 ms');
         CREATE TABLE orders (id BIGINT, cur VARCHAR, t BIGINT,
             ts AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
           WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                 'source.monitor-interval' = '50 ms');
         CREATE MATERIALIZED VIEW priced AS
           SELECT o.id, r.rate FROM orders AS o
             JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur;",
        rates.display(),
        orders.display()
    );
    write_rates(0..16);
    write_orders(0..31);
    {
        let database = open(&data).await;
        let mut session = Session::new(database.clone());
        run(&mut session, &schema).await;
        // Both inputs reach 15 s: the watermark (14 s) has passed orders 0..=28; orders 29
        // and 30 wait in the join's state.
        eventually_rows(
            &mut session,
            "SELECT * FROM priced",
            &to_str(&expected(0..29)),
        )
        .await;
        run(&mut session, "CHECKPOINT").await;
        drop(session);
        database.close().await.expect("close");
    }
    write_rates(16..31);
    write_orders(31..61);
    let database = open(&data).await;
    let mut session = Session::new(database);
    // Both inputs reach 30 s: the watermark (29 s) passes orders 0..=58.
    eventually_rows(
        &mut session,
        "SELECT * FROM priced",
        &to_str(&expected(0..59)),
    )
    .await;
    assert_eq!(
        rows(&mut session, "SELECT source_rows FROM sluice_queries").await,
        // Rates at 18..=30 s (5 times, 3 currencies) and orders 31..61.
        vec![(5 * 3 + 30).to_string()],
        "after the restart, only the rows appended to the files are read"
    );
}

fn to_str(rows: &[String]) -> Vec<&str> {
    rows.iter().map(String::as_str).collect()
}
