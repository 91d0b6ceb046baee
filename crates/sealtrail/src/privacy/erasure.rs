//! Erasure of a data subject (GDPR Art. 17) that keeps every proof valid.
//!
//! For each organization in scope, the subject's key is destroyed and its
//! envelopes are removed from the events; the blind indexes that pointed at
//! the subject are cleared. Entries and leaves are never touched, so every
//! checkpoint, proof and earlier evidence bundle still verifies, while the
//! commitments in them can no longer be opened by anyone.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::split;
use crate::app::App;
use crate::audit::{append_own, own_event};
use crate::error::ApiError;
use crate::storage::{Org, OrgKey, StoreError, SubjectKeyRecord};
use crate::time::{fmt_ms, now_ms};

/// Who is to be erased.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    /// The subject's id as sources send it (`actor.id`, `target.id`).
    pub id: Option<String>,
    /// The subject's email: erases every subject that acted with it.
    pub email: Option<String>,
}

/// The record of an erasure request, readable later by its id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErasureRecord {
    /// `era_…`.
    pub id: String,
    /// `completed`.
    pub status: String,
    /// Keyed pseudonym of the subject (never the subject itself).
    pub subject_pseudonym: String,
    /// Organizations covered.
    pub organization_ids: Vec<String>,
    /// Events whose personal data was removed.
    pub events_affected: u64,
    /// Subject keys destroyed.
    pub keys_destroyed: u64,
    /// When requested.
    pub requested_at: String,
    /// When completed.
    pub completed_at: String,
    /// The key that asked.
    pub requested_by: String,
}

/// The subject strings an erasure applies to within one organization.
fn subjects_for(app: &App, org: &Org, spec: &SubjectSpec) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    if let Some(id) = &spec.id {
        out.push(id.clone());
    }
    if let Some(email) = &spec.email {
        let email = email.to_lowercase();
        out.push(format!("email:{email}"));
        // Every actor id that used this email in this organization.
        let bi = app.master.blind_index(&org.id, "email", &email);
        let q = crate::storage::EventQuery {
            orgs: vec![org.key],
            trees: vec![org.tree],
            actor_email_bis: vec![bi],
            limit: 100_000,
            ..Default::default()
        };
        for ev in app.store.query(&q)? {
            if let Some(entry) = &ev.entry
                && let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(entry)
                && let Some(id) = m
                    .get("actor")
                    .and_then(|a| a.get("id"))
                    .and_then(Value::as_str)
                && !out.iter().any(|s| s == id)
            {
                out.push(id.to_string());
            }
        }
    }
    Ok(out)
}

/// Checks a subject spec.
pub fn validate(spec: &SubjectSpec) -> Result<(), ApiError> {
    match (&spec.id, &spec.email) {
        (None, None) => Err(ApiError::invalid(
            "subject",
            "give the subject's id, email, or both",
        )),
        (Some(id), _) if id.is_empty() || id.len() > 128 => Err(ApiError::invalid(
            "subject.id",
            "subject.id must be 1 to 128 characters",
        )),
        (_, Some(e)) if !e.contains('@') || e.len() > 254 => Err(ApiError::invalid(
            "subject.email",
            "subject.email is not an email address",
        )),
        _ => Ok(()),
    }
}

/// The pseudonym shown for a subject in records and the log.
pub fn pseudonym(app: &App, spec: &SubjectSpec) -> String {
    let basis = spec
        .id
        .clone()
        .or_else(|| {
            spec.email
                .as_ref()
                .map(|e| format!("email:{}", e.to_lowercase()))
        })
        .unwrap_or_default();
    hex::encode(app.master.subject_ref("sealtrail/erasure", &basis))
}

