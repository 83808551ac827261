//! Flink's catalog and database statements: `CREATE DATABASE`, `CREATE CATALOG`, `USE`,
//! `USE CATALOG`.
//!
//! Sluice has one namespace, Flink's built-in `default_catalog.default_database` (the Flink
//! rewrite drops those prefixes from names). Statements that name it are accepted and change
//! nothing, as in Flink (`CREATE DATABASE IF NOT EXISTS default_database`, `USE
//! default_database`, `USE CATALOG default_catalog`); other catalogs and databases are
//! refused with an error that says so, never silently merged into the one namespace.

use super::lex::{Cursor, Lexed};
use crate::error::{PlanError, Result};

/// Flink's built-in catalog, the only one Sluice has.
pub const DEFAULT_CATALOG: &str = "default_catalog";
/// Flink's built-in database, the only one Sluice has.
pub const DEFAULT_DATABASE: &str = "default_database";

/// A Flink catalog or database statement; names folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlinkNamespace {
    /// `CREATE DATABASE [IF NOT EXISTS] [catalog.]database [COMMENT ..] [WITH (..)]`.
    CreateDatabase {
        catalog: Option<String>,
        database: String,
        if_not_exists: bool,
    },
    /// `CREATE CATALOG name WITH (..)`.
    CreateCatalog { catalog: String },
    /// `USE [catalog.]database`.
    UseDatabase {
        catalog: Option<String>,
        database: String,
    },
    /// `USE CATALOG catalog`.
    UseCatalog { catalog: String },
}

/// Parse a Flink catalog or database statement; `Ok(None)` for any other statement.
pub fn parse_namespace_statement(sql: &str) -> Result<Option<FlinkNamespace>> {
    let lexed = Lexed::new(sql)?;
    let mut cursor = lexed.cursor_all();
    let statement = if cursor.eat_keywords(&["CREATE", "DATABASE"]) {
        let if_not_exists = cursor.eat_keywords(&["IF", "NOT", "EXISTS"]);
        let (catalog, database) = catalog_and_name(&mut cursor, "a database name")?;
        // COMMENT and WITH options describe the new database: nothing to keep of them.
        while !cursor.is_done() {
            cursor.skip_item();
        }
        FlinkNamespace::CreateDatabase {
            catalog,
            database,
            if_not_exists,
        }
    } else if cursor.eat_keywords(&["CREATE", "CATALOG"]) {
        let catalog = cursor.identifier("a catalog name")?.folded;
        while !cursor.is_done() {
            cursor.skip_item();
        }
        FlinkNamespace::CreateCatalog { catalog }
    } else if cursor.eat_keywords(&["USE", "CATALOG"]) {
        FlinkNamespace::UseCatalog {
            catalog: cursor.identifier("a catalog name")?.folded,
        }
    } else if cursor.eat_keywords(&["USE"]) {
        let (catalog, database) = catalog_and_name(&mut cursor, "a database name")?;
        FlinkNamespace::UseDatabase { catalog, database }
    } else {
        return Ok(None);
    };
    cursor.eat(&datafusion::sql::sqlparser::tokenizer::Token::SemiColon);
    if !cursor.is_done() {
        return Err(cursor.unexpected("end of the statement"));
    }
    Ok(Some(statement))
}

/// `[catalog.]name`.
fn catalog_and_name(cursor: &mut Cursor, what: &str) -> Result<(Option<String>, String)> {
    let mut parts = cursor.qualified_name(what)?;
    let name = parts.pop().map(|part| part.folded).unwrap_or_default();
    if parts.len() > 1 {
        return Err(PlanError::Syntax {
            message: format!(
                "expected {what} or catalog.name, found a name of {} parts",
                parts.len() + 1
            ),
            position: Some(cursor.position()),
        });
    }
    Ok((parts.pop().map(|part| part.folded), name))
}

impl FlinkNamespace {
    /// Run the statement against Sluice's one namespace: the command tag when it names that
    /// namespace, an error otherwise.
    pub fn apply(&self) -> Result<&'static str> {
        let catalog_is_default =
            |catalog: &Option<String>| catalog.as_deref().is_none_or(|c| c == DEFAULT_CATALOG);
        match self {
            FlinkNamespace::CreateDatabase {
                catalog,
                database,
                if_not_exists,
            } if catalog_is_default(catalog) && database == DEFAULT_DATABASE => {
                if *if_not_exists {
                    Ok("CREATE DATABASE")
                } else {
                    Err(PlanError::DuplicateObject(format!(
                        "database \"{DEFAULT_DATABASE}\" already exists"
                    )))
                }
            }
            FlinkNamespace::UseDatabase { catalog, database }
                if catalog_is_default(catalog) && database == DEFAULT_DATABASE =>
            {
                Ok("USE")
            }
            FlinkNamespace::UseCatalog { catalog } if catalog == DEFAULT_CATALOG => {
                Ok("USE CATALOG")
            }
            FlinkNamespace::CreateDatabase { database, .. } => {
                Err(only_namespace(&format!("CREATE DATABASE {database}")))
            }
            FlinkNamespace::UseDatabase { database, .. } => {
                Err(only_namespace(&format!("USE {database}")))
            }
            FlinkNamespace::CreateCatalog { catalog } => {
                Err(only_namespace(&format!("CREATE CATALOG {catalog}")))
            }
            FlinkNamespace::UseCatalog { catalog } => {
                Err(only_namespace(&format!("USE CATALOG {catalog}")))
            }
        }
    }
}

fn only_namespace(statement: &str) -> PlanError {
    PlanError::Unsupported(format!(
        "{statement}: Sluice has one catalog and database, Flink's \
         {DEFAULT_CATALOG}.{DEFAULT_DATABASE}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(sql: &str) -> std::result::Result<&'static str, String> {
        parse_namespace_statement(sql)
            .expect("parses")
            .expect("is a namespace statement")
            .apply()
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_default_namespace_is_accepted_and_others_refused() {
        assert_eq!(
            apply("CREATE DATABASE IF NOT EXISTS `default_database`"),
            Ok("CREATE DATABASE")
        );
        assert_eq!(apply("USE `default_database`;"), Ok("USE"));
        assert_eq!(apply("USE default_catalog.default_database"), Ok("USE"));
        assert_eq!(apply("USE CATALOG `default_catalog`"), Ok("USE CATALOG"));
        assert!(
            apply("CREATE DATABASE default_database").is_err_and(|e| e.contains("already exists"))
        );
        for sql in [
            "CREATE DATABASE IF NOT EXISTS `sources` COMMENT 'x' WITH ('k' = 'v')",
            "USE `sources`",
            "USE iceberg.default_database",
            "USE CATALOG `iceberg`",
            "CREATE CATALOG `iceberg` WITH ('type' = 'iceberg')",
        ] {
            let error = apply(sql).expect_err(sql);
            assert!(error.contains("one catalog and database"), "{sql}: {error}");
        }
        assert_eq!(parse_namespace_statement("SELECT 1").expect("parses"), None);
        assert_eq!(
            parse_namespace_statement("CREATE TABLE t (x INT)").expect("parses"),
            None
        );
    }
}
