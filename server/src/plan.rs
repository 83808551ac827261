//! Loading what `sluice run PATH` executes: a Flink SQL script file, or a DataSQRL build
//! folder holding the compiled Flink plan and the database DDL.
//!
//! A folder is searched recursively (in name order) for the Flink part — `*.sql` files whose
//! name contains `flink`, or JSON plans whose name contains `flink` with the statements in a
//! `flinkSql`/`sql`/`statements` array (strings or objects with a `sql` field) — and then for
//! the database part — `*.sql` or JSON files whose name contains `postgres`, `database` or
//! `schema`. The database part runs after the Flink part: its `CREATE TABLE IF NOT EXISTS`
//! for the sink tables are then no-ops, and its views and indexes run over the tables the
//! pipeline fills. `${NAME}` placeholders are replaced by the given variables, then by the
//! environment; an unknown placeholder is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One script to execute, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanScript {
    pub origin: String,
    pub sql: String,
}

/// Errors loading a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanLoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON plan: {message}")]
    Json { path: String, message: String },
    #[error("{path}: no Flink SQL or database DDL found (looked for *flink*.sql/json and *postgres*/*database*/*schema* .sql/json)")]
    Empty { path: String },
    #[error("{origin}: unknown variable ${{{name}}} (pass --var {name}=VALUE or set it in the environment)")]
    UnknownVariable { origin: String, name: String },
}

/// Load the scripts of `path` in execution order, with `${VAR}` substituted.
pub fn load(
    path: &Path,
    variables: &BTreeMap<String, String>,
) -> Result<Vec<PlanScript>, PlanLoadError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| PlanLoadError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let mut scripts = Vec::new();
    if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        files.sort();
        let name_of = |p: &PathBuf| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let is_database = |name: &str| {
            ["postgres", "database", "schema"]
                .iter()
                .any(|k| name.contains(k))
        };
        for database_part in [false, true] {
            for file in &files {
                let name = name_of(file);
                let wanted = if database_part {
                    is_database(&name)
                } else {
                    name.contains("flink") && !is_database(&name)
                };
                if !wanted {
                    continue;
                }
                let text = read(file)?;
                let origin = file.display().to_string();
                let sql = if name.ends_with(".json") {
                    json_statements(&text).map_err(|message| PlanLoadError::Json {
                        path: origin.clone(),
                        message,
                    })?
                } else if name.ends_with(".sql") {
                    text
                } else {
                    continue;
                };
                scripts.push(PlanScript { origin, sql });
            }
        }
        if scripts.is_empty() {
            return Err(PlanLoadError::Empty {
                path: path.display().to_string(),
            });
        }
    } else {
        scripts.push(PlanScript {
            origin: path.display().to_string(),
            sql: read(path)?,
        });
    }
    scripts
        .into_iter()
        .map(|script| {
            let sql = substitute(&script.sql, variables).map_err(|name| {
                PlanLoadError::UnknownVariable {
                    origin: script.origin.clone(),
                    name,
                }
            })?;
            Ok(PlanScript { sql, ..script })
        })
        .collect()
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), PlanLoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PlanLoadError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| PlanLoadError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The statements of a JSON plan as one script.
fn json_statements(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut statements = Vec::new();
    collect_statements(&value, &mut statements);
    if statements.is_empty() {
        return Err("no array of SQL statements (flinkSql, sql, statements, ddl) found".into());
    }
    Ok(statements
        .iter()
        .map(|s| {
            let s = s.trim().trim_end_matches(';');
            format!("{s};\n")
        })
        .collect())
}

fn collect_statements(value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    if let Value::Object(map) = value {
        for (key, item) in map {
            let key = key.to_ascii_lowercase();
            let is_sql_list = ["flinksql", "sql", "statements", "ddl", "views", "indexes"]
                .contains(&key.as_str());
            match item {
                Value::Array(items) if is_sql_list => {
                    for item in items {
                        match item {
                            Value::String(s) => out.push(s.clone()),
                            Value::Object(object) => {
                                if let Some(Value::String(s)) =
                                    object.get("sql").or_else(|| object.get("statement"))
                                {
                                    out.push(s.clone());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Value::String(s) if is_sql_list => out.push(s.clone()),
                other => collect_statements(other, out),
            }
        }
    }
}

/// Replace `${NAME}` by `variables[NAME]` or the environment; `Err(NAME)` when unknown.
pub fn substitute(sql: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = variables
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .ok_or_else(|| name.to_string())?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_variables_and_reports_unknown_ones() {
        let mut vars = BTreeMap::new();
        vars.insert("TPS".to_string(), "1000".to_string());
        assert_eq!(substitute("'${TPS}'", &vars).unwrap(), "'1000'");
        assert_eq!(
            substitute("${SLUICE_SURELY_UNSET_VAR}", &vars).unwrap_err(),
            "SLUICE_SURELY_UNSET_VAR"
        );
    }

    #[test]
    fn json_plans_yield_their_statements() {
        let plan = r#"{"flinkSql": ["CREATE TABLE a (x INT)", {"sql": "INSERT INTO b SELECT * FROM a;"}]}"#;
        let sql = json_statements(plan).unwrap();
        assert_eq!(
            sql,
            "CREATE TABLE a (x INT);\nINSERT INTO b SELECT * FROM a;\n"
        );
    }

    #[test]
    fn folders_run_flink_then_database_parts() {
        let dir = std::env::temp_dir().join(format!("sluice-plan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("deploy")).unwrap();
        std::fs::write(
            dir.join("deploy/postgres.sql"),
            "CREATE VIEW v AS SELECT 1;",
        )
        .unwrap();
        std::fs::write(dir.join("deploy/flink.sql"), "CREATE TABLE t (x INT);").unwrap();
        std::fs::write(dir.join("README.md"), "ignored").unwrap();
        let scripts = load(&dir, &BTreeMap::new()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(scripts.len(), 2);
        assert!(scripts[0].origin.ends_with("flink.sql"));
        assert!(scripts[1].origin.ends_with("postgres.sql"));
    }
}
