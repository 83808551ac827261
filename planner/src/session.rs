//! A client session: parses SQL, dispatches each statement, keeps session settings.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNode;
use datafusion::common::ParamValues;
use datafusion::common::TableReference;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, WriteOp};
use datafusion::physical_plan::collect;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{self, ObjectType, Set, Statement as SqlStatement};
use datafusion::sql::sqlparser::dialect::{GenericDialect, PostgreSqlDialect};
use sluice_runtime::ChangeBatch;

use crate::database::{
    alias_columns, build_materialized_view, check_not_null, relation_schema, stored_provider,
    update_old_and_new, view_provider, with_not_null, write_op_name, Catalog, Database, EntryKind,
};
use crate::error::{PlanError, Result};
use crate::relation::{RelationStore, StoredKind};

/// The outcome of one statement.
#[derive(Debug)]
pub enum StatementResult {
    /// Rows, e.g. from SELECT or SHOW.
    Query {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    /// A command tag such as `INSERT 0 3` (`rows` set for DML).
    Command { tag: String, rows: Option<usize> },
    /// Transaction control: BEGIN, COMMIT or ROLLBACK.
    Transaction { tag: String, begin: bool },
    /// DEALLOCATE of a named prepared statement (`None`: ALL); the protocol layer owns them.
    Deallocate { name: Option<String> },
    /// `SUBSCRIBE`: a never-ending stream of changes, read until the client goes away.
    Subscribe(crate::subscribe::Subscription),
}

/// A statement parsed once and executed with parameters (extended protocol).
#[derive(Debug, Clone)]
pub struct PreparedStatement {
    pub sql: String,
    statement: Option<DFStatement>,
    /// A Flink-dialect statement (connector CREATE TABLE, `SET 'k' = 'v'`, CREATE FUNCTION)
    /// that is executed from its text.
    direct: bool,
    /// Types of `$1..$n`, when known.
    pub parameter_types: Vec<Option<DataType>>,
    /// Columns the statement returns, if it returns rows.
    pub schema: Option<SchemaRef>,
    /// Temporal joins cut out of the text, and whether it was in Flink's dialect (see
    /// [`Session::flink_rewrite`]).
    temporal_joins: Vec<crate::flink::TemporalJoin>,
    flink_dialect: bool,
    /// A point lookup by key, served from the key index without planning each execution.
    key_lookup: Option<crate::key_lookup::KeyLookup>,
    /// PostgreSQL types of parameters (by 0-based index) that `parameter_types` cannot tell:
    /// those cast to `oid` or `oid[]`, which are `Int32`/`List(Int32)` in DataFusion.
    parameter_pg_types: BTreeMap<usize, u32>,
}

impl PreparedStatement {
    /// A statement executed from its text (`direct`) or an empty one: nothing to describe
    /// but its result columns.
    fn unplanned(sql: &str, direct: bool, schema: Option<SchemaRef>) -> Self {
        Self {
            sql: sql.to_string(),
            statement: None,
            direct,
            parameter_types: vec![],
            schema,
            temporal_joins: Vec::new(),
            flink_dialect: false,
            key_lookup: None,
            parameter_pg_types: BTreeMap::new(),
        }
    }

    /// The PostgreSQL type OID parameter `index` (0-based) is described with, when its
    /// DataFusion type alone does not tell it.
    pub fn parameter_pg_type(&self, index: usize) -> Option<u32> {
        self.parameter_pg_types.get(&index).copied()
    }

