//! The operations endpoint: `GET /health` and `GET /metrics` (Prometheus text format) on a
//! separate HTTP listener (`sluice serve --http 127.0.0.1:9187`).
//!
//! `/metrics` is rendered from the planner's live state on each scrape: connections, the
//! catalog, every continuous query's state size, watermark, source rows, bad and late rows,
//! and the data directory's size. `/health` answers 200 when the catalog can be read within a
//! second (503 otherwise, e.g. while a long statement holds the catalog), and names failed
//! queries without failing the check: the server itself still serves.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sluice_planner::Database;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Counters the wire server keeps for `/metrics`.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections open now (each holds one of `--max-connections` slots).
    pub connections_active: AtomicU64,
    /// Connections refused because `--max-connections` were open.
    pub connections_refused_total: AtomicU64,
    /// Startups refused for a wrong password, an unknown user or a missing TLS.
    pub authentication_failures_total: AtomicU64,
}

#[derive(Clone)]
struct AppState {
    database: Arc<Database>,
    stats: Arc<ServerStats>,
}

/// A running HTTP endpoint.
pub struct HttpEndpoint {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl HttpEndpoint {
    /// Bind `addr` and serve `/health` and `/metrics`.
    pub async fn start(
        addr: SocketAddr,
        database: Arc<Database>,
        stats: Arc<ServerStats>,
    ) -> std::io::Result<HttpEndpoint> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let app = Router::new()
            .route("/health", get(health))
            .route("/metrics", get(metrics))
            .with_state(AppState { database, stats });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::warn!(%error, "the HTTP endpoint stopped");
            }
        });
        tracing::info!(%local_addr, "metrics and health endpoint listening");
        Ok(HttpEndpoint {
            local_addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop serving.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let probe = tokio::time::timeout(Duration::from_secs(1), state.database.query_statuses());
    match probe.await {
        Ok(statuses) => {
            let failed: Vec<String> = statuses
                .iter()
                .filter(|s| s.failure.is_some())
                .map(|s| format!("\"{}\"", escape_json(&s.name)))
                .collect();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    "{{\"status\":\"ok\",\"queries\":{},\"failed_queries\":[{}]}}\n",
                    statuses.len(),
                    failed.join(",")
                ),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\":\"busy\",\"reason\":\"the catalog was not readable within 1 s\"}\n"
                .to_string(),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(&state.database, &state.stats).await,
    )
}

/// The Prometheus exposition of the server's state.
pub async fn render_metrics(database: &Database, stats: &ServerStats) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    family(
        "sluice_up",
        "gauge",
        "1 while the server runs.",
        vec![(String::new(), 1.0)],
    );
    family(
        "sluice_connections_total",
        "counter",
        "Client connections accepted.",
        vec![(
            String::new(),
            stats.connections_total.load(Ordering::Relaxed) as f64,
        )],
    );
    family(
        "sluice_connections_active",
        "gauge",
        "Client connections open.",
        vec![(
            String::new(),
            stats.connections_active.load(Ordering::Relaxed) as f64,
        )],
    );
    family(
        "sluice_connections_refused_total",
        "counter",
        "Client connections refused because --max-connections were open.",
        vec![(
            String::new(),
            stats.connections_refused_total.load(Ordering::Relaxed) as f64,
        )],
    );
    family(
        "sluice_authentication_failures_total",
        "counter",
        "Client startups refused: wrong password, unknown user, or TLS required.",
        vec![(
            String::new(),
            stats.authentication_failures_total.load(Ordering::Relaxed) as f64,
        )],
    );
    let relations = database.relations().await;
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, kind) in &relations {
        *kinds.entry(kind).or_default() += 1;
    }
    family(
        "sluice_relations",
        "gauge",
        "Catalog objects by kind.",
        kinds
            .into_iter()
            .map(|(kind, n)| (format!("{{kind=\"{kind}\"}}"), n as f64))
            .collect(),
    );
    family(
        "sluice_data_dir_bytes",
        "gauge",
        "Bytes of the data directory's SST files (0 in memory).",
        vec![(String::new(), database.disk_bytes() as f64)],
    );
    let (checkpoints, last_bytes, total_bytes) = database.checkpoint_stats();
    family(
        "sluice_checkpoints_total",
        "counter",
        "Checkpoints committed since the data directory was opened.",
        vec![(String::new(), checkpoints as f64)],
    );
    family(
        "sluice_checkpoint_last_bytes",
        "gauge",
        "Bytes the last checkpoint wrote (state that did not change since the previous one is \
         not written again).",
        vec![(String::new(), last_bytes as f64)],
    );
    family(
        "sluice_checkpoint_bytes_total",
        "counter",
        "Bytes all checkpoints wrote since the data directory was opened.",
        vec![(String::new(), total_bytes as f64)],
    );
    let (spilled, reloaded) = sluice_storage::spill::spill_totals();
    family(
        "sluice_spilled_entries_total",
        "counter",
        "Operator state entries written to local disk over the memory budget (all queries, \
         since this process started).",
        vec![(String::new(), spilled as f64)],
    );
    family(
        "sluice_reloaded_entries_total",
        "counter",
        "Spilled operator state entries read back into memory (all queries, since this \
         process started).",
        vec![(String::new(), reloaded as f64)],
    );
    let statuses = database.query_statuses().await;
    let per_query = |value: &dyn Fn(&sluice_planner::QueryStatus) -> Option<f64>| {
        statuses
            .iter()
            .filter_map(|s| {
                value(s).map(|v| (format!("{{query=\"{}\"}}", escape_label(&s.name)), v))
            })
            .collect::<Vec<_>>()
    };
    family(
        "sluice_query_state_rows",
        "gauge",
        "Rows or groups a continuous query holds in operator state.",
        per_query(&|s| Some(s.state_rows as f64)),
    );
    family(
        "sluice_query_spilled_entries",
        "gauge",
        "Entries of a continuous query's operator state on disk (over the memory budget).",
        per_query(&|s| Some(s.spilled_entries as f64)),
    );
    family(
        "sluice_query_source_rows_total",
        "counter",
        "Rows a continuous query's sources delivered (since this process started).",
        per_query(&|s| Some(s.source_rows as f64)),
    );
    family(
        "sluice_query_bad_rows_total",
        "counter",
        "Input rows a continuous query's sources could not decode.",
        per_query(&|s| Some(s.bad_rows as f64)),
    );
    family(
        "sluice_query_late_rows_total",
        "counter",
        "Rows dropped because they arrived behind the watermark.",
        per_query(&|s| Some(s.late_rows as f64)),
    );
    family(
        "sluice_query_watermark_seconds",
        "gauge",
        "A continuous query's output watermark, seconds since the epoch.",
        per_query(&|s| s.watermark.map(|w| w as f64 / 1e9)),
    );
    family(
        "sluice_query_failed",
        "gauge",
        "1 when a continuous query stopped with an error.",
        per_query(&|s| Some(if s.failure.is_some() { 1.0 } else { 0.0 })),
    );
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_json(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
