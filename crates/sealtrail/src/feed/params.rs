//! Parsing feed query strings, strictly: an unknown or malformed parameter
//! is an error that names it, never silently ignored.

use sealtrail_model::{Catalog, Category, Outcome};

use crate::error::ApiError;
use crate::ids::ActivityId;
use crate::storage::{Scan, TypePattern};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size.
pub const MAX_LIMIT: usize = 5000;

/// The parsed parameters of `GET /v1/compliance/activities` (and stream).
#[derive(Clone, Debug)]
pub struct FeedParams {
    /// `activity_types[]`.
    pub activity_types: Vec<TypePattern>,
    /// `exclude_activity_types[]`.
    pub exclude_activity_types: Vec<TypePattern>,
    /// `actor_ids[]`.
    pub actor_ids: Vec<String>,
    /// `actor_emails[]`.
    pub actor_emails: Vec<String>,
    /// `api_key_ids[]`.
    pub api_key_ids: Vec<String>,
    /// `organization_ids[]`.
    pub organization_ids: Vec<String>,
    /// `target_ids[]`.
    pub target_ids: Vec<String>,
    /// `categories[]`.
    pub categories: Vec<String>,
    /// `products[]`.
    pub products: Vec<String>,
    /// `ip_address`.
    pub ip_address: Option<String>,
    /// `outcome`.
    pub outcome: Option<String>,
    /// Inclusive lower bound on `created_at` (ms).
    pub created_from: Option<i64>,
    /// Exclusive upper bound on `created_at` (ms).
    pub created_until: Option<i64>,
    /// `limit`.
    pub limit: usize,
    /// `after_id`.
    pub after_id: Option<ActivityId>,
    /// `before_id`.
    pub before_id: Option<ActivityId>,
    /// `order` (default newest first).
    pub order: Scan,
    /// `include_proof=true`.
    pub include_proof: bool,
    /// `format` (`json` or `ocsf`).
    pub format: String,
}

impl Default for FeedParams {
    fn default() -> Self {
        FeedParams {
            activity_types: vec![],
            exclude_activity_types: vec![],
            actor_ids: vec![],
            actor_emails: vec![],
            api_key_ids: vec![],
            organization_ids: vec![],
            target_ids: vec![],
            categories: vec![],
            products: vec![],
            ip_address: None,
            outcome: None,
            created_from: None,
            created_until: None,
            limit: DEFAULT_LIMIT,
            after_id: None,
            before_id: None,
            order: Scan::Desc,
            include_proof: false,
            format: "json".into(),
        }
    }
}

fn pattern(field: &str, v: &str) -> Result<TypePattern, ApiError> {
    Catalog::validate_pattern(v).map_err(|e| ApiError::invalid(field, e))?;
    Ok(if v == "*" {
        TypePattern::All
    } else if let Some(prefix) = v.strip_suffix('*') {
        TypePattern::Prefix(prefix.to_string())
    } else {
        TypePattern::Exact(v.to_string())
    })
}

fn time(field: &str, v: &str) -> Result<i64, ApiError> {
    crate::time::parse_rfc3339(v).map_err(|e| ApiError::invalid(field, e))
}

fn ident(field: &str, v: &str) -> Result<String, ApiError> {
    if v.is_empty() || v.len() > 256 {
        return Err(ApiError::invalid(
            field,
            format!("{field} values must be 1 to 256 characters"),
        ));
    }
    Ok(v.to_string())
}

fn cursor(field: &str, v: &str) -> Result<ActivityId, ApiError> {
    v.parse::<ActivityId>().map_err(|e| {
        ApiError::invalid(
            field,
            format!("{field} is not a cursor from this feed: {e}"),
        )
    })
}

