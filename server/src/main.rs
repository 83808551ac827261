//! `sluice`: the Sluice server binary.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sluice_server::{AuthMethod, Server, ServerConfig, TlsFiles, Users};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Sluice: a streaming SQL database that speaks Postgres"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How continuous queries run.
#[derive(clap::Args)]
struct EngineArgs {
    /// Parallel instances of each keyed operator of a continuous query (default:
    /// `SLUICE_WORKERS`, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: Option<u32>,
    /// Memory each stateful operator instance (a join with both its sides, a window
    /// aggregate with all its open windows, ..) and each table or materialized view's rows
    /// may use before the least recently used keys spill to local disk (default: no limit).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
    operator_memory_mb: Option<u64>,
    /// `--operator-memory-mb` in bytes, for tests: a budget of 1 byte makes every stateful
    /// operator spill all its keys after each batch and reload them (the sqllogictest files'
    /// state stays under 4 KiB, so a budget of a few KiB spills nothing).
    #[arg(long, value_name = "BYTES", hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    operator_memory_bytes: Option<u64>,
    /// Memory the keyed state of all continuous queries and the rows of tables and
    /// materialized views may use together before those holding the most spill their least
    /// recently used keys to local disk (ignored with `--operator-memory-mb`; 0: no limit).
    #[arg(long, value_name = "MB", default_value_t = sluice_storage::spill::DEFAULT_STATE_MEMORY_MB)]
    state_memory_mb: u64,
    /// Directory for spilled operator state (default: the system temp directory; wiped at
    /// start, not durable: checkpoints hold the durable state).
    #[arg(long, value_name = "DIR")]
    spill_dir: Option<PathBuf>,
}

impl EngineArgs {
    /// Set the spill budget before any operator exists (restoring a catalog creates them).
    fn configure_spill(&self) {
        let mut settings = sluice_storage::SpillSettings::from_megabytes(
            self.operator_memory_mb,
            Some(self.state_memory_mb).filter(|mb| *mb > 0),
            self.spill_dir.clone(),
        );
        if let Some(bytes) = self.operator_memory_bytes {
            settings.budget_bytes = Some(usize::try_from(bytes).unwrap_or(usize::MAX));
        }
        sluice_storage::spill::configure(settings);
    }

