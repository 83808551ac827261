//! Helpers shared by the planner's integration tests.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sluice_planner::{Session, StatementResult};

/// The rows of `batches` as display strings (cells joined by `separator`, NULL as `NULL`),
/// sorted: a multiset that compares equal regardless of row order.
pub fn sorted_rows<'a>(
    batches: impl IntoIterator<Item = &'a RecordBatch>,
    separator: &str,
) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formattable column"))
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            out.push(cells.join(separator));
        }
    }
    out.sort();
    out
}

/// The rows of the first result of `sql` (which must succeed), as [`sorted_rows`] with `|`.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn query_rows(session: &mut Session, sql: &str) -> Vec<String> {
    let (results, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}: {error:?}");
    let Some(StatementResult::Query { batches, .. }) = results.into_iter().next() else {
        panic!("{sql}: no rows");
    };
    sorted_rows(&batches, "|")
}

/// Poll `sql` until its rows ([`query_rows`]) are `expected`, sorted (sources run in the
/// background); fails after 20 seconds with the last rows.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn eventually_rows(session: &mut Session, sql: &str, expected: &[&str]) {
    let started = std::time::Instant::now();
    let mut expected: Vec<String> = expected.iter().map(|row| row.to_string()).collect();
    expected.sort();
    loop {
        let actual = query_rows(session, sql).await;
        if actual == expected {
            return;
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            panic!("{sql}\nexpected: {expected:?}\nactual: {actual:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Run `sql` (one or more statements), which must succeed.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn run(session: &mut Session, sql: &str) {
    let (_, error) = session.execute(sql).await;
    assert!(error.is_none(), "{sql}: {error:?}");
}

/// Run `future` to completion on a fresh two-thread runtime (for proptest bodies, which are
/// synchronous).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Give operators created from now on a memory budget of `bytes` each (`None`: unlimited).
/// The setting is process-wide: tests of one binary that set it must take turns.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn operator_budget(bytes: Option<usize>) {
    sluice_storage::spill::configure(sluice_storage::SpillSettings {
        budget_bytes: bytes,
        total_bytes: None,
        dir: None,
    });
}
