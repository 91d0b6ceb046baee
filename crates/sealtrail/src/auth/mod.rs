//! Credentials: key tokens, scopes, and turning a request's token into a
//! [`Principal`].
//!
//! A token is `<key id>.<secret>`. Only SHA-256 of the secret is stored;
//! the secret is shown once, when the key is created.

pub mod ratelimit;

use sha2::{Digest, Sha256};

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

/// Resolves a token to a principal, checking revocation and expiry.
pub fn authenticate(
    store: &dyn Storage,
    registry: &Registry,
    token: &str,
    now_ms: i64,
) -> Result<Principal, ApiError> {
    let bad = || ApiError::unauthenticated("the API key is not valid");
    let (id, secret) = split_token(token).ok_or_else(bad)?;
    let rec = store.key(id)?.ok_or_else(bad)?;
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
        KeyKind::Operator => Principal::Operator { key_id: rec.id },
        KeyKind::Ingest => Principal::Ingest {
            org: org_of(&rec)?,
            product: rec.product.clone().unwrap_or_default(),
            key_id: rec.id,
        },
        KeyKind::Compliance => Principal::Compliance {
            org: org_of(&rec)?,
            scopes: rec.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            key_id: rec.id,
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
    fn scopes_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("read:everything"), None);
    }
}
