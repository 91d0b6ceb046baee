//! Sealtrail's own activity: enablement, keys, and every call to the
//! compliance plane (`compliance_api.accessed`).
//!
//! Audit the auditors without feedback: each compliance-plane call appends
//! exactly one event, whatever it read, and the event is appended after the
//! response is built, so a read never contains or counts its own record.
//! Reading N times adds N events; nothing multiplies.

use sealtrail_model::{ActivityInput, Actor, ActorType, Category, Outcome, Target};
use serde_json::{Map, Value};

use crate::app::App;
use crate::log::sequencer::{Appended, Batch};
use crate::storage::{Org, StoreResult};

/// Builds one of Sealtrail's own events.
pub fn own_event(
    activity_type: &str,
    org: &Org,
    key_id: &str,
    target: Option<Target>,
    metadata: Map<String, Value>,
) -> ActivityInput {
    ActivityInput {
        source_event_id: None,
        activity_type: activity_type.to_string(),
        category: Category::Compliance,
        created_at: jiff::Timestamp::from_millisecond(crate::time::now_ms())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        organization_id: org.id.clone(),
        workspace_id: None,
        product: Some("sealtrail".into()),
        actor: Actor {
            actor_type: ActorType::AdminKey,
            id: Some(key_id.to_string()),
            email: None,
            name: None,
            ip_address: None,
            user_agent: None,
            api_key_id: Some(key_id.to_string()),
            on_behalf_of: None,
        },
        target,
        outcome: Outcome::Success,
        reason: None,
        changes: Vec::new(),
        metadata,
    }
}

/// Appends one of Sealtrail's own events inside a sequencer job, if the
/// organization is recording. Returns `None` when it is not.
pub fn append_own(
    batch: &mut Batch<'_>,
    catalog: &sealtrail_model::Catalog,
    org: &Org,
    input: &ActivityInput,
) -> StoreResult<Option<Appended>> {
    let Some(now) = batch.org_now(org.key) else {
        return Ok(None);
    };
    if !now.enabled {
        return Ok(None);
    }
    let Some(def) = catalog.get(&input.activity_type) else {
        return Err(crate::storage::StoreError::Engine(format!(
            "activity type {} missing from the catalog",
            input.activity_type
        )));
    };
    batch.append(&now, input, def, Some("sealtrail")).map(Some)
}

/// Records a compliance-plane call without waiting for it to be durable:
/// the response has already been decided and must not wait on the log.
pub fn record_access(
    app: &App,
    org: &Org,
    key_id: &str,
    endpoint: &str,
    filters: Map<String, Value>,
    result_count: Option<usize>,
) {
    let mut md = Map::new();
    md.insert("endpoint".into(), Value::String(endpoint.to_string()));
    md.insert("filters".into(), Value::Object(filters));
    if let Some(n) = result_count {
        md.insert("result_count".into(), Value::from(n));
    }
    let input = own_event(
        "compliance_api.accessed",
        org,
        key_id,
        Some(Target {
            target_type: "compliance_api".into(),
            id: Some(endpoint.to_string()),
            name: None,
        }),
        md,
    );
    let catalog = app.catalog.clone();
    let org = org.clone();
    app.metrics.audit_records.inc();
    // The receiver is dropped: the event is written with the next group
    // commit and failures are logged by the sequencer.
    drop(app.sequencer.submit(move |b| {
        if let Err(e) = append_own(b, &catalog, &org, &input) {
            tracing::warn!(error = %e, "could not record compliance_api.accessed");
        }
    }));
}
