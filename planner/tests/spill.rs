//! Operator state larger than its memory budget: with a budget of 256 KiB per operator
//! instance, a join over tens of thousands of distinct keys and an aggregate over tens of
//! thousands of groups (every kind of call state: retractable accumulators, ordered min/max,
//! count DISTINCT, exact float sums, recomputed multisets) and a top-N over as many
//! partitions spill most of their state to disk, as do the rows of keyed tables and views,
//! and still maintain exactly the batch result under inserts, updates and deletes, across a
//! checkpoint and restore. (Its own test binary: the budget is process-wide.)

mod common;

use std::sync::Arc;

use sluice_planner::{Database, Session};
use sluice_storage::DurableOptions;

async fn run(session: &mut Session, sql: &str) {
    let (_, error) = session.execute(sql).await;
    let head: String = sql.chars().take(200).collect();
    assert!(error.is_none(), "{head}..: {error:?}");
}

async fn rows(session: &mut Session, sql: &str) -> Vec<String> {
    common::query_rows(session, sql).await
}

const KEYS: u64 = 30_000;

async fn check(session: &mut Session) {
    let view = rows(session, "SELECT * FROM joined").await;
    let batch = rows(session, "SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k").await;
    assert_eq!(view.len(), batch.len());
    assert!(view == batch, "the view differs from the batch join");
    let counts = rows(session, "SELECT * FROM per_group").await;
    let batch = rows(
        session,
        "SELECT a.k % 1000, count(*), sum(b.w) FROM a LEFT JOIN b ON a.k = b.k GROUP BY a.k % 1000",
    )
    .await;
    assert!(
        counts == batch,
        "the aggregate differs from the batch query"
    );
    let groups = rows(session, "SELECT * FROM per_key ORDER BY k").await;
    let batch = rows(session, PER_KEY_BATCH).await;
    assert_eq!(groups.len(), batch.len());
    assert!(
        groups == batch,
        "the per-key aggregate differs from the batch query"
    );
    // Rows without a key (the view projects the keys away): a multiset, spilled once large.
    let mut unkeyed = rows(session, "SELECT * FROM unkeyed").await;
    let mut batch = rows(session, "SELECT a.v, b.w FROM a JOIN b ON a.k = b.k").await;
    unkeyed.sort();
    batch.sort();
    assert_eq!(unkeyed.len(), batch.len());
    assert!(
        unkeyed == batch,
        "the unkeyed view differs from the batch join"
    );
    let top = rows(session, "SELECT * FROM top_per_pair").await;
    let batch = rows(session, TOP_PER_PAIR).await;
    assert_eq!(top.len(), batch.len());
    assert!(top == batch, "the top-N view differs from the batch query");
}

/// Top-2 rows per pair of keys (15 000 partitions) of a table, which updates and deletes
/// change: the operator keeps every row of each partition.
const TOP_PER_PAIR: &str = "SELECT p, k, v, rn FROM (
    SELECT a.k / 2 AS p, a.k AS k, a.v AS v,
           ROW_NUMBER() OVER (PARTITION BY a.k / 2 ORDER BY a.v DESC, a.k) AS rn
      FROM a) AS ranked WHERE rn <= 2";

/// One group per key of `a` (tens of thousands), with one call of each kind of state.
const PER_KEY: &str = "SELECT a.k AS k, count(*) AS n, sum(b.w) AS total, max(a.v) AS top,
    count(DISTINCT b.w % 7) AS kinds, avg(CAST(b.w AS DOUBLE) / 3) AS mean,
    string_agg(CAST(b.w AS VARCHAR), ',' ORDER BY b.w) AS ws
  FROM a LEFT JOIN b ON a.k / 2 = b.k / 2 GROUP BY a.k";

