//! PostgreSQL's system catalogs for Sluice: schemas `pg_catalog` and `information_schema`,
//! the catalog functions clients call (`format_type`, `pg_get_viewdef`, ...), and the SQL
//! rewrite that lets client catalog queries plan in DataFusion.
//!
//! Every system relation is a DataFusion `TableProvider` whose rows are computed when it is
//! scanned, from a [`CatalogSnapshot`] of Sluice's own catalog: the tables, views and
//! materialized views of schema `public` with their Arrow schemas, primary keys, column
//! defaults and definitions, plus the system relations themselves. A relation created a
//! moment ago is therefore visible to the next catalog query.
//!
//! Where the snapshot comes from, and why no lock is taken:
//! - A statement holds the database lock while DataFusion plans and executes it, so a scan
//!   must not wait for that lock (a queued writer would deadlock it). The relation list is
//!   kept lock-free instead: [`install`] wraps schema `public` in a [`TrackingSchema`] that
//!   records every table registered or deregistered with DataFusion (which Sluice does for
//!   every CREATE and DROP, under the write lock) with a registration number.
//! - What DataFusion's table providers do not expose (primary keys, the definition of a
//!   materialized view, the kind of a stored relation) is read from the catalog with a
//!   non-blocking `try_read` and cached per relation name; a failed attempt (the statement
//!   itself holds the write lock, or a writer is queued) uses the cache, which is also
//!   refreshed after every CREATE/DROP by a reader queued behind that statement. Such a
//!   detail (a primary key, a materialized view's definition) can be missing only for a
//!   relation created by a statement that was still waiting for, or holding, the lock when
//!   the catalog query started under a write lock or behind a queued writer.
//!
//! OIDs (all below 2^31, carried as `Int32` columns tagged as `oid` for the wire):
//! - PostgreSQL's own OIDs for types, namespaces and the system relations;
//! - a user relation gets `16384 + n`, `n` its registration number, never reused (usually
//!   the catalog entry id: both count CREATEs in order);
//! - objects derived from relation `n` (primary-key index and constraint, view rule, column
//!   defaults) get `1_000_000_000 + 2048 n + slot`, distinct for the first ~500,000
//!   relations of a database.
//!
//! Name resolution: DataFusion resolves unqualified names in schema `public` only, so the
//! rewrite (see [`rewrite`]) qualifies an unqualified reference to a `pg_catalog` relation
//! that no CTE of the statement shadows, as PostgreSQL's implicit `pg_catalog`-first search
//! path does (a user table named like a catalog relation is reached as `public.name`).

mod functions;
mod information_schema;
mod pg_catalog;
pub(crate) mod rewrite;
mod specs;
mod table;
mod types;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Weak};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::{TableType, ViewTable};
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::context::SessionContext;
use parking_lot::Mutex;

use crate::names::PUBLIC;

use crate::database::{Catalog, Database, EntryKind};

/// The name of the only database (`current_database()`).
pub(crate) const DATABASE_NAME: &str = "sluice";
/// The OID of the only database.
pub(crate) const DATABASE_OID: u32 = 16384;
/// The only role: every client is this superuser (OID 10, PostgreSQL's bootstrap role).
pub(crate) const ROLE_NAME: &str = "sluice";
pub(crate) const ROLE_OID: u32 = 10;
/// Namespace OIDs, PostgreSQL's.
pub(crate) const PG_CATALOG_NAMESPACE: u32 = 11;
pub(crate) const PG_TOAST_NAMESPACE: u32 = 99;
pub(crate) const PUBLIC_NAMESPACE: u32 = 2200;
pub(crate) const INFORMATION_SCHEMA_NAMESPACE: u32 = 13207;
/// PostgreSQL's first OID for user objects.
const FIRST_USER_OID: u32 = 16384;
/// Base of user schemas' OIDs (above any user relation's, below the derived ones).
const FIRST_SCHEMA_OID: u32 = 500_000_000;
const FIRST_DERIVED_OID: u32 = 1_000_000_000;
const DERIVED_SLOTS: u32 = 2048;
/// Access methods.
pub(crate) const HEAP_AM: u32 = 2;
pub(crate) const BTREE_AM: u32 = 403;
/// The default collation (`pg_collation`) of collatable columns.
pub(crate) const DEFAULT_COLLATION: u32 = 100;