    /// Whether executions read the key index directly (a point lookup by the full key of a
    /// stored relation), without planning each call.
    pub fn is_key_lookup(&self) -> bool {
        self.key_lookup.is_some()
    }
}

/// What [`Session::describe`] finds: parameter types, result columns, point-lookup fast path.
type Described = (
    Vec<Option<DataType>>,
    Option<SchemaRef>,
    Option<crate::key_lookup::KeyLookup>,
);

/// Session settings with PostgreSQL's defaults for the ones clients read.
fn default_settings() -> BTreeMap<String, String> {
    [
        ("server_version", "15.0"),
        ("server_version_num", "150000"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("timezone", "UTC"),
        ("intervalstyle", "postgres"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("search_path", "\"$user\", public"),
        ("transaction_isolation", "read committed"),
        ("default_transaction_isolation", "read committed"),
        ("application_name", ""),
        ("extra_float_digits", "1"),
        ("statement_timeout", "0"),
        ("lock_timeout", "0"),
        ("max_identifier_length", "63"),
        ("is_superuser", "on"),
        ("jit", "off"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One client's session.
pub struct Session {
    pub(crate) database: Arc<Database>,
    settings: BTreeMap<String, String>,
    /// Temporal joins cut out of the statement being executed (`FOR SYSTEM_TIME AS OF`),
    /// marked in its plan by [`Session::plan`].
    temporal_joins: Vec<crate::flink::TemporalJoin>,
    /// The statement being executed was written in Flink's dialect (the Flink rewrite
    /// changed it): duplicate column names of a view are made unique as Calcite does.
    flink_dialect: bool,
    /// The transaction block and its savepoints.
    pub(crate) transaction: crate::transaction::Transaction,
    /// Open cursors over subscriptions.
    pub(crate) cursors: crate::subscribe::cursor::Cursors,
    /// Notified when the client cancels the running statement (interrupts FETCH waits).
    pub(crate) cancel: Arc<tokio::sync::Notify>,
}

impl Session {
    pub fn new(database: Arc<Database>) -> Self {
        Self {
            database,
            settings: default_settings(),
            temporal_joins: Vec::new(),
            flink_dialect: false,
            transaction: Default::default(),
            cursors: Default::default(),
            cancel: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notify its waiters to cancel what this session is waiting for (a FETCH from a
    /// subscription cursor); the protocol layer calls it on a CancelRequest.
    pub fn cancel_signal(&self) -> Arc<tokio::sync::Notify> {
        self.cancel.clone()
    }

    /// A statement failed outside the session (e.g. a subscription's stream ended with an
    /// error): the transaction block, if any, fails as PostgreSQL's would.
    pub fn statement_failed(&mut self) {
        self.transaction.fail();
    }

    /// Whether the session is in a transaction block, and whether it failed.
    pub fn transaction_state(&self) -> crate::TransactionState {
        self.transaction.state()
    }

    /// Set a session setting (from the startup packet, or SET).
    pub fn set(&mut self, name: &str, value: &str) {
        self.settings
            .insert(name.to_ascii_lowercase(), value.to_string());
    }

    /// All session settings.
    pub(crate) fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }

    /// A session setting's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.settings
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Parse SQL text into statements.
    /// Parse SQL text into statements with the PostgreSQL dialect; text that only the generic
    /// dialect accepts (e.g. `STRUCT<a INT>` column types) is parsed with that.
    pub(crate) fn parse(sql: &str) -> Result<Vec<DFStatement>> {
        Ok(Self::parse_noting_parameters(sql)?
            .into_iter()
            .map(|(statement, _)| statement)
            .collect())
    }

    /// [`Session::parse`], with the PostgreSQL types of the parameters each statement casts to
    /// an OID type (see `system_catalog::rewrite::rewrite_noting_parameters`).
    fn parse_noting_parameters(sql: &str) -> Result<Vec<(DFStatement, BTreeMap<usize, u32>)>> {
        let statements = match DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {}) {
            Ok(statements) => statements,
            Err(error) => DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
                .map_err(|_| PlanError::from_datafusion(error, sql))?,
        };
        Ok(statements
            .into_iter()
            .map(rewrite_row_types)
            // Client catalog queries: pg_catalog names, OID casts (see system_catalog::rewrite).
            .map(crate::system_catalog::rewrite::rewrite_noting_parameters)
            .collect())
    }

    /// Execute every statement in `sql` in order, stopping at the first error. Returns the
    /// results of the statements that ran and the error, if any.
    pub async fn execute(&mut self, sql: &str) -> (Vec<StatementResult>, Option<PlanError>) {
        // Split first (Flink scripts, statement sets), then run each statement on its own.
        let pieces = match crate::flink::split_script(sql) {
            Ok(pieces) => pieces,
            Err(error) => return (vec![], Some(error)),
        };
        let mut results = Vec::new();
        let count = pieces.len();
        for (index, piece) in pieces.into_iter().enumerate() {
            let outcome = match self.transaction.admit(&piece.sql) {
                Ok(()) => self.execute_text(&piece.sql, &mut results).await,
                Err(error) => Err(error),
            };
            let outcome = match (outcome, results.last()) {
                (Ok(()), Some(StatementResult::Subscribe(_))) if index + 1 < count => {
                    results.pop();
                    Err(PlanError::Unsupported(
                        "SUBSCRIBE followed by other statements in one query string; send it on its own".into(),
                    ))
                }
                (outcome, _) => outcome,
            };
            if let Err(error) = outcome {
                self.transaction.fail();
                let error = match error {
                    PlanError::Syntax {
                        message,
                        position: Some(position),
                    } => PlanError::Syntax {
                        message,
                        position: Some(piece.script_position(sql, position)),
                    },
                    other => other,
                };
                return (results, Some(error));
            }
        }
        (results, None)
    }

    /// Run one statement's text: Flink's dialect (SET 'k' = 'v', CREATE FUNCTION, connector
    /// tables, backquotes, window table functions) is handled or rewritten first.
    async fn execute_text(&mut self, text: &str, results: &mut Vec<StatementResult>) -> Result<()> {
        let guard = self.catalog_log_begin(text).await;
        let outcome = self.execute_text_unlogged(text, results).await;
        self.catalog_log_finish(guard, text, outcome.is_ok())
            .await?;
        outcome
    }

    async fn execute_text_unlogged(
        &mut self,
        text: &str,
        results: &mut Vec<StatementResult>,
    ) -> Result<()> {
        if let Some(statement) = crate::subscribe::parse::parse(text)? {
            results.push(self.execute_subscribe_statement(statement).await?);
            return Ok(());
        }
        if text
            .trim()
            .trim_end_matches(';')
            .trim()
            .eq_ignore_ascii_case("checkpoint")
        {
            self.database.checkpoint().await?;
            results.push(command("CHECKPOINT"));
            return Ok(());
        }
        if let Ok(Some((key, value))) = crate::flink::parse_set(text) {
            self.set(&key, &value);
            results.push(command("SET"));
            return Ok(());
        }
        if let Some(statement) = crate::flink::parse_namespace_statement(text)? {
            results.push(self.namespace_statement(statement).await?);
            return Ok(());
        }
        if let Some(function) = crate::flink::parse_create_function(text)? {
            let builtin = crate::streaming::functions::builtin_for_class(&function.class_name);
            if builtin == Some(function.name.as_str()) {
                results.push(command("CREATE FUNCTION"));
                return Ok(());
            }
            return Err(PlanError::Unsupported(format!(
                "user-defined function {} ({}): Sluice runs SQL built-ins only",
                function.name, function.class_name
            )));
        }
        // A table definition with a column list: kept for `CREATE TABLE .. LIKE` of it.
        let mut definition = crate::flink::parse_create_table(text).ok().flatten();
        let mut new_table = false;
        if let Some(mut table) = definition.take() {
            table.place_in(&self.current_schema());
            new_table = !self
                .database
                .catalog
                .read()
                .await
                .entries
                .contains_key(&table.name);
            let from_definition = crate::streaming::statements::created_from_definition(&table);
            let table = self.merge_like(table).await?;
            if from_definition {
                self.create_table_from_definition(table, new_table, results)
                    .await?;
                return Ok(());
            }
            definition = Some(table);
        }
        let (rewritten, temporal_joins, flink_dialect) = Self::flink_rewrite(text)?;
        let statements = Self::parse(&rewritten)?;
        self.flink_dialect = flink_dialect;
        self.temporal_joins = temporal_joins;
        let mut outcome = Ok(());
        for statement in statements {
            match self.execute_statement(statement, &rewritten, None).await {
                Ok(result) => results.push(result),
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
        }
        self.temporal_joins.clear();
        self.flink_dialect = false;
        if let (Ok(()), Some(table)) = (&outcome, definition) {
            self.record_table_definition(table, new_table).await;
        }
        outcome
    }

    /// Flink's rewrites of a statement's text (see [`crate::flink::extract_temporal_joins`]):
    /// the rewritten text, the temporal joins cut out of it, and whether the text was in
    /// Flink's dialect (a rewrite changed it). Text the rewrites cannot read is returned as it
    /// is, for the parser to report, except a malformed `FOR SYSTEM_TIME AS OF` and what the
    /// rewrites refuse as unsupported.
    fn flink_rewrite(text: &str) -> Result<(String, Vec<crate::flink::TemporalJoin>, bool)> {
        match crate::flink::extract_temporal_joins(text) {
            Ok((rewritten, joins)) => {
                let flink = rewritten != text || !joins.is_empty();
                Ok((rewritten, joins, flink))
            }
            Err(error) if text.to_ascii_uppercase().contains("SYSTEM_TIME") => Err(error),
            // A Flink construct Sluice does not have (MAP as a CAST target), named as such
            // rather than as the syntax error the parser would report.
            Err(error @ PlanError::Unsupported(_)) => Err(error),
            Err(_) => Ok((text.to_string(), Vec::new(), false)),
        }
    }

    /// Parse and describe one statement for later execution with parameters.
    pub async fn prepare(&mut self, sql: &str) -> Result<PreparedStatement> {
        let prepared = self.prepare_unchecked(sql).await;
        if prepared.is_err() {
            self.transaction.fail();
        }
        prepared
    }

    async fn prepare_unchecked(&mut self, sql: &str) -> Result<PreparedStatement> {
        if let Some(statement) = crate::subscribe::parse::parse(sql)? {
            let schema = self.describe_subscribe_statement(&statement).await?;
            return Ok(PreparedStatement::unplanned(sql, true, schema));
        }
        let flink_table = matches!(
            crate::flink::parse_create_table(sql),
            Ok(Some(ref table)) if crate::streaming::statements::created_from_definition(table)
        );
        if flink_table
            || matches!(crate::flink::parse_set(sql), Ok(Some(_)))
            || matches!(crate::flink::parse_create_function(sql), Ok(Some(_)))
            || matches!(crate::flink::parse_namespace_statement(sql), Ok(Some(_)))
        {
            return Ok(PreparedStatement::unplanned(sql, true, None));
        }
        let (rewritten, temporal_joins, flink_dialect) = Self::flink_rewrite(sql)?;
        let mut statements = Self::parse_noting_parameters(&rewritten)?;
        if statements.len() > 1 {
            return Err(PlanError::Syntax {
                message: "cannot insert multiple commands into a prepared statement".into(),
                position: None,
            });
        }
        let Some((mut statement, oid_parameters)) = statements.pop() else {
            return Ok(PreparedStatement::unplanned(sql, false, None));
        };
        self.qualify(&mut statement);
        self.temporal_joins = temporal_joins.clone();
        let described = self.describe(&statement, sql).await;
        self.temporal_joins.clear();
        let (parameter_types, schema, key_lookup) = described?;
        Ok(PreparedStatement {
            sql: sql.to_string(),
            statement: Some(statement),
            direct: false,
            parameter_types,
            schema,
            temporal_joins,
            flink_dialect,
            key_lookup,
            parameter_pg_types: oid_parameters
                .into_iter()
                .filter_map(|(number, pg_type)| Some((number.checked_sub(1)?, pg_type)))
                .collect(),
        })
    }

    /// Execute a prepared statement with parameter values.
    pub async fn execute_prepared(
        &mut self,
        prepared: &PreparedStatement,
        parameters: Option<ParamValues>,
    ) -> Result<Option<StatementResult>> {
        let outcome = match self.transaction.admit(&prepared.sql) {
            Ok(()) => self.execute_prepared_admitted(prepared, parameters).await,
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            self.transaction.fail();
        }
        outcome
    }

    async fn execute_prepared_admitted(
        &mut self,
        prepared: &PreparedStatement,
        parameters: Option<ParamValues>,
    ) -> Result<Option<StatementResult>> {
        if prepared.direct {
            let mut results = Vec::new();
            self.execute_text(&prepared.sql, &mut results).await?;
            return Ok(results.pop());
        }
        let Some(statement) = prepared.statement.clone() else {
            return Ok(None);
        };
        if let Some(lookup) = &prepared.key_lookup {
            let catalog = self.database.catalog.read().await;
            if let Some((schema, batches)) = lookup.run(&catalog, parameters.as_ref())? {
                return Ok(Some(StatementResult::Query { schema, batches }));
            }
        }
        let guard = self.catalog_log_begin(&prepared.sql).await;
        self.temporal_joins = prepared.temporal_joins.clone();
        self.flink_dialect = prepared.flink_dialect;
        let outcome = self
            .execute_statement(statement, &prepared.sql, parameters)
            .await
            .map(Some);
        self.temporal_joins.clear();
        self.flink_dialect = false;
        self.catalog_log_finish(guard, &prepared.sql, outcome.is_ok())
            .await?;
        outcome
    }

    /// Parameter types and result columns of a statement, without running it, and for a
    /// point lookup by key its fast path.
    async fn describe(&self, statement: &DFStatement, sql: &str) -> Result<Described> {
        match statement {
            DFStatement::Statement(inner) => match inner.as_ref() {
                SqlStatement::Query(_)
                | SqlStatement::Insert(_)
                | SqlStatement::Update(_)
                | SqlStatement::Delete(_) => {
                    let plan = self.plan(statement.clone(), sql).await?;
                    let parameter_types = parameter_types(&plan)?;
                    Ok(match inner.as_ref() {
                        SqlStatement::Query(_) => {
                            let key_lookup = {
                                let catalog = self.database.catalog.read().await;
                                crate::key_lookup::plan_key_lookup(&plan, &catalog)
                            };
                            let schema = Arc::new(plan.schema().as_arrow().clone());
                            (parameter_types, Some(schema), key_lookup)
                        }
                        _ => (parameter_types, None, None),
                    })
                }
                SqlStatement::ShowVariable { variable } => {
                    let name = show_name(variable);
                    if name == "subscriptions" {
                        let schema = crate::subscribe::start::subscriptions_schema();
                        return Ok((vec![], Some(schema), None));
                    }
                    Ok((vec![], Some(show_schema(&name)), None))
                }
                SqlStatement::Explain { .. } => {
                    let plan = self.plan(statement.clone(), sql).await?;
                    Ok((
                        vec![],
                        Some(Arc::new(plan.schema().as_arrow().clone())),
                        None,
                    ))
                }
                _ => Ok((vec![], None, None)),
            },
            DFStatement::Explain(_) => {
                let plan = self.plan(statement.clone(), sql).await?;
                Ok((
                    vec![],
                    Some(Arc::new(plan.schema().as_arrow().clone())),
                    None,
                ))
            }
            _ => Ok((vec![], None, None)),
        }
    }

    pub(crate) async fn plan(&self, statement: DFStatement, sql: &str) -> Result<LogicalPlan> {
        let state = self.state();
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        if self.temporal_joins.is_empty() {
            return Ok(plan);
        }
        crate::streaming::temporal::mark_temporal_joins(plan, &self.temporal_joins, &state, sql)
    }

    /// Run one statement, counting the ones that change data or the catalog for
    /// `ROLLBACK TO SAVEPOINT`.
    pub(crate) async fn execute_statement(
        &mut self,
        statement: DFStatement,
        sql: &str,
        parameters: Option<ParamValues>,
    ) -> Result<StatementResult> {
        let writes = matches!(&statement, DFStatement::Statement(inner) if matches!(
            inner.as_ref(),
            SqlStatement::Insert(_)
                | SqlStatement::Update(_)
                | SqlStatement::Delete(_)
                | SqlStatement::CreateTable(_)
                | SqlStatement::CreateView(_)
                | SqlStatement::CreateSchema { .. }
                | SqlStatement::AlterView { .. }
                | SqlStatement::Drop { .. }
        ));
        let result = self
            .execute_statement_unrecorded(statement, sql, parameters)
            .await?;
        let changed = match &result {
            StatementResult::Command {
                rows: Some(rows), ..
            } => *rows > 0,
            _ => writes,
        };
        if writes && changed {
            self.transaction.record_write();
        }
        Ok(result)
    }

    async fn execute_statement_unrecorded(
        &mut self,
        mut statement: DFStatement,
        sql: &str,
        parameters: Option<ParamValues>,
    ) -> Result<StatementResult> {
        self.qualify(&mut statement);
        self.check_created_name(&statement)?;
        let inner = match &statement {
            DFStatement::Statement(inner) => inner.as_ref().clone(),
            DFStatement::Explain(explain) => {
                if let DFStatement::Statement(inner) = explain.statement.as_ref() {
                    if let SqlStatement::CreateView(view) = inner.as_ref() {
                        if view.materialized {
                            return self.explain_materialized_view(view, sql).await;
                        }
                    }
                }
                return self.query(statement, sql, parameters).await;
            }
            DFStatement::CreateExternalTable(_) => {
                return Err(PlanError::Unsupported("CREATE EXTERNAL TABLE".into()))
            }
            DFStatement::CopyTo(_) => return Err(PlanError::Unsupported("COPY".into())),
            other => {
                return Err(PlanError::Unsupported(format!(
                    "statement {}",
                    first_words(&other.to_string())
                )))
            }
        };
        match inner {
            SqlStatement::Query(_) | SqlStatement::Explain { .. } => {
                self.query(statement, sql, parameters).await
            }
            SqlStatement::Insert(_) | SqlStatement::Update(_) | SqlStatement::Delete(_) => {
                self.modify(statement, sql, parameters).await
            }
            SqlStatement::CreateTable(_) => self.create_table(statement, sql).await,
            SqlStatement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => {
                self.create_schema_statement(&schema_name, if_not_exists)
                    .await
            }
            SqlStatement::Drop {
                object_type: ObjectType::Schema,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_schema_statement(if_exists, &names, cascade).await,
            SqlStatement::CreateView(view) => self.create_view(view, sql).await,
            SqlStatement::AlterView {
                name,
                columns,
                query,
                with_options,
            } => {
                self.alter_view(&name, &columns, &query, &with_options, sql)
                    .await
            }
            SqlStatement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop(object_type, if_exists, &names, cascade).await,
            SqlStatement::StartTransaction { .. } => {
                self.transaction.begin();
                Ok(StatementResult::Transaction {
                    tag: "BEGIN".into(),
                    begin: true,
                })
            }
            SqlStatement::Commit { .. } => {
                // Cursors close with their transaction (none are WITH HOLD).
                self.cursors.close_all();
                Ok(StatementResult::Transaction {
                    tag: self.transaction.commit().into(),
                    begin: false,
                })
            }
            SqlStatement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                self.transaction.rollback_to(&normalize_ident(&name))?;
                Ok(command("ROLLBACK"))
            }
            SqlStatement::Rollback { .. } => {
                self.cursors.close_all();
                self.transaction.rollback();
                Ok(StatementResult::Transaction {
                    tag: "ROLLBACK".into(),
                    begin: false,
                })
            }
            SqlStatement::Savepoint { name } => {
                self.transaction.savepoint(&normalize_ident(&name))?;
                Ok(command("SAVEPOINT"))
            }
            SqlStatement::ReleaseSavepoint { name } => {
                self.transaction.release(&normalize_ident(&name))?;
                Ok(command("RELEASE"))
            }
            SqlStatement::ShowVariable { variable } if show_name(&variable) == "subscriptions" => {
                self.show_subscriptions().await
            }
            SqlStatement::Set(set) => self.set_statement(set),
            SqlStatement::ShowVariable { variable } => self.show(&show_name(&variable)),
            SqlStatement::Discard { .. } => Ok(command("DISCARD ALL")),
            SqlStatement::Deallocate { name, .. } => {
                let name = normalize_ident(&name);
                Ok(StatementResult::Deallocate {
                    name: (name != "all").then_some(name),
                })
            }
            SqlStatement::Reset(_) => {
                self.settings = default_settings();
                Ok(command("RESET"))
            }
            SqlStatement::Truncate(_) => {
                Err(PlanError::Unsupported("TRUNCATE; use DELETE FROM".into()))
            }
            other => Err(PlanError::Unsupported(format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }

    /// SELECT, VALUES, EXPLAIN: planned and run by DataFusion over a consistent snapshot.
    async fn query(
        &self,
        statement: DFStatement,
        sql: &str,
        parameters: Option<ParamValues>,
    ) -> Result<StatementResult> {
        let catalog = self.database.catalog.read().await;
        let references = referenced_relations(&self.database, &statement, sql)?;
        catalog.check_readable(&references)?;
        if references
            .iter()
            .any(|r| r == crate::streaming::status::QUERIES)
            && !catalog
                .entries
                .contains_key(crate::streaming::status::QUERIES)
        {
            // A fresh snapshot of the running queries for this statement.
            let table = crate::streaming::status::queries_table(&catalog)?;
            let _ = self
                .database
                .context
                .deregister_table(crate::streaming::status::QUERIES);
            self.database
                .register(crate::streaming::status::QUERIES, Arc::new(table))?;
        }
        let mut plan = self.plan(statement, sql).await?;
        if let Some(parameters) = parameters {
            plan = plan
                .with_param_values(parameters)
                .map_err(|e| PlanError::from_datafusion(e, sql))?;
        }
        let (schema, batches) = self.run_plan(plan, sql).await?;
        drop(catalog);
        Ok(StatementResult::Query { schema, batches })
    }

    async fn run_plan(
        &self,
        plan: LogicalPlan,
        sql: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let state = self.state();
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        let optimized = state
            .optimize(&plan)
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        let optimized = crate::relation::attach_scan_filters(optimized)?;
        let physical = state
            .query_planner()
            .create_physical_plan(&optimized, &state)
            .await
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        let batches = collect(physical, state.task_ctx())
            .await
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        Ok((schema, batches))
    }

    /// INSERT, UPDATE, DELETE on a table, propagated to every dependent view.
    async fn modify(
        &self,
        statement: DFStatement,
        sql: &str,
        parameters: Option<ParamValues>,
    ) -> Result<StatementResult> {
        let mut catalog = self.database.catalog.write().await;
        let mut plan = self.plan(statement, sql).await?;
        if let Some(parameters) = parameters {
            plan = plan
                .with_param_values(parameters)
                .map_err(|e| PlanError::from_datafusion(e, sql))?;
        }
        let LogicalPlan::Dml(dml) = plan else {
            return Err(PlanError::Internal("expected a DML plan".into()));
        };
        let name = crate::names::key(&dml.table_name);
        if matches!(dml.op, WriteOp::Insert(_))
            && catalog
                .entries
                .get(&name)
                .is_some_and(|e| e.connector.is_some())
        {
            return self.create_job(&mut catalog, &name, &dml.input, sql);
        }
        let store = match catalog.entries.get(&name).map(|e| &e.kind) {
            Some(EntryKind::Table { store }) => store.clone(),
            Some(_) => {
                return Err(PlanError::WrongObjectType(format!(
                    "cannot {} \"{name}\": it is not a table",
                    write_op_name(&dml.op).to_ascii_lowercase()
                )))
            }
            None => {
                return Err(PlanError::UndefinedTable(format!(
                    "relation \"{name}\" does not exist"
                )))
            }
        };
        let schema = store.schema();
        let width = schema.fields().len();
        let changes = match &dml.op {
            WriteOp::Insert(_) => {
                let (_, batches) = self.run_plan(dml.input.as_ref().clone(), sql).await?;
                let batches = conform_batches(&schema, batches)?;
                for batch in &batches {
                    check_not_null(&name, &schema, batch)?;
                }
                check_unique_inserts(&store, &batches, &HashSet::new())?;
                let changes: Vec<ChangeBatch> =
                    batches.into_iter().map(ChangeBatch::inserts).collect();
                ChangeBatch::concat(&schema, &changes)?
            }
            WriteOp::Delete => {
                let (_, batches) = self.run_plan(dml.input.as_ref().clone(), sql).await?;
                let batches = conform_batches(&schema, batches)?;
                let changes: Vec<ChangeBatch> =
                    batches.into_iter().map(ChangeBatch::deletes).collect();
                ChangeBatch::concat(&schema, &changes)?
            }
            WriteOp::Update => {
                let plan = update_old_and_new(&dml, width)?;
                let (_, batches) = self.run_plan(plan, sql).await?;
                let mut old_batches = Vec::new();
                let mut new_batches = Vec::new();
                for batch in batches {
                    let old =
                        RecordBatch::try_new(schema.clone(), batch.columns()[..width].to_vec())
                            .map_err(PlanError::from)?;
                    let new = conform_batches(
                        &schema,
                        vec![RecordBatch::try_new(
                            relax(&schema),
                            batch.columns()[width..].to_vec(),
                        )?],
                    )?;
                    old_batches.push(old);
                    new_batches.extend(new);
                }
                for batch in &new_batches {
                    check_not_null(&name, &schema, batch)?;
                }
                let mut removed = HashSet::new();
                for batch in &old_batches {
                    if let Some(keys) = store.encode_keys(batch)? {
                        for i in 0..keys.len() {
                            removed.insert(keys.row(i).to_vec());
                        }
                    }
                }
                check_unique_inserts(&store, &new_batches, &removed)?;
                let mut changes: Vec<ChangeBatch> =
                    old_batches.into_iter().map(ChangeBatch::deletes).collect();
                changes.extend(new_batches.into_iter().map(ChangeBatch::inserts));
                ChangeBatch::concat(&schema, &changes)?
            }
            other => {
                return Err(PlanError::Unsupported(write_op_name(other).to_string()));
            }
        };
        let affected = match &dml.op {
            WriteOp::Update => changes.num_rows() / 2,
            _ => changes.num_rows(),
        };
        catalog.apply_and_propagate(&name, changes)?;
        let tag = match &dml.op {
            WriteOp::Insert(_) => format!("INSERT 0 {affected}"),
            WriteOp::Update => format!("UPDATE {affected}"),
            _ => format!("DELETE {affected}"),
        };
        Ok(StatementResult::Command {
            tag,
            rows: Some(affected),
        })
    }

    async fn create_table(&self, statement: DFStatement, sql: &str) -> Result<StatementResult> {
        let mut catalog = self.database.catalog.write().await;
        let (statement, json_columns) = json_columns_as_text(statement);
        let plan = self.plan(statement, sql).await?;
        let LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) = plan else {
            return Err(PlanError::Unsupported("this form of CREATE TABLE".into()));
        };
        let name = crate::names::key(&create.name);
        if catalog.entries.contains_key(&name) {
            if create.if_not_exists {
                return Ok(command("CREATE TABLE"));
            }
            catalog.check_new_name(&name)?;
        }
        let mut primary_key = Vec::new();
        for constraint in create.constraints.iter() {
            match constraint {
                datafusion::common::Constraint::PrimaryKey(columns) => {
                    primary_key = columns.clone()
                }
                datafusion::common::Constraint::Unique(_) => {
                    return Err(PlanError::Unsupported(
                        "UNIQUE constraints other than the primary key".into(),
                    ))
                }
            }
        }
        let base_schema = mark_json_columns(
            crate::flink::types::restore_map_columns(relation_schema(&create.input, "a table")?),
            &json_columns,
        );
        let schema = with_not_null(&base_schema, &primary_key);
        let store =
            RelationStore::new(name.clone(), StoredKind::Table, schema.clone(), primary_key)?;
        let store = Arc::new(catalog.make_durable(store)?);
        let defaults: HashMap<String, datafusion::prelude::Expr> =
            create.column_defaults.iter().cloned().collect();
        let provider =
            crate::relation::StoredTableProvider::new(store.clone()).with_column_defaults(defaults);
        // CREATE TABLE ... AS SELECT: fill from the query (when restoring, the rows are
        // already in the data directory).
        let initial = if matches!(create.input.as_ref(), LogicalPlan::EmptyRelation(_))
            || catalog.replaying
        {
            None
        } else {
            let (_, batches) = self.run_plan(create.input.as_ref().clone(), sql).await?;
            Some(conform_batches(&schema, batches)?)
        };
        self.database.register(&name, Arc::new(provider))?;
        catalog.add_table(&name, store.clone());
        let mut rows = 0;
        if let Some(batches) = initial {
            check_unique_inserts(&store, &batches, &HashSet::new())?;
            let changes: Vec<ChangeBatch> = batches.into_iter().map(ChangeBatch::inserts).collect();
            let changes = ChangeBatch::concat(&schema, &changes)?;
            rows = changes.num_rows();
            catalog.apply_and_propagate(&name, changes)?;
            return Ok(StatementResult::Command {
                tag: format!("SELECT {rows}"),
                rows: Some(rows),
            });
        }
        let _ = rows;
        Ok(command("CREATE TABLE"))
    }

    async fn create_view(&self, view: ast::CreateView, sql: &str) -> Result<StatementResult> {
        let mut catalog = self.database.catalog.write().await;
        let name = normalize_object_name(&view.name);
        let tag = if view.materialized {
            "CREATE MATERIALIZED VIEW"
        } else {
            "CREATE VIEW"
        };
        if catalog.entries.contains_key(&name) {
            if view.if_not_exists {
                return Ok(command(tag));
            }
            if view.or_replace {
                return Err(PlanError::Unsupported(
                    "CREATE OR REPLACE of an existing view; drop it first".into(),
                ));
            }
            catalog.check_new_name(&name)?;
        }
        let columns: Vec<String> = view
            .columns
            .iter()
            .map(|c| normalize_ident(&c.name))
            .collect();
        let (plan, depends_on) = self
            .plan_view_query(&catalog, &view.query, &columns, sql)
            .await?;
        let definition = view.query.to_string();
        if view.materialized {
            let optimized = self
                .database
                .context
                .state()
                .optimize(&plan)
                .map_err(|e| PlanError::from_datafusion(e, sql))?;
            let (store, dataflow, time_attrs) =
                build_materialized_view(&catalog, &name, &plan, &optimized)?;
            let mut depends_on = depends_on;
            depends_on.extend(dataflow.relations().map(str::to_string));
            self.database
                .register(&name, stored_provider(store.clone()))?;
            catalog
                .add_materialized_view(&name, store, dataflow, time_attrs, depends_on, definition);
            if catalog.replaying {
                catalog.restore_query(&name)?;
            }
            if let Err(error) = self.start_sources(&mut catalog, &name) {
                catalog.entries.remove(&name);
                self.database.deregister(&name)?;
                return Err(error);
            }
        } else {
            let depends_on = self.plain_view_dependencies(&plan, depends_on, sql)?;
            self.database
                .register(&name, view_provider(plan, &definition))?;
            catalog.add_view(&name, depends_on, definition);
        }
        Ok(command(tag))
    }

    /// The plan of a view's defining query with its column names (`columns`, or made unique
    /// as Calcite does for Flink's dialect), and the relations the query names. Fails when
    /// one of them is a materialized view whose maintenance failed.
    pub(crate) async fn plan_view_query(
        &self,
        catalog: &Catalog,
        query: &ast::Query,
        columns: &[String],
        sql: &str,
    ) -> Result<(LogicalPlan, BTreeSet<String>)> {
        let query_statement =
            DFStatement::Statement(Box::new(SqlStatement::Query(Box::new(query.clone()))));
        let depends_on: BTreeSet<String> =
            referenced_relations(&self.database, &query_statement, sql)?
                .into_iter()
                .collect();
        catalog.check_readable(&depends_on.iter().cloned().collect::<Vec<_>>())?;
        let plan = self.plan(query_statement, sql).await?;
        let plan = alias_columns(plan, columns)?;
        let plan = if self.flink_dialect && columns.is_empty() {
            crate::database::uniquify_columns(plan)?
        } else {
            plan
        };
        Ok((plan, depends_on))
    }

    /// Check a plain view's plan and complete the relations it reads (`depends_on`, those its
    /// text names) with those it reads through table functions (window TVFs), which only
    /// the analyzed plan shows.
    pub(crate) fn plain_view_dependencies(
        &self,
        plan: &LogicalPlan,
        mut depends_on: BTreeSet<String>,
        sql: &str,
    ) -> Result<BTreeSet<String>> {
        relation_schema(plan, "a view")?;
        let analyzed = self
            .database
            .context
            .state()
            .optimize(plan)
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        depends_on.extend(crate::relation::scanned_relations(&analyzed));
        Ok(depends_on)
    }

    /// `EXPLAIN CREATE MATERIALIZED VIEW ...`: the incremental dataflow the view would run,
    /// output first, one operator per line with its keys and expressions.
    async fn explain_materialized_view(
        &self,
        view: &ast::CreateView,
        sql: &str,
    ) -> Result<StatementResult> {
        let catalog = self.database.catalog.read().await;
        let query_statement =
            DFStatement::Statement(Box::new(SqlStatement::Query(view.query.clone())));
        let plan = self.plan(query_statement, sql).await?;
        let optimized = self
            .database
            .context
            .state()
            .optimize(&plan)
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        let (dataflow, _) = catalog.compile(&optimized)?;
        let lines = dataflow.explain();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "dataflow",
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(lines))])?;
        Ok(StatementResult::Query {
            schema,
            batches: vec![batch],
        })
    }

    pub(crate) async fn drop(
        &self,
        object_type: ObjectType,
        if_exists: bool,
        names: &[ast::ObjectName],
        cascade: bool,
    ) -> Result<StatementResult> {
        let (expected, tag) = match object_type {
            ObjectType::Table => ("table", "DROP TABLE"),
            ObjectType::View => ("view", "DROP VIEW"),
            ObjectType::MaterializedView => ("materialized view", "DROP MATERIALIZED VIEW"),
            other => return Err(PlanError::Unsupported(format!("DROP {other}"))),
        };
        let mut catalog = self.database.catalog.write().await;
        for object in names {
            let name = normalize_object_name(object);
            let Some(entry) = catalog.entries.get(&name) else {
                if if_exists {
                    continue;
                }
                return Err(PlanError::UndefinedTable(format!(
                    "{expected} \"{name}\" does not exist"
                )));
            };
            if entry.kind_name() != expected {
                return Err(PlanError::WrongObjectType(format!(
                    "\"{name}\" is a {}, not a {expected}; use DROP {}",
                    entry.kind_name(),
                    entry.kind_name().to_ascii_uppercase()
                )));
            }
            let doomed = dependents_closure(&catalog, &name);
            if doomed.len() > 1 && !cascade {
                let others: Vec<&String> = doomed.iter().filter(|n| **n != name).collect();
                return Err(PlanError::DependentObjects(format!(
                    "cannot drop {expected} {name} because other objects depend on it: {}; use DROP ... CASCADE",
                    others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            // Dependents first (reverse creation order).
            let mut ordered: Vec<(u64, String)> = doomed
                .into_iter()
                .filter_map(|n| catalog.entries.get(&n).map(|e| (e.id, n)))
                .collect();
            ordered.sort();
            for (_, doomed_name) in ordered.into_iter().rev() {
                catalog.subscriptions.relation_dropped(&doomed_name);
                if let Some(entry) = catalog.entries.remove(&doomed_name) {
                    if let EntryKind::Table { store } | EntryKind::MaterializedView { store, .. } =
                        &entry.kind
                    {
                        store.release();
                        // Its rows leave the data directory with the DROP's catalog record.
                        catalog.dropped_tables.extend(store.durable_id());
                    }
                    catalog.generation += 1;
                }
                self.database.deregister(&doomed_name)?;
            }
        }
        Ok(command(tag))
    }

    fn set_statement(&mut self, set: Set) -> Result<StatementResult> {
        match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = normalize_object_name(&variable);
                let value = values
                    .iter()
                    .map(setting_value)
                    .collect::<Vec<_>>()
                    .join(", ");
                self.set(&name, &value);
            }
            Set::SetTimeZone { value, .. } => {
                self.set("timezone", &setting_value(&value));
            }
            Set::SetNames { charset_name, .. } => {
                self.set("client_encoding", &charset_name.value);
            }
            Set::SetTransaction { .. } | Set::SetRole { .. } => {}
            other => return Err(PlanError::Unsupported(first_words(&other.to_string()))),
        }
        Ok(command("SET"))
    }

    fn show(&self, name: &str) -> Result<StatementResult> {
        let schema = show_schema(name);
        let rows: Vec<String> = if name == "all" {
            return self.show_all();
        } else {
            let value = self.get(name).ok_or_else(|| {
                PlanError::UndefinedObject(format!(
                    "unrecognized configuration parameter \"{name}\""
                ))
            })?;
            vec![value.to_string()]
        };
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(rows))])?;
        Ok(StatementResult::Query {
            schema,
            batches: vec![batch],
        })
    }

    fn show_all(&self) -> Result<StatementResult> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("setting", DataType::Utf8, false),
        ]));
        let names: Vec<&str> = self.settings.keys().map(String::as_str).collect();
        let values: Vec<&str> = self.settings.values().map(String::as_str).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(names)),
                Arc::new(StringArray::from(values)),
            ],
        )?;
        Ok(StatementResult::Query {
            schema,
            batches: vec![batch],
        })
    }
}

