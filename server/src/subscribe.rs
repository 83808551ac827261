//! Streaming a `SUBSCRIBE` to the client: each commit's rows are written and flushed as it
//! arrives (not buffered until the statement ends, which it never does by itself).
//!
//! The stream ends with an ErrorResponse when the client cancels (57014), the subscription
//! ends (its relation was dropped, its view failed, the client fell `BUFFER_SIZE` commits
//! behind: 53400), or the rows cannot be encoded. When the client disconnects, the next
//! write fails and the connection ends; dropping the [`Subscription`] unregisters it. While
//! no changes arrive, an asynchronous ParameterStatus message (`sluice_subscription`, which
//! clients store and otherwise ignore) is sent every [`HEARTBEAT`], so a vanished client is
//! noticed within about two heartbeats.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt};
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::RowDescription;
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use sluice_planner::{PlanError, Subscription};
use tokio::sync::Notify;

/// How long a subscription may send nothing before a heartbeat checks the client is there.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);

/// The parameter the heartbeat reports.
const HEARTBEAT_PARAMETER: &str = "sluice_subscription";

/// Stream `subscription` to `client` until it ends; returns the error to report then.
/// `describe`: send the RowDescription first (simple protocol). An `Err` means the socket
/// failed and the connection is over.
pub(crate) async fn stream<C>(
    client: &mut C,
    mut subscription: Subscription,
    format: &Format,
    describe: bool,
    cancel: &Notify,
) -> PgWireResult<ErrorInfo>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let fields: Arc<Vec<FieldInfo>> = match crate::server::pg_fields(subscription.schema(), format)
    {
        Ok(fields) => Arc::new(fields),
        Err(error) => return Ok(ErrorInfo::from(error)),
    };
    if describe {
        let description = RowDescription::new(fields.iter().map(Into::into).collect());
        client
            .feed(PgWireBackendMessage::RowDescription(description))
            .await?;
    }
    client.flush().await?;
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // One waiter for the whole stream: a cancel that arrives while a batch is being sent
    // (no `select!` waiting) still ends the stream at the next turn. A waiter made afresh
    // each turn missed such a cancel (`notify_waiters` wakes only waiters that exist).
    let cancelled = cancel.notified();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            batch = subscription.next() => {
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(error) => return Ok(crate::server::error_info(&error)),
                };
                let mut rows = Vec::with_capacity(batch.num_rows());
                crate::server::encode_batch(&fields, &batch, &mut rows);
                for row in rows {
                    match row {
                        Ok(row) => client.feed(PgWireBackendMessage::DataRow(row)).await?,
                        Err(error) => return Ok(ErrorInfo::from(error)),
                    }
                }
                client.flush().await?;
                heartbeat.reset();
            }
            () = &mut cancelled => return Ok(crate::server::error_info(&PlanError::QueryCanceled)),
            _ = heartbeat.tick() => {
                let status = ParameterStatus::new(HEARTBEAT_PARAMETER.to_string(), "active".to_string());
                client.send(PgWireBackendMessage::ParameterStatus(status)).await?;
            }
        }
    }
}
