//! Flink's catalog and database statements: `CREATE DATABASE`, `CREATE CATALOG`, `USE`,
//! `USE CATALOG`.
//!
//! Sluice has one catalog, Flink's built-in `default_catalog`; its databases are schemas
//! (`default_database` is `public`, see [`crate::names`]). The session runs these statements
//! (`crate::schemas`); other catalogs are refused with an error that says so, never
//! silently merged into the one catalog.

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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> FlinkNamespace {
        parse_namespace_statement(sql)
            .expect("parses")
            .expect("is a namespace statement")
    }

    #[test]
    fn namespace_statements_parse() {
        assert_eq!(
            parse("CREATE DATABASE IF NOT EXISTS `Sources` COMMENT 'x' WITH ('k' = 'v')"),
            FlinkNamespace::CreateDatabase {
                catalog: None,
                database: "sources".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            parse("USE default_catalog.`default_database`;"),
            FlinkNamespace::UseDatabase {
                catalog: Some("default_catalog".into()),
                database: "default_database".into()
            }
        );
        assert_eq!(
            parse("USE CATALOG `iceberg`"),
            FlinkNamespace::UseCatalog {
                catalog: "iceberg".into()
            }
        );
        assert_eq!(
            parse("CREATE CATALOG `iceberg` WITH ('type' = 'iceberg')"),
            FlinkNamespace::CreateCatalog {
                catalog: "iceberg".into()
            }
        );
        assert!(parse_namespace_statement("USE a.b.c").is_err());
        assert_eq!(parse_namespace_statement("SELECT 1").expect("parses"), None);
        assert_eq!(
            parse_namespace_statement("CREATE TABLE t (x INT)").expect("parses"),
            None
        );
    }
}
