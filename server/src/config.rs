//! Server configuration (listen address, authentication, TLS, limits).

use std::net::SocketAddr;

pub use crate::auth::{AuthMethod, Users};
pub use crate::tls::TlsFiles;

/// The default of `--max-connections` (as PostgreSQL's `max_connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// What `sluice serve` is told on the command line.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address of the HTTP endpoint with `/health` and `/metrics`, if any.
    pub http: Option<SocketAddr>,
    /// How clients authenticate.
    pub auth: AuthMethod,
    /// The users `AuthMethod::Password` accepts.
    pub users: Users,
    /// Certificate and key: TLS is offered to clients that ask for it.
    pub tls: Option<TlsFiles>,
    /// Refuse connections that are not TLS (needs `tls`).
    pub tls_required: bool,
    /// Connections open at once; the next one is refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// The largest frontend message accepted, in bytes; a larger one gets SQLSTATE 54000
    /// and the connection is closed.
    pub max_message_size: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            http: None,
            auth: AuthMethod::Trust,
            users: Users::new(),
            tls: None,
            tls_required: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_message_size: crate::wire_guard::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}
