//! `SUBSCRIBE [TO] relation | (query) [WITH (SNAPSHOT = bool, BUFFER_SIZE = n)]`: a
//! never-ending stream of a relation's changes, modelled on Materialize's SUBSCRIBE.
//!
//! Every output row is `(sluice_timestamp, sluice_diff, columns of the relation...)`:
//! `sluice_diff` is the row's weight (+1 inserted, -1 deleted; an update is a -1 and a +1),
//! and `sluice_timestamp` the logical time of the commit that made the change (milliseconds
//! since the epoch, strictly increasing from one commit to the next). All changes of one
//! commit carry the same timestamp and are consolidated (a row inserted and deleted by the
//! same commit does not appear); within a commit retractions come before insertions. With
//! `SNAPSHOT = true` (the default) the relation's contents at subscription time come first,
//! as inserts at one timestamp; summing every received row's diff always gives the
//! relation's current contents.
//!
//! Invariants:
//! - Registration and the snapshot happen under the database write lock, the lock every
//!   commit holds, so no commit falls between them: nothing is missed or seen twice.
//! - Changes are collected while a commit runs ([`Subscriptions::record`], called where
//!   every committed change of a stored relation passes, `Catalog::propagate`) and sent
//!   when the commit's write lock is released ([`Subscriptions::commit`]).
//! - Tables and materialized views are followed directly. Logical views and queries get a
//!   dataflow of their own (the same incremental operators as a materialized view), fed the
//!   changes of the relations it reads, and dropped with the subscription.
//! - A subscriber is a bounded channel of `BUFFER_SIZE` commits (default 1024). A commit
//!   never waits for a client: when a subscriber's buffer is full, its subscription ends
//!   with SQLSTATE 53400 (after the client has read what was buffered). Memory per
//!   subscriber is therefore bounded by the buffered commits' changes.
//! - The subscription ends with an error when a relation it reads is dropped or its view
//!   fails; dropping the [`Subscription`] (client cancel or disconnect) unregisters it.
//! - In a durable database timestamps also increase across restarts, even when the wall
//!   clock went back: the [`Clock`] keeps a reservation ahead of every timestamp it gave
//!   out in the data directory and starts after it.

pub(crate) mod cursor;
pub(crate) mod parse;
pub(crate) mod start;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sluice_runtime::{ChangeBatch, Dataflow};
use sluice_storage::{Durable, RowCodec};
use tokio::sync::mpsc;

use crate::database::Database;
use crate::error::{PlanError, Result};

/// The output column with the commit's logical timestamp.
pub const TIMESTAMP_COLUMN: &str = "sluice_timestamp";
/// The output column with the row's weight.
pub const DIFF_COLUMN: &str = "sluice_diff";
/// Commits a subscriber may have waiting before its subscription ends.
pub const DEFAULT_BUFFER_COMMITS: usize = 1024;

/// Why a subscription ended.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubscribeError {
    #[error(
        "subscription to \"{relation}\" ended: the client fell {limit} commits behind \
         (BUFFER_SIZE); read faster or subscribe again"
    )]
    Lagged { relation: String, limit: usize },
    #[error("subscription to \"{relation}\" ended: relation \"{dropped}\" was dropped")]
    RelationDropped { relation: String, dropped: String },
    #[error("subscription to \"{relation}\" ended: {message}")]
    Failed { relation: String, message: String },
    #[error("subscription to \"{relation}\" ended: the database is shutting down")]
    Shutdown { relation: String },
}

impl SubscribeError {
    /// The SQLSTATE reported to the client.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            // configuration_limit_exceeded: the subscriber's buffer is full.
            SubscribeError::Lagged { .. } => "53400",
            SubscribeError::RelationDropped { .. } => "42P01",
            SubscribeError::Failed { .. } => "XX000",
            SubscribeError::Shutdown { .. } => "57P01",
        }
    }
}

/// What a SUBSCRIBE reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A table, view or materialized view, with the 1-based position of its name.
    Relation { name: String, position: usize },
    /// `SUBSCRIBE TO (SELECT ...)`: the query's text.
    Query(String),
}

/// A parsed `SUBSCRIBE`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubscribeSpec {
    pub target: Target,
    pub snapshot: bool,
    pub buffer: usize,
}

impl SubscribeSpec {
    pub fn label(&self) -> String {
        match &self.target {
            Target::Relation { name, .. } => name.clone(),
            Target::Query(_) => "(query)".to_string(),
        }
    }
}

