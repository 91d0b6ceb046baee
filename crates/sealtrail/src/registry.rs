//! The in-memory directory of organizations and their trees.
//!
//! Organizations change rarely and are read on every request (scope checks,
//! enablement), so they are loaded at start and updated by the sequencer
//! after each commit that changes one.

use std::collections::HashMap;

use crate::storage::{Org, OrgKey};

/// Organizations by key and by public id.
#[derive(Default, Debug)]
pub struct Registry {
    by_key: HashMap<OrgKey, Org>,
    by_id: HashMap<String, OrgKey>,
}

impl Registry {
    /// Builds the directory from stored organizations.
    pub fn new(orgs: Vec<Org>) -> Registry {
        let mut r = Registry::default();
        for o in orgs {
            r.upsert(o);
        }
        r
    }

    /// Inserts or replaces an organization.
    pub fn upsert(&mut self, org: Org) {
        self.by_id.insert(org.id.clone(), org.key);
        self.by_key.insert(org.key, org);
    }

    /// By internal key.
    pub fn by_key(&self, key: OrgKey) -> Option<&Org> {
        self.by_key.get(&key)
    }

    /// By public id.
    pub fn by_id(&self, id: &str) -> Option<&Org> {
        self.by_id.get(id).and_then(|k| self.by_key.get(k))
    }

    /// All organizations, ordered by key.
    pub fn all(&self) -> Vec<Org> {
        let mut v: Vec<Org> = self.by_key.values().cloned().collect();
        v.sort_by_key(|o| o.key);
        v
    }

    /// The organization and all its descendants.
    pub fn subtree(&self, root: OrgKey) -> Vec<OrgKey> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            let mut kids: Vec<OrgKey> = self
                .by_key
                .values()
                .filter(|o| o.parent == Some(cur))
                .map(|o| o.key)
                .collect();
            kids.sort();
            out.extend(kids);
            i += 1;
        }
        out
    }

    /// Whether `org` is `ancestor` or below it.
    pub fn is_within(&self, org: OrgKey, ancestor: OrgKey) -> bool {
        let mut cur = Some(org);
        let mut hops = 0;
        while let Some(k) = cur {
            if k == ancestor {
                return true;
            }
            hops += 1;
            if hops > 64 {
                return false;
            }
            cur = self.by_key.get(&k).and_then(|o| o.parent);
        }
        false
    }
}
