//! Server configuration (listen address, limits).

use std::net::SocketAddr;

/// What `sluice serve` is told on the command line.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address of the HTTP endpoint with `/health` and `/metrics`, if any.
    pub http: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            http: None,
        }
    }
}