/// How a subscriber's changes are derived from committed changes.
enum Feed {
    /// The committed changes of one stored relation, as they are.
    Relation,
    /// The subscription's own dataflow over the relations it reads.
    Dataflow(Box<Dataflow>),
}

/// Where a subscription's end reason is left for its reader.
#[derive(Default, Debug)]
struct EndSlot(parking_lot::Mutex<Option<SubscribeError>>);

struct Subscriber {
    label: String,
    /// Relations whose committed changes feed it.
    reads: BTreeSet<String>,
    /// Relations whose drop ends it.
    depends_on: BTreeSet<String>,
    feed: Feed,
    codec: RowCodec,
    output: SchemaRef,
    pending: Vec<ChangeBatch>,
    sender: mpsc::Sender<RecordBatch>,
    end: Arc<EndSlot>,
    limit: usize,
}

/// A subscription as `SHOW SUBSCRIPTIONS` lists it.
#[derive(Debug, Clone)]
pub struct SubscriptionInfo {
    pub id: u64,
    pub relation: String,
    /// Commits delivered but not yet read by the client.
    pub buffered: usize,
    pub buffer_size: usize,
}

/// The registered subscriptions, part of the catalog.
#[derive(Default)]
pub(crate) struct Subscriptions {
    next_id: u64,
    clock: Clock,
    active: BTreeMap<u64, Subscriber>,
}

/// Where a durable database keeps its clock's reservation.
const CLOCK_KEY: &str = "subscription-clock";
/// How far ahead of the timestamps given out a durable clock reserves: one synced write per
/// this many milliseconds of commits, and a restart's first timestamp at most this far
/// ahead of the wall clock.
const CLOCK_RESERVE_MS: i64 = 10_000;

/// The source of `sluice_timestamp`: wall-clock milliseconds, or one more than the last
/// timestamp if the clock has not moved on (or went back). In a durable database no
/// timestamp is given out before a reservation at or above it is stored, and a restarted
/// database starts above the stored reservation, so timestamps never repeat or go back.
#[derive(Default)]
struct Clock {
    last: i64,
    reserved: i64,
    durable: Option<Arc<Durable>>,
}

impl Clock {
    fn advance(&mut self) -> Result<i64> {
        let now = chrono::Utc::now().timestamp_millis();
        let next = now.max(self.last.saturating_add(1));
        if let Some(durable) = &self.durable {
            if next > self.reserved {
                let reserved = next.saturating_add(CLOCK_RESERVE_MS);
                durable.put_meta_i64(CLOCK_KEY, reserved)?;
                self.reserved = reserved;
            }
        }
        self.last = next;
        Ok(next)
    }
}

/// What [`Subscriptions::register`] needs besides the spec.
pub(crate) struct Registration {
    pub label: String,
    pub reads: BTreeSet<String>,
    pub depends_on: BTreeSet<String>,
    /// `None`: follow the stored relation named in `reads` directly.
    pub dataflow: Option<Dataflow>,
    /// The relation's columns.
    pub schema: SchemaRef,
    /// The current contents, as inserts.
    pub snapshot: Option<ChangeBatch>,
    pub buffer: usize,
}

impl Subscriptions {
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    pub fn list(&self) -> Vec<SubscriptionInfo> {
        self.active
            .iter()
            .map(|(id, s)| SubscriptionInfo {
                id: *id,
                relation: s.label.clone(),
                buffered: s.limit.saturating_sub(s.sender.capacity()),
                buffer_size: s.limit,
            })
            .collect()
    }

    /// Keep the clock's reservation in `durable`, continuing after the one stored there.
    pub fn use_durable_clock(&mut self, durable: Arc<Durable>) -> Result<()> {
        let stored = durable.meta_i64(CLOCK_KEY)?.unwrap_or(i64::MIN);
        self.clock.last = self.clock.last.max(stored);
        self.clock.reserved = self.clock.last;
        self.clock.durable = Some(durable);
        Ok(())
    }