const PER_KEY_BATCH: &str = "SELECT a.k AS k, count(*) AS n, sum(b.w) AS total, max(a.v) AS top,
    count(DISTINCT b.w % 7) AS kinds, avg(CAST(b.w AS DOUBLE) / 3) AS mean,
    string_agg(CAST(b.w AS VARCHAR), ',' ORDER BY b.w) AS ws
  FROM a LEFT JOIN b ON a.k / 2 = b.k / 2 GROUP BY a.k ORDER BY k";

/// `count` rows `(k, value)` for keys `start..start + count`, as VALUES text.
fn values(start: u64, count: u64, value: impl Fn(u64) -> String) -> String {
    (start..start + count)
        .map(|k| format!("({k}, {})", value(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A window aggregate over HOP windows holds every open window's groups (Nexmark q5's
/// shape): 10 000 keys in 5 open windows against one budget for all of them spill, and the
/// windows, once closed, equal the batch query.
async fn hopping_windows_share_one_budget(session: &mut Session) {
    const HOPPED: &str = "SELECT window_start, window_end, k, count(*) AS n, sum(k) AS total
        FROM TABLE(HOP(TABLE e, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '5' SECOND))
       GROUP BY window_start, window_end, k";
    run(
        session,
        &format!(
            "CREATE TABLE e (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '10' SECOND);
             CREATE MATERIALIZED VIEW hopped AS {HOPPED};"
        ),
    )
    .await;
    for start in (0..10_000u64).step_by(5_000) {
        let rows = (start..start + 5_000)
            .map(|k| {
                format!(
                    "({k}, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{}' MILLISECOND)",
                    k % 900
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        run(session, &format!("INSERT INTO e VALUES {rows}")).await;
    }
    let on_disk = rows(
        session,
        "SELECT spilled_entries FROM sluice_queries WHERE name = 'hopped'",
    )
    .await;
    let on_disk: u64 = on_disk[0].parse().expect("a count");
    assert!(on_disk > 20_000, "hopped: {on_disk} entries on disk");
    // A row far ahead closes every window.
    run(
        session,
        "INSERT INTO e VALUES (0, TIMESTAMP '2024-01-01 00:01:00')",
    )
    .await;
    let view = rows(
        session,
        "SELECT * FROM hopped WHERE window_end < TIMESTAMP '2024-01-01 00:00:30'",
    )
    .await;
    let batch = rows(
        session,
        &format!("SELECT * FROM ({HOPPED}) t WHERE window_end < TIMESTAMP '2024-01-01 00:00:30'"),
    )
    .await;
    assert_eq!(view.len(), 50_000);
    assert!(
        view == batch,
        "the window aggregate differs from the batch query"
    );
    run(session, "DROP MATERIALIZED VIEW hopped; DROP TABLE e").await;
}

/// 256 KiB per operator instance, spilling to the process's scratch directory (in the
/// system's temporary directory, removed at the next start after this process ends): the
/// settings are process-wide, the same for every test of the binary.
fn configure_budget() {
    sluice_storage::spill::configure(sluice_storage::SpillSettings {
        budget_bytes: Some(256 << 10),
        total_bytes: None,
        dir: None,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_larger_than_its_budget_spills_and_stays_exact() {
    configure_budget();
    let data = tempfile::tempdir().expect("data dir");
    let options = DurableOptions {
        sync_writes: false,
        checkpoint_interval_ms: 0,
        ..Default::default()
    };
    let database = Database::open(data.path(), &options).await.expect("open");
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        "CREATE TABLE a (k BIGINT PRIMARY KEY, v VARCHAR);
         CREATE TABLE b (k BIGINT PRIMARY KEY, w BIGINT);
         CREATE MATERIALIZED VIEW joined AS SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k;
         CREATE MATERIALIZED VIEW unkeyed AS SELECT a.v, b.w FROM a JOIN b ON a.k = b.k;
         CREATE MATERIALIZED VIEW per_group AS
           SELECT a.k % 1000 AS g, count(*) AS n, sum(b.w) AS total
             FROM a LEFT JOIN b ON a.k = b.k GROUP BY a.k % 1000;",
    )
    .await;
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW per_key AS {PER_KEY}"),
    )
    .await;
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW top_per_pair AS {TOP_PER_PAIR}"),
    )
    .await;
    // 30 000 keys in `a`, two thirds of them in `b`, in statements of 5 000 rows: megabytes of
    // join state per view, against a budget of 256 KiB.
    for start in (0..KEYS).step_by(5_000) {
        let text = |k: u64| format!("'value of key {k} padded to make rows bigger'");
        run(
            &mut session,
            &format!("INSERT INTO a VALUES {}", values(start, 5_000, text)),
        )
        .await;
        run(
            &mut session,
            &format!(
                "INSERT INTO b SELECT * FROM (VALUES {}) AS t(k, w) WHERE k % 3 <> 0",
                values(start, 5_000, |k| (k * 7 % 101).to_string())
            ),
        )
        .await;
    }
    let (spilled, _) = sluice_storage::spill::spill_totals();
    assert!(spilled > 10_000, "spilled {spilled} entries");
    // Both the join-only view and the per-key aggregate have most of their state on disk.
    for view in ["joined", "per_key", "top_per_pair"] {
        let on_disk = rows(
            &mut session,
            &format!("SELECT spilled_entries FROM sluice_queries WHERE name = '{view}'"),
        )
        .await;
        let on_disk: u64 = on_disk[0].parse().expect("a count");
        assert!(on_disk > 10_000, "{view}: {on_disk} entries on disk");
    }
    // The rows of tables and views spill too: the per-key view's 30 000 rows, table a's,
    // and the 20 000 rows of the view without a key (a multiset past 1 MiB), against the
    // same budget; point lookups read keyed rows back.
    for relation in ["per_key", "a", "unkeyed"] {
        let on_disk = database.spilled_rows(relation).await.unwrap_or(0);
        assert!(on_disk > 10_000, "{relation}: {on_disk} rows on disk");
    }
    for k in [7, 12_345, 29_999] {
        assert_eq!(
            rows(
                &mut session,
                &format!("SELECT * FROM per_key WHERE k = {k}")
            )
            .await,
            rows(
                &mut session,
                &format!("SELECT * FROM ({PER_KEY_BATCH}) AS t WHERE k = {k}")
            )
            .await
        );
    }
    check(&mut session).await;
    hopping_windows_share_one_budget(&mut session).await;

    // Updates and deletes scattered over the key space bring spilled keys back.
    run(&mut session, "UPDATE a SET v = 'changed' WHERE k % 97 = 3").await;
    run(&mut session, "DELETE FROM b WHERE k % 13 = 5").await;
    run(&mut session, "UPDATE b SET w = w + 1000 WHERE k % 31 = 0").await;
    run(&mut session, "DELETE FROM a WHERE k % 11 = 2").await;
    let (_, reloaded) = sluice_storage::spill::spill_totals();
    assert!(reloaded > 1_000, "reloaded {reloaded} entries");
    check(&mut session).await;

    // A checkpoint writes the spilled state too; a restart restores it (and spills again).
    run(&mut session, "CHECKPOINT").await;
    drop(session);
    drop(database);
    let database = loop {
        match Database::open(data.path(), &options).await {
            Ok(database) => break database,
            Err(error) if error.to_string().contains("in use") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(error) => panic!("reopen: {error}"),
        }
    };
    let mut session = Session::new(Arc::clone(&database));
    check(&mut session).await;
    run(&mut session, "DELETE FROM b WHERE k % 5 = 1").await;
    run(
        &mut session,
        &format!(
            "INSERT INTO a VALUES {}",
            values(KEYS, 2_000, |_| "'late'".into())
        ),
    )
    .await;
    check(&mut session).await;
}

/// Entries of continuous query `view`'s operators on disk.
async fn spilled(session: &mut Session, view: &str) -> u64 {
    let sql = format!("SELECT spilled_entries FROM sluice_queries WHERE name = '{view}'");
    rows(session, &sql).await[0]
        .parse::<u64>()
        .expect("a count")
}

/// Reopen the database in `data` (the previous one's lock goes with its last handle).
async fn reopen(data: &std::path::Path, options: &DurableOptions) -> Arc<Database> {
    loop {
        match Database::open(data, options).await {
            Ok(database) => return database,
            Err(error) if error.to_string().contains("in use") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(error) => panic!("reopen: {error}"),
        }
    }
}

/// Lines of JSON events: key `k` (for `keys`) with value `k * 7 % 101`, padded.
fn event_lines(keys: impl Iterator<Item = u64>) -> String {
    keys.map(|k| {
        format!(
            r#"{{"k": {k}, "v": {}, "pad": "an event of key {k} padded to make rows bigger"}}"#,
            k * 7 % 101
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
        + "\n"
}

/// Write `text` as file `name` of `dir`, aside and renamed (a source never reads half).
fn drop_file(dir: &std::path::Path, name: &str, text: &str) {
    let tmp = dir.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

/// Checkpoints of state larger than memory: continuous queries over file sources (which
/// resume from their checkpoint, unlike queries over durable tables, which are recomputed)
/// hold 30 000 groups and a join's 50 000 rows, mostly on disk. A checkpoint streams that
/// state in records beside the query's entry (which stays a few kilobytes: nothing is
/// gathered in one buffer); a restart puts the spilled part back on disk unread, the sources
/// resume from their offsets (the first files are gone by then: nothing is read twice), and
/// the views stay exact as more input arrives. Open session windows hold every event across
/// the restart too, in records of a few thousand rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_stream_state_larger_than_memory() {
    configure_budget();
    let data = tempfile::tempdir().expect("data dir");
    let input = tempfile::tempdir().expect("input dir");
    let (events, dims) = (input.path().join("events"), input.path().join("dims"));
    std::fs::create_dir_all(&events).expect("dir");
    std::fs::create_dir_all(&dims).expect("dir");
    let options = DurableOptions {
        sync_writes: false,
        checkpoint_interval_ms: 0,
        ..Default::default()
    };
    let database = reopen(data.path(), &options).await;
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE events (k BIGINT, v BIGINT, pad VARCHAR, ts AS TO_TIMESTAMP_LTZ(k, 3),
                                  WATERMARK FOR ts AS ts - INTERVAL '1' HOUR)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                       'source.monitor-interval' = '20 ms');
             CREATE TABLE dims (k BIGINT, w BIGINT)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                       'source.monitor-interval' = '20 ms');
             CREATE MATERIALIZED VIEW by_key AS
               SELECT k, count(*) AS n, sum(v) AS total, max(pad) AS pad
                 FROM events GROUP BY k;
             CREATE MATERIALIZED VIEW enriched AS
               SELECT e.k, e.v, e.pad, d.w FROM events e JOIN dims d ON e.k = d.k;
             CREATE MATERIALIZED VIEW sessions AS
               SELECT k, count(*) AS n
                 FROM TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts),
                                    INTERVAL '1' SECOND))
                GROUP BY k, window_start, window_end;",
            events.display(),
            dims.display()
        ),
    )
    .await;
    drop_file(&events, "1.json", &event_lines(0..KEYS));
    let dim_lines: String = (0..KEYS)
        .filter(|k| k % 3 != 0)
        .map(|k| format!(r#"{{"k": {k}, "w": {}}}"#, k % 13))
        .collect::<Vec<_>>()
        .join("\n");
    drop_file(&dims, "1.json", &(dim_lines + "\n"));

    // What the views must hold: events of keys 0..KEYS once (then every third key again),
    // joined with the dimension of every key not divisible by 3.
    let expected = |second_round: bool| {
        let events: Vec<u64> = (0..KEYS)
            .chain((0..KEYS).step_by(3).filter(|_| second_round))
            .collect();
        let total: u64 = events.iter().map(|k| k * 7 % 101).sum();
        let joined: Vec<&u64> = events.iter().filter(|k| *k % 3 != 0).collect();
        let w: u64 = joined.iter().map(|k| *k % 13).sum();
        (
            format!("{KEYS}|{}|{total}", events.len()),
            format!("{}|{w}", joined.len()),
        )
    };
    let by_key = "SELECT count(*), sum(n), sum(total) FROM by_key";
    let enriched = "SELECT count(*), sum(w) FROM enriched";
    let (groups, pairs) = expected(false);
    common::eventually_rows(&mut session, by_key, &[&groups]).await;
    common::eventually_rows(&mut session, enriched, &[&pairs]).await;
    for view in ["by_key", "enriched"] {
        let on_disk = spilled(&mut session, view).await;
        assert!(on_disk > 10_000, "{view}: {on_disk} entries on disk");
    }
    run(&mut session, "CHECKPOINT").await;
    let (_, full, _) = database.checkpoint_stats();
    assert!(full > 4 << 20, "the first checkpoint wrote {full} bytes");
    // Checkpoints are incremental: with nothing changed, one writes the entries in memory
    // (at most the budget per operator) and refers to the streams of the state on disk.
    run(&mut session, "CHECKPOINT").await;
    let (checkpoints, unchanged, _) = database.checkpoint_stats();
    assert_eq!(checkpoints, 2);
    eprintln!("checkpoint bytes: first {full}, with nothing changed {unchanged}");
    assert!(
        unchanged < full / 4,
        "{unchanged} bytes for unchanged state, {full} for the first checkpoint"
    );
    drop(session);
    drop(database);

    // The entries hold definitions, offsets and stream references; the state is in streams.
    let durable = loop {
        match sluice_storage::Durable::open(data.path(), &options) {
            Ok(durable) => break durable,
            Err(error) if error.to_string().contains("in use") => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(error) => panic!("open: {error}"),
        }
    };
    for view in ["by_key", "enriched"] {
        let entry = durable
            .checkpoint_entry(format!("q/{view}").as_bytes())
            .expect("read")
            .expect("checkpointed");
        assert!(entry.len() < 16 << 10, "{view}: {} bytes", entry.len());
    }
    drop(durable);

    // Restored, not recomputed: the files read before the checkpoint are gone.
    std::fs::remove_file(events.join("1.json")).expect("remove");
    std::fs::remove_file(dims.join("1.json")).expect("remove");
    let database = reopen(data.path(), &options).await;
    let mut session = Session::new(Arc::clone(&database));
    assert!(spilled(&mut session, "by_key").await > 10_000);
    assert_eq!(rows(&mut session, by_key).await, vec![groups]);
    assert_eq!(rows(&mut session, enriched).await, vec![pairs]);
    drop_file(&events, "2.json", &event_lines((0..KEYS).step_by(3)));
    let (groups, pairs) = expected(true);
    common::eventually_rows(&mut session, by_key, &[&groups]).await;
    common::eventually_rows(&mut session, enriched, &[&pairs]).await;
    assert_eq!(
        rows(
            &mut session,
            "SELECT n, total, pad FROM by_key WHERE k = 29994"
        )
        .await,
        vec![format!(
            "2|{}|an event of key 29994 padded to make rows bigger",
            2 * (29_994 * 7 % 101)
        )]
    );
    // The sessions (one per key, all open: the watermark is an hour behind) were held
    // across the restart, in records of the stream; a far later event closes them all.
    assert!(rows(&mut session, "SELECT * FROM sessions")
        .await
        .is_empty());
    drop_file(&events, "3.json", &event_lines(std::iter::once(10_000_000)));
    common::eventually_rows(
        &mut session,
        "SELECT count(*), sum(n) FROM sessions",
        &[&format!("{KEYS}|{}", KEYS + KEYS / 3)],
    )
    .await;
}
