//! Splitting a Flink SQL script into statements.
//!
//! Statements end at `;` outside string literals, quoted identifiers, comments and `$$`
//! bodies (the tokenizer sees those as single tokens). Statement sets —
//! `EXECUTE STATEMENT SET BEGIN ..; ..; END;` and the SQL client's
//! `BEGIN STATEMENT SET; ..; END;` — are flattened into their INSERT statements, tagged with
//! the index of the set so the caller can start them together. `EXECUTE INSERT ..` becomes
//! the INSERT itself.
//!
//! Invariants: each [`ScriptStatement::sql`] is the script's text from the statement's first
//! to its last significant token (comments before and after it and the `;` are not
//! included), and `offset` is the byte offset of that text in the script. Statements
//! holding only comments or whitespace are dropped. Error positions are 1-based characters
//! of the script.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{char_position, syntax, Lexed};
use crate::error::Result;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement text, without the terminating `;`.
    pub sql: String,
    /// Byte offset of `sql` in the script.
    pub offset: usize,
    /// Index (0, 1, ..) of the statement set this INSERT belongs to, if any.
    pub statement_set: Option<usize>,
}

impl ScriptStatement {
    /// Translate a 1-based character position in `sql` into one in `script`.
    pub fn script_position(&self, script: &str, position: usize) -> usize {
        char_position(script, self.offset) - 1 + position
    }
}