datafusion::common::extensions_options! {
    /// What the catalog functions need of the session running the statement (each
    /// statement's planning state carries its session's values).
    pub struct SessionOptions {
        /// The schemas unqualified names are looked up in, in order, comma-separated
        /// (after `pg_catalog`).
        pub search_path: String, default = PUBLIC.to_string()
    }
}

impl datafusion::common::config::ConfigExtension for SessionOptions {
    const PREFIX: &'static str = "sluice_session";
}

/// The search path a statement's config options carry.
pub(crate) fn search_path(options: &datafusion::common::config::ConfigOptions) -> Vec<String> {
    options
        .extensions
        .get::<SessionOptions>()
        .map(|o| o.search_path.split(',').map(str::to_string).collect())
        .unwrap_or_else(|| vec![PUBLIC.to_string()])
}

/// The namespaces, as (oid, name).
pub(crate) const NAMESPACES: &[(u32, &str)] = &[
    (PG_CATALOG_NAMESPACE, "pg_catalog"),
    (PG_TOAST_NAMESPACE, "pg_toast"),
    (PUBLIC_NAMESPACE, "public"),
    (INFORMATION_SCHEMA_NAMESPACE, "information_schema"),
];

/// The name of namespace `oid`.
pub(crate) fn namespace_name(oid: u32) -> Option<&'static str> {
    NAMESPACES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// What a relation is, as `pg_class.relkind` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelationKind {
    Table,
    View,
    MaterializedView,
    Index,
}

impl RelationKind {
    pub fn relkind(self) -> &'static str {
        match self {
            RelationKind::Table => "r",
            RelationKind::View => "v",
            RelationKind::MaterializedView => "m",
            RelationKind::Index => "i",
        }
    }

    /// Whether rows are stored (PostgreSQL gives these an access method and a file node).
    pub fn is_stored(self) -> bool {
        matches!(self, RelationKind::Table | RelationKind::MaterializedView)
    }
}

/// A column as the catalogs describe it.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
    pub not_null: bool,
    /// The DEFAULT expression as SQL text.
    pub default: Option<String>,
}

/// A relation as the catalogs describe it.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    pub oid: u32,
    pub name: String,
    pub namespace: u32,
    /// The name of the namespace.
    pub schema: String,
    pub kind: RelationKind,
    pub columns: Vec<Column>,
    /// Primary-key columns (0-based) of a table; an index's columns are all its own.
    pub primary_key: Vec<usize>,
    /// The defining query of a view or materialized view.
    pub definition: Option<String>,
    /// For a user relation, its registration number (the base of derived OIDs).
    pub number: Option<u32>,
    /// For an index, the OID of its table.
    pub index_of: Option<u32>,
}

/// Slots of the OIDs derived from a user relation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Derived {
    PrimaryKeyIndex,
    PrimaryKeyConstraint,
    ViewRule,
    /// The default of the column with this attnum.
    ColumnDefault(i16),
}

impl Relation {
    /// The OID of an object derived from this user relation (0 for system relations).
    pub fn derived_oid(&self, what: Derived) -> u32 {
        let Some(number) = self.number else {
            return 0;
        };
        let slot = match what {
            Derived::PrimaryKeyIndex => 0,
            Derived::PrimaryKeyConstraint => 1,
            Derived::ViewRule => 2,
            Derived::ColumnDefault(attnum) => 16 + (attnum.max(0) as u32).min(DERIVED_SLOTS - 17),
        };
        FIRST_DERIVED_OID.saturating_add(number.saturating_mul(DERIVED_SLOTS).saturating_add(slot))
    }