    async fn apply(&self, database: &sluice_planner::Database) {
        if let Some(workers) = self.workers {
            database.set_workers(workers as usize).await;
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5433")]
        listen: SocketAddr,
        /// Serve `/health` and `/metrics` (Prometheus) over HTTP on this address.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        #[command(flatten)]
        storage: StorageArgs,
        #[command(flatten)]
        access: AccessArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run a Flink SQL script or a DataSQRL build folder, then serve its results.
    Run {
        /// A `.sql` script, or a folder with the compiled Flink plan and database DDL.
        path: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5433")]
        listen: SocketAddr,
        /// Values for `${NAME}` placeholders, as NAME=VALUE (the environment is used too).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Keep the catalog and tables in this data directory. On a restart with a catalog
        /// already there, the plan is not run again: what it created is restored instead.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Serve `/health` and `/metrics` (Prometheus) over HTTP on this address.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        #[command(flatten)]
        access: AccessArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run a benchmark in-process and print its measurements (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        bench: sluice_server::bench::BenchCommand,
    },
}

/// Who may connect, over what, and how many at once.
#[derive(clap::Args)]
struct AccessArgs {
    /// How clients authenticate: `trust` accepts any user without a password (local
    /// development only); `password` requires SCRAM-SHA-256 with a configured user.
    #[arg(long, value_enum, default_value_t = AuthMethod::Trust)]
    auth: AuthMethod,
    /// A user for `--auth password`, as NAME:PASSWORD (repeatable). Prefer --users-file: the
    /// command line is visible to other local users.
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// Users for `--auth password`: one `NAME:PASSWORD` or `NAME:SCRAM-SHA-256$...` (a verifier
    /// as stored by PostgreSQL) a line; `#` starts a comment line.
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// PEM certificate (chain): TLS is offered to clients that ask (sslmode=require).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Refuse connections without TLS.
    #[arg(long, requires = "tls_cert")]
    tls_required: bool,
    /// Connections open at once; the next one is refused with "sorry, too many clients
    /// already" (SQLSTATE 53300).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// The largest message a client may send, in MiB; a larger one gets SQLSTATE 54000
    /// and the connection is closed (PostgreSQL's limit is 1024).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1023))]
    max_message_size_mb: u32,
}

impl AccessArgs {
    /// The server configuration for these options.
    fn config(self, listen: SocketAddr, http: Option<SocketAddr>) -> Result<ServerConfig, String> {
        let mut users = Users::new();
        if let Some(file) = &self.users_file {
            users.add_file(file).map_err(|e| e.to_string())?;
        }
        for entry in &self.users {
            users
                .add_entry(entry, "--user")
                .map_err(|e| e.to_string())?;
        }
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        let config = ServerConfig {
            listen,
            http,
            auth: self.auth,
            users,
            tls,
            tls_required: self.tls_required,
            max_connections: self.max_connections as usize,
            max_message_size: self.max_message_size_mb as usize * 1024 * 1024,
        };
        // Fail before opening the data directory or running a plan.
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// Where `sluice serve` keeps its data.
#[derive(clap::Args)]
struct StorageArgs {
    /// Data directory: the catalog and every table's rows survive restarts and crashes.
    #[arg(long, value_name = "DIR", default_value = "./sluice-data")]
    data_dir: PathBuf,
    /// Keep everything in memory only (nothing survives a restart).
    #[arg(long, conflicts_with = "data_dir")]
    in_memory: bool,
    /// Acknowledge writes once they are in the WAL, without waiting for fsync (a process crash
    /// loses nothing; a power loss may lose the last acknowledged writes).
    #[arg(long)]
    no_fsync: bool,
    /// Checkpoint the state of continuous queries this often, in milliseconds (0: only on
    /// `CHECKPOINT` and at shutdown).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    checkpoint_interval_ms: u64,
}

/// Open the durable database in `dir`, restoring its catalog.
async fn open_database(
    dir: &std::path::Path,
    fsync: bool,
    checkpoint_interval_ms: u64,
) -> Result<std::sync::Arc<sluice_planner::Database>, String> {
    let options = sluice_storage::DurableOptions {
        sync_writes: fsync,
        checkpoint_interval_ms,
        ..Default::default()
    };
    sluice_planner::Database::open(dir, &options)
        .await
        .map_err(|error| format!("{error} (SQLSTATE {})", error.sqlstate()))
}

/// Execute the plan at `path` in `database`; the error names the file and statement.
async fn run_plan(
    database: &std::sync::Arc<sluice_planner::Database>,
    path: &std::path::Path,
    vars: &[String],
) -> Result<(), String> {
    let mut variables = BTreeMap::new();
    for var in vars {
        let (name, value) = var
            .split_once('=')
            .ok_or_else(|| format!("--var {var}: expected NAME=VALUE"))?;
        variables.insert(name.to_string(), value.to_string());
    }
    let scripts = sluice_server::plan::load(path, &variables).map_err(|e| e.to_string())?;
    let mut session = sluice_planner::Session::new(database.clone());
    for script in scripts {
        let (results, error) = session.execute(&script.sql).await;
        tracing::info!(origin = %script.origin, statements = results.len(), "plan script executed");
        if let Some(error) = error {
            let at = error
                .position()
                .map(|p| format!(" at character {p}"))
                .unwrap_or_default();
            return Err(format!(
                "{}{at}: {} (SQLSTATE {})",
                script.origin,
                error,
                error.sqlstate()
            ));
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sluice: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let (database, config) = match cli.command {
            Command::Serve {
                listen,
                http,
                storage,
                access,
                engine,
            } => {
                let config = match access.config(listen, http) {
                    Ok(config) => config,
                    Err(error) => {
                        eprintln!("sluice: {error}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                engine.configure_spill();
                let database = if storage.in_memory {
                    sluice_planner::Database::new()
                } else {
                    match open_database(
                        &storage.data_dir,
                        !storage.no_fsync,
                        storage.checkpoint_interval_ms,
                    )
                    .await
                    {
                        Ok(database) => database,
                        Err(error) => {
                            eprintln!("sluice: {error}");
                            return std::process::ExitCode::FAILURE;
                        }
                    }
                };
                engine.apply(&database).await;
                (database, config)
            }
            Command::Run {
                path,
                listen,
                vars,
                data_dir,
                http,
                access,
                engine,
            } => {
                let config = match access.config(listen, http) {
                    Ok(config) => config,
                    Err(error) => {
                        eprintln!("sluice: {error}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                engine.configure_spill();
                let database = match &data_dir {
                    Some(dir) => match open_database(dir, true, 5000).await {
                        Ok(database) => database,
                        Err(error) => {
                            eprintln!("sluice: {error}");
                            return std::process::ExitCode::FAILURE;
                        }
                    },
                    None => sluice_planner::Database::new(),
                };
                engine.apply(&database).await;
                if database.relations().await.is_empty() {
                    if let Err(error) = run_plan(&database, &path, &vars).await {
                        eprintln!("sluice: {error}");
                        return std::process::ExitCode::FAILURE;
                    }
                } else {
                    tracing::info!(
                        "the data directory holds a catalog: restored it instead of running the plan again"
                    );
                }
                (database, config)
            }
            Command::Bench { bench } => return sluice_server::bench::run(bench).await,
        };
        {
            {
                let server = match Server::start_with(config, database.clone())
                    .await
                {
                    Ok(server) => server,
                    Err(error) => {
                        eprintln!("sluice: {error}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                match tokio::signal::ctrl_c().await {
                    Ok(()) => tracing::info!("shutting down"),
                    Err(error) => tracing::warn!(%error, "cannot wait for Ctrl-C"),
                }
                server.shutdown().await;
                // A last checkpoint: a clean restart resumes where this run stopped.
                if let Err(error) = database.close().await {
                    eprintln!("sluice: closing the data directory failed: {error}");
                    return std::process::ExitCode::FAILURE;
                }
                std::process::ExitCode::SUCCESS
            }
        }
    });
    // Spilled operator state is scratch data: it goes with the process.
    drop(runtime);
    sluice_storage::spill::remove_spill_dir();
    code
}