    /// Register a subscriber (under the write lock) and queue its snapshot.
    pub fn register(
        &mut self,
        registration: Registration,
        database: Weak<Database>,
    ) -> Result<Subscription> {
        let limit = registration.buffer.max(1);
        let types: Vec<DataType> = registration
            .schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let codec = RowCodec::new(types)?;
        let output = output_schema(&registration.schema);
        // One more slot than the limit for the snapshot.
        let snapshot_slot = usize::from(registration.snapshot.is_some());
        let (sender, receiver) = mpsc::channel(limit + snapshot_slot);
        let end = Arc::new(EndSlot::default());
        self.next_id += 1;
        let id = self.next_id;
        if let Some(snapshot) = registration.snapshot {
            let timestamp = self.clock.advance()?;
            if let Some(batch) = output_batch(&output, &codec, &[snapshot], timestamp)? {
                sender
                    .try_send(batch)
                    .map_err(|_| PlanError::Internal("subscription channel refused".into()))?;
            }
        }
        let feed = match registration.dataflow {
            Some(dataflow) => Feed::Dataflow(Box::new(dataflow)),
            None => Feed::Relation,
        };
        tracing::debug!(id, relation = %registration.label, "subscription registered");
        self.active.insert(
            id,
            Subscriber {
                label: registration.label.clone(),
                reads: registration.reads,
                depends_on: registration.depends_on,
                feed,
                codec,
                output: output.clone(),
                pending: Vec::new(),
                sender,
                end: end.clone(),
                limit,
            },
        );
        Ok(Subscription {
            id,
            label: registration.label,
            schema: output,
            receiver,
            end,
            database,
        })
    }

    /// Committed changes of the stored relation `relation`, during a commit.
    pub fn record(&mut self, relation: &str, changes: &ChangeBatch) {
        if self.active.is_empty() || changes.is_empty() {
            return;
        }
        let mut failed = Vec::new();
        for (id, subscriber) in self.active.iter_mut() {
            if !subscriber.reads.contains(relation) {
                continue;
            }
            match &mut subscriber.feed {
                Feed::Relation => subscriber.pending.push(changes.clone()),
                Feed::Dataflow(dataflow) => match dataflow.push(relation, changes) {
                    Ok(delta) if !delta.is_empty() => subscriber.pending.push(delta),
                    Ok(_) => {}
                    Err(error) => failed.push((*id, PlanError::from(error).to_string())),
                },
            }
        }
        for (id, message) in failed {
            self.end(id, |relation| SubscribeError::Failed { relation, message });
        }
    }

    /// The watermark of `relation` moved: subscriptions with a dataflow of their own emit
    /// what it closes (window aggregates).
    pub fn advance_watermark(&mut self, relation: &str, watermark: i64) {
        let mut failed = Vec::new();
        for (id, subscriber) in self.active.iter_mut() {
            let Feed::Dataflow(dataflow) = &mut subscriber.feed else {
                continue;
            };
            if !subscriber.reads.contains(relation) {
                continue;
            }
            match dataflow.advance_watermark(relation, watermark) {
                Ok(delta) if !delta.is_empty() => subscriber.pending.push(delta),
                Ok(_) => {}
                Err(error) => failed.push((*id, PlanError::from(error).to_string())),
            }
        }
        for (id, message) in failed {
            self.end(id, |relation| SubscribeError::Failed { relation, message });
        }
    }

