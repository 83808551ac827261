//! The database lock: a read-write lock around the [`Catalog`] whose write guard, when it
//! is released, commits the changes subscribers saw during the critical section.
//!
//! Every change to data happens under the write guard (DML, DDL, source and job tasks), so
//! one write critical section is one commit: on release, each subscription's changes of the
//! section are consolidated and delivered with one logical timestamp (see
//! [`crate::subscribe`]). Readers and writers otherwise behave as with a plain
//! `tokio::sync::RwLock`.

use std::ops::{Deref, DerefMut};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use crate::database::Catalog;

/// The catalog behind the database lock.
pub(crate) struct CatalogLock {
    inner: RwLock<Catalog>,
}

impl CatalogLock {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            inner: RwLock::new(catalog),
        }
    }

    pub async fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.inner.read().await
    }

    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, Catalog>, TryLockError> {
        self.inner.try_read()
    }

    pub async fn write(&self) -> CatalogWriteGuard<'_> {
        CatalogWriteGuard {
            guard: self.inner.write().await,
        }
    }
}

/// Exclusive access to the catalog; commits subscribers' changes when dropped.
pub(crate) struct CatalogWriteGuard<'a> {
    guard: RwLockWriteGuard<'a, Catalog>,
}

impl Deref for CatalogWriteGuard<'_> {
    type Target = Catalog;

    fn deref(&self) -> &Catalog {
        &self.guard
    }
}

impl DerefMut for CatalogWriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Catalog {
        &mut self.guard
    }
}

impl Drop for CatalogWriteGuard<'_> {
    fn drop(&mut self) {
        self.guard.commit_subscriptions();
    }
}
