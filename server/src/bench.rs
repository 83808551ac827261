//! `sluice bench nexmark`: run a standard Nexmark query in-process and measure it.
//!
//! Each run creates a fresh in-memory [`Database`], declares the generator table of the
//! standard Flink Nexmark suite (`ddl_gen.sql`, `'connector' = 'nexmark'`, generating as fast
//! as possible: the connector paces nothing unless `throttle` is set) and its `person`,
//! `auction`, `bid` views (`ddl_views.sql`), replaces the query's sink with a
//! `'connector' = 'blackhole'` table, and starts the query's `INSERT INTO` as a continuous job.
//! The query files are the in-repo copy in `planner/src/flink/testdata/nexmark`, compiled
//! into the binary.
//!
//! When a run is over: the job's row in `sluice_queries` shows that its source produced all
//! `events.num` events, and that the source has ended. A bounded source that ends delivers the
//! maximal watermark to the job, under the same catalog write lock as its last batch was pushed
//! through the dataflow; the status table shows a maximal watermark as NULL, while after the
//! first batch (before the end) it shows a finite one. So "source rows = events and watermark
//! NULL" holds exactly once every event has gone through the dataflow, provided the source has
//! produced more than one batch before (hence [`MIN_EVENTS`]). The blackhole sink task drains
//! its channel asynchronously; discarding changes takes no measurable time, and is not waited
//! for.
//!
//! Measured per run: wall time from starting the job to observing its end; process CPU time
//! (`utime + stime` of `/proc/self/stat`) over the same interval, giving the number of cores
//! actually busy; and the peak resident memory (`VmHWM` of `/proc/self/status`), reset before
//! each run by writing `5` to `/proc/self/clear_refs` (if that is refused, the peak covers the
//! whole process so far and the output says so).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, StringArray, UInt64Array};
use sluice_planner::flink::split_script;
use sluice_planner::{Database, Session, StatementResult};

/// `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat` (100 on every Linux ABI).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Fewest events a run accepts: more than one source batch, so that the end of the source can
/// be told from "no batch processed yet" (see the module documentation).
pub const MIN_EVENTS: u64 = sluice_planner::streaming::jobs::SOURCE_BATCH_SIZE as u64 + 1;

/// Default event rate (events per second of event time): the `tps` of nexmark-flink's
/// standard workload. It only spaces the events' timestamps; generation is not paced.
pub const DEFAULT_RATE: u64 = 10_000_000;

/// The Nexmark queries this benchmark knows, in order (q6 and q13 of the suite are left out:
/// Flink itself does not run q6, and q13 needs a side-input file).
pub const QUERIES: &[&str] = &[
    "q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q9", "q10", "q11", "q12", "q14", "q15", "q16",
    "q17", "q18", "q19", "q20", "q21", "q22",
];

macro_rules! nexmark_file {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../planner/src/flink/testdata/nexmark/",
            $name
        ))
    };
}

const DDL_GEN: &str = nexmark_file!("ddl_gen.sql");
const DDL_VIEWS: &str = nexmark_file!("ddl_views.sql");

/// The text of query file `name` (`q0` .. `q22`).
pub fn query_sql(name: &str) -> Option<&'static str> {
    Some(match name {
        "q0" => nexmark_file!("q0.sql"),
        "q1" => nexmark_file!("q1.sql"),
        "q2" => nexmark_file!("q2.sql"),
        "q3" => nexmark_file!("q3.sql"),
        "q4" => nexmark_file!("q4.sql"),
        "q5" => nexmark_file!("q5.sql"),
        "q7" => nexmark_file!("q7.sql"),
        "q8" => nexmark_file!("q8.sql"),
        "q9" => nexmark_file!("q9.sql"),
        "q10" => nexmark_file!("q10.sql"),
        "q11" => nexmark_file!("q11.sql"),
        "q12" => nexmark_file!("q12.sql"),
        "q14" => nexmark_file!("q14.sql"),
        "q15" => nexmark_file!("q15.sql"),
        "q16" => nexmark_file!("q16.sql"),
        "q17" => nexmark_file!("q17.sql"),
        "q18" => nexmark_file!("q18.sql"),
        "q19" => nexmark_file!("q19.sql"),
        "q20" => nexmark_file!("q20.sql"),
        "q21" => nexmark_file!("q21.sql"),
        "q22" => nexmark_file!("q22.sql"),
        _ => return None,
    })
}

