//! Tokens of Flink SQL text with their byte ranges, a cursor over the significant ones, and
//! the text renderer every rewrite in this module is built on.
//!
//! Invariants:
//! - [`Lexed::tokens`] covers the input exactly: token `i + 1` starts where token `i` ends,
//!   the first starts at byte 0 and the last ends at `text.len()`. Whitespace and comments
//!   are tokens too, so any range of tokens can be copied back byte for byte.
//! - Positions reported to users are 1-based character positions in the lexed text.
//! - [`Rendering`] only changes the tokens it is told to change: every other byte of the
//!   input is copied unchanged, so positions before the first change stay exact.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

use crate::error::{PlanError, Result};

/// The sqlparser tokenizer configured for Flink SQL: identifiers are quoted with backquotes
/// (double quotes are accepted too, as PostgreSQL identifiers), plain string literals never
/// use backslash escapes, comments do not nest and `$$ .. $$` is a dollar-quoted body.
/// PostgreSQL's `E'..'` (backslash escapes) and `U&'..'` strings are single tokens too,
/// so PostgreSQL text going through the same functions splits correctly.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FlinkTokenDialect;

impl Dialect for FlinkTokenDialect {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || ch == '"'
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn supports_string_escape_constant(&self) -> bool {
        true
    }

    fn supports_unicode_string_literal(&self) -> bool {
        true
    }
}

/// One token and the bytes of the input it came from.
#[derive(Debug, Clone)]
pub(crate) struct Lexeme {
    pub(crate) token: Token,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Lexeme {
    /// Whitespace and comments are not significant.
    pub(crate) fn is_significant(&self) -> bool {
        !matches!(self.token, Token::Whitespace(_))
    }

    /// The unquoted word, if this token is one.
    pub(crate) fn bare_word(&self) -> Option<&str> {
        match &self.token {
            Token::Word(Word {
                value,
                quote_style: None,
                ..
            }) => Some(value),
            _ => None,
        }
    }

    /// Whether this token is the unquoted word `keyword` (case-insensitive).
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        self.bare_word()
            .is_some_and(|word| word.eq_ignore_ascii_case(keyword))
    }
}

/// Tokenized text.
#[derive(Debug)]
pub(crate) struct Lexed<'a> {
    pub(crate) text: &'a str,
    pub(crate) tokens: Vec<Lexeme>,
    /// Indices into `tokens` of the significant tokens, in order.
    pub(crate) significant: Vec<usize>,
}

impl<'a> Lexed<'a> {
    /// Tokenize `text`. A string, quoted identifier or comment that is not closed is a
    /// syntax error at the position where it starts.
    pub(crate) fn new(text: &'a str) -> Result<Self> {
        let dialect = FlinkTokenDialect;
        let mut spans: Vec<TokenWithSpan> = Vec::new();
        let outcome = Tokenizer::new(&dialect, text).tokenize_with_location_into_buf(&mut spans);
        let mut walker = LocationWalker::new(text);
        let mut tokens = Vec::with_capacity(spans.len());
        let mut start = 0;
        for span in spans {
            let end = walker.byte_offset(span.span.end.line, span.span.end.column);
            tokens.push(Lexeme {
                token: span.token,
                start,
                end,
            });
            start = end;
        }
        if let Err(error) = outcome {
            // The failing token starts where the last complete one ended.
            let position = char_position(text, start);
            let message = match error.message.as_str() {
                "Unexpected EOF while in a multi-line comment" => "unterminated /* comment".into(),
                "Unterminated string literal" => "unterminated quoted string".into(),
                other if other.starts_with("Expected close delimiter") => {
                    "unterminated quoted identifier".into()
                }
                other => other.to_ascii_lowercase(),
            };
            return Err(PlanError::Syntax {
                message,
                position: Some(position),
            });
        }
        if start != text.len() {
            return Err(PlanError::Internal(format!(
                "tokenizer covered {start} of {} bytes",
                text.len()
            )));
        }
        let significant = tokens
            .iter()
            .enumerate()
            .filter(|(_, lexeme)| lexeme.is_significant())
            .map(|(index, _)| index)
            .collect();
        Ok(Lexed {
            text,
            tokens,
            significant,
        })
    }

    /// The 1-based character position of the token with index `token`, or one past the end
    /// of the text for `token == tokens.len()`.
    pub(crate) fn position_of(&self, token: usize) -> usize {
        match self.tokens.get(token) {
            Some(lexeme) => char_position(self.text, lexeme.start),
            None => self.text.chars().count() + 1,
        }
    }

