//! Running the subscription statements for a session: resolving what a SUBSCRIBE reads,
//! registering it under the write lock with its snapshot, cursors, `SHOW SUBSCRIPTIONS`.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use super::parse::{positioned, SubscribeStatement};
use super::{output_schema, Registration, SubscribeSpec, Subscription, Target};
use crate::database::{build_materialized_view, Catalog, EntryKind};
use crate::error::{PlanError, Result};
use crate::session::{Session, StatementResult};

/// What a SUBSCRIBE follows.
enum Source {
    /// A table or materialized view: its committed changes as they are.
    Stored { name: String, schema: SchemaRef },
    /// A logical view or a query: planned, then run by a dataflow of the subscription's own.
    Planned {
        plan: LogicalPlan,
        depends_on: BTreeSet<String>,
    },
}

impl Session {
    /// Run a subscription statement.
    pub(crate) async fn execute_subscribe_statement(
        &mut self,
        statement: SubscribeStatement,
    ) -> Result<StatementResult> {
        match statement {
            SubscribeStatement::Subscribe(spec) => {
                Ok(StatementResult::Subscribe(self.subscribe(&spec).await?))
            }
            SubscribeStatement::Declare { cursor, spec } => {
                if !self.transaction.in_block() {
                    return Err(PlanError::NoActiveTransaction(
                        "DECLARE CURSOR can only be used in transaction blocks".into(),
                    ));
                }
                if self.cursors.schema(&cursor).is_some() {
                    return Err(PlanError::DuplicateCursor(format!(
                        "cursor \"{cursor}\" already exists"
                    )));
                }
                let subscription = self.subscribe(&spec).await?;
                self.cursors.declare(&cursor, subscription)?;
                Ok(command("DECLARE CURSOR"))
            }
            SubscribeStatement::Fetch {
                cursor,
                count,
                timeout,
            } => {
                let cancel = self.cancel.clone();
                let (schema, batches) =
                    self.cursors.fetch(&cursor, count, timeout, &cancel).await?;
                Ok(StatementResult::Query { schema, batches })
            }
            SubscribeStatement::Close { cursor: Some(name) } => {
                self.cursors.close(&name)?;
                Ok(command("CLOSE CURSOR"))
            }
            SubscribeStatement::Close { cursor: None } => {
                self.cursors.close_all();
                Ok(command("CLOSE CURSOR ALL"))
            }
        }
    }

    /// The columns a subscription statement returns, without running it.
    pub(crate) async fn describe_subscribe_statement(
        &self,
        statement: &SubscribeStatement,
    ) -> Result<Option<SchemaRef>> {
        match statement {
            SubscribeStatement::Subscribe(spec) => {
                let catalog = self.database.catalog.read().await;
                let schema = match self.subscription_source(&catalog, spec).await? {
                    Source::Stored { schema, .. } => schema,
                    Source::Planned { plan, .. } => {
                        let optimized = self.optimize(&plan)?;
                        crate::database::materialized_view_schema(&catalog, &plan, &optimized)?
                    }
                };
                Ok(Some(output_schema(&schema)))
            }
            SubscribeStatement::Fetch { cursor, .. } => Ok(self.cursors.schema(cursor)),
            _ => Ok(None),
        }
    }

    /// Register a subscription and queue its snapshot, atomically with respect to commits.
    async fn subscribe(&self, spec: &SubscribeSpec) -> Result<Subscription> {
        let mut catalog = self.database.catalog.write().await;
        let label = spec.label();
        let registration = match self.subscription_source(&catalog, spec).await? {
            Source::Stored { name, schema } => {
                let store = catalog
                    .store(&name)
                    .ok_or_else(|| PlanError::Internal(format!("no store for {name}")))?;
                let snapshot = match spec.snapshot {
                    true => Some(store.contents_as_changes()?),
                    false => None,
                };
                Registration {
                    label,
                    reads: [name.clone()].into(),
                    depends_on: [name].into(),
                    dataflow: None,
                    schema,
                    snapshot,
                    buffer: spec.buffer,
                }
            }
            Source::Planned { plan, depends_on } => {
                let optimized = self.optimize(&plan)?;
                let (store, dataflow, _) =
                    build_materialized_view(&catalog, "subscription", &plan, &optimized)?;
                let snapshot = match spec.snapshot {
                    true => Some(store.contents_as_changes()?),
                    false => None,
                };
                let reads: BTreeSet<String> = dataflow.relations().map(str::to_string).collect();
                let mut depends_on = depends_on;
                depends_on.extend(reads.iter().cloned());
                Registration {
                    label,
                    reads,
                    depends_on,
                    schema: store.schema(),
                    dataflow: Some(dataflow),
                    snapshot,
                    buffer: spec.buffer,
                }
            }
        };
        let database = Arc::downgrade(&self.database);
        catalog.subscriptions.register(registration, database)
    }