/// `sluice bench ...`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// Run Nexmark queries over the built-in generator into a blackhole sink, in-process on an
    /// in-memory database, and print throughput, CPU use and peak memory.
    Nexmark(NexmarkArgs),
    /// Point lookups by key on a materialized view from concurrent clients over the wire
    /// while another client inserts into its input: lookups/s, p50/p99 latency.
    Lookup(crate::bench_lookup::LookupArgs),
}

/// Options of `sluice bench nexmark`.
#[derive(clap::Args, Debug, Clone)]
pub struct NexmarkArgs {
    /// The query: q0 .. q22 (without q6 and q13), a comma-separated list, or `all`.
    #[arg(long)]
    pub query: String,
    /// Number of events to generate (persons, auctions and bids 1:3:46).
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Number of measured runs per query, each in a fresh database.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Event-time rate of the generator (events per second of event time; sets the
    /// timestamps, hence how many windows the events span). Generation itself is not paced.
    #[arg(long, default_value_t = DEFAULT_RATE)]
    pub rate: u64,
    /// Give up on a run after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// Parallel instances of each keyed operator (default: `SLUICE_WORKERS`, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub workers: Option<u32>,
    /// Memory budget per stateful operator instance before its keyed state spills to disk
    /// (see docs/durability.md; default: no limit).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
    pub operator_memory_mb: Option<u64>,
    /// Memory budget of all operators' keyed state together, as `sluice serve` has it
    /// (ignored with `--operator-memory-mb`; 0: no limit).
    #[arg(long, value_name = "MB", default_value_t = sluice_storage::spill::DEFAULT_STATE_MEMORY_MB)]
    pub state_memory_mb: u64,
    /// Run on a data directory (a temporary one, removed after the run) and checkpoint the
    /// query's state every N ms, as `sluice serve` does (default: in memory, no checkpoints).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_interval_ms: Option<u64>,
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct NexmarkRun {
    pub query: String,
    /// Events the source produced (= the requested count once the run is over).
    pub events: u64,
    /// From starting the job to observing that its source has ended.
    pub elapsed: Duration,
    /// Process CPU time (user + system) over the same interval.
    pub cpu: Duration,
    /// Peak resident memory in MiB (`VmHWM`), if readable.
    pub peak_mib: Option<f64>,
    /// Whether the peak was reset before this run (otherwise it covers the process so far).
    pub peak_reset: bool,
    /// Rows held in operator state at the end.
    pub state_rows: u64,
    /// Rows dropped as late.
    pub late_rows: u64,
    /// Instances of each keyed operator.
    pub workers: usize,
    /// State entries written to disk and read back from it during the run (see
    /// `sluice_storage::spill`).
    pub spilled: u64,
    pub reloaded: u64,
    /// Checkpoints committed during the run, the bytes they wrote, and the bytes of the last.
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub last_checkpoint_bytes: u64,
}

impl NexmarkRun {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Cores busy on average: CPU time over wall time.
    pub fn busy_cores(&self) -> f64 {
        self.cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Events per second per busy core.
    pub fn events_per_second_per_core(&self) -> f64 {
        self.events as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// The job's row of `sluice_queries`.
#[derive(Debug, Default)]
struct JobStatus {
    source_rows: u64,
    watermark_is_null: bool,
    state_rows: u64,
    late_rows: u64,
    status: String,
}

/// Process CPU time (user + system) so far.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), starting with field 3 (state):
    // utime is field 14, stime field 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / CLOCK_TICKS_PER_SECOND,
    ))
}

/// `VmHWM` (peak resident set size) in MiB.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Reset `VmHWM` to the current resident size; false if the kernel refused.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The sink table's `CREATE TABLE` with its `WITH (..)` (and `PARTITIONED BY`) replaced by
/// `WITH ('connector' = 'blackhole')`: everything after the column list is dropped.
pub fn blackhole_sink(create_table: &str) -> Result<String, String> {
    let mut depth = 0_usize;
    let mut quote: Option<char> = None;
    for (index, c) in create_table.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| "unbalanced parentheses in the sink table".to_string())?;
                    if depth == 0 {
                        return Ok(format!(
                            "{} WITH ('connector' = 'blackhole')",
                            &create_table[..=index]
                        ));
                    }
                }
                _ => {}
            },
        }
    }
    Err("the sink table has no column list".to_string())
}