/// The legal hold blocking an erasure, if any.
pub fn blocking_hold(
    app: &App,
    orgs: &[Org],
    subjects: &[(OrgKey, Vec<u8>)],
) -> Result<Option<String>, ApiError> {
    let holds = app.store.holds()?;
    for h in holds.iter().filter(|h| h.released_ms.is_none()) {
        for o in orgs {
            if !app.is_within(o.key, h.org) {
                continue;
            }
            match &h.subject {
                None => {
                    return Ok(Some(format!(
                        "legal hold {} covers organization {} ({})",
                        h.id, o.id, h.reason
                    )));
                }
                Some(s) if subjects.iter().any(|(k, r)| *k == o.key && r == s) => {
                    return Ok(Some(format!(
                        "legal hold {} covers this subject ({})",
                        h.id, h.reason
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(None)
}

/// Erases a subject from the organizations in `orgs`.
pub async fn erase(
    app: &App,
    orgs: Vec<Org>,
    spec: SubjectSpec,
    key_id: &str,
    reader_org: Org,
) -> Result<ErasureRecord, ApiError> {
    validate(&spec)?;
    let requested = now_ms();
    // Per organization: each subject string with its pseudonym.
    type Subjects = Vec<(String, Vec<u8>)>;
    let mut targets: Vec<(Org, Subjects)> = Vec::new();
    let mut refs: Vec<(OrgKey, Vec<u8>)> = Vec::new();
    for o in &orgs {
        let subs = subjects_for(app, o, &spec)?;
        let with_refs: Vec<(String, Vec<u8>)> = subs
            .into_iter()
            .map(|s| {
                let r = app.master.subject_ref(&o.id, &s);
                refs.push((o.key, r.clone()));
                (s, r)
            })
            .collect();
        targets.push((o.clone(), with_refs));
    }
    if let Some(why) = blocking_hold(app, &orgs, &refs)? {
        return Err(ApiError::conflict(format!(
            "erasure refused: {why}; release the hold first"
        )));
    }
    let id = crate::ids::new_prefixed_id("era");
    let pseudo = pseudonym(app, &spec);
    let catalog = app.catalog.clone();
    let key = key_id.to_string();
    let org_ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let id2 = id.clone();
    let pseudo2 = pseudo.clone();
    let rec = app
        .sequencer
        .run_atomic(move |b| -> Result<ErasureRecord, StoreError> {
            let mut events = 0u64;
            let mut keys = 0u64;
            for (org, subs) in &targets {
                for (subject, sref) in subs {
                    if let Some(k) = b.txn().subject_key(org.key, sref)?
                        && k.wrapped.is_some()
                    {
                        b.txn().put_subject_key(&SubjectKeyRecord {
                            org: org.key,
                            subject: sref.clone(),
                            wrapped: None,
                            created_ms: k.created_ms,
                            erased_ms: Some(now_ms()),
                        })?;
                        keys += 1;
                    }
                    b.drop_subject_key(org.key, sref.clone());
                    for ev in b.txn().events_with_subject(org.key, sref)? {
                        let envs = match &ev.pii {
                            Some(p) => split::decode_envelopes(p).unwrap_or_default(),
                            None => Vec::new(),
                        };
                        let kept: Vec<split::Envelope> =
                            envs.into_iter().filter(|e| e.subject != *sref).collect();
                        let subjects: Vec<u8> = ev
                            .subjects
                            .chunks(16)
                            .filter(|c| *c != sref.as_slice())
                            .flatten()
                            .copied()
                            .collect();
                        let is_actor = match &ev.actor_id {
                            Some(a) => a == subject,
                            None => subject.starts_with("email:") || subject.starts_with("ip:"),
                        };
                        b.txn().set_event_pii(
                            ev.gseq,
                            split::encode_envelopes(&kept).as_deref(),
                            &subjects,
                            is_actor,
                        )?;
                        events += 1;
                    }
                }
            }
            let rec = ErasureRecord {
                id: id2.clone(),
                status: "completed".into(),
                subject_pseudonym: pseudo2.clone(),
                organization_ids: org_ids.clone(),
                events_affected: events,
                keys_destroyed: keys,
                requested_at: fmt_ms(requested),
                completed_at: fmt_ms(now_ms()),
                requested_by: key.clone(),
            };
            let body =
                serde_json::to_string(&rec).map_err(|e| StoreError::Engine(e.to_string()))?;
            b.txn().put_erasure(&id2, &body)?;
            let mut md = Map::new();
            md.insert("erasure_id".into(), json!(id2));
            md.insert("events_affected".into(), json!(events));
            md.insert("organization_ids".into(), json!(org_ids));
            let ev = own_event(
                "compliance.subject_erased",
                &reader_org,
                &key,
                Some(sealtrail_model::Target {
                    target_type: "subject".into(),
                    id: Some(pseudo2.clone()),
                    name: None,
                }),
                md,
            );
            append_own(b, &catalog, &reader_org, &ev)?;
            Ok(rec)
        })
        .await;
    // Before answering (whatever the outcome): a later read on this node
    // cannot open anything with a key it held before the erasure.
    for (org, sref) in &refs {
        app.subject_keys.forget(*org, sref);
    }
    let rec = rec?;
    // Old page images of the destroyed key live on in the write-ahead log
    // until it is checkpointed and truncated.
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.scrub())
        .await
        .map_err(ApiError::internal)??;
    Ok(rec)
}

/// Reads an erasure record.
pub fn record(app: &App, id: &str) -> Result<Option<ErasureRecord>, ApiError> {
    match app.store.erasure(id)? {
        Some(body) => Ok(Some(
            serde_json::from_str(&body).map_err(ApiError::internal)?,
        )),
        None => Ok(None),
    }
}
