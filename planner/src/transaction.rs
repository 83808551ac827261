//! Transaction blocks as a session sees them.
//!
//! Sluice commits every statement on its own (a statement is atomic; a block is not). What a
//! session does keep, as PostgreSQL does:
//! - the block's state: idle, in a block (`BEGIN`), or failed (a statement of the block
//!   failed: later statements get 25P02 until `ROLLBACK`, `ROLLBACK TO SAVEPOINT` or
//!   `COMMIT`, which then reports `ROLLBACK`);
//! - savepoints: `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO [SAVEPOINT]` with
//!   PostgreSQL's name rules (25P01 outside a block, 3B001 for an unknown name; a name may
//!   be reused and the latest one counts; `RELEASE` also forgets the later savepoints).
//!   `ROLLBACK TO` succeeds, and leaves a failed block usable again, when no statement has
//!   changed data or the catalog since the savepoint: there is nothing to undo. Otherwise
//!   it fails with 0A000, because those changes are already committed.

use crate::error::{PlanError, Result};

/// Where a session is with respect to transaction blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionState {
    #[default]
    Idle,
    InBlock,
    Failed,
}

#[derive(Debug)]
struct Savepoint {
    name: String,
    /// `writes` when the savepoint was set.
    writes_at: u64,
}

/// A session's transaction block.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    state: TransactionState,
    savepoints: Vec<Savepoint>,
    /// Statements of the block that changed data or the catalog.
    writes: u64,
}

impl Transaction {
    pub fn state(&self) -> TransactionState {
        self.state
    }

    pub fn in_block(&self) -> bool {
        self.state != TransactionState::Idle
    }

    /// Refuse a statement in a failed block, unless it ends the block or rolls back to a
    /// savepoint (`text` is the statement's text).
    pub fn admit(&self, text: &str) -> Result<()> {
        if self.state != TransactionState::Failed {
            return Ok(());
        }
        let first = text
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if matches!(first.as_str(), "ROLLBACK" | "ABORT" | "COMMIT" | "END" | "") {
            Ok(())
        } else {
            Err(PlanError::InFailedTransaction)
        }
    }

    /// A statement failed.
    pub fn fail(&mut self) {
        if self.state == TransactionState::InBlock {
            self.state = TransactionState::Failed;
        }
    }

    /// A statement changed data or the catalog.
    pub fn record_write(&mut self) {
        if self.in_block() {
            self.writes += 1;
        }
    }

    pub fn begin(&mut self) {
        if self.state == TransactionState::Idle {
            *self = Transaction {
                state: TransactionState::InBlock,
                ..Transaction::default()
            };
        } else {
            tracing::debug!(
                "BEGIN inside a transaction block: there is already a transaction in progress"
            );
        }
    }

    /// `COMMIT`: the tag, `ROLLBACK` for a failed block as PostgreSQL reports it.
    pub fn commit(&mut self) -> &'static str {
        let failed = self.state == TransactionState::Failed;
        *self = Transaction::default();
        if failed {
            "ROLLBACK"
        } else {
            "COMMIT"
        }
    }

    pub fn rollback(&mut self) {
        *self = Transaction::default();
    }

    fn require_block(&self, statement: &str) -> Result<()> {
        if self.in_block() {
            Ok(())
        } else {
            Err(PlanError::NoActiveTransaction(format!(
                "{statement} can only be used in transaction blocks"
            )))
        }
    }

    fn find(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|s| s.name == name)
            .ok_or_else(|| {
                PlanError::InvalidSavepoint(format!("savepoint \"{name}\" does not exist"))
            })
    }

    pub fn savepoint(&mut self, name: &str) -> Result<()> {
        self.require_block("SAVEPOINT")?;
        self.savepoints.push(Savepoint {
            name: name.to_string(),
            writes_at: self.writes,
        });
        Ok(())
    }

    pub fn release(&mut self, name: &str) -> Result<()> {
        self.require_block("RELEASE SAVEPOINT")?;
        let index = self.find(name)?;
        self.savepoints.truncate(index);
        Ok(())
    }

    pub fn rollback_to(&mut self, name: &str) -> Result<()> {
        self.require_block("ROLLBACK TO SAVEPOINT")?;
        let index = self.find(name)?;
        let since = self.writes - self.savepoints[index].writes_at;
        if since > 0 {
            return Err(PlanError::Unsupported(format!(
                "ROLLBACK TO SAVEPOINT {name}: {since} statement(s) since the savepoint changed data or the catalog, \
                 and Sluice commits every statement on its own, so they cannot be undone"
            )));
        }
        self.savepoints.truncate(index + 1);
        self.state = TransactionState::InBlock;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints_follow_postgres_rules() {
        let mut t = Transaction::default();
        assert_eq!(t.savepoint("a").unwrap_err().sqlstate(), "25P01");
        t.begin();
        t.savepoint("a").unwrap();
        t.savepoint("b").unwrap();
        t.savepoint("a").unwrap();
        t.release("a").unwrap();
        // The earlier "a" is still there, and so is "b".
        t.rollback_to("b").unwrap();
        t.rollback_to("a").unwrap();
        t.release("a").unwrap();
        assert_eq!(t.rollback_to("b").unwrap_err().sqlstate(), "3B001");
        assert_eq!(t.state(), TransactionState::InBlock);
    }

    #[test]
    fn rollback_to_clears_a_failure_when_nothing_changed() {
        let mut t = Transaction::default();
        t.begin();
        t.savepoint("s").unwrap();
        t.fail();
        assert_eq!(t.admit("SELECT 1").unwrap_err().sqlstate(), "25P02");
        t.admit("ROLLBACK TO SAVEPOINT s").unwrap();
        t.rollback_to("s").unwrap();
        assert_eq!(t.state(), TransactionState::InBlock);
        t.record_write();
        t.fail();
        assert_eq!(t.rollback_to("s").unwrap_err().sqlstate(), "0A000");
        assert_eq!(t.state(), TransactionState::Failed);
        assert_eq!(t.commit(), "ROLLBACK");
        assert_eq!(t.state(), TransactionState::Idle);
    }
}
