//! Sluice server: the Postgres wire front end over the planner's `Database`.
//!
//! `Server::start` binds a TCP listener and serves connections until `shutdown`; clients
//! authenticate by `trust` or SCRAM-SHA-256 (`auth`), optionally over TLS (`tls`).

pub mod auth;
pub mod bench;
pub mod bench_lookup;
mod cancel;
pub mod config;
pub mod http;
pub mod plan;
pub mod robustness;
pub mod server;
mod subscribe;
mod text;
pub mod tls;
pub mod wire_guard;

pub use auth::{AuthMethod, ScramVerifier, Users, UsersError};
pub use config::ServerConfig;
pub use server::{Server, ServerError};
pub use tls::{TlsError, TlsFiles};
