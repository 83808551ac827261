//! Schema statements and a session's current schema (see [`crate::names`]):
//! PostgreSQL's `CREATE SCHEMA`, `DROP SCHEMA` and `SET search_path`, Flink's
//! `CREATE DATABASE` and `USE`.

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{self, Ident, ObjectName, ObjectType, SchemaName};

use crate::error::{PlanError, Result};
use crate::flink::{FlinkNamespace, DEFAULT_CATALOG};
use crate::names::{self, is_default, PUBLIC};
use crate::session::{command, Session, StatementResult};

impl Session {
    /// Where unqualified names are created and first looked up: the first schema of
    /// `search_path` that exists (`$user` names none), else `public`.
    pub(crate) fn current_schema(&self) -> String {
        self.search_schemas()
            .into_iter()
            .next()
            .unwrap_or_else(|| PUBLIC.to_string())
    }

    /// The schemas unqualified names are looked up in, in order: those of `search_path`
    /// that exist, then `public` if it is not among them (Sluice always falls back to it).
    pub(crate) fn search_schemas(&self) -> Vec<String> {
        let path = self.get("search_path").unwrap_or(PUBLIC);
        let mut schemas: Vec<String> = Vec::new();
        for part in path.split(',') {
            let part = part.trim();
            let name = match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => part.trim_matches('\'').to_ascii_lowercase(),
            };
            let name = if is_default(&name) {
                PUBLIC.to_string()
            } else if self.database.schema_exists(&name) {
                name
            } else {
                continue;
            };
            if !schemas.contains(&name) {
                schemas.push(name);
            }
        }
        if !schemas.iter().any(|s| s == PUBLIC) {
            schemas.push(PUBLIC.to_string());
        }
        schemas
    }

    /// The planning state for this session's statements: the database's, carrying the
    /// session's search path for the catalog functions.
    pub(crate) fn state(&self) -> datafusion::execution::SessionState {
        let mut state = self.database.context.state();
        if let Some(options) = state
            .config_mut()
            .options_mut()
            .extensions
            .get_mut::<crate::system_catalog::SessionOptions>()
        {
            options.search_path = self.search_schemas().join(",");
        }
        // Physical expressions take their options from the execution properties, which
        // copied the database's options when its state was built.
        let options = state.config_options().clone();
        state.execution_props_mut().config_options = Some(options);
        state
    }

    /// Make the statement's relation names explicit for the current schema, and hand
    /// window table functions over `WITH` queries their input
    /// ([`names::qualify_statement`]).
    pub(crate) fn qualify(&self, statement: &mut DFStatement) {
        let current = self.current_schema();
        let exists = |key: &str| self.database.user_relation_exists(key);
        match statement {
            DFStatement::Statement(inner) => names::qualify_statement(inner, &current, &exists),
            DFStatement::Explain(explain) => self.qualify(&mut explain.statement),
            _ => {}
        }
    }

    /// The catalog key a relation name read outside SQL planning means (`SUBSCRIBE TO v`,
    /// `LIKE base`): a qualified name (`s.v`) the catalog has as it is; an unqualified one
    /// is looked up along the search path, the first schema that has it winning (as SQL
    /// resolves names); else `key` unchanged (for the caller's error).
    pub(crate) fn key_on_search_path(
        &self,
        catalog: &crate::database::Catalog,
        key: &str,
    ) -> String {
        if key.contains('.') && catalog.entries.contains_key(key) {
            return key.to_string();
        }
        self.search_schemas()
            .iter()
            .map(|schema| names::join(Some(schema), key))
            .find(|candidate| catalog.entries.contains_key(candidate))
            .unwrap_or_else(|| key.to_string())
    }

    /// Refuse creating a relation whose one-part (quoted) name reads as a relation of an
    /// existing schema (`CREATE TABLE "s.t"` with schema `s`): catalog keys could not tell
    /// them apart (see [`crate::names`]).
    pub(crate) fn check_created_name(&self, statement: &DFStatement) -> Result<()> {
        let DFStatement::Statement(inner) = statement else {
            return Ok(());
        };
        let name = match inner.as_ref() {
            ast::Statement::CreateTable(create) => &create.name,
            ast::Statement::CreateView(view) => &view.name,
            _ => return Ok(()),
        };
        if let [part] = name.0.as_slice() {
            let key = part.as_ident().map(names::fold).unwrap_or_default();
            if let Some((schema, _)) = key.split_once('.') {
                if self.database.schema_exists(schema) {
                    return Err(PlanError::InvalidDefinition(format!(
                        "relation name \"{key}\" would read as a relation of schema \"{schema}\"; \
                         choose a name without \"{schema}.\" in front"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `CREATE SCHEMA [IF NOT EXISTS] name`.
    pub(crate) async fn create_schema_statement(
        &self,
        schema_name: &SchemaName,
        if_not_exists: bool,
    ) -> Result<StatementResult> {
        let name = match schema_name {
            SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _) => name,
            SchemaName::UnnamedAuthorization(_) => {
                return Err(PlanError::Unsupported(
                    "CREATE SCHEMA AUTHORIZATION without a schema name (Sluice has no roles)"
                        .into(),
                ))
            }
        };
        let name = single_name(name, "schema")?;
        self.create_schema(&name, if_not_exists, "schema").await?;
        Ok(command("CREATE SCHEMA"))
    }

    /// Create schema `name` (`what` names it in errors); whether it was created.
    async fn create_schema(&self, name: &str, if_not_exists: bool, what: &str) -> Result<bool> {
        // Under the catalog lock: schemas change in the same order as the relations in them.
        let mut catalog = self.database.catalog.write().await;
        // A relation of `public` whose name starts with `name.` (a quoted "s.t") would read
        // as the new schema's: refuse rather than hide it.
        let prefix = format!("{name}.");
        if !self.database.schema_exists(name) {
            if let Some(clash) = catalog.entries.keys().find(|key| key.starts_with(&prefix)) {
                return Err(PlanError::DuplicateObject(format!(
                    "cannot create {what} \"{name}\": relation \"{clash}\" of schema public has its name as a prefix; rename it first"
                )));
            }
        }
        if !self.database.create_schema(name)? {
            if if_not_exists {
                return Ok(false);
            }
            return Err(PlanError::DuplicateSchema(format!(
                "{what} \"{name}\" already exists"
            )));
        }
        // A catalog change: the catalog log records the statement.
        catalog.generation += 1;
        Ok(true)
    }

    /// `DROP SCHEMA [IF EXISTS] name [, ..] [CASCADE]`: without CASCADE only an empty
    /// schema; with it, its relations first (and what depends on them).
    pub(crate) async fn drop_schema_statement(
        &self,
        if_exists: bool,
        schemas: &[ObjectName],
        cascade: bool,
    ) -> Result<StatementResult> {
        for schema in schemas {
            let name = single_name(schema, "schema")?;
            if is_default(&name) || names::SYSTEM_SCHEMAS.contains(&name.as_str()) {
                return Err(PlanError::Unsupported(format!(
                    "DROP SCHEMA {name}: a built-in schema"
                )));
            }
            if !self.database.schema_exists(&name) {
                if if_exists {
                    continue;
                }
                return Err(PlanError::UndefinedSchema(format!(
                    "schema \"{name}\" does not exist"
                )));
            }
            let prefix = format!("{name}.");
            let mut members: Vec<(u64, String, &'static str)> = {
                let catalog = self.database.catalog.read().await;
                catalog
                    .entries
                    .iter()
                    .filter(|(key, _)| key.starts_with(&prefix))
                    .map(|(key, entry)| (entry.id, key.clone(), entry.kind_name()))
                    .collect()
            };
            if !members.is_empty() && !cascade {
                let listed: Vec<String> = members
                    .iter()
                    .map(|(_, key, kind)| format!("{kind} {key}"))
                    .collect();
                return Err(PlanError::DependentObjects(format!(
                    "cannot drop schema {name} because other objects depend on it: {}; use DROP ... CASCADE",
                    listed.join(", ")
                )));
            }
            members.sort();
            for (_, key, kind) in members.into_iter().rev() {
                let object_type = match kind {
                    "view" => ObjectType::View,
                    "materialized view" => ObjectType::MaterializedView,
                    _ => ObjectType::Table,
                };
                let table = key[prefix.len()..].to_string();
                let object = ObjectName::from(vec![
                    Ident::with_quote('"', name.clone()),
                    Ident::with_quote('"', table),
                ]);
                // IF EXISTS: an earlier member's CASCADE may have dropped it.
                self.drop(object_type, true, &[object], true).await?;
            }
            let mut catalog = self.database.catalog.write().await;
            self.database.drop_schema(&name)?;
            catalog.generation += 1;
        }
        Ok(command("DROP SCHEMA"))
    }

    /// Flink's `CREATE DATABASE`, `USE`, `CREATE CATALOG`, `USE CATALOG`: databases of
    /// Flink's built-in catalog are schemas; other catalogs are refused.
    pub(crate) async fn namespace_statement(
        &mut self,
        statement: FlinkNamespace,
    ) -> Result<StatementResult> {
        let check_catalog = |catalog: &Option<String>, statement: &str| match catalog {
            Some(catalog) if catalog != DEFAULT_CATALOG => Err(PlanError::Unsupported(format!(
                "{statement}: Sluice has one catalog, Flink's {DEFAULT_CATALOG}; catalog \
                 {catalog} is not it"
            ))),
            _ => Ok(()),
        };
        match statement {
            FlinkNamespace::CreateDatabase {
                catalog,
                database,
                if_not_exists,
            } => {
                check_catalog(&catalog, "CREATE DATABASE")?;
                if self
                    .create_schema(&database, if_not_exists, "database")
                    .await?
                {
                    // A ROLLBACK TO SAVEPOINT from before cannot undo it.
                    self.transaction.record_write();
                }
                Ok(command("CREATE DATABASE"))
            }
            FlinkNamespace::UseDatabase { catalog, database } => {
                check_catalog(&catalog, "USE")?;
                if is_default(&database) {
                    self.set("search_path", "\"$user\", public");
                } else if self.database.schema_exists(&database) {
                    self.set("search_path", &quote(&database));
                } else {
                    return Err(PlanError::UndefinedSchema(format!(
                        "database \"{database}\" does not exist"
                    )));
                }
                Ok(command("USE"))
            }
            FlinkNamespace::UseCatalog { catalog } => {
                check_catalog(&Some(catalog), "USE CATALOG")?;
                Ok(command("USE CATALOG"))
            }
            FlinkNamespace::CreateCatalog { catalog } => Err(PlanError::Unsupported(format!(
                "CREATE CATALOG {catalog}: Sluice has one catalog, Flink's {DEFAULT_CATALOG}"
            ))),
        }
    }
}

/// A schema name of one part (or `database.schema` of this database).
fn single_name(name: &ObjectName, what: &str) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(names::fold)
                .unwrap_or_else(|| part.to_string())
        })
        .collect();
    match parts.as_slice() {
        [schema] => Ok(schema.clone()),
        [database, schema] if database == crate::system_catalog::DATABASE_NAME => {
            Ok(schema.clone())
        }
        _ => Err(PlanError::Syntax {
            message: format!("improper qualified {what} name: {name}"),
            position: None,
        }),
    }
}

/// `name` as a search_path entry.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