pub(crate) fn command(tag: &str) -> StatementResult {
    StatementResult::Command {
        tag: tag.to_string(),
        rows: None,
    }
}

fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn show_name(variable: &[ast::Ident]) -> String {
    let name = variable
        .iter()
        .map(|i| i.value.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    match name.as_str() {
        "time zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        _ => name.replace(' ', "_"),
    }
}

fn show_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]))
}

fn setting_value(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Value(value) => match &value.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn normalize_ident(ident: &ast::Ident) -> String {
    crate::names::fold(ident)
}

/// The catalog key of an object name (the session has made names of its current schema
/// explicit, see [`Session::qualify`]).
pub(crate) fn normalize_object_name(name: &ast::ObjectName) -> String {
    crate::names::object_key(name, crate::names::PUBLIC)
}

/// Stored or view relations a statement names (excluding CTE names).
pub(crate) fn referenced_relations(
    database: &Database,
    statement: &DFStatement,
    sql: &str,
) -> Result<Vec<String>> {
    let references: Vec<TableReference> = database
        .context
        .state()
        .resolve_table_references(statement)
        .map_err(|e| PlanError::from_datafusion(e, sql))?;
    Ok(references
        .into_iter()
        .map(|r| crate::names::key(&r))
        .collect())
}

/// `name` and everything that depends on it, transitively.
pub(crate) fn dependents_closure(catalog: &Catalog, name: &str) -> Vec<String> {
    let mut result = vec![name.to_string()];
    let mut index = 0;
    while index < result.len() {
        for dependent in catalog.dependents(&result[index]) {
            if !result.contains(&dependent) {
                result.push(dependent);
            }
        }
        index += 1;
    }
    result
}

fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(id, t)| {
            id.trim_start_matches('$')
                .parse::<usize>()
                .ok()
                .map(|n| (n, t))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let count = numbered.last().map(|(n, _)| *n).unwrap_or(0);
    let mut result = vec![None; count];
    for (n, t) in numbered {
        if n >= 1 {
            result[n - 1] = t;
        }
    }
    // `$1::INTERVAL`: a parameter DataFusion leaves untyped takes its cast's target type.
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                let cast = match e {
                    datafusion::logical_expr::Expr::Cast(cast) => {
                        Some((&cast.expr, cast.field.data_type()))
                    }
                    datafusion::logical_expr::Expr::TryCast(cast) => {
                        Some((&cast.expr, cast.field.data_type()))
                    }
                    _ => None,
                };
                if let Some((inner, target)) = cast {
                    if let datafusion::logical_expr::Expr::Placeholder(placeholder) = inner.as_ref()
                    {
                        if let Ok(n) = placeholder.id.trim_start_matches('$').parse::<usize>() {
                            if n >= 1 && n <= result.len() && result[n - 1].is_none() {
                                result[n - 1] = Some(target.clone());
                            }
                        }
                    }
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
        })
    });
    Ok(result)
}

