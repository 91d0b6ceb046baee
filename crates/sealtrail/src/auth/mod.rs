//! Credentials: key tokens, scopes, and turning a request's token into a
//! [`Principal`].
//!
//! A token is `<key id>.<secret>`. Only SHA-256 of the secret is stored;
//! the secret is shown once, when the key is created.
//!
//! Stored key records are cached in memory by key id ([`KeyCache`]); the
//! secret, revocation, expiry and organization are still checked against
//! the record on every request. Revoking drops the record on this node at
//! once and, on a shared store, on every other node through the store's
//! change notice.

pub mod ratelimit;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::error::ApiError;
use crate::ids::{base32, new_prefixed_id, random_bytes};
use crate::registry::Registry;
use crate::storage::{KeyKind, KeyRecord, OrgKey, Storage};

/// A compliance scope, fixed when the key is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read the feed and single events.
    ReadActivities,
    /// Read checkpoints and proofs.
    ReadIntegrity,
    /// Export evidence bundles.
    Export,
    /// Erase a data subject.
    DeleteSubjectData,
    /// Manage push sinks.
    ManageSinks,
    /// Manage detection rules.
    ManageRules,
    /// Manage review policies and attestations.
    ManageReviews,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 7] = [
        Scope::ReadActivities,
        Scope::ReadIntegrity,
        Scope::Export,
        Scope::DeleteSubjectData,
        Scope::ManageSinks,
        Scope::ManageRules,
        Scope::ManageReviews,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::ReadActivities => "read:activities",
            Scope::ReadIntegrity => "read:integrity",
            Scope::Export => "export",
            Scope::DeleteSubjectData => "delete:subject_data",
            Scope::ManageSinks => "manage:sinks",
            Scope::ManageRules => "manage:rules",
            Scope::ManageReviews => "manage:reviews",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Principal {
    /// The operator.
    Operator {
        /// Key id.
        key_id: String,
    },
    /// A source.
    Ingest {
        /// Key id.
        key_id: String,
        /// The organization the key was issued for; it may write to that
        /// organization and every organization below it.
        org: OrgKey,
        /// The product it writes for.
        product: String,
    },
    /// A compliance reader.
    Compliance {
        /// Key id.
        key_id: String,
        /// The organization it reads (with its descendants).
        org: OrgKey,
        /// Granted scopes.
        scopes: Vec<Scope>,
    },
}

impl Principal {
    /// The key id.
    pub fn key_id(&self) -> &str {
        match self {
            Principal::Operator { key_id }
            | Principal::Ingest { key_id, .. }
            | Principal::Compliance { key_id, .. } => key_id,
        }
    }
}

/// A newly minted key: the record to store and the token to show once.
pub struct Minted {
    /// What is stored.
    pub record: KeyRecord,
    /// The full token.
    pub token: String,
}

/// Hash of a token's secret part.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Mints a key of a kind.
pub fn mint(
    kind: KeyKind,
    org: Option<OrgKey>,
    product: Option<String>,
    scopes: Vec<String>,
    name: String,
    expires_ms: Option<i64>,
) -> Minted {
    let prefix = match kind {
        KeyKind::Operator => "opk",
        KeyKind::Ingest => "ink",
        KeyKind::Compliance => "cpk",
    };
    let id = new_prefixed_id(prefix);
    let secret = base32(&random_bytes::<32>());
    Minted {
        token: format!("{id}.{secret}"),
        record: KeyRecord {
            id,
            kind,
            secret_hash: secret_hash(&secret),
            org,
            product,
            scopes,
            name,
            created_ms: crate::time::now_ms(),
            expires_ms,
            revoked_ms: None,
        },
    }
}

/// Splits a token into key id and secret.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    if id.is_empty() || secret.is_empty() || id.len() > 64 {
        return None;
    }
    Some((id, secret))
}

/// Constant-time equality of two hashes.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// How many key records [`KeyCache`] keeps (a few hundred bytes each).
pub const KEY_CACHE_ENTRIES: usize = 10_000;

/// Stored key records by id, shared across requests. Only keys that exist
/// are kept (an unknown id is read from storage every time, so guessed ids
/// cannot fill it), at most [`KEY_CACHE_ENTRIES`], least recently used
/// first out.
pub struct KeyCache(Cache<String, Arc<KeyRecord>>);

impl KeyCache {
    /// An empty cache; `live` as [`Cache::new`].
    pub fn new(capacity: usize, live: bool, stats: Arc<crate::metrics::CacheStats>) -> KeyCache {
        KeyCache(Cache::new(capacity, live, stats))
    }

    /// The cached record of a key id, if any.
    pub fn cached(&self, id: &str) -> Option<Arc<KeyRecord>> {
        self.0.get(id)
    }

    /// The record of a key id: cached, or read from storage and kept.
    pub fn load(&self, store: &dyn Storage, id: &str) -> Result<Option<Arc<KeyRecord>>, ApiError> {
        if let Some(r) = self.cached(id) {
            return Ok(Some(r));
        }
        let ticket = self.0.ticket();
        let Some(rec) = store.key(id)? else {
            return Ok(None);
        };
        let rec = Arc::new(rec);
        self.0.insert(ticket, id.to_string(), rec.clone());
        Ok(Some(rec))
    }

