//! `sluice bench nexmark`'s code path on a small event count: a stateless query (q0) and a
//! stateful one (q5: hopping windows, a join and an aggregate over them) run to the end of
//! their source, and every measurement is present and positive.

use std::time::Duration;

use sluice_server::bench::{describe_run, run_nexmark, DEFAULT_RATE, MIN_EVENTS};

const EVENTS: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_bench_runs_to_the_end() {
    for query in ["q0", "q5"] {
        let run = run_nexmark(
            query,
            EVENTS,
            DEFAULT_RATE,
            None,
            Duration::from_secs(60),
            None,
        )
        .await
        .unwrap_or_else(|error| panic!("{query}: {error}"));
        eprintln!("{}", describe_run(&run, 0, 1));
        assert_eq!(run.query, query);
        assert_eq!(run.events, EVENTS, "{query}: every event processed");
        assert!(run.elapsed > Duration::ZERO);
        assert!(run.events_per_second() > 0.0);
        assert!(run.events_per_second().is_finite());
        assert!(run.events_per_second_per_core() > 0.0);
        assert!(run.busy_cores() >= 0.0);
        let peak = run.peak_mib.expect("VmHWM is readable");
        assert!(peak > 0.0, "{query}: peak memory {peak}");
        assert_eq!(run.late_rows, 0, "{query}: no late rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_errors() {
    let timeout = Duration::from_secs(10);
    let error = run_nexmark("q6", EVENTS, DEFAULT_RATE, None, timeout, None)
        .await
        .expect_err("q6 is not known");
    assert!(error.contains("unknown query"), "{error}");
    let error = run_nexmark("q0", MIN_EVENTS - 1, DEFAULT_RATE, None, timeout, None)
        .await
        .expect_err("too few events");
    assert!(error.contains("--events"), "{error}");
}

/// `sluice bench lookup` on a small scale: every lookup finds its row, through the key index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_bench_reads_through_the_key_index() {
    let args = sluice_server::bench_lookup::LookupArgs {
        clients: 2,
        keys: 500,
        seconds: 1,
        batch: 20,
    };
    let run = sluice_server::bench_lookup::run_lookup(&args)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    eprintln!("{}", run.describe());
    assert!(run.lookups > 0);
    assert!(run.ingested_rows > 0, "ingestion ran during the lookups");
    assert_eq!(
        run.index_lookups, run.lookups,
        "every lookup used the key index"
    );
    assert!(run.p50 <= run.p99 && run.p99 <= run.max);
}