impl FeedParams {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<FeedParams, ApiError> {
        let mut p = FeedParams::default();
        let mut seen_limit = false;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let key = k.as_ref();
            let name = key.trim_end_matches("[]");
            let v = v.as_ref();
            let list = key.ends_with("[]");
            let field = key.to_string();
            let push_many = |dst: &mut Vec<String>| -> Result<(), ApiError> {
                for part in v.split(',').filter(|s| !s.is_empty()) {
                    dst.push(ident(&field, part)?);
                }
                if dst.len() > 100 {
                    return Err(ApiError::invalid(
                        &field,
                        format!("at most 100 values of {name}"),
                    ));
                }
                Ok(())
            };
            match name {
                "activity_types" => {
                    for part in v.split(',').filter(|s| !s.is_empty()) {
                        p.activity_types.push(pattern(&field, part)?);
                    }
                    at_most_100(&field, name, p.activity_types.len())?;
                }
                "exclude_activity_types" => {
                    for part in v.split(',').filter(|s| !s.is_empty()) {
                        p.exclude_activity_types.push(pattern(&field, part)?);
                    }
                    at_most_100(&field, name, p.exclude_activity_types.len())?;
                }
                "actor_ids" => push_many(&mut p.actor_ids)?,
                "actor_emails" => push_many(&mut p.actor_emails)?,
                "api_key_ids" => push_many(&mut p.api_key_ids)?,
                "organization_ids" => push_many(&mut p.organization_ids)?,
                "target_ids" => push_many(&mut p.target_ids)?,
                "products" => push_many(&mut p.products)?,
                "categories" => {
                    for part in v.split(',').filter(|s| !s.is_empty()) {
                        let c: Category = part.parse().map_err(|_| {
                            ApiError::invalid(&field, format!("unknown category {part:?}; use admin, resource, agent or compliance"))
                        })?;
                        p.categories.push(c.as_str().to_string());
                    }
                    at_most_100(&field, name, p.categories.len())?;
                }
                "ip_address" if !list => {
                    let ip: std::net::IpAddr = v.parse().map_err(|_| {
                        ApiError::invalid(&field, format!("{v:?} is not an IP address"))
                    })?;
                    p.ip_address = Some(ip.to_string());
                }
                "outcome" if !list => {
                    let o: Outcome = v
                        .parse()
                        .map_err(|_| ApiError::invalid(&field, "outcome is success or failure"))?;
                    p.outcome = Some(o.as_str().to_string());
                }
                "created_at.gt" => {
                    p.created_from =
                        Some(max_opt(p.created_from, time(&field, v)?.saturating_add(1)))
                }
                "created_at.gte" => {
                    p.created_from = Some(max_opt(p.created_from, time(&field, v)?))
                }
                "created_at.lt" => {
                    p.created_until = Some(min_opt(p.created_until, time(&field, v)?))
                }
                "created_at.lte" => {
                    p.created_until =
                        Some(min_opt(p.created_until, time(&field, v)?.saturating_add(1)))
                }
                "limit" if !list => {
                    let n: usize = v.parse().map_err(|_| {
                        ApiError::invalid(
                            "limit",
                            format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
                    if !(1..=MAX_LIMIT).contains(&n) {
                        return Err(ApiError::invalid(
                            "limit",
                            format!("limit must be from 1 to {MAX_LIMIT}, got {n}"),
                        ));
                    }
                    p.limit = n;
                    seen_limit = true;
                }
                "after_id" if !list => p.after_id = Some(cursor("after_id", v)?),
                "before_id" if !list => p.before_id = Some(cursor("before_id", v)?),
                "order" if !list => {
                    p.order = match v {
                        "asc" => Scan::Asc,
                        "desc" => Scan::Desc,
                        _ => return Err(ApiError::invalid("order", "order is asc or desc")),
                    }
                }
                "include_proof" if !list => {
                    p.include_proof = match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(ApiError::invalid(
                                "include_proof",
                                "include_proof is true or false",
                            ));
                        }
                    }
                }
                "format" if !list => {
                    if v != "json" && v != "ocsf" {
                        return Err(ApiError::invalid("format", "format is json or ocsf"));
                    }
                    p.format = v.to_string();
                }
                _ => {
                    return Err(ApiError::invalid(
                        &field,
                        format!("unknown query parameter {key:?}"),
                    ));
                }
            }
        }
        let _ = seen_limit;
        if let (Some(a), Some(b)) = (p.created_from, p.created_until)
            && a >= b
        {
            return Err(ApiError::invalid(
                "created_at",
                "the created_at range is empty",
            ));
        }
        Ok(p)
    }
}

/// Every list parameter holds at most 100 values, as the OpenAPI
/// document states.
fn at_most_100(field: &str, name: &str, n: usize) -> Result<(), ApiError> {
    if n > 100 {
        return Err(ApiError::invalid(
            field,
            format!("at most 100 values of {name}"),
        ));
    }
    Ok(())
}

fn max_opt(a: Option<i64>, b: i64) -> i64 {
    a.map_or(b, |a| a.max(b))
}

fn min_opt(a: Option<i64>, b: i64) -> i64 {
    a.map_or(b, |a| a.min(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_parameters() {
        let p = FeedParams::parse(
            "activity_types[]=api_key.*&activity_types[]=user.login&exclude_activity_types[]=compliance_api.accessed\
             &actor_ids[]=u1&created_at.gte=2026-12-01T00:00:00Z&limit=10&order=asc",
        )
        .unwrap();
        assert_eq!(
            p.activity_types,
            vec![
                TypePattern::Prefix("api_key.".into()),
                TypePattern::Exact("user.login".into())
            ]
        );
        assert_eq!(p.actor_ids, vec!["u1".to_string()]);
        assert_eq!(p.limit, 10);
        assert_eq!(p.order, Scan::Asc);
        assert_eq!(p.created_from, Some(1_796_083_200_000));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (q, field) in [
            ("limit=0", "limit"),
            ("limit=5001", "limit"),
            ("limit=x", "limit"),
            ("created_at.gt=yesterday", "created_at.gt"),
            ("after_id=act_123", "after_id"),
            ("colour=red", "colour"),
            ("outcome=maybe", "outcome"),
            ("categories[]=secret", "categories[]"),
            ("ip_address=999.1.1.1", "ip_address"),
        ] {
            let e = FeedParams::parse(q).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{q}");
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn every_list_holds_at_most_100_values() {
        for (key, value) in [
            ("activity_types[]", "user.login"),
            ("exclude_activity_types[]", "user.*"),
            ("categories[]", "admin"),
            ("actor_ids[]", "u1"),
        ] {
            let pair = format!("{key}={value}");
            let hundred = vec![pair.as_str(); 100].join("&");
            assert!(FeedParams::parse(&hundred).is_ok(), "{key}");
            let e = FeedParams::parse(&format!("{hundred}&{pair}")).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(key));
            let joined = format!("{key}={}", vec![value; 101].join(","));
            assert!(
                FeedParams::parse(&joined).is_err(),
                "{key}, comma-separated"
            );
        }
    }
}
