//! The statements around subscriptions, which sqlparser does not know:
//!
//! ```text
//! SUBSCRIBE [TO] name | (query) [WITH (SNAPSHOT [= true|false], BUFFER_SIZE = n)]
//! DECLARE cursor [NO SCROLL] CURSOR [WITH HOLD | WITHOUT HOLD] FOR SUBSCRIBE ...
//! FETCH [FORWARD] [n | ALL | NEXT] [FROM | IN] cursor [WITH (TIMEOUT = '1s')]
//! CLOSE cursor | CLOSE ALL
//! ```
//!
//! Text that is not one of these (including `DECLARE .. CURSOR FOR SELECT`) gives `None`
//! and goes to the ordinary SQL path. Errors carry the 1-based character position of the
//! offending token.

use std::time::Duration;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::{SubscribeSpec, Target, DEFAULT_BUFFER_COMMITS};
use crate::error::{PlanError, Result};

/// How many rows a FETCH asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FetchCount {
    Rows(usize),
    All,
}

/// A statement about subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SubscribeStatement {
    Subscribe(SubscribeSpec),
    Declare {
        cursor: String,
        spec: SubscribeSpec,
    },
    Fetch {
        cursor: String,
        count: FetchCount,
        timeout: Option<Duration>,
    },
    /// `None`: CLOSE ALL.
    Close {
        cursor: Option<String>,
    },
}

