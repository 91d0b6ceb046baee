//! Bounded in-memory caches of stored records, shared across requests.
//!
//! A [`Cache`] is a least-recently-used map with a fixed number of entries
//! and an invalidation epoch. A reader that misses takes a [`Ticket`]
//! *before* it reads the store and offers what it read with that ticket;
//! the offer is refused if anything was invalidated meanwhile. So a record
//! read just before a change (a revocation, an erasure) can never be put
//! back after the change's invalidation, however the two interleave.
//!
//! On a store several nodes share, a cache is only *live* while this node
//! hears the store's change notices ([`Storage::subscribe`]): a cache that
//! is not live answers every lookup with a miss and keeps nothing, so a
//! lost notice can never leave a stale entry behind. [`follow`] wires the
//! caches of a node to the notices.
//!
//! [`Storage::subscribe`]: crate::storage::Storage::subscribe

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;

use crate::metrics::CacheStats;
use crate::storage::{Change, Storage};

/// The invalidation epoch a reader saw before it read the store.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

struct Inner<K: Hash + Eq, V> {
    map: LruCache<K, V>,
    epoch: u64,
    live: bool,
}

/// A bounded LRU cache with epoch-guarded inserts. See the module docs.
pub struct Cache<K: Hash + Eq, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
    stats: Arc<CacheStats>,
}

impl<K: Hash + Eq, V: Clone> Cache<K, V> {
    /// A cache of at most `capacity` entries (0 disables it), live or not.
    pub fn new(capacity: usize, live: bool, stats: Arc<CacheStats>) -> Self {
        Cache {
            inner: Mutex::new(Inner {
                map: LruCache::new(capacity.max(1)),
                epoch: 0,
                live: live && capacity > 0,
            }),
            capacity,
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // The map holds no invariant a panicking holder could break.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value, counted as a hit or a miss.
    pub fn get<Q>(&self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = {
            let mut g = self.lock();
            if g.live { g.map.get(k).cloned() } else { None }
        };
        match found {
            Some(_) => self.stats.hits.inc(),
            None => self.stats.misses.inc(),
        }
        found
    }

    /// Take before reading the store on a miss; pass to [`Cache::insert`].
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().epoch)
    }

    /// Keeps a value read from the store, unless the cache is not live or
    /// was invalidated since `ticket` was taken. Returns whether it kept it.
    pub fn insert(&self, ticket: Ticket, k: K, v: V) -> bool {
        let mut g = self.lock();
        if !g.live || g.epoch != ticket.0 {
            return false;
        }
        g.map.insert(k, v);
        true
    }

    /// Forgets one entry (and refuses offers read before this call).
    pub fn remove<Q>(&self, k: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut g = self.lock();
        g.epoch += 1;
        let old = g.map.remove(k);
        drop(g);
        drop(old);
    }

    /// Forgets everything (and refuses offers read before this call).
    pub fn clear(&self) {
        let mut g = self.lock();
        g.epoch += 1;
        g.map.clear();
    }

    /// Turns the cache on or off; either way it starts empty.
    pub fn set_live(&self, live: bool) {
        let mut g = self.lock();
        g.epoch += 1;
        g.map.clear();
        g.live = live && self.capacity > 0;
    }

    /// Whether lookups can hit.
    pub fn is_live(&self) -> bool {
        self.lock().live
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The caches whose entries another node can make stale.
pub struct Followed {
    /// Invalidated by [`Change::Keys`].
    pub on_keys: Vec<Box<dyn Fn() + Send + Sync>>,
    /// Invalidated by [`Change::Subjects`].
    pub on_subjects: Vec<Box<dyn Fn() + Send + Sync>>,
    /// Switched on by [`Change::Resync`] and off by [`Change::Lost`].
    pub set_live: Vec<Box<dyn Fn(bool) + Send + Sync>>,
}

/// On a store several nodes share, keeps `caches` in step with the store's
/// change notices: they start off, go live (empty) once this node listens,
/// drop what a notice says changed, and go off whenever the listening
/// connection is lost (notices sent meanwhile would be missed). Must be
/// called before anything else subscribes, so the first
/// [`Change::Resync`] is not missed. On a single-writer store the caches
/// are live from the start and invalidated by this node alone.
pub fn follow(store: &dyn Storage, caches: Followed) {
    if !store.shared() {
        return;
    }
    for f in &caches.set_live {
        f(false);
    }
    store.subscribe(Arc::new(move |change| match change {
        Change::Keys => caches.on_keys.iter().for_each(|f| f()),
        Change::Subjects => caches.on_subjects.iter().for_each(|f| f()),
        Change::Resync => caches.set_live.iter().for_each(|f| f(true)),
        Change::Lost => caches.set_live.iter().for_each(|f| f(false)),
        Change::Committed(_) | Change::Orgs => {}
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(cap: usize) -> Cache<String, u32> {
        Cache::new(cap, true, Arc::new(CacheStats::default()))
    }

    #[test]
    fn holds_at_most_its_capacity_and_evicts_the_least_recently_used() {
        let c = cache(2);
        for (i, k) in ["a", "b"].iter().enumerate() {
            let t = c.ticket();
            assert!(c.insert(t, k.to_string(), i as u32));
        }
        assert_eq!(c.get("a"), Some(0));
        let t = c.ticket();
        c.insert(t, "c".into(), 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("b"), None, "b was least recently used");
        assert_eq!(c.get("a"), Some(0));
        assert_eq!(c.get("c"), Some(2));
        assert_eq!(c.stats.hits.get(), 3);
        assert_eq!(c.stats.misses.get(), 1);
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let c = cache(8);
        let t = c.ticket();
        c.remove("other");
        assert!(!c.insert(t, "k".into(), 1));
        assert_eq!(c.get("k"), None);
        let t = c.ticket();
        c.clear();
        assert!(!c.insert(t, "k".into(), 1));
        let t = c.ticket();
        assert!(c.insert(t, "k".into(), 1));
        assert_eq!(c.get("k"), Some(1));
    }

    #[test]
    fn a_cache_that_is_not_live_keeps_nothing() {
        let c = cache(8);
        let t = c.ticket();
        c.insert(t, "k".into(), 1);
        c.set_live(false);
        assert_eq!(c.get("k"), None);
        let t = c.ticket();
        assert!(!c.insert(t, "k".into(), 1));
        c.set_live(true);
        assert_eq!(c.get("k"), None, "going live starts empty");
        let off = cache(0);
        let t = off.ticket();
        assert!(!off.insert(t, "k".into(), 1));
        assert!(!off.is_live());
    }
}