    /// Drops a key's record (after it changed in storage).
    pub fn forget(&self, id: &str) {
        self.0.remove(id);
    }

    /// The underlying cache (to follow change notices).
    pub fn cache(&self) -> &Cache<String, Arc<KeyRecord>> {
        &self.0
    }
}

/// Resolves a token to a principal, checking revocation and expiry.
pub fn authenticate(
    store: &dyn Storage,
    keys: &KeyCache,
    registry: &Registry,
    token: &str,
    now_ms: i64,
) -> Result<Principal, ApiError> {
    let bad = || ApiError::unauthenticated("the API key is not valid");
    let (id, secret) = split_token(token).ok_or_else(bad)?;
    let rec = keys.load(store, id)?.ok_or_else(bad)?;
    check(&rec, secret, registry, now_ms)
}

/// Resolves a token from the key cache alone: `None` when its record is
/// not cached (then use [`authenticate`], which may block on storage).
pub fn authenticate_cached(
    keys: &KeyCache,
    registry: &Registry,
    token: &str,
    now_ms: i64,
) -> Option<Result<Principal, ApiError>> {
    let (id, secret) = split_token(token)?;
    let rec = keys.cached(id)?;
    Some(check(&rec, secret, registry, now_ms))
}

/// Checks a token's secret against a key record, then revocation, expiry
/// and the organization, and gives the principal.
pub fn check(
    rec: &KeyRecord,
    secret: &str,
    registry: &Registry,
    now_ms: i64,
) -> Result<Principal, ApiError> {
    let bad = || ApiError::unauthenticated("the API key is not valid");
    if !ct_eq(&rec.secret_hash, &secret_hash(secret)) {
        return Err(bad());
    }
    if rec.revoked_ms.is_some() {
        return Err(ApiError::unauthenticated("the API key has been revoked"));
    }
    if rec.expires_ms.is_some_and(|e| e <= now_ms) {
        return Err(ApiError::unauthenticated("the API key has expired"));
    }
    let org_of = |rec: &KeyRecord| -> Result<OrgKey, ApiError> {
        rec.org
            .filter(|k| registry.by_key(*k).is_some())
            .ok_or_else(|| ApiError::unauthenticated("the API key's organization no longer exists"))
    };
    Ok(match rec.kind {
        KeyKind::Operator => Principal::Operator {
            key_id: rec.id.clone(),
        },
        KeyKind::Ingest => Principal::Ingest {
            org: org_of(rec)?,
            product: rec.product.clone().unwrap_or_default(),
            key_id: rec.id.clone(),
        },
        KeyKind::Compliance => Principal::Compliance {
            org: org_of(rec)?,
            scopes: rec.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            key_id: rec.id.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_into_id_and_secret() {
        let m = mint(KeyKind::Compliance, Some(1), None, vec![], "t".into(), None);
        let (id, secret) = split_token(&m.token).unwrap();
        assert_eq!(id, m.record.id);
        assert_eq!(secret_hash(secret), m.record.secret_hash);
        assert!(split_token("nodot").is_none());
        assert!(split_token(".x").is_none());
    }

    #[test]
    fn a_cached_key_is_checked_on_every_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let stats = Arc::new(crate::metrics::CacheStats::default());
        let keys = KeyCache::new(4, true, stats.clone());
        let reg = Registry::new(vec![]);
        let m = mint(
            KeyKind::Operator,
            None,
            None,
            vec![],
            "op".into(),
            Some(1_000),
        );
        store.insert_key(&m.record).unwrap();
        let (id, _) = split_token(&m.token).unwrap();

        assert!(authenticate(&store, &keys, &reg, &m.token, 999).is_ok());
        assert_eq!(stats.misses.get(), 1);
        // Served from memory now, and still checked: a wrong secret, and
        // expiry exactly when it is due.
        assert!(authenticate_cached(&keys, &reg, &m.token, 999).is_some_and(|r| r.is_ok()));
        assert!(authenticate(&store, &keys, &reg, &format!("{id}.wrong"), 999).is_err());
        let e = authenticate(&store, &keys, &reg, &m.token, 1_000).unwrap_err();
        assert!(e.message.contains("expired"), "{}", e.message);
        assert_eq!(stats.misses.get(), 1, "no second storage read");

        // Revoked in storage: refused once the record is forgotten.
        store.revoke_key(id, 500).unwrap();
        assert!(
            authenticate(&store, &keys, &reg, &m.token, 999).is_ok(),
            "still cached"
        );
        keys.forget(id);
        let e = authenticate(&store, &keys, &reg, &m.token, 999).unwrap_err();
        assert!(e.message.contains("revoked"), "{}", e.message);

        // Unknown ids are not kept.
        for i in 0..10 {
            assert!(authenticate(&store, &keys, &reg, &format!("opk_{i}.x"), 999).is_err());
        }
        assert_eq!(keys.cache().len(), 1);
    }

    #[test]
    fn scopes_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("read:everything"), None);
    }
}