/// Parse `text` if it is a subscription statement.
pub(crate) fn parse(text: &str) -> Result<Option<SubscribeStatement>> {
    let first = text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if !matches!(first.as_str(), "SUBSCRIBE" | "DECLARE" | "FETCH" | "CLOSE") {
        return Ok(None);
    }
    let tokens = match Tokenizer::new(&PostgreSqlDialect {}, text).tokenize_with_location() {
        Ok(tokens) => tokens,
        // Leave the error to the SQL parser.
        Err(_) => return Ok(None),
    };
    let mut parser = Parser::new(text, tokens);
    let statement = match first.as_str() {
        "SUBSCRIBE" => {
            parser.expect_keyword("SUBSCRIBE")?;
            SubscribeStatement::Subscribe(parser.subscribe()?)
        }
        "DECLARE" => {
            let Some((cursor, spec)) = parser.declare()? else {
                return Ok(None);
            };
            SubscribeStatement::Declare { cursor, spec }
        }
        "FETCH" => parser.fetch()?,
        _ => parser.close()?,
    };
    parser.expect_end()?;
    Ok(Some(statement))
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<TokenWithSpan>,
    index: usize,
    /// Character index where each line starts.
    line_starts: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, tokens: Vec<TokenWithSpan>) -> Self {
        let tokens = tokens
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        let mut line_starts = vec![0];
        for (i, c) in text.chars().enumerate() {
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        Self {
            text,
            tokens,
            index: 0,
            line_starts,
        }
    }

    /// 0-based character index of a location.
    fn char_index(&self, location: Location) -> usize {
        let line = (location.line.max(1) - 1) as usize;
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        start + (location.column.max(1) - 1) as usize
    }

    /// 1-based character position of the current token (or the end of the text).
    fn position(&self) -> usize {
        match self.tokens.get(self.index) {
            Some(token) => self.char_index(token.span.start) + 1,
            None => self.text.trim_end().chars().count() + 1,
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.index).map(|t| &t.token)
    }

    fn error(&self, message: impl Into<String>) -> PlanError {
        PlanError::Syntax {
            message: message.into(),
            position: Some(self.position()),
        }
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.index += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(format!("expected {keyword}, found {}", self.describe())))
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        let found = self.peek() == Some(token);
        if found {
            self.index += 1;
        }
        found
    }

    fn expect(&mut self, token: &Token) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(format!("expected {token}, found {}", self.describe())))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(token) => format!("\"{token}\""),
            None => "end of input".into(),
        }
    }

    fn expect_end(&mut self) -> Result<()> {
        while self.eat(&Token::SemiColon) {}
        if self.peek().is_some_and(|t| *t != Token::EOF) {
            return Err(self.error(format!("unexpected {}", self.describe())));
        }
        Ok(())
    }

    /// An identifier, lower-cased unless quoted.
    fn identifier(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(word)) => {
                let name = if word.quote_style.is_some() {
                    word.value.clone()
                } else {
                    word.value.to_ascii_lowercase()
                };
                self.index += 1;
                Ok(name)
            }
            _ => Err(self.error(format!("expected a name, found {}", self.describe()))),
        }
    }

    /// After `SUBSCRIBE`.
    fn subscribe(&mut self) -> Result<SubscribeSpec> {
        self.eat_keyword("TO");
        let target = if self.peek() == Some(&Token::LParen) {
            Target::Query(self.parenthesized_text()?)
        } else {
            let position = self.position();
            let mut parts = vec![self.identifier()?];
            while self.eat(&Token::Period) {
                parts.push(self.identifier()?);
            }
            // The catalog key: `[database.][schema.]name` (see `crate::names`).
            let table = parts.pop().unwrap_or_default();
            let name = crate::names::join(parts.last().map(String::as_str), &table);
            Target::Relation { name, position }
        };
        let mut spec = SubscribeSpec {
            target,
            snapshot: true,
            buffer: DEFAULT_BUFFER_COMMITS,
        };
        for (option, position, value) in self.options()? {
            match option.as_str() {
                "snapshot" => {
                    spec.snapshot = match value.as_deref().map(str::to_ascii_lowercase) {
                        None => true,
                        Some(v) if v == "true" || v == "on" => true,
                        Some(v) if v == "false" || v == "off" => false,
                        Some(v) => {
                            return Err(invalid_option(&option, &v, "true or false", position))
                        }
                    }
                }
                "buffer_size" => {
                    let text = value.unwrap_or_default();
                    spec.buffer =
                        text.parse::<usize>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| {
                                invalid_option(&option, &text, "a positive integer", position)
                            })?;
                }
                _ => {
                    return Err(positioned(
                        PlanError::InvalidParameter(format!(
                        "unrecognized SUBSCRIBE option \"{option}\" (known: SNAPSHOT, BUFFER_SIZE)"
                    )),
                        position,
                    ))
                }
            }
        }
        Ok(spec)
    }

    /// The text between a parenthesis and its match, consumed.
    fn parenthesized_text(&mut self) -> Result<String> {
        let open = self.index;
        self.expect(&Token::LParen)?;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                Some(Token::LParen) => depth += 1,
                Some(Token::RParen) => depth -= 1,
                None | Some(Token::EOF) => return Err(self.error("unterminated parenthesis")),
                _ => {}
            }
            self.index += 1;
        }
        let start = self.char_index(self.tokens[open].span.end);
        let end = self.char_index(self.tokens[self.index - 1].span.start);
        let inner: String = self
            .text
            .chars()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect();
        if inner.trim().is_empty() {
            return Err(self.error("expected a query between the parentheses"));
        }
        Ok(inner)
    }

    /// `WITH (name [= value], ...)`, names lower-cased; each with its position.
    fn options(&mut self) -> Result<Vec<(String, usize, Option<String>)>> {
        let mut options = Vec::new();
        if !self.eat_keyword("WITH") {
            return Ok(options);
        }
        self.expect(&Token::LParen)?;
        loop {
            let position = self.position();
            let name = self.identifier()?.to_ascii_lowercase();
            let value = if self.eat(&Token::Eq) {
                let value = match self.peek() {
                    Some(Token::Word(word)) => word.value.clone(),
                    Some(Token::Number(number, _)) => number.clone(),
                    Some(Token::SingleQuotedString(text)) => text.clone(),
                    _ => {
                        return Err(
                            self.error(format!("expected a value, found {}", self.describe()))
                        )
                    }
                };
                self.index += 1;
                Some(value)
            } else {
                None
            };
            options.push((name, position, value));
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        self.expect(&Token::RParen)?;
        Ok(options)
    }

    /// `DECLARE name ... CURSOR ... FOR SUBSCRIBE ...`; `None` for other cursors.
    fn declare(&mut self) -> Result<Option<(String, SubscribeSpec)>> {
        self.expect_keyword("DECLARE")?;
        let cursor = self.identifier()?;
        // BINARY, INSENSITIVE, [NO] SCROLL, CURSOR, WITH[OUT] HOLD, FOR.
        for _ in 0..8 {
            if self.eat_keyword("FOR") {
                break;
            }
            if self.peek().is_none() {
                return Ok(None);
            }
            self.index += 1;
        }
        if !self.eat_keyword("SUBSCRIBE") {
            return Ok(None);
        }
        Ok(Some((cursor, self.subscribe()?)))
    }

    fn fetch(&mut self) -> Result<SubscribeStatement> {
        self.expect_keyword("FETCH")?;
        self.eat_keyword("FORWARD");
        let count = if self.eat_keyword("ALL") {
            FetchCount::All
        } else if self.eat_keyword("NEXT") {
            FetchCount::Rows(1)
        } else if let Some(Token::Number(number, _)) = self.peek() {
            let count = number
                .parse::<usize>()
                .map_err(|_| self.error(format!("invalid row count {number}")))?;
            self.index += 1;
            FetchCount::Rows(count)
        } else {
            FetchCount::Rows(1)
        };
        if !self.eat_keyword("FROM") {
            self.eat_keyword("IN");
        }
        let cursor = self.identifier()?;
        let mut timeout = None;
        for (option, position, value) in self.options()? {
            if option != "timeout" {
                return Err(positioned(
                    PlanError::InvalidParameter(format!(
                        "unrecognized FETCH option \"{option}\" (known: TIMEOUT)"
                    )),
                    position,
                ));
            }
            let text = value.unwrap_or_default();
            let duration = sluice_runtime::connectors::duration::parse_duration("timeout", &text)
                .map_err(|_| {
                invalid_option(
                    &option,
                    &text,
                    "a duration such as '1s' or '500ms'",
                    position,
                )
            })?;
            timeout = Some(duration);
        }
        Ok(SubscribeStatement::Fetch {
            cursor,
            count,
            timeout,
        })
    }

    fn close(&mut self) -> Result<SubscribeStatement> {
        self.expect_keyword("CLOSE")?;
        if self.eat_keyword("ALL") {
            return Ok(SubscribeStatement::Close { cursor: None });
        }
        Ok(SubscribeStatement::Close {
            cursor: Some(self.identifier()?),
        })
    }
}