/// Split a script into statements (see the module docs).
pub fn split_script(script: &str) -> Result<Vec<ScriptStatement>> {
    let lexed = Lexed::new(script)?;
    // Token ranges between semicolons.
    let mut pieces = Vec::new();
    let mut start = 0;
    for (index, lexeme) in lexed.tokens.iter().enumerate() {
        if lexeme.token == Token::SemiColon {
            pieces.push((start, index));
            start = index + 1;
        }
    }
    pieces.push((start, lexed.tokens.len()));

    let mut statements = Vec::new();
    let mut sets = 0;
    // The open statement set: its index and the position of its BEGIN.
    let mut open_set: Option<(usize, usize)> = None;
    for (from, to) in pieces {
        let significant: Vec<usize> = lexed
            .significant
            .iter()
            .copied()
            .filter(|&index| index >= from && index < to)
            .collect();
        let Some(&first) = significant.first() else {
            continue;
        };
        let keyword = |at: usize, word: &str| {
            significant
                .get(at)
                .is_some_and(|&index| lexed.tokens[index].is_keyword(word))
        };
        let mut body = &significant[..];
        if keyword(0, "EXECUTE") && keyword(1, "STATEMENT") && keyword(2, "SET") {
            if !keyword(3, "BEGIN") {
                let at = significant.get(3).copied().unwrap_or(to);
                return Err(syntax(
                    "expected BEGIN after EXECUTE STATEMENT SET",
                    lexed.position_of(at),
                ));
            }
            if let Some((_, begin)) = open_set {
                return Err(syntax("statement sets cannot nest", begin));
            }
            open_set = Some((sets, lexed.position_of(first)));
            sets += 1;
            body = &significant[4..];
        } else if keyword(0, "BEGIN") && keyword(1, "STATEMENT") && keyword(2, "SET") {
            if significant.len() > 3 {
                return Err(syntax(
                    "expected \";\" after BEGIN STATEMENT SET",
                    lexed.position_of(significant[3]),
                ));
            }
            if let Some((_, begin)) = open_set {
                return Err(syntax("statement sets cannot nest", begin));
            }
            open_set = Some((sets, lexed.position_of(first)));
            sets += 1;
            continue;
        } else if keyword(0, "EXECUTE") && keyword(1, "INSERT") {
            body = &significant[1..];
        }

        let mut closes_set = false;
        if open_set.is_some() {
            // `END` closes the set, alone or right after the last INSERT when its `;` was
            // left out (an END without a CASE of its own).
            if let Some((&last, rest)) = body.split_last() {
                if lexed.tokens[last].is_keyword("END") {
                    let cases = rest
                        .iter()
                        .filter(|&&index| lexed.tokens[index].is_keyword("CASE"))
                        .count();
                    let ends = rest
                        .iter()
                        .filter(|&&index| lexed.tokens[index].is_keyword("END"))
                        .count();
                    if ends >= cases {
                        closes_set = true;
                        body = rest;
                    }
                }
            }
        }
        if let (Some(&first), Some(&last)) = (body.first(), body.last()) {
            let statement_set = open_set.map(|(set, _)| set);
            if statement_set.is_some() && !lexed.tokens[first].is_keyword("INSERT") {
                return Err(syntax(
                    "only INSERT statements are allowed in a statement set",
                    lexed.position_of(first),
                ));
            }
            let start = lexed.tokens[first].start;
            let end = lexed.tokens[last].end;
            statements.push(ScriptStatement {
                sql: script[start..end].to_string(),
                offset: start,
                statement_set,
            });
        }
        if closes_set {
            open_set = None;
        }
    }
    if let Some((_, begin)) = open_set {
        return Err(syntax("statement set is not closed by END", begin));
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(statements: &[ScriptStatement]) -> Vec<(&str, Option<usize>)> {
        statements
            .iter()
            .map(|statement| (statement.sql.as_str(), statement.statement_set))
            .collect()
    }

    #[test]
    fn splits_on_semicolons_outside_literals_and_comments() {
        let script = "-- header; not a statement\n\
                      CREATE TABLE t (a INT, `b;c` STRING) WITH ('x' = 'a;b');\n\
                      /* only a comment; */ ;\n\
                      SET 'pipeline.name' = 'my;job';\n\
                      CREATE FUNCTION f AS $$ x; y $$;;\n\
                      SELECT 'it''s;' FROM t -- trailing; comment\n";
        let statements = split_script(script).expect("splits");
        assert_eq!(
            texts(&statements),
            [
                (
                    "CREATE TABLE t (a INT, `b;c` STRING) WITH ('x' = 'a;b')",
                    None
                ),
                ("SET 'pipeline.name' = 'my;job'", None),
                ("CREATE FUNCTION f AS $$ x; y $$", None),
                ("SELECT 'it''s;' FROM t", None),
            ]
        );
        for statement in &statements {
            assert_eq!(
                &script[statement.offset..statement.offset + statement.sql.len()],
                statement.sql
            );
        }
        assert!(split_script("-- nothing\n /* at all */ ;  ;")
            .expect("splits")
            .is_empty());
    }

    #[test]
    fn postgres_text_splits_too() {
        let script = "SELECT E'it\\'s;', U&'\\0041;', $tag$a;b$tag$, a @> b, a->>'k', \
                      a #> '{a}', a ~* 'x', a !~ 'y', x::int, $1, B'01', X'FF', 1e-3, .5, \
                      a <> b, a != b, |/ 25, @ -5, a ? 'k' FROM t;\n\
                      CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;";
        let statements = split_script(script).expect("splits");
        assert_eq!(statements.len(), 2);
        assert!(
            statements[0].sql.ends_with("a ? 'k' FROM t"),
            "{}",
            statements[0].sql
        );
        assert!(
            statements[1].sql.ends_with("LANGUAGE sql"),
            "{}",
            statements[1].sql
        );
    }

    #[test]
    fn statement_sets_are_flattened_and_tagged() {
        let script = "CREATE VIEW v AS SELECT 1;\n\
                      EXECUTE STATEMENT SET BEGIN\n\
                        INSERT INTO a SELECT * FROM v;\n\
                        INSERT INTO b SELECT CASE WHEN x THEN 1 END FROM v;\n\
                      END;\n\
                      BEGIN STATEMENT SET;\n\
                        INSERT INTO c SELECT 1;\n\
                        INSERT INTO d SELECT 2\n\
                      END;\n\
                      EXECUTE INSERT INTO e SELECT 3;\n\
                      BEGIN;";
        let statements = split_script(script).expect("splits");
        assert_eq!(
            texts(&statements),
            [
                ("CREATE VIEW v AS SELECT 1", None),
                ("INSERT INTO a SELECT * FROM v", Some(0)),
                (
                    "INSERT INTO b SELECT CASE WHEN x THEN 1 END FROM v",
                    Some(0)
                ),
                ("INSERT INTO c SELECT 1", Some(1)),
                ("INSERT INTO d SELECT 2", Some(1)),
                ("INSERT INTO e SELECT 3", None),
                ("BEGIN", None),
            ]
        );
    }

    #[test]
    fn malformed_scripts_report_positions() {
        let error = split_script("SELECT 1;\nSELECT 'open").expect_err("unterminated");
        assert_eq!(error.position(), Some(18), "{error}");
        let error = split_script("SELECT 1; /* open").expect_err("unterminated");
        assert_eq!(error.position(), Some(11), "{error}");
        let error = split_script("SELECT 1;\nBEGIN STATEMENT SET;\nINSERT INTO a SELECT 1;")
            .expect_err("open");
        assert_eq!(error.position(), Some(11), "{error}");
        let error = split_script("EXECUTE STATEMENT SET BEGIN\nCREATE VIEW v AS SELECT 1;\nEND;")
            .expect_err("not an insert");
        assert_eq!(error.position(), Some(29), "{error}");
    }

    #[test]
    fn positions_translate_back_to_the_script() {
        let script = "-- é\nSELECT 1;\n  SELECT x";
        let statements = split_script(script).expect("splits");
        assert_eq!(statements[1].sql, "SELECT x");
        assert_eq!(statements[1].script_position(script, 8), 25);
    }
}
