//! Sluice planner: the SQL front end, the catalog of relations and the incremental rewrite
//! of DataFusion logical plans into runtime dataflows.
//!
//! - [`Database`] owns the catalog, the stored relations and the running dataflows.
//! - [`Session`] executes SQL text for one client connection (DDL, DML, queries, settings).
//! - [`incremental`] turns an optimized `LogicalPlan` into a [`sluice_runtime::Dataflow`].

mod alter_view;
mod catalog_lock;
pub mod database;
mod durability;
pub mod error;
pub mod flink;
pub mod incremental;
mod interval_arith;
mod key_lookup;
mod lateral_unnest;
mod map_keys;
pub mod names;
mod plan_key;
pub mod relation;
mod schemas;
pub mod session;
pub mod streaming;
mod struct_fields;
mod subquery_joins;
pub mod subscribe;
/// pg_catalog and information_schema for PostgreSQL clients.
mod system_catalog;
mod transaction;

pub use database::Database;
pub use error::{PlanError, Result};
pub use session::{PreparedStatement, Session, StatementResult};
pub use streaming::status::QueryStatus;
pub use subscribe::{Subscription, SubscriptionInfo};
pub use transaction::TransactionState;
