//! `sluice`: the Sluice server binary.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sluice_server::{Server, ServerConfig};
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

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5433")]
        listen: SocketAddr,
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
    },
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
    runtime.block_on(async move {
        let database = sluice_planner::Database::new();
        let listen = match cli.command {
            Command::Serve { listen } => listen,
            Command::Run { path, listen, vars } => {
                if let Err(error) = run_plan(&database, &path, &vars).await {
                    eprintln!("sluice: {error}");
                    return std::process::ExitCode::FAILURE;
                }
                listen
            }
        };
        {
            {
                let server = match Server::start_with(ServerConfig { listen }, database).await {
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
                std::process::ExitCode::SUCCESS
            }
        }
    })
}