fn relax(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

/// Cast query output to a table's exact schema (types; nullability is checked separately).
/// `CREATE TABLE` with `JSON`/`JSONB` columns (which DataFusion does not plan): they become
/// `TEXT`, and their names are returned to mark the planned fields as JSON
/// ([`mark_json_columns`]), the representation of DataSQRL's JSON functions.
pub(crate) fn json_columns_as_text(statement: DFStatement) -> (DFStatement, HashSet<String>) {
    let mut names = HashSet::new();
    let DFStatement::Statement(mut inner) = statement else {
        return (statement, names);
    };
    if let SqlStatement::CreateTable(create) = inner.as_mut() {
        for column in &mut create.columns {
            if matches!(column.data_type, ast::DataType::JSON | ast::DataType::JSONB) {
                column.data_type = ast::DataType::Text;
                names.insert(normalize_ident(&column.name));
            }
        }
    }
    (DFStatement::Statement(inner), names)
}

/// `schema` with the fields named in `json_columns` marked as JSON.
pub(crate) fn mark_json_columns(schema: SchemaRef, json_columns: &HashSet<String>) -> SchemaRef {
    if json_columns.is_empty() {
        return schema;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            if json_columns.contains(field.name()) {
                crate::streaming::json::json_field(field.name()).with_nullable(field.is_nullable())
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn conform_batches(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let relaxed = relax(schema);
    batches
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(|batch| {
            if batch.num_columns() != schema.fields().len() {
                return Err(PlanError::DatatypeMismatch(format!(
                    "expected {} columns, got {}",
                    schema.fields().len(),
                    batch.num_columns()
                )));
            }
            let mut columns = sluice_runtime::change::cast_to_schema(batch.columns(), schema)?;
            for (column, field) in columns.iter_mut().zip(schema.fields()) {
                if crate::streaming::json::is_json(field) {
                    *column = crate::streaming::json::normalize_json_text(column, field.name())?;
                }
            }
            Ok(RecordBatch::try_new(relaxed.clone(), columns)?)
        })
        .collect()
}

/// Refuse inserts whose primary keys exist (unless removed by the same statement) or repeat.
fn check_unique_inserts(
    store: &RelationStore,
    batches: &[RecordBatch],
    removed: &HashSet<Vec<u8>>,
) -> Result<()> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for batch in batches {
        let Some(keys) = store.encode_keys(batch)? else {
            return Ok(());
        };
        let present = store.contains_keys(&keys)?;
        for (i, present) in present.into_iter().enumerate() {
            let key = keys.row(i);
            let exists = present && !removed.contains(key);
            if exists || !seen.insert(key.to_vec()) {
                return Err(PlanError::UniqueViolation(format!(
                    "duplicate key value violates unique constraint \"{}_pkey\"",
                    store.name()
                )));
            }
        }
    }
    Ok(())
}

/// Column types DataFusion does not know: `ROW(a INT, b TEXT)` (parsed as a custom type)
/// becomes `STRUCT<a INT, b TEXT>`, and `TIMESTAMP_LTZ(p)` becomes `TIMESTAMP(p) WITH TIME ZONE`.
fn rewrite_row_types(statement: DFStatement) -> DFStatement {
    let DFStatement::Statement(mut inner) = statement else {
        return statement;
    };
    crate::struct_fields::alias_struct_fields(inner.as_mut());
    if let SqlStatement::CreateTable(create) = inner.as_mut() {
        for column in &mut create.columns {
            if let Some(struct_type) = row_to_struct(&column.data_type) {
                column.data_type = struct_type;
            }
        }
    }
    DFStatement::Statement(inner)
}

fn row_to_struct(data_type: &ast::DataType) -> Option<ast::DataType> {
    let ast::DataType::Custom(name, arguments) = data_type else {
        return None;
    };
    // Flink's TIMESTAMP_LTZ(p): a timestamp with time zone.
    if name.to_string().eq_ignore_ascii_case("timestamp_ltz") {
        let precision = arguments.first().and_then(|p| p.parse::<u64>().ok());
        return Some(ast::DataType::Timestamp(
            precision,
            ast::TimezoneInfo::WithTimeZone,
        ));
    }
    if !name.to_string().eq_ignore_ascii_case("row") || arguments.len() % 2 != 0 {
        return None;
    }
    let mut fields = Vec::new();
    for pair in arguments.chunks(2) {
        let text = format!("CREATE TABLE x (c {})", pair[1]);
        let parsed = DFParser::parse_sql_with_dialect(&text, &GenericDialect {}).ok()?;
        let Some(DFStatement::Statement(statement)) = parsed.into_iter().next() else {
            return None;
        };
        let SqlStatement::CreateTable(create) = *statement else {
            return None;
        };
        let field_type = create.columns.into_iter().next()?.data_type;
        fields.push(ast::StructField {
            field_name: Some(ast::Ident::new(pair[0].clone())),
            field_type,
            options: None,
        });
    }
    Some(ast::DataType::Struct(
        fields,
        ast::StructBracketKind::AngleBrackets,
    ))
}