/// A query file split into the statements to run first (sink table as a blackhole, views,
/// functions) and its `INSERT INTO`.
fn query_statements(text: &str) -> Result<(Vec<String>, String), String> {
    let statements = split_script(text).map_err(|e| e.to_string())?;
    let mut setup = Vec::new();
    let mut insert = None;
    for statement in statements {
        let sql = statement.sql.trim().to_string();
        let upper = sql.to_ascii_uppercase();
        if upper.starts_with("INSERT INTO") {
            if insert.is_some() {
                return Err("the query file has more than one INSERT INTO".into());
            }
            insert = Some(sql);
        } else if upper.starts_with("CREATE TABLE") {
            setup.push(blackhole_sink(&sql)?);
        } else {
            setup.push(sql);
        }
    }
    let insert = insert.ok_or_else(|| "the query file has no INSERT INTO".to_string())?;
    Ok((setup, insert))
}

async fn execute(session: &mut Session, sql: &str) -> Result<Vec<StatementResult>, String> {
    let (results, error) = session.execute(sql).await;
    match error {
        Some(error) => Err(format!("{error} (SQLSTATE {})", error.sqlstate())),
        None => Ok(results),
    }
}

/// The row of the single continuous query of the database.
async fn job_status(session: &mut Session) -> Result<JobStatus, String> {
    let results = execute(
        session,
        "SELECT source_rows, watermark IS NULL, state_rows, late_rows, status FROM sluice_queries",
    )
    .await?;
    let mut rows = Vec::new();
    for result in results {
        let StatementResult::Query { batches, .. } = result else {
            continue;
        };
        for batch in batches {
            let column = |i: usize| batch.column(i).as_any();
            let (
                Some(source_rows),
                Some(watermark_null),
                Some(state_rows),
                Some(late_rows),
                Some(status),
            ) = (
                column(0).downcast_ref::<UInt64Array>(),
                column(1).downcast_ref::<BooleanArray>(),
                column(2).downcast_ref::<UInt64Array>(),
                column(3).downcast_ref::<UInt64Array>(),
                column(4).downcast_ref::<StringArray>(),
            )
            else {
                return Err("sluice_queries has unexpected column types".into());
            };
            for row in 0..batch.num_rows() {
                rows.push(JobStatus {
                    source_rows: source_rows.value(row),
                    watermark_is_null: watermark_null.is_valid(row) && watermark_null.value(row),
                    state_rows: state_rows.value(row),
                    late_rows: late_rows.value(row),
                    status: status.value(row).to_string(),
                });
            }
        }
    }
    match rows.len() {
        1 => Ok(rows.pop().unwrap_or_default()),
        n => Err(format!(
            "expected one continuous query in sluice_queries, found {n}"
        )),
    }
}