fn invalid_option(option: &str, value: &str, expected: &str, position: usize) -> PlanError {
    positioned(
        PlanError::InvalidParameter(format!(
            "invalid value \"{value}\" for option {}: expected {expected}",
            option.to_ascii_uppercase()
        )),
        position,
    )
}

pub(crate) fn positioned(error: PlanError, position: usize) -> PlanError {
    PlanError::Positioned {
        error: Box::new(error),
        position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(statement: Option<SubscribeStatement>) -> SubscribeSpec {
        match statement {
            Some(SubscribeStatement::Subscribe(spec)) => spec,
            other => panic!("not a SUBSCRIBE: {other:?}"),
        }
    }

    #[test]
    fn subscribe_forms() {
        let s = spec(parse("SUBSCRIBE TO Totals").unwrap());
        assert_eq!(
            s.target,
            Target::Relation {
                name: "totals".into(),
                position: 14
            }
        );
        assert!(s.snapshot);
        let s = spec(
            parse("subscribe public.\"T\" with (snapshot = false, buffer_size = 8);").unwrap(),
        );
        assert_eq!(
            s.target,
            Target::Relation {
                name: "T".into(),
                position: 11
            }
        );
        assert!(!s.snapshot);
        assert_eq!(s.buffer, 8);
        let s = spec(parse("SUBSCRIBE TO (SELECT a, (b) FROM t) WITH (SNAPSHOT)").unwrap());
        assert_eq!(s.target, Target::Query("SELECT a, (b) FROM t".into()));
    }

    #[test]
    fn cursor_statements() {
        let declare = parse("DECLARE c CURSOR FOR SUBSCRIBE v WITH (SNAPSHOT = false)").unwrap();
        assert!(
            matches!(declare, Some(SubscribeStatement::Declare { ref cursor, .. }) if cursor == "c")
        );
        assert_eq!(parse("DECLARE c CURSOR FOR SELECT 1").unwrap(), None);
        assert_eq!(
            parse("FETCH 10 c WITH (timeout = '1s')").unwrap(),
            Some(SubscribeStatement::Fetch {
                cursor: "c".into(),
                count: FetchCount::Rows(10),
                timeout: Some(Duration::from_secs(1)),
            })
        );
        assert_eq!(
            parse("FETCH ALL FROM c").unwrap(),
            Some(SubscribeStatement::Fetch {
                cursor: "c".into(),
                count: FetchCount::All,
                timeout: None,
            })
        );
        assert_eq!(
            parse("CLOSE ALL").unwrap(),
            Some(SubscribeStatement::Close { cursor: None })
        );
        assert_eq!(parse("SELECT 1").unwrap(), None);
    }

    #[test]
    fn errors_have_positions() {
        let error = parse("SUBSCRIBE TO v WITH (SNAPSHOT = maybe)").unwrap_err();
        assert_eq!(error.sqlstate(), "22023");
        assert_eq!(error.position(), Some(22));
        let error = parse("SUBSCRIBE TO v extra").unwrap_err();
        assert_eq!(error.sqlstate(), "42601");
        assert_eq!(error.position(), Some(16));
    }
}
