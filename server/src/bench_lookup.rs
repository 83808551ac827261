//! `sluice bench lookup`: concurrent clients doing point lookups by key on a materialized
//! view over the wire while another client keeps inserting into the table it reads.
//!
//! Setup (in-process server on 127.0.0.1, in-memory database): `events (id, k, v)` and
//! `per_key AS SELECT k, COUNT(*), SUM(v) FROM events GROUP BY k`, preloaded with `keys`
//! rows (one per key). Then, for `seconds`: `clients` connections each run the prepared
//! `SELECT n, total FROM per_key WHERE k = $1` for random keys, one at a time, recording each
//! round trip; one more connection inserts `batch` rows per statement (random keys) as fast
//! as it can, so every lookup competes with view maintenance. Reported: lookups per second,
//! latency percentiles (p50, p99, max), ingested rows per second, and the number of lookups
//! the view's key index served (it must equal the number of lookups: no scans).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_planner::Database;
use tokio_postgres::NoTls;

use crate::{Server, ServerConfig};

/// Options of `sluice bench lookup`.
#[derive(clap::Args, Debug, Clone)]
pub struct LookupArgs {
    /// Concurrent lookup clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Distinct keys in the view.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Rows per INSERT statement of the ingesting client (0: no ingestion).
    #[arg(long, default_value_t = 100)]
    pub batch: u64,
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct LookupRun {
    pub lookups: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub ingested_rows: u64,
    /// Lookups the view's key index served during the run.
    pub index_lookups: u64,
}

impl LookupRun {
    pub fn lookups_per_second(&self) -> f64 {
        self.lookups as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn ingested_per_second(&self) -> f64 {
        self.ingested_rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn describe(&self) -> String {
        format!(
            "RESULT bench=lookup lookups={} elapsed_s={:.2} lookups_per_s={:.0} p50_us={} \
             p99_us={} max_us={} ingested_rows={} ingested_rows_per_s={:.0} index_lookups={}",
            self.lookups,
            self.elapsed.as_secs_f64(),
            self.lookups_per_second(),
            self.p50.as_micros(),
            self.p99.as_micros(),
            self.max.as_micros(),
            self.ingested_rows,
            self.ingested_per_second(),
            self.index_lookups,
        )
    }
}

/// A xorshift generator: cheap, seeded, good enough to spread keys.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn connect(port: u16) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=sluice dbname=sluice"),
        NoTls,
    )
    .await
    .map_err(|e| format!("connect: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "bench connection ended");
        }
    });
    Ok(client)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// Run the benchmark once (see the module documentation).
pub async fn run_lookup(args: &LookupArgs) -> Result<LookupRun, String> {
    if args.clients == 0 || args.keys == 0 {
        return Err("--clients and --keys must be positive".into());
    }
    let database = Database::new();
    let server = Server::start_with(
        ServerConfig {
            listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            max_connections: args.clients + 8,
            ..Default::default()
        },
        Arc::clone(&database),
    )
    .await
    .map_err(|e| e.to_string())?;
    let port = server.local_addr().port();
    let result = async {
        let setup = connect(port).await?;
        setup
            .batch_execute(&format!(
                "CREATE TABLE events (id BIGINT, k BIGINT, v BIGINT);
                 CREATE MATERIALIZED VIEW per_key AS
                   SELECT k, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY k;
                 INSERT INTO events SELECT value, value, 1 FROM generate_series(1, {});",
                args.keys
            ))
            .await
            .map_err(|e| format!("setup: {e}"))?;
        let (_, index_before) = database
            .key_index("per_key")
            .await
            .ok_or("per_key is missing")?;
        let stop = Arc::new(AtomicBool::new(false));
        let ingested = Arc::new(AtomicU64::new(0));
        let ingest = if args.batch > 0 {
            let stop = Arc::clone(&stop);
            let ingested = Arc::clone(&ingested);
            let (batch, keys) = (args.batch, args.keys);
            Some(tokio::spawn(async move {
                let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
                let mut id = keys;
                while !stop.load(Ordering::Relaxed) {
                    let values: Vec<String> = (0..batch)
                        .map(|_| {
                            id += 1;
                            format!(
                                "({id}, {}, {})",
                                random.next() % keys + 1,
                                random.next() % 100
                            )
                        })
                        .collect();
                    let sql = format!("INSERT INTO events VALUES {}", values.join(", "));
                    if let Err(error) = setup.batch_execute(&sql).await {
                        return Err(format!("ingest: {error}"));
                    }
                    ingested.fetch_add(batch, Ordering::Relaxed);
                }
                Ok(())
            }))
        } else {
            None
        };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(args.seconds);
        let mut tasks = Vec::new();
        for client_index in 0..args.clients {
            let keys = args.keys;
            let client = connect(port).await?;
            tasks.push(tokio::spawn(async move {
                let statement = client
                    .prepare("SELECT n, total FROM per_key WHERE k = $1")
                    .await
                    .map_err(|e| format!("prepare: {e}"))?;
                let mut random = XorShift(0x2545_F491_4F6C_DD1D ^ (client_index as u64 + 1));
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let key = (random.next() % keys + 1) as i64;
                    let asked = Instant::now();
                    let rows = client
                        .query(&statement, &[&key])
                        .await
                        .map_err(|e| format!("lookup: {e}"))?;
                    latencies.push(asked.elapsed());
                    if rows.len() != 1 {
                        return Err(format!("key {key}: {} rows instead of 1", rows.len()));
                    }
                }
                Ok::<_, String>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.map_err(|e| e.to_string())??);
        }
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        if let Some(ingest) = ingest {
            ingest.await.map_err(|e| e.to_string())??;
        }
        let (_, index_after) = database
            .key_index("per_key")
            .await
            .ok_or("per_key is missing")?;
        latencies.sort_unstable();
        Ok(LookupRun {
            lookups: latencies.len() as u64,
            elapsed,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or_default(),
            ingested_rows: ingested.load(Ordering::Relaxed),
            index_lookups: index_after - index_before,
        })
    }
    .await;
    server.shutdown().await;
    result
}