/// Run Nexmark query `query` once over `events` events at event-time rate `rate`, in a fresh
/// in-memory database (with `checkpoint_ms`: on a temporary data directory, checkpointing at
/// that interval), and measure it (see the module documentation).
pub async fn run_nexmark(
    query: &str,
    events: u64,
    rate: u64,
    workers: Option<usize>,
    timeout: Duration,
    checkpoint_ms: Option<u64>,
) -> Result<NexmarkRun, String> {
    let text = query_sql(query)
        .ok_or_else(|| format!("unknown query '{query}' (known: {})", QUERIES.join(", ")))?;
    if events < MIN_EVENTS {
        return Err(format!("--events must be at least {MIN_EVENTS}"));
    }
    if rate == 0 {
        return Err("--rate must be positive".into());
    }
    let (setup, insert) = query_statements(text)?;
    let ddl = DDL_GEN
        .replace("${TPS}", &rate.to_string())
        .replace("${EVENTS_NUM}", &events.to_string())
        .replace("${PERSON_PROPORTION}", "1")
        .replace("${AUCTION_PROPORTION}", "3")
        .replace("${BID_PROPORTION}", "46");
    let views = DDL_VIEWS.replace("${NEXMARK_TABLE}", "datagen");

    let peak_reset = reset_peak_memory();
    let data_dir = match checkpoint_ms {
        Some(_) => Some(tempfile::tempdir().map_err(|e| format!("a data directory: {e}"))?),
        None => None,
    };
    let database = match (&data_dir, checkpoint_ms) {
        (Some(dir), Some(interval)) => {
            let options = sluice_storage::DurableOptions {
                checkpoint_interval_ms: interval,
                ..Default::default()
            };
            Database::open(dir.path(), &options)
                .await
                .map_err(|e| format!("open {}: {e}", dir.path().display()))?
        }
        _ => Database::new(),
    };
    if let Some(workers) = workers {
        database.set_workers(workers).await;
    }
    let mut session = Session::new(Arc::clone(&database));
    let result = async {
        execute(&mut session, &ddl)
            .await
            .map_err(|e| format!("ddl_gen.sql: {e}"))?;
        execute(&mut session, &views)
            .await
            .map_err(|e| format!("ddl_views.sql: {e}"))?;
        for statement in &setup {
            execute(&mut session, statement)
                .await
                .map_err(|e| format!("{query}: {e}"))?;
        }
        let cpu_before = process_cpu_time().unwrap_or_default();
        let spill_before = sluice_storage::spill::spill_totals();
        let started = Instant::now();
        execute(&mut session, &insert)
            .await
            .map_err(|e| format!("{query}: {e}"))?;
        let mut last_rows = 0_u64;
        let mut last_at = started;
        loop {
            let status = job_status(&mut session).await?;
            let now = Instant::now();
            if status.status != "running" {
                return Err(format!("{query}: {}", status.status));
            }
            if status.source_rows >= events && status.watermark_is_null {
                let cpu = process_cpu_time()
                    .unwrap_or_default()
                    .saturating_sub(cpu_before);
                let spill_after = sluice_storage::spill::spill_totals();
                let (checkpoints, last_checkpoint_bytes, checkpoint_bytes) =
                    database.checkpoint_stats();
                return Ok(NexmarkRun {
                    query: query.to_string(),
                    events: status.source_rows,
                    elapsed: now - started,
                    cpu,
                    peak_mib: peak_memory_mib(),
                    peak_reset,
                    state_rows: status.state_rows,
                    late_rows: status.late_rows,
                    workers: database.workers().await,
                    spilled: spill_after.0.saturating_sub(spill_before.0),
                    reloaded: spill_after.1.saturating_sub(spill_before.1),
                    checkpoints,
                    checkpoint_bytes,
                    last_checkpoint_bytes,
                });
            }
            if now - started > timeout {
                return Err(format!(
                    "{query}: not finished after {} s ({} of {events} events generated)",
                    timeout.as_secs(),
                    status.source_rows
                ));
            }
            // Poll rarely (each poll plans a query and takes the catalog lock), but often
            // near the predicted end, so the end is seen within a few ms.
            let remaining = events.saturating_sub(status.source_rows);
            let pause = if remaining == 0 {
                Duration::from_millis(1)
            } else {
                let rate = (status.source_rows - last_rows.min(status.source_rows)) as f64
                    / (now - last_at).as_secs_f64().max(1e-3);
                let predicted = if rate > 0.0 {
                    Duration::from_secs_f64(remaining as f64 / rate)
                } else {
                    Duration::from_millis(10)
                };
                (predicted / 2).clamp(Duration::from_millis(1), Duration::from_millis(200))
            };
            last_rows = status.source_rows;
            last_at = now;
            tokio::time::sleep(pause).await;
        }
    }
    .await;
    if result.is_err() {
        // Stop a job that is still running: dropping its tables drops it (and aborts its
        // source task, which holds the database).
        let _ = session
            .execute("DROP TABLE IF EXISTS datagen CASCADE")
            .await;
    }
    drop(session);
    drop(database);
    result
}

/// The median of `values` (not empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn format_peak(peak: Option<f64>) -> String {
    peak.map_or_else(|| "unknown".to_string(), |p| format!("{p:.1}"))
}

/// One human-readable line for a run.
pub fn describe_run(run: &NexmarkRun, index: usize, runs: usize) -> String {
    let mut line = format!(
        "{} run {}/{}: events={} elapsed_s={:.3} events_per_s={:.0} busy_cores={:.2} \
         events_per_s_per_core={:.0} peak_mib={} state_rows={} late_rows={} workers={} \
         spilled={} reloaded={}",
        run.query,
        index + 1,
        runs,
        run.events,
        run.elapsed.as_secs_f64(),
        run.events_per_second(),
        run.busy_cores(),
        run.events_per_second_per_core(),
        format_peak(run.peak_mib),
        run.state_rows,
        run.late_rows,
        run.workers,
        run.spilled,
        run.reloaded,
    );
    if run.checkpoints > 0 {
        line.push_str(&format!(
            " checkpoints={} checkpoint_mib={:.1} last_checkpoint_mib={:.1}",
            run.checkpoints,
            run.checkpoint_bytes as f64 / (1 << 20) as f64,
            run.last_checkpoint_bytes as f64 / (1 << 20) as f64,
        ));
    }
    if !run.peak_reset {
        line.push_str(" (peak memory not reset: covers the whole process)");
    }
    line
}

