//! Listener and connection loop (stub until the core lands).

use std::net::SocketAddr;

use crate::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running server. Dropping it does not stop it; call `shutdown`.
pub struct Server {
    local_addr: SocketAddr,
}

impl Server {
    /// Bind and start serving in background tasks on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        Ok(Server { local_addr })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting connections and end the serving tasks.
    pub async fn shutdown(self) {}
}