    /// The name of the primary-key index and constraint (`t_pkey`, as PostgreSQL names it).
    pub fn primary_key_name(&self) -> String {
        format!("{}_pkey", self.name)
    }

    pub fn namespace_name(&self) -> &str {
        &self.schema
    }
}

/// The catalog at one point: system relations, then user relations in creation order,
/// each table's primary-key index right after it.
#[derive(Debug, Default)]
pub(crate) struct CatalogSnapshot {
    pub relations: Vec<Arc<Relation>>,
    /// The namespaces as (oid, name): the system ones, `public`, then user schemas in
    /// creation order.
    pub namespaces: Vec<(u32, String)>,
}

impl CatalogSnapshot {
    /// The name of namespace `oid`.
    pub fn namespace_name(&self, oid: u32) -> Option<&str> {
        self.namespaces
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, name)| name.as_str())
    }

    /// The OID of namespace `name`.
    pub fn namespace_oid(&self, name: &str) -> Option<u32> {
        oid_of_namespace(&self.namespaces, name)
    }

    pub fn relation(&self, oid: u32) -> Option<&Relation> {
        self.relations
            .iter()
            .find(|r| r.oid == oid)
            .map(|r| r.as_ref())
    }

    /// Resolve a relation name as PostgreSQL does: `schema.name` exactly, an unqualified
    /// name in `pg_catalog` first, then in the schemas of `path` in order.
    pub fn resolve(&self, path: &[String], schema: Option<&str>, name: &str) -> Option<&Relation> {
        match schema {
            Some(schema) => self
                .relations
                .iter()
                .find(|r| r.name == name && r.namespace_name() == schema)
                .map(|r| r.as_ref()),
            None => std::iter::once("pg_catalog")
                .chain(path.iter().map(String::as_str))
                .find_map(|schema| {
                    self.relations
                        .iter()
                        .find(|r| r.name == name && r.namespace_name() == schema)
                })
                .map(|r| r.as_ref()),
        }
    }

    /// Whether a relation is found by its unqualified name on `path`
    /// (`pg_table_is_visible`).
    pub fn is_visible(&self, path: &[String], relation: &Relation) -> bool {
        self.resolve(path, None, &relation.name)
            .is_some_and(|found| found.oid == relation.oid)
    }

    /// The name of `oid` as `regclass` prints it: qualified unless visible on `path`.
    pub fn regclass_name(&self, path: &[String], oid: u32) -> Option<String> {
        let relation = self.relation(oid)?;
        Some(if self.is_visible(path, relation) {
            quote_identifier(&relation.name)
        } else {
            format!(
                "{}.{}",
                quote_identifier(relation.namespace_name()),
                quote_identifier(&relation.name)
            )
        })
    }
}

