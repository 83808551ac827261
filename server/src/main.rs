//! `sluice`: the Sluice server binary.

use std::net::SocketAddr;

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
        match cli.command {
            Command::Serve { listen } => {
                let server = match Server::start(ServerConfig { listen }).await {
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
