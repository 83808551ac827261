//! CancelRequest handling: a client cancels the running statement of one of its
//! connections by sending the connection's pid and secret key on a new connection.
//!
//! Only waits that can be interrupted safely are cancelled: a streaming `SUBSCRIBE` and a
//! `FETCH` waiting for a subscription's rows end with SQLSTATE 57014. A statement that
//! changes data is never interrupted half-way (each statement commits on its own).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::Notify;

/// The connections that can be cancelled, by pid, shared by all connections.
#[derive(Default)]
pub(crate) struct CancelRegistry {
    connections: parking_lot::Mutex<HashMap<i32, (i32, Arc<Notify>)>>,
}

impl CancelRegistry {
    /// Make connection `pid` cancellable with `secret`; `signal` is notified on cancel.
    /// The connection stays registered while the returned guard lives.
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: i32,
        signal: Arc<Notify>,
    ) -> CancelRegistration {
        self.connections.lock().insert(pid, (secret, signal));
        CancelRegistration {
            registry: self.clone(),
            pid,
        }
    }
}

/// Unregisters its connection when dropped.
pub(crate) struct CancelRegistration {
    registry: Arc<CancelRegistry>,
    pid: i32,
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        self.registry.connections.lock().remove(&self.pid);
    }
}

/// The pgwire cancel handler over the registry.
pub(crate) struct Canceller(pub Arc<CancelRegistry>);

#[async_trait]
impl CancelHandler for Canceller {
    async fn on_cancel_request(&self, request: CancelRequest) {
        // The key may arrive decoded as bytes (the cancel connection has no protocol version).
        let secret = request.secret_key.to_bytes();
        let signal = match self.0.connections.lock().get(&request.pid) {
            Some((expected, signal)) if SecretKey::I32(*expected).to_bytes() == secret => {
                Some(signal.clone())
            }
            _ => None,
        };
        match signal {
            Some(signal) => {
                tracing::debug!(pid = request.pid, "cancel request");
                // Wakes the waits in progress only: a cancel while idle does nothing.
                signal.notify_waiters();
            }
            None => tracing::debug!(pid = request.pid, "cancel request for no known connection"),
        }
    }
}