/// Quote an identifier when PostgreSQL would (`quote_ident`).
pub(crate) fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !rewrite::is_reserved_keyword(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A user relation registered with DataFusion.
#[derive(Debug, Clone)]
struct Registered {
    number: u32,
    /// The schema (`None`: `public`) and the name in it.
    schema: Option<String>,
    table: String,
    provider: Arc<dyn TableProvider>,
}

/// What only the Sluice catalog knows about a relation.
#[derive(Debug, Clone, Default)]
struct Details {
    kind: Option<RelationKind>,
    primary_key: Vec<usize>,
    definition: Option<String>,
}

/// The state behind the system catalogs of one database.
#[derive(Debug)]
pub(crate) struct SystemCatalog {
    database: Weak<Database>,
    registered: Mutex<Registry>,
    details: Mutex<HashMap<String, Details>>,
    system: Vec<Arc<Relation>>,
}

#[derive(Debug, Default)]
struct Registry {
    next_number: u32,
    /// By catalog key (see [`crate::names`]).
    relations: HashMap<String, Registered>,
    /// User schemas as (oid, name), in creation order.
    schemas: Vec<(u32, String)>,
    next_schema: u32,
}

impl SystemCatalog {
    fn new(database: Weak<Database>) -> Self {
        Self {
            database,
            registered: Mutex::new(Registry::default()),
            details: Mutex::new(HashMap::new()),
            system: table::system_relations(),
        }
    }

    fn track(
        self: &Arc<Self>,
        schema: Option<&str>,
        table: &str,
        provider: Arc<dyn TableProvider>,
    ) {
        let name = crate::names::join(schema, table);
        {
            let mut registry = self.registered.lock();
            registry.next_number += 1;
            let number = registry.next_number;
            registry.relations.insert(
                name.clone(),
                Registered {
                    number,
                    schema: schema.map(str::to_string),
                    table: table.to_string(),
                    provider,
                },
            );
        }
        self.details.lock().remove(&name);
        self.schedule_refresh();
    }

    /// A user schema was created.
    fn track_schema(&self, name: &str) {
        let mut registry = self.registered.lock();
        registry.next_schema += 1;
        let oid = FIRST_SCHEMA_OID.saturating_add(registry.next_schema);
        registry.schemas.push((oid, name.to_string()));
    }

    /// A user schema was dropped.
    fn untrack_schema(&self, name: &str) {
        self.registered.lock().schemas.retain(|(_, n)| n != name);
    }

    fn untrack(self: &Arc<Self>, name: &str) {
        self.registered.lock().relations.remove(name);
        self.details.lock().remove(name);
        self.schedule_refresh();
    }

    /// Refresh the cached details once the statement that changed the catalog is done. The
    /// refresh joins the lock's queue right away (one poll here, while the DDL statement
    /// holds the write lock), so it runs before any statement that asks for the lock later.
    fn schedule_refresh(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let system_catalog = Arc::downgrade(self);
        let Some(database) = self.database.upgrade() else {
            return;
        };
        let mut refresh = Box::pin(async move {
            let catalog = database.catalog.read().await;
            if let Some(system_catalog) = system_catalog.upgrade() {
                system_catalog.store_details(&catalog);
            }
        });
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        if refresh.as_mut().poll(&mut context).is_pending() {
            runtime.spawn(refresh);
        }
    }

    fn store_details(&self, catalog: &Catalog) {
        let details = catalog
            .entries
            .iter()
            .map(|(name, entry)| {
                let (kind, store) = match &entry.kind {
                    EntryKind::Table { store } => (RelationKind::Table, Some(store)),
                    EntryKind::MaterializedView { store, .. } => {
                        (RelationKind::MaterializedView, Some(store))
                    }
                    EntryKind::View => (RelationKind::View, None),
                };
                let details = Details {
                    kind: Some(kind),
                    primary_key: store.map(|s| s.primary_key().to_vec()).unwrap_or_default(),
                    definition: entry.definition.clone(),
                };
                (name.clone(), details)
            })
            .collect();
        *self.details.lock() = details;
    }

    /// Read the details without waiting; keep the cached ones when the lock is taken.
    fn try_refresh_details(&self) {
        let Some(database) = self.database.upgrade() else {
            return;
        };
        let guard = database.catalog.try_read();
        if let Ok(catalog) = &guard {
            self.store_details(catalog);
        }
    }

    /// The catalog now (see the module documentation for where each part comes from).
    pub fn snapshot(&self) -> CatalogSnapshot {
        self.try_refresh_details();
        let mut registered: Vec<(String, Registered)> = self
            .registered
            .lock()
            .relations
            .iter()
            .map(|(name, r)| (name.clone(), r.clone()))
            .collect();
        registered.sort_by_key(|(_, r)| r.number);
        let details = self.details.lock().clone();
        let mut namespaces: Vec<(u32, String)> = NAMESPACES
            .iter()
            .map(|(oid, name)| (*oid, name.to_string()))
            .collect();
        namespaces.extend(self.registered.lock().schemas.iter().cloned());
        let mut relations: Vec<Arc<Relation>> = self.system.clone();
        for (name, registered) in registered {
            let detail = details.get(&name).cloned().unwrap_or_default();
            let namespace = registered
                .schema
                .as_deref()
                .and_then(|schema| oid_of_namespace(&namespaces, schema))
                .unwrap_or(PUBLIC_NAMESPACE);
            let relation = user_relation(&registered, namespace, detail);
            let index = primary_key_index(&relation);
            relations.push(Arc::new(relation));
            if let Some(index) = index {
                relations.push(Arc::new(index));
            }
        }
        CatalogSnapshot {
            relations,
            namespaces,
        }
    }
}

/// The OID of namespace `name` among `namespaces` (oid, name).
fn oid_of_namespace(namespaces: &[(u32, String)], name: &str) -> Option<u32> {
    namespaces
        .iter()
        .find(|(_, n)| n == name)
        .map(|(oid, _)| *oid)
}

/// Describe a user relation from its table provider and catalog details.
fn user_relation(registered: &Registered, namespace: u32, details: Details) -> Relation {
    let provider = &registered.provider;
    let view_table = provider.downcast_ref::<ViewTable>();
    let kind = details
        .kind
        .unwrap_or(match (view_table, provider.table_type()) {
            (Some(_), _) => RelationKind::View,
            (None, TableType::View) => RelationKind::MaterializedView,
            _ => RelationKind::Table,
        });
    let definition = view_table
        .and_then(|v| v.definition().cloned())
        .or(details.definition);
    let schema: SchemaRef = provider.schema();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let (type_oid, typmod) = types::field_to_pg(field);
            Column {
                name: field.name().clone(),
                type_oid,
                typmod,
                // PostgreSQL records NOT NULL on tables only.
                not_null: kind == RelationKind::Table && !field.is_nullable(),
                default: provider
                    .get_column_default(field.name())
                    .map(expression_text),
            }
        })
        .collect();
    Relation {
        oid: FIRST_USER_OID.saturating_add(registered.number),
        name: registered.table.clone(),
        namespace,
        schema: registered
            .schema
            .clone()
            .unwrap_or_else(|| PUBLIC.to_string()),
        kind,
        columns,
        primary_key: details.primary_key,
        definition,
        number: Some(registered.number),
        index_of: None,
    }
}