    /// End of a commit: deliver each subscriber's consolidated changes at one timestamp.
    /// `failure` tells whether a relation failed (its subscribers end with the reason).
    pub fn commit(&mut self, failure: impl Fn(&str) -> Option<String>) {
        if self.active.is_empty() {
            return;
        }
        let mut ended: Vec<(u64, SubscribeError)> = Vec::new();
        let mut closed = Vec::new();
        let mut timestamp = None;
        for (id, subscriber) in self.active.iter_mut() {
            if subscriber.sender.is_closed() {
                closed.push(*id);
                continue;
            }
            if let Some(message) = subscriber.depends_on.iter().find_map(|r| failure(r)) {
                ended.push((
                    *id,
                    SubscribeError::Failed {
                        relation: subscriber.label.clone(),
                        message,
                    },
                ));
                continue;
            }
            if subscriber.pending.is_empty() {
                continue;
            }
            let pending = std::mem::take(&mut subscriber.pending);
            let at = match timestamp {
                Some(at) => at,
                None => match self.clock.advance() {
                    Ok(at) => *timestamp.insert(at),
                    Err(error) => {
                        ended.push((
                            *id,
                            SubscribeError::Failed {
                                relation: subscriber.label.clone(),
                                message: format!("the subscription clock failed: {error}"),
                            },
                        ));
                        continue;
                    }
                },
            };
            let batch = match output_batch(&subscriber.output, &subscriber.codec, &pending, at) {
                Ok(Some(batch)) => batch,
                Ok(None) => continue,
                Err(error) => {
                    ended.push((
                        *id,
                        SubscribeError::Failed {
                            relation: subscriber.label.clone(),
                            message: error.to_string(),
                        },
                    ));
                    continue;
                }
            };
            match subscriber.sender.try_send(batch) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(id, relation = %subscriber.label, limit = subscriber.limit, "subscriber fell behind; subscription ended");
                    ended.push((
                        *id,
                        SubscribeError::Lagged {
                            relation: subscriber.label.clone(),
                            limit: subscriber.limit,
                        },
                    ));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => closed.push(*id),
            }
        }
        for (id, error) in ended {
            self.end(id, |_| error);
        }
        for id in closed {
            self.remove(id);
        }
    }

    /// `name` was dropped: subscriptions reading it end.
    pub fn relation_dropped(&mut self, name: &str) {
        let ids: Vec<u64> = self
            .active
            .iter()
            .filter(|(_, s)| s.depends_on.contains(name))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.end(id, |relation| SubscribeError::RelationDropped {
                relation,
                dropped: name.to_string(),
            });
        }
    }

    /// End subscription `id` with an error its reader gets after what was buffered.
    fn end(&mut self, id: u64, error: impl FnOnce(String) -> SubscribeError) {
        if let Some(subscriber) = self.active.remove(&id) {
            let error = error(subscriber.label.clone());
            tracing::debug!(id, %error, "subscription ended");
            *subscriber.end.0.lock() = Some(error);
        }
    }

    /// Unregister subscription `id` (its reader is gone).
    pub fn remove(&mut self, id: u64) {
        if self.active.remove(&id).is_some() {
            tracing::debug!(id, "subscription closed");
        }
    }
}

/// `sluice_timestamp`, `sluice_diff`, then the relation's columns.
pub(crate) fn output_schema(relation: &SchemaRef) -> SchemaRef {
    let mut fields = vec![
        Field::new(TIMESTAMP_COLUMN, DataType::Int64, false),
        Field::new(DIFF_COLUMN, DataType::Int64, false),
    ];
    fields.extend(
        relation
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true)),
    );
    Arc::new(Schema::new(fields))
}

/// The consolidated rows of `changes`, retractions first, with the timestamp and diff
/// columns; `None` when they cancel out.
fn output_batch(
    output: &SchemaRef,
    codec: &RowCodec,
    changes: &[ChangeBatch],
    timestamp: i64,
) -> Result<Option<RecordBatch>> {
    let Some(first) = changes.first() else {
        return Ok(None);
    };
    let merged = ChangeBatch::concat(&first.schema(), changes)?.consolidate(codec)?;
    if merged.is_empty() {
        return Ok(None);
    }
    let mut order: Vec<u32> = (0..merged.num_rows() as u32).collect();
    order.sort_by_key(|&i| merged.weights.value(i as usize) > 0);
    let indices = UInt32Array::from(order);
    let rows = merged.num_rows();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![timestamp; rows])),
        arrow::compute::take(&merged.weights, &indices, None)?,
    ];
    for column in merged.data.columns() {
        columns.push(arrow::compute::take(column.as_ref(), &indices, None)?);
    }
    if columns.len() != output.fields().len() {
        return Err(PlanError::Internal(format!(
            "subscription changes have {} columns, expected {}",
            columns.len() - 2,
            output.fields().len() - 2
        )));
    }
    Ok(Some(RecordBatch::try_new(output.clone(), columns)?))
}

/// The reading end of a subscription. Dropping it unregisters the subscription.
pub struct Subscription {
    id: u64,
    label: String,
    schema: SchemaRef,
    receiver: mpsc::Receiver<RecordBatch>,
    end: Arc<EndSlot>,
    database: Weak<Database>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("relation", &self.label)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The output columns: timestamp, diff, then the relation's columns.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The next commit's changes; waits for one. An error when the subscription ended.
    pub async fn next(&mut self) -> Result<RecordBatch> {
        match self.receiver.recv().await {
            Some(batch) => Ok(batch),
            None => Err(self.end_error()),
        }
    }