/// Run `runs` measurements of `query`; print each and a `RESULT` line.
async fn bench_query(args: &NexmarkArgs, query: &str) -> Result<(), String> {
    let mut measured = Vec::new();
    let timeout = Duration::from_secs(args.timeout);
    for index in 0..args.runs.max(1) {
        match run_nexmark(
            query,
            args.events,
            args.rate,
            args.workers.map(|w| w as usize),
            timeout,
            args.checkpoint_interval_ms,
        )
        .await
        {
            Ok(run) => {
                println!("{}", describe_run(&run, index, args.runs.max(1)));
                measured.push(run);
            }
            Err(error) => {
                let message = error.replace('"', "'");
                println!(
                    "RESULT query={query} events={} rate={} error=\"{message}\"",
                    args.events, args.rate
                );
                return Err(error);
            }
        }
    }
    let mut eps: Vec<f64> = measured.iter().map(NexmarkRun::events_per_second).collect();
    let mut per_core: Vec<f64> = measured
        .iter()
        .map(NexmarkRun::events_per_second_per_core)
        .collect();
    let mut cores: Vec<f64> = measured.iter().map(NexmarkRun::busy_cores).collect();
    let peak = measured.iter().filter_map(|r| r.peak_mib).reduce(f64::max);
    let mut line = format!(
        "RESULT query={query} events={} rate={} runs={} median_eps={:.0} median_eps_per_core={:.0} \
         median_busy_cores={:.2} peak_mib={} workers={}",
        args.events,
        args.rate,
        measured.len(),
        median(&mut eps),
        median(&mut per_core),
        median(&mut cores),
        format_peak(peak),
        measured.first().map_or(0, |r| r.workers),
    );
    let _ = write!(line, " eps_runs=");
    for (i, run) in measured.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(line, "{sep}{:.0}", run.events_per_second());
    }
    println!("{line}");
    Ok(())
}

/// Run a `sluice bench` command; the exit code fails if any query failed.
pub async fn run(command: BenchCommand) -> std::process::ExitCode {
    match command {
        BenchCommand::Lookup(args) => match crate::bench_lookup::run_lookup(&args).await {
            Ok(run) => {
                println!("{}", run.describe());
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("sluice bench lookup: {error}");
                std::process::ExitCode::FAILURE
            }
        },
        BenchCommand::Nexmark(args) => {
            sluice_storage::spill::configure(sluice_storage::SpillSettings::from_megabytes(
                args.operator_memory_mb,
                Some(args.state_memory_mb).filter(|mb| *mb > 0),
                None,
            ));
            let queries: Vec<String> = if args.query.trim().eq_ignore_ascii_case("all") {
                QUERIES.iter().map(|q| q.to_string()).collect()
            } else {
                args.query
                    .split(',')
                    .map(|q| q.trim().to_ascii_lowercase())
                    .filter(|q| !q.is_empty())
                    .collect()
            };
            let mut failed = Vec::new();
            for query in &queries {
                if let Err(error) = bench_query(&args, query).await {
                    eprintln!("sluice bench: {error}");
                    failed.push(query.clone());
                }
            }
            if failed.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                eprintln!("sluice bench: failed: {}", failed.join(", "));
                std::process::ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_becomes_blackhole() {
        let sql = "CREATE TABLE s (a BIGINT, t TIMESTAMP(3), `x)` VARCHAR) PARTITIONED BY (a) \
                   WITH ('connector' = 'filesystem', 'path' = 'x)')";
        assert_eq!(
            blackhole_sink(sql).unwrap(),
            "CREATE TABLE s (a BIGINT, t TIMESTAMP(3), `x)` VARCHAR) WITH ('connector' = 'blackhole')"
        );
    }

    #[test]
    fn every_query_has_one_insert() {
        for query in QUERIES {
            let (_, insert) = query_statements(query_sql(query).unwrap()).unwrap();
            assert!(insert.to_ascii_uppercase().starts_with("INSERT INTO"));
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
