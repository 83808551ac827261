//! Sluice planner: the SQL front end, the catalog of relations and the incremental rewrite
//! of DataFusion logical plans into runtime dataflows.
//!
//! - [`Database`] owns the catalog, the stored relations and the running dataflows.
//! - [`Session`] executes SQL text for one client connection (DDL, DML, queries, settings).
//! - [`incremental`] turns an optimized `LogicalPlan` into a [`sluice_runtime::Dataflow`].

pub mod database;
mod durability;
pub mod error;
pub mod flink;
pub mod incremental;
mod key_lookup;
pub mod relation;
pub mod session;
pub mod streaming;
mod struct_fields;
/// pg_catalog and information_schema for PostgreSQL clients.
mod system_catalog;

pub use database::Database;
pub use error::{PlanError, Result};
pub use session::{PreparedStatement, Session, StatementResult};
pub use streaming::status::QueryStatus;