/// The index PostgreSQL creates for a table's primary key.
fn primary_key_index(table: &Relation) -> Option<Relation> {
    if table.kind != RelationKind::Table || table.primary_key.is_empty() {
        return None;
    }
    let columns: Vec<Column> = table
        .primary_key
        .iter()
        .filter_map(|&i| table.columns.get(i))
        .map(|c| Column {
            default: None,
            not_null: false,
            ..c.clone()
        })
        .collect();
    Some(Relation {
        oid: table.derived_oid(Derived::PrimaryKeyIndex),
        name: table.primary_key_name(),
        namespace: table.namespace,
        schema: table.schema.clone(),
        kind: RelationKind::Index,
        primary_key: (0..columns.len()).collect(),
        columns,
        definition: None,
        number: None,
        index_of: Some(table.oid),
    })
}

/// SQL text of a DEFAULT expression.
fn expression_text(expr: &datafusion::prelude::Expr) -> String {
    match datafusion::sql::unparser::expr_to_sql(expr) {
        Ok(sql) => sql.to_string(),
        Err(_) => expr.to_string(),
    }
}

/// Schema `public`, recording which tables are registered (see the module documentation).
#[derive(Debug)]
pub(crate) struct TrackingSchema {
    inner: Arc<dyn SchemaProvider>,
    catalog: Arc<SystemCatalog>,
    /// The schema's name, `None` for `public`.
    schema: Option<String>,
}