    /// The next commit's changes if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<Result<RecordBatch>> {
        match self.receiver.try_recv() {
            Ok(batch) => Some(Ok(batch)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => Some(Err(self.end_error())),
        }
    }

    fn end_error(&self) -> PlanError {
        let error = self.end.0.lock().clone();
        PlanError::Subscribe(error.unwrap_or_else(|| SubscribeError::Shutdown {
            relation: self.label.clone(),
        }))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.receiver.close();
        let Some(database) = self.database.upgrade() else {
            return;
        };
        let id = self.id;
        // Unregister now rather than at the next commit, so its state is freed at once.
        // Without a runtime it goes at the next commit, which finds its channel closed.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                database.catalog.write().await.subscriptions.remove(id);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn changes(values: &[(&str, i64)]) -> ChangeBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
        let data = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(
                values.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            ))],
        )
        .unwrap();
        ChangeBatch::new(
            data,
            Int64Array::from_iter_values(values.iter().map(|(_, w)| *w)),
        )
        .unwrap()
    }

    #[test]
    fn a_commit_is_consolidated_with_retractions_first() {
        let relation = changes(&[]).schema();
        let output = output_schema(&relation);
        let codec = RowCodec::new(vec![DataType::Utf8]).unwrap();
        let batch = output_batch(
            &output,
            &codec,
            &[
                changes(&[("x", 1), ("y", 1)]),
                changes(&[("x", -1), ("z", -1)]),
            ],
            7,
        )
        .unwrap()
        .unwrap();
        let diffs = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let values = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let got: Vec<(i64, &str)> = (0..batch.num_rows())
            .map(|i| (diffs.value(i), values.value(i)))
            .collect();
        assert_eq!(got, vec![(-1, "z"), (1, "y")]);
        let timestamps = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert!(timestamps.iter().all(|t| t == Some(7)));
        assert!(
            output_batch(&output, &codec, &[changes(&[("x", 1), ("x", -1)])], 8)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_durable_clock_never_goes_back_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let options = sluice_storage::DurableOptions::default();
        let first = {
            let durable = Durable::open(dir.path(), &options).unwrap();
            let mut clock = Subscriptions::default();
            clock.use_durable_clock(durable.clone()).unwrap();
            let first = clock.clock.advance().unwrap();
            let second = clock.clock.advance().unwrap();
            assert!(first < second);
            // Many timestamps within one reservation write it once.
            assert_eq!(
                durable.meta_i64(CLOCK_KEY).unwrap(),
                Some(first + CLOCK_RESERVE_MS)
            );
            // A run whose clock was an hour ahead (then set back) gave out later times.
            durable.put_meta_i64(CLOCK_KEY, second + 3_600_000).unwrap();
            second
        };
        let durable = Durable::open(dir.path(), &options).unwrap();
        let mut clock = Subscriptions::default();
        clock.use_durable_clock(durable).unwrap();
        let after = clock.clock.advance().unwrap();
        assert!(
            after > first + 3_600_000,
            "{after} must follow the stored reservation"
        );
        assert!(clock.clock.advance().unwrap() > after);
    }

    #[tokio::test]
    async fn a_full_buffer_ends_the_subscription_instead_of_blocking() {
        let relation = changes(&[]).schema();
        let mut subscriptions = Subscriptions::default();
        let mut subscription = subscriptions
            .register(
                Registration {
                    label: "t".into(),
                    reads: ["t".to_string()].into(),
                    depends_on: ["t".to_string()].into(),
                    dataflow: None,
                    schema: relation,
                    snapshot: None,
                    buffer: 2,
                },
                Weak::new(),
            )
            .unwrap();
        for value in ["a", "b", "c", "d"] {
            subscriptions.record("t", &changes(&[(value, 1)]));
            subscriptions.commit(|_| None);
        }
        assert!(subscriptions.is_empty(), "the lagging subscriber is gone");
        let mut timestamps = Vec::new();
        loop {
            match subscription.next().await {
                Ok(batch) => {
                    let column = batch.column(0).as_any().downcast_ref::<Int64Array>();
                    timestamps.push(column.unwrap().value(0));
                }
                Err(error) => {
                    assert_eq!(error.sqlstate(), "53400", "{error}");
                    break;
                }
            }
        }
        assert_eq!(timestamps.len(), 2, "what was buffered is delivered first");
        assert!(timestamps.windows(2).all(|w| w[0] < w[1]));
    }
}
