//! Connector tables end to end through a session: a JSON file source with a watermark feeding
//! window views (compared with the batch query over the same file), bad rows sent to a
//! dead-letter table, and `INSERT INTO` a filesystem sink as a continuous job.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::util::pretty::pretty_format_batches;
use sluice_planner::{Database, Session, StatementResult};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn query(session: &mut Session, sql: &str) -> Result<String, String> {
    let (results, error) = session.execute(sql).await;
    if let Some(error) = error {
        return Err(error.to_string());
    }
    Ok(results
        .into_iter()
        .filter_map(|r| match r {
            StatementResult::Query { batches, .. } => {
                Some(pretty_format_batches(&batches).unwrap().to_string())
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

async fn run(session: &mut Session, sql: &str) -> String {
    query(session, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Poll `sql` until it returns `expected` (the sources run in the background).
async fn eventually(session: &mut Session, sql: &str, expected: &str) {
    let started = Instant::now();
    loop {
        let actual = run(session, sql).await;
        if actual == expected {
            return;
        }
        if started.elapsed() > Duration::from_secs(20) {
            panic!("{sql}\nexpected:\n{expected}\nactual:\n{actual}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_windows_equal_the_batch_query() {
    let dir = temp_dir("file-windows");
    let mut lines = String::new();
    for i in 0..500 {
        // Out of order within 3 seconds, 12 bidders.
        let second = i / 4 + (i % 3);
        lines.push_str(&format!(
            "{{\"bidder\": {}, \"price\": {}, \"ts\": \"2024-01-01 00:{:02}:{:02}.000\"}}\n",
            i % 12,
            (i * 37) % 100,
            second / 60,
            second % 60
        ));
    }
    lines.push_str(
        "{\"bidder\": \"not a number\", \"price\": 1, \"ts\": \"2024-01-01 00:00:00\"}\n",
    );
    lines.push_str("this is not json\n");
    std::fs::write(dir.join("bids.json"), lines).unwrap();
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE bids (
                bidder BIGINT, price BIGINT, `ts` TIMESTAMP(3),
                WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
             ) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                     'bad-rows' = 'dead-letter');",
            dir.join("bids.json").display()
        ),
    )
    .await;
    let window_query = "SELECT window_start, window_end, bidder, SUM(price) AS total, COUNT(*) AS n
           FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
          GROUP BY window_start, window_end, bidder";
    run(
        &mut session,
        &format!("CREATE MATERIALIZED VIEW totals AS {window_query}"),
    )
    .await;
    let batch = run(
        &mut session,
        &format!("SELECT * FROM ({window_query}) ORDER BY window_start, bidder"),
    )
    .await;
    assert!(batch.lines().count() > 20, "{batch}");
    eventually(
        &mut session,
        "SELECT * FROM totals ORDER BY window_start, bidder",
        &batch,
    )
    .await;
    eventually(
        &mut session,
        "SELECT count(*) AS bad FROM bids_dead_letter",
        "+-----+\n| bad |\n+-----+\n| 2   |\n+-----+",
    )
    .await;
    // A filesystem sink fed by a continuous INSERT.
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    run(
        &mut session,
        &format!(
            "CREATE TABLE big (bidder BIGINT, price BIGINT)
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             INSERT INTO big SELECT bidder, price FROM bids WHERE price >= 98;",
            out.display()
        ),
    )
    .await;
    let expected = run(
        &mut session,
        "SELECT count(*) AS n FROM bids WHERE price >= 98",
    )
    .await;
    let expected: usize = expected
        .lines()
        .nth(3)
        .and_then(|l| l.trim_matches(|c| c == '|' || c == ' ').parse().ok())
        .unwrap();
    let started = Instant::now();
    loop {
        let written: usize = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .map(|text| text.lines().count())
            .sum();
        if written == expected {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sink wrote {written} rows, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unknown_connectors_and_options_are_named() {
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let error = query(
        &mut session,
        "CREATE TABLE t (x INT) WITH ('connector' = 'carrier-pigeon')",
    )
    .await
    .unwrap_err();
    assert!(error.contains("carrier-pigeon"), "{error}");
    run(
        &mut session,
        "CREATE TABLE g (x INT) WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'colour' = 'blue');",
    )
    .await;
    let error = query(
        &mut session,
        "CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM g",
    )
    .await
    .unwrap_err();
    assert!(error.contains("colour"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_source_does_not_hold_back_windows() {
    let dir = temp_dir("idle");
    std::fs::write(
        dir.join("slow.json"),
        "{\"v\": 1, \"ts\": \"2024-01-01 00:00:01\"}\n",
    )
    .unwrap();
    let mut fast = String::new();
    for second in 0..30 {
        fast.push_str(&format!(
            "{{\"v\": 10, \"ts\": \"2024-01-01 00:00:{second:02}\"}}\n"
        ));
    }
    std::fs::write(dir.join("fast.json"), fast).unwrap();
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    let table = |name: &str, extra: &str| {
        format!(
            "CREATE TABLE {name} (v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json'{extra});",
            dir.join(format!("{name}.json")).display()
        )
    };
    run(
        &mut session,
        &format!(
            "{}{}
             CREATE VIEW both_sources AS SELECT * FROM slow UNION ALL SELECT * FROM fast;
             CREATE MATERIALIZED VIEW sums AS
               SELECT window_start, SUM(v) AS total
                 FROM TABLE(TUMBLE(TABLE both_sources, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                GROUP BY window_start, window_end;",
            table(
                "slow",
                ", 'source.monitor-interval' = '100 ms', 'scan.watermark.idle-timeout' = '300 ms'"
            ),
            table("fast", "")
        ),
    )
    .await;
    // The tailing source stops sending after one row; once idle, the bounded source's
    // final watermark closes every window.
    eventually(
        &mut session,
        "SELECT CAST(window_start AS VARCHAR) AS w, total FROM sums ORDER BY w",
        "+---------------------+-------+\n| w                   | total |\n+---------------------+-------+\n| 2024-01-01T00:00:00 | 101   |\n| 2024-01-01T00:00:10 | 100   |\n| 2024-01-01T00:00:20 | 100   |\n+---------------------+-------+",
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// MAP columns read from JSON lines: objects become maps whose keys keep their case (keys of
/// map values are data, never folded like column names), nested maps in rows and arrays
/// too; a value that is not an object goes to the dead-letter table; a JSON file sink writes
/// the maps back as objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_objects_fill_map_columns() {
    let dir = temp_dir("json-maps");
    std::fs::write(
        dir.join("events.json"),
        "{\"id\": 1, \"labels\": {\"Env\": \"prod\", \"team\": \"a\"}, \
          \"scores\": [{\"x\": 1.5}], \"meta\": {\"counts\": {\"7\": 70}}}\n\
         {\"id\": 2, \"labels\": {}, \"scores\": [], \"meta\": {\"counts\": null}}\n\
         {\"id\": 3, \"labels\": [\"not\", \"an\", \"object\"]}\n\
         {\"id\": 4, \"labels\": null, \"scores\": [{\"y\": 2, \"z\": null}]}\n",
    )
    .unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let database = Database::new();
    let mut session = Session::new(Arc::clone(&database));
    run(
        &mut session,
        &format!(
            "CREATE TABLE events (
                id BIGINT,
                labels MAP<STRING, STRING>,
                scores ARRAY<MAP<STRING, DOUBLE>>,
                meta ROW<counts MAP<INT, BIGINT>>
             ) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json',
                     'bad-rows' = 'dead-letter');
             CREATE MATERIALIZED VIEW labelled AS
               SELECT id, labels['Env'] AS env, labels['env'] AS lower_env,
                      cardinality(labels) AS n, scores[1]['x'] AS x,
                      meta['counts'][7] AS seven
               FROM events;",
            dir.join("events.json").display()
        ),
    )
    .await;
    eventually(
        &mut session,
        "SELECT * FROM labelled ORDER BY id",
        "+----+------+-----------+---+-----+-------+\n\
         | id | env  | lower_env | n | x   | seven |\n\
         +----+------+-----------+---+-----+-------+\n\
         | 1  | prod |           | 2 | 1.5 | 70    |\n\
         | 2  |      |           | 0 |     |       |\n\
         | 4  |      |           |   |     |       |\n\
         +----+------+-----------+---+-----+-------+",
    )
    .await;
    eventually(
        &mut session,
        "SELECT count(*) AS bad FROM events_dead_letter",
        "+-----+\n| bad |\n+-----+\n| 1   |\n+-----+",
    )
    .await;
    run(
        &mut session,
        &format!(
            "CREATE TABLE copied (id BIGINT, labels MAP<STRING, STRING>, 
                                  meta ROW<counts MAP<INT, BIGINT>>)
               WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
             INSERT INTO copied SELECT id, labels, meta FROM events WHERE id = 1;",
            out.display()
        ),
    )
    .await;
    let started = Instant::now();
    let written = loop {
        let text: String = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .collect();
        if !text.is_empty() || started.elapsed() > Duration::from_secs(20) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        written.trim(),
        "{\"id\":1,\"labels\":{\"Env\":\"prod\",\"team\":\"a\"},\"meta\":{\"counts\":{\"7\":70}}}"
    );
}
