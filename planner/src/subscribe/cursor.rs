//! Cursors over subscriptions: `DECLARE c CURSOR FOR SUBSCRIBE ...`, `FETCH`, `CLOSE`.
//!
//! A FETCH returns up to `n` rows (`ALL`: every row available). It waits for the first
//! row up to its `TIMEOUT` (without one, until a row arrives or the statement is
//! cancelled), then takes whatever else has already arrived without waiting. A commit's
//! rows may be split over several FETCHes; the rest stays in the cursor.

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::sync::Notify;

use super::parse::FetchCount;
use super::Subscription;
use crate::error::{PlanError, Result};

struct Cursor {
    subscription: Subscription,
    /// Rows of a received commit not yet fetched.
    rest: Option<RecordBatch>,
    /// The subscription's end, found while taking rows that arrived: reported by the next
    /// FETCH.
    ended: Option<PlanError>,
}

/// A session's open cursors.
#[derive(Default)]
pub(crate) struct Cursors {
    open: BTreeMap<String, Cursor>,
}

impl Cursors {
    pub fn declare(&mut self, name: &str, subscription: Subscription) -> Result<()> {
        if self.open.contains_key(name) {
            return Err(PlanError::DuplicateCursor(format!(
                "cursor \"{name}\" already exists"
            )));
        }
        self.open.insert(
            name.to_string(),
            Cursor {
                subscription,
                rest: None,
                ended: None,
            },
        );
        Ok(())
    }

    pub fn schema(&self, name: &str) -> Option<SchemaRef> {
        self.open.get(name).map(|c| c.subscription.schema().clone())
    }

    pub fn close(&mut self, name: &str) -> Result<()> {
        self.open
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| unknown(name))
    }

    pub fn close_all(&mut self) {
        self.open.clear();
    }

    /// `FETCH count FROM name WITH (TIMEOUT = timeout)`; `cancel` interrupts the wait.
    pub async fn fetch(
        &mut self,
        name: &str,
        count: FetchCount,
        timeout: Option<Duration>,
        cancel: &Notify,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let cursor = self.open.get_mut(name).ok_or_else(|| unknown(name))?;
        let schema = cursor.subscription.schema().clone();
        let want = match count {
            FetchCount::Rows(n) => n,
            FetchCount::All => usize::MAX,
        };
        let mut out = Vec::new();
        if want == 0 {
            return Ok((schema, out));
        }
        let mut taken = cursor.take(want, &mut out);
        if taken == 0 {
            if let Some(error) = cursor.ended.take() {
                return Err(error);
            }
            let cancelled = cancel.notified();
            let next = cursor.subscription.next();
            let batch = tokio::select! {
                batch = next_within(next, timeout) => batch?,
                () = cancelled => return Err(PlanError::QueryCanceled),
            };
            match batch {
                Some(batch) => cursor.rest = Some(batch),
                None => return Ok((schema, out)),
            }
            taken = cursor.take(want, &mut out);
        }
        while taken < want {
            match cursor.subscription.try_next() {
                Some(Ok(batch)) => {
                    cursor.rest = Some(batch);
                    taken += cursor.take(want - taken, &mut out);
                }
                Some(Err(error)) => {
                    cursor.ended = Some(error);
                    break;
                }
                None => break,
            }
        }
        Ok((schema, out))
    }
}

impl Cursor {
    /// Move up to `limit` buffered rows into `out`; how many moved.
    fn take(&mut self, limit: usize, out: &mut Vec<RecordBatch>) -> usize {
        let Some(batch) = self.rest.take() else {
            return 0;
        };
        let rows = batch.num_rows();
        if rows <= limit {
            out.push(batch);
            return rows;
        }
        out.push(batch.slice(0, limit));
        self.rest = Some(batch.slice(limit, rows - limit));
        limit
    }
}

/// The next batch, or `None` if `timeout` passed first.
async fn next_within(
    next: impl std::future::Future<Output = Result<RecordBatch>>,
    timeout: Option<Duration>,
) -> Result<Option<RecordBatch>> {
    match timeout {
        Some(timeout) => match tokio::time::timeout(timeout, next).await {
            Ok(batch) => batch.map(Some),
            Err(_) => Ok(None),
        },
        None => next.await.map(Some),
    }
}

fn unknown(name: &str) -> PlanError {
    PlanError::InvalidCursorName(format!("cursor \"{name}\" does not exist"))
}