    fn optimize(&self, plan: &LogicalPlan) -> Result<LogicalPlan> {
        self.database
            .context
            .state()
            .optimize(plan)
            .map_err(|e| PlanError::from_datafusion(e, ""))
    }

    async fn subscription_source(&self, catalog: &Catalog, spec: &SubscribeSpec) -> Result<Source> {
        let (sql, depends_on) = match &spec.target {
            Target::Relation { name, position } => {
                let name = &self.key_on_search_path(catalog, name);
                let Some(entry) = catalog.entries.get(name) else {
                    return Err(positioned(
                        PlanError::UndefinedTable(format!("relation \"{name}\" does not exist")),
                        *position,
                    ));
                };
                catalog.check_readable(std::slice::from_ref(name))?;
                match &entry.kind {
                    EntryKind::Table { store } => {
                        if entry.connector.as_ref().is_some_and(|c| !c.is_stored()) {
                            return Err(PlanError::Unsupported(format!(
                                "SUBSCRIBE to \"{name}\": its connector's rows are not stored; subscribe to a view reading it"
                            )));
                        }
                        return Ok(Source::Stored {
                            name: name.clone(),
                            schema: store.schema(),
                        });
                    }
                    EntryKind::MaterializedView {
                        store,
                        target: None,
                        ..
                    } => {
                        return Ok(Source::Stored {
                            name: name.clone(),
                            schema: store.schema(),
                        })
                    }
                    EntryKind::MaterializedView { .. } => {
                        return Err(positioned(
                            PlanError::WrongObjectType(format!(
                                "\"{name}\" is a continuous INSERT job, not a relation"
                            )),
                            *position,
                        ))
                    }
                    EntryKind::View => (
                        format!(
                            "SELECT * FROM {}",
                            self.database.reference(name).to_quoted_string()
                        ),
                        BTreeSet::from([name.clone()]),
                    ),
                }
            }
            Target::Query(sql) => (sql.clone(), BTreeSet::new()),
        };
        let mut statements = Session::parse(&sql)?;
        for statement in &mut statements {
            self.qualify(statement);
        }
        let statement = match (statements.pop(), statements.is_empty()) {
            (Some(statement @ DFStatement::Statement(_)), true) if matches!(&statement, DFStatement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_))) => {
                statement
            }
            _ => {
                return Err(PlanError::Syntax {
                    message: "SUBSCRIBE TO (...) takes one query".into(),
                    position: None,
                })
            }
        };
        let mut depends_on = depends_on;
        depends_on.extend(crate::session::referenced_relations(
            &self.database,
            &statement,
            &sql,
        )?);
        catalog.check_readable(&depends_on.iter().cloned().collect::<Vec<_>>())?;
        let plan = self.plan(statement, &sql).await?;
        Ok(Source::Planned { plan, depends_on })
    }

    /// `SHOW SUBSCRIPTIONS`: one row per active subscription.
    pub(crate) async fn show_subscriptions(&self) -> Result<StatementResult> {
        let list = self.database.catalog.read().await.subscriptions.list();
        let schema = subscriptions_schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(
                    list.iter().map(|s| s.id as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    list.iter().map(|s| s.relation.as_str()),
                )),
                Arc::new(Int64Array::from_iter_values(
                    list.iter().map(|s| s.buffered as i64),
                )),
                Arc::new(Int64Array::from_iter_values(
                    list.iter().map(|s| s.buffer_size as i64),
                )),
            ],
        )?;
        Ok(StatementResult::Query {
            schema,
            batches: vec![batch],
        })
    }
}

/// The columns of `SHOW SUBSCRIPTIONS`.
pub(crate) fn subscriptions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("relation", DataType::Utf8, false),
        Field::new("buffered_commits", DataType::Int64, false),
        Field::new("buffer_size", DataType::Int64, false),
    ]))
}

fn command(tag: &str) -> StatementResult {
    StatementResult::Command {
        tag: tag.to_string(),
        rows: None,
    }
}
