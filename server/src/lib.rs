//! Sluice server: the Postgres wire front end over the planner's `Database`.
//!
//! `Server::start` binds a TCP listener and serves connections until `shutdown`.

pub mod bench;
pub mod config;
pub mod http;
pub mod plan;
pub mod server;
mod text;

pub use config::ServerConfig;
pub use server::{Server, ServerError};