#[async_trait]
impl SchemaProvider for TrackingSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        self.inner.table(name).await
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        let previous = self.inner.register_table(name.clone(), table.clone())?;
        self.catalog.track(self.schema.as_deref(), &name, table);
        Ok(previous)
    }

    fn deregister_table(&self, name: &str) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        let removed = self.inner.deregister_table(name)?;
        if removed.is_some() {
            self.catalog
                .untrack(&crate::names::join(self.schema.as_deref(), name));
        }
        Ok(removed)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// Install the system catalogs in `context` (a new database's, before any table exists):
/// wrap schema `public`, register schemas `pg_catalog` and `information_schema` in the
/// default catalog, and register the catalog functions.
pub(crate) fn install(context: &SessionContext, database: Weak<Database>) {
    let system_catalog = Arc::new(SystemCatalog::new(database));
    let state = context.state();
    let default_catalog = &state.config().options().catalog.default_catalog;
    let default_schema = &state.config().options().catalog.default_schema;
    let Some(catalog) = context.catalog(default_catalog) else {
        tracing::error!("no default catalog: the system catalogs are not installed");
        return;
    };
    let public = match catalog.schema(default_schema) {
        Some(public) => public,
        None => Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
    };
    let schemas: Vec<(&str, Arc<dyn SchemaProvider>)> = vec![
        (
            default_schema.as_str(),
            Arc::new(TrackingSchema {
                inner: public,
                catalog: system_catalog.clone(),
                schema: None,
            }),
        ),
        (
            "pg_catalog",
            Arc::new(table::SystemSchema::pg_catalog(system_catalog.clone())),
        ),
        (
            "information_schema",
            Arc::new(table::SystemSchema::information_schema(
                system_catalog.clone(),
            )),
        ),
    ];
    for (name, schema) in schemas {
        if let Err(error) = catalog.register_schema(name, schema) {
            tracing::error!(%error, schema = name, "cannot install a system schema");
        }
    }
    for function in functions::catalog_functions(&system_catalog)
        .into_iter()
        .chain(functions::rewrite_functions())
    {
        context.register_udf(function);
    }
    for aggregate in functions::catalog_aggregates() {
        context.register_udaf(aggregate);
    }
}

/// Create user schema `name` in `context`'s default catalog, its tables tracked as
/// `public`'s are. Returns whether it was created (false: a schema of that name exists).
pub(crate) fn create_schema(context: &SessionContext, name: &str) -> DataFusionResult<bool> {
    let (catalog, system_catalog) = default_catalog(context)?;
    if catalog.schema(name).is_some() {
        return Ok(false);
    }
    catalog.register_schema(
        name,
        Arc::new(TrackingSchema {
            inner: Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            catalog: system_catalog.clone(),
            schema: Some(name.to_string()),
        }),
    )?;
    system_catalog.track_schema(name);
    Ok(true)
}

/// Drop user schema `name` (its relations must have been dropped).
pub(crate) fn drop_schema(context: &SessionContext, name: &str) -> DataFusionResult<()> {
    let (catalog, system_catalog) = default_catalog(context)?;
    catalog.deregister_schema(name, false)?;
    system_catalog.untrack_schema(name);
    Ok(())
}

/// The default catalog and the system catalog state installed in it.
fn default_catalog(
    context: &SessionContext,
) -> DataFusionResult<(
    Arc<dyn datafusion::catalog::CatalogProvider>,
    Arc<SystemCatalog>,
)> {
    let state = context.state();
    let options = state.config().options();
    let missing = || {
        datafusion::error::DataFusionError::Internal("the system catalogs are not installed".into())
    };
    let catalog = context
        .catalog(&options.catalog.default_catalog)
        .ok_or_else(missing)?;
    let public = catalog
        .schema(&options.catalog.default_schema)
        .ok_or_else(missing)?;
    let system_catalog = public
        .downcast_ref::<TrackingSchema>()
        .map(|schema| schema.catalog.clone())
        .ok_or_else(missing)?;
    Ok((catalog, system_catalog))
}
