//! Unwrapped subject keys shared across requests, so rendering the feed,
//! the stream, sinks and exports does not read and unwrap each subject's
//! key from storage on every event.
//!
//! Only keys that exist are kept (a missing or erased key is read again
//! next time), at most [`SUBJECT_KEY_CACHE_ENTRIES`], least recently used
//! first out, each in a buffer that is zeroed when it leaves the cache.
//! Erasure forgets the subject's keys on this node before it answers; on a
//! shared store the erasing commit's notice (`Change::Subjects`) empties
//! every other node's cache, and a node caches only while it hears
//! notices (see `cache.rs`).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::crypto::{MasterKey, SecretKey};
use crate::cache::Cache;
use crate::metrics::CacheStats;
use crate::storage::{OrgKey, Storage, StoreResult};

/// How many unwrapped keys [`SubjectKeyCache`] keeps (about 100 bytes each
/// with the subject pseudonym and the map's overhead).
pub const SUBJECT_KEY_CACHE_ENTRIES: usize = 65_536;

/// A subject key in memory, zeroed when dropped.
pub type HeldKey = Zeroizing<SecretKey>;

/// Unwrapped subject keys by `(organization, subject pseudonym)`.
pub struct SubjectKeyCache(Cache<(OrgKey, Vec<u8>), HeldKey>);

impl SubjectKeyCache {
    /// A cache of at most `capacity` keys; `live` as [`Cache::new`].
    pub fn new(capacity: usize, live: bool, stats: Arc<CacheStats>) -> SubjectKeyCache {
        SubjectKeyCache(Cache::new(capacity, live, stats))
    }

    /// The subject's key, from memory or unwrapped from storage; `None`
    /// when it does not exist or was erased (or cannot be unwrapped).
    pub fn get(
        &self,
        store: &dyn Storage,
        master: &MasterKey,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Option<HeldKey>> {
        let key = (org, subject.to_vec());
        if let Some(k) = self.0.get(&key) {
            return Ok(Some(k));
        }
        let ticket = self.0.ticket();
        let recs = store.subject_keys(org, &[subject.to_vec()])?;
        let Some(k) = recs
            .first()
            .and_then(|r| r.wrapped.as_ref())
            .and_then(|w| master.unwrap_key(subject, w).ok())
            .map(Zeroizing::new)
        else {
            return Ok(None);
        };
        self.0.insert(ticket, key, k.clone());
        Ok(Some(k))
    }

    /// Forgets a subject's key (erasure), and any read of it in flight.
    pub fn forget(&self, org: OrgKey, subject: &[u8]) {
        self.0.remove(&(org, subject.to_vec()));
    }

    /// The underlying cache (to follow change notices).
    pub fn cache(&self) -> &Cache<(OrgKey, Vec<u8>), HeldKey> {
        &self.0
    }
}