    /// The source text of tokens `from..to` (token indices).
    pub(crate) fn source(&self, from: usize, to: usize) -> &'a str {
        if from >= to || from >= self.tokens.len() {
            return "";
        }
        let end = self.tokens[to.min(self.tokens.len()) - 1].end;
        &self.text[self.tokens[from].start..end]
    }

    /// A cursor over the significant tokens whose token indices lie in `from..to`.
    pub(crate) fn cursor(&self, from: usize, to: usize) -> Cursor<'_, 'a> {
        let first = self.significant.partition_point(|&index| index < from);
        let last = self.significant.partition_point(|&index| index < to);
        Cursor {
            lexed: self,
            significant: &self.significant[first..last],
            at: 0,
            end_token: to.min(self.tokens.len()),
        }
    }

    /// A cursor over all significant tokens.
    pub(crate) fn cursor_all(&self) -> Cursor<'_, 'a> {
        self.cursor(0, self.tokens.len())
    }

    /// The index of the token closing the parenthesis or bracket opened at token `open`,
    /// or `None` if it is never closed.
    pub(crate) fn matching_close(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (index, lexeme) in self.tokens.iter().enumerate().skip(open) {
            match lexeme.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(index);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Converts the tokenizer's (line, column) locations into byte offsets, walking forward.
struct LocationWalker<'a> {
    chars: std::str::CharIndices<'a>,
    len: usize,
    line: u64,
    column: u64,
    offset: usize,
}

impl<'a> LocationWalker<'a> {
    fn new(text: &'a str) -> Self {
        LocationWalker {
            chars: text.char_indices(),
            len: text.len(),
            line: 1,
            column: 1,
            offset: 0,
        }
    }

    /// The byte offset of (line, column); locations must be asked for in increasing order.
    fn byte_offset(&mut self, line: u64, column: u64) -> usize {
        while (self.line, self.column) < (line, column) {
            match self.chars.next() {
                Some((_, ch)) => {
                    self.offset += ch.len_utf8();
                    if ch == '\n' {
                        self.line += 1;
                        self.column = 1;
                    } else {
                        self.column += 1;
                    }
                }
                None => {
                    self.offset = self.len;
                    break;
                }
            }
        }
        self.offset
    }
}

/// The 1-based character position of byte offset `byte` in `text`.
pub(crate) fn char_position(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    text.char_indices().take_while(|(at, _)| *at < byte).count() + 1
}

/// A syntax error at 1-based character position `position`.
pub(crate) fn syntax(message: impl Into<String>, position: usize) -> PlanError {
    PlanError::Syntax {
        message: message.into(),
        position: Some(position),
    }
}

/// A cursor over a run of significant tokens (whitespace and comments skipped).
#[derive(Clone)]
pub(crate) struct Cursor<'l, 'a> {
    pub(crate) lexed: &'l Lexed<'a>,
    significant: &'l [usize],
    at: usize,
    /// Token index one past the run, used for the position of "end of input" errors.
    end_token: usize,
}

impl<'l, 'a> Cursor<'l, 'a> {
    pub(crate) fn is_done(&self) -> bool {
        self.at >= self.significant.len()
    }

    /// The token index of the significant token `ahead` places from the current one.
    pub(crate) fn index_ahead(&self, ahead: usize) -> Option<usize> {
        self.significant.get(self.at + ahead).copied()
    }

    /// The token index of the current significant token, or the end of the run.
    pub(crate) fn index(&self) -> usize {
        self.index_ahead(0).unwrap_or(self.end_token)
    }

    pub(crate) fn peek(&self) -> Option<&'l Lexeme> {
        self.peek_ahead(0)
    }

    pub(crate) fn peek_ahead(&self, ahead: usize) -> Option<&'l Lexeme> {
        let lexed: &'l Lexed<'a> = self.lexed;
        self.index_ahead(ahead).map(|index| &lexed.tokens[index])
    }

    /// Advance past the current token and return it.
    pub(crate) fn next(&mut self) -> Option<&'l Lexeme> {
        let lexeme = self.peek();
        if lexeme.is_some() {
            self.at += 1;
        }
        lexeme
    }

    /// The token index of the token just consumed.
    pub(crate) fn previous_index(&self) -> Option<usize> {
        self.at
            .checked_sub(1)
            .and_then(|at| self.significant.get(at).copied())
    }

    /// The 1-based character position of the current token (or of the end of the run).
    pub(crate) fn position(&self) -> usize {
        self.lexed.position_of(self.index())
    }

    /// Whether the next tokens are the unquoted words `keywords`, in order.
    pub(crate) fn at_keywords(&self, keywords: &[&str]) -> bool {
        keywords.iter().enumerate().all(|(ahead, keyword)| {
            self.peek_ahead(ahead)
                .is_some_and(|lexeme| lexeme.is_keyword(keyword))
        })
    }

    /// Consume the words `keywords` if they come next.
    pub(crate) fn eat_keywords(&mut self, keywords: &[&str]) -> bool {
        if self.at_keywords(keywords) {
            self.at += keywords.len();
            true
        } else {
            false
        }
    }

    /// Whether the current token is `token`.
    pub(crate) fn at_token(&self, token: &Token) -> bool {
        self.peek().is_some_and(|lexeme| &lexeme.token == token)
    }

    /// Consume `token` if it comes next.
    pub(crate) fn eat(&mut self, token: &Token) -> bool {
        if self.at_token(token) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Consume `token` or fail with "expected {what}".
    pub(crate) fn expect(&mut self, token: &Token, what: &str) -> Result<usize> {
        if self.eat(token) {
            Ok(self.previous_index().unwrap_or(0))
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Consume the words `keywords` or fail with "expected {what}".
    pub(crate) fn expect_keywords(&mut self, keywords: &[&str], what: &str) -> Result<()> {
        if self.eat_keywords(keywords) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// "expected {what}, found {token}" at the current token.
    pub(crate) fn unexpected(&self, what: &str) -> PlanError {
        // At the end of a bounded run this names the token that bounds it (e.g. `)`).
        let index = self.index();
        let found = match self.lexed.tokens.get(index) {
            Some(_) => format!("\"{}\"", self.lexed.source(index, index + 1)),
            None => "end of input".to_string(),
        };
        syntax(format!("expected {what}, found {found}"), self.position())
    }

    /// An identifier (quoted or not), folded as Sluice folds identifiers.
    pub(crate) fn identifier(&mut self, what: &str) -> Result<Identifier> {
        match self.peek().map(|lexeme| &lexeme.token) {
            Some(Token::Word(word)) => {
                let identifier = Identifier::from_word(word);
                self.at += 1;
                Ok(identifier)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// A possibly qualified name `a.b.c`; returns its parts.
    pub(crate) fn qualified_name(&mut self, what: &str) -> Result<Vec<Identifier>> {
        let mut parts = vec![self.identifier(what)?];
        while self.at_token(&Token::Period) {
            self.at += 1;
            parts.push(self.identifier(what)?);
        }
        Ok(parts)
    }

    /// A single-quoted string literal (its unescaped value).
    pub(crate) fn string(&mut self, what: &str) -> Result<String> {
        match self.peek().map(|lexeme| &lexeme.token) {
            Some(Token::SingleQuotedString(value)) => {
                let value = value.clone();
                self.at += 1;
                Ok(value)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// Skip one item: a token, or a whole parenthesized/bracketed group. Returns the token
    /// index one past the item.
    pub(crate) fn skip_item(&mut self) -> usize {
        let Some(index) = self.index_ahead(0) else {
            return self.end_token;
        };
        let close = match self.lexed.tokens[index].token {
            Token::LParen | Token::LBracket => self.lexed.matching_close(index),
            _ => None,
        };
        match close {
            Some(close) => {
                while self.index_ahead(0).is_some_and(|at| at <= close) {
                    self.at += 1;
                }
                close + 1
            }
            None => {
                self.at += 1;
                index + 1
            }
        }
    }

    /// Skip items up to (not including) the next `,` outside parentheses, or the end.
    /// Returns the token range `(first, end)` skipped.
    pub(crate) fn skip_to_comma(&mut self) -> (usize, usize) {
        let first = self.index();
        let mut end = first;
        while let Some(lexeme) = self.peek() {
            if lexeme.token == Token::Comma {
                break;
            }
            end = self.skip_item();
        }
        (first, end)
    }
}

/// An identifier as written and as Sluice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identifier {
    /// The name without quotes, unfolded.
    pub(crate) value: String,
    /// The name as Sluice resolves it: unquoted and backquoted names fold to lower case,
    /// double-quoted names keep their case.
    pub(crate) folded: String,
}

impl Identifier {
    pub(crate) fn from_word(word: &Word) -> Self {
        let folded = match word.quote_style {
            Some('"') => word.value.clone(),
            _ => fold(&word.value),
        };
        Identifier {
            value: word.value.clone(),
            folded,
        }
    }
}

/// Fold an identifier the way Sluice (DataFusion with PostgreSQL rules) folds unquoted ones.
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Write a folded identifier so that the PostgreSQL-dialect parser reads back exactly
/// `folded`: plain when it is a lower-case word outside [`RESERVED`], double-quoted
/// otherwise (`price`, `"timestamp"`, `"my col"`, `"Mixed"`).
pub fn render_identifier(folded: &str) -> String {
    let mut chars = folded.chars();
    let plain = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_')
        && chars.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        && RESERVED.binary_search(&folded).is_err();
    if plain {
        folded.to_string()
    } else {
        format!("\"{}\"", folded.replace('"', "\"\""))
    }
}

/// Words written double-quoted when they name something, sorted. The union of
/// - the sqlparser keywords that do not read back as the same plain identifier in every
///   position (column, qualified column, alias, table, function, key, STRUCT field) with
///   the PostgreSQL dialect and, for DDL, the generic one (which reads `STRUCT<..>`): a
///   test checks every other sqlparser keyword against those positions;
/// - PostgreSQL's reserved key words, so that the output is valid PostgreSQL too;
/// - `date`, `time`, `timestamp`, `interval`, which start typed literals.
pub(crate) const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "anti",
    "any",
    "array",
    "as",
    "asc",
    "asof",
    "asymmetric",
    "authorization",
    "between",
    "binary",
    "both",
    "case",
    "cast",
    "ceil",
    "check",
    "cluster",
    "collate",
    "collation",
    "column",
    "concurrently",
    "connect",
    "constraint",
    "create",
    "cross",
    "cube",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "date",
    "default",
    "deferrable",
    "desc",
    "directory",
    "distinct",
    "distribute",
    "div",
    "do",
    "else",
    "end",
    "end-exec",
    "except",
    "exclude",
    "exists",
    "explain",
    "false",
    "fetch",
    "floor",
    "for",
    "foreign",
    "format",
    "freeze",
    "from",
    "full",
    "fulltext",
    "global",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "index",
    "initially",
    "inner",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "local",
    "localtime",
    "localtimestamp",
    "match",
    "match_condition",
    "match_recognize",
    "member",
    "minus",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "open",
    "operator",
    "or",
    "order",
    "outer",
    "output",
    "overlaps",
    "partition",
    "pivot",
    "placing",
    "prewhere",
    "primary",
    "qualify",
    "references",
    "regexp",
    "returning",
    "right",
    "rlike",
    "rollup",
    "sample",
    "select",
    "semi",
    "session_user",
    "set",
    "settings",
    "similar",
    "some",
    "sort",
    "spatial",
    "start",
    "struct",
    "substr",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "top",
    "trailing",
    "trim",
    "true",
    "union",
    "unique",
    "unnest",
    "unpivot",
    "user",
    "using",
    "values",
    "variadic",
    "verbose",
    "view",
    "when",
    "where",
    "window",
    "with",
    "xor",
];

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_' || ch == '$'
}

/// A single-quoted SQL string literal for `value`.
pub(crate) fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Text of a lexed input with some tokens replaced.
///
/// `overrides` replace single tokens; `replacements` replace whole token ranges (which may
/// contain overridden tokens: a replacement's text is built by the caller, usually from
/// [`Rendering::render`] of its parts). Replacements never overlap each other.
#[derive(Debug, Default)]
pub(crate) struct Rendering {
    overrides: BTreeMap<usize, String>,
    /// Start token -> (end token exclusive, text).
    replacements: BTreeMap<usize, (usize, String)>,
}

impl Rendering {
    /// Backquoted identifiers written as Sluice identifiers (see [`render_identifier`]).
    pub(crate) fn with_backquotes(lexed: &Lexed) -> Self {
        let mut rendering = Rendering::default();
        for (index, lexeme) in lexed.tokens.iter().enumerate() {
            if let Token::Word(word) = &lexeme.token {
                if word.quote_style == Some('`') {
                    rendering
                        .overrides
                        .insert(index, render_identifier(&fold(&word.value)));
                }
            }
        }
        rendering
    }

    /// Replace tokens `from..to` with `text`. Earlier replacements lying entirely inside
    /// the range are dropped: the caller built `text` from them (with [`Rendering::render`]).
    /// A range that partly overlaps an earlier replacement is refused (returns false), so
    /// no input is emitted twice or lost.
    pub(crate) fn replace(&mut self, from: usize, to: usize, text: String) -> bool {
        let straddles_start = self
            .replacements
            .range(..from)
            .next_back()
            .is_some_and(|(_, (end, _))| *end > from);
        let straddles_end = self
            .replacements
            .range(from..to)
            .any(|(_, (end, _))| *end > to);
        if straddles_start || straddles_end {
            return false;
        }
        let inside: Vec<usize> = self
            .replacements
            .range(from..to)
            .map(|(start, _)| *start)
            .collect();
        for start in inside {
            self.replacements.remove(&start);
        }
        self.replacements.insert(from, (to, text));
        true
    }

    /// The text of tokens `from..to` with overrides and the replacements inside the range.
    /// Where rewritten text would run into a neighbouring word (`` AS`x` `` -> `ASx`), a
    /// space is put between them.
    pub(crate) fn render(&self, lexed: &Lexed, from: usize, to: usize) -> String {
        let to = to.min(lexed.tokens.len());
        let mut out = String::new();
        let mut previous_rewritten = false;
        let mut index = from;
        while index < to {
            let (piece, next, rewritten) = match self.replacements.get(&index) {
                Some((end, text)) if *end <= to => (text.as_str(), *end, true),
                _ => match self.overrides.get(&index) {
                    Some(text) => (text.as_str(), index + 1, true),
                    None => (lexed.source(index, index + 1), index + 1, false),
                },
            };
            let joins_words = out.chars().next_back().is_some_and(is_word_char)
                && piece.chars().next().is_some_and(is_word_char);
            if (rewritten || previous_rewritten) && joins_words {
                out.push(' ');
            }
            out.push_str(piece);
            previous_rewritten = rewritten;
            index = next;
        }
        out
    }

    /// The whole input.
    pub(crate) fn render_all(&self, lexed: &Lexed) -> String {
        self.render(lexed, 0, lexed.tokens.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_input_exactly() {
        let text = "SELECT `dateTime`,\n  'a''b' -- c\n /* d */ FROM t; ünï $$x;y$$";
        let lexed = Lexed::new(text).expect("lexes");
        assert_eq!(lexed.source(0, lexed.tokens.len()), text);
        let words: Vec<String> = lexed
            .significant
            .iter()
            .map(|&index| lexed.source(index, index + 1).to_string())
            .collect();
        assert_eq!(
            words,
            [
                "SELECT",
                "`dateTime`",
                ",",
                "'a''b'",
                "FROM",
                "t",
                ";",
                "ünï",
                "$$x;y$$"
            ]
        );
    }

    #[test]
    fn unterminated_tokens_report_where_they_start() {
        let error = Lexed::new("SELECT 'abc").expect_err("unterminated");
        assert_eq!(error.position(), Some(8), "{error}");
        let error = Lexed::new("SELECT 1 /* open").expect_err("unterminated");
        assert_eq!(error.position(), Some(10), "{error}");
        let error = Lexed::new("SELECT `open").expect_err("unterminated");
        assert_eq!(error.position(), Some(8), "{error}");
        let error = Lexed::new("é\nx 'é").expect_err("unterminated");
        assert_eq!(error.position(), Some(5), "{error}");
    }

    #[test]
    fn identifiers_render_plain_only_when_safe() {
        assert!(RESERVED.windows(2).all(|pair| pair[0] < pair[1]), "sorted");
        assert_eq!(render_identifier("price"), "price");
        assert_eq!(render_identifier("datetime"), "datetime");
        assert_eq!(render_identifier("value"), "value");
        assert_eq!(render_identifier("timestamp"), "\"timestamp\"");
        assert_eq!(render_identifier("my col"), "\"my col\"");
        assert_eq!(render_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(render_identifier("1a"), "\"1a\"");
        let lexed = Lexed::new("SELECT `dateTime`, `my col` FROM `Bid`").expect("lexes");
        assert_eq!(
            Rendering::with_backquotes(&lexed).render_all(&lexed),
            "SELECT datetime, \"my col\" FROM bid"
        );
        let lexed = Lexed::new("SELECT`Price`FROM`Bid`AS`b`").expect("lexes");
        assert_eq!(
            Rendering::with_backquotes(&lexed).render_all(&lexed),
            "SELECT price FROM bid AS b"
        );
    }
}
