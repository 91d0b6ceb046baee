//! The value types of one activity, shared by ingest, storage, the feed and
//! the sinks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The broad family an activity type belongs to; fixed by the catalog so a
/// source can never relabel an event into another family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Identity, access and configuration of the platform (logins, keys, members).
    Admin,
    /// Lifecycle of resources people create (files, skills, projects).
    Resource,
    /// Actions of agents and their tools, recorded as metadata only.
    Agent,
    /// Sealtrail's own activity, which sources may never submit.
    Compliance,
}

impl Category {
    /// Every category, in display order, for iteration in filters and reports.
    pub const ALL: [Category; 4] = [
        Category::Admin,
        Category::Resource,
        Category::Agent,
        Category::Compliance,
    ];

    /// The wire name, identical to the serde form, for query strings and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Admin => "admin",
            Category::Resource => "resource",
            Category::Agent => "agent",
            Category::Compliance => "compliance",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown category `{}`; expected admin, resource, agent or compliance",
                    shorten(s)
                )
            })
    }
}

/// What kind of principal performed an activity, so reviewers can tell people
/// from keys, agents and the platform itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A human signed in to the platform.
    User,
    /// A programmatic API key of the platform.
    ApiKey,
    /// An administrative key of the platform.
    AdminKey,
    /// An AI agent, usually acting on behalf of a user.
    Agent,
    /// A non-human service identity.
    ServiceAccount,
    /// The platform itself (schedulers, automatic cleanup, Sealtrail).
    System,
    /// Nobody authenticated yet, e.g. a failed login attempt.
    Unauthenticated,
}

impl ActorType {
    /// Every actor type, for iteration and error messages.
    pub const ALL: [ActorType; 7] = [
        ActorType::User,
        ActorType::ApiKey,
        ActorType::AdminKey,
        ActorType::Agent,
        ActorType::ServiceAccount,
        ActorType::System,
        ActorType::Unauthenticated,
    ];

    /// The wire name, identical to the serde form, for query strings and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::AdminKey => "admin_key",
            ActorType::Agent => "agent",
            ActorType::ServiceAccount => "service_account",
            ActorType::System => "system",
            ActorType::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for ActorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActorType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown actor type `{}`; expected one of user, api_key, admin_key, agent, \
                     service_account, system, unauthenticated",
                    shorten(s)
                )
            })
    }
}

/// Whether the activity succeeded; failures matter as much as successes for
/// detection (failed logins, refused key creation).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action took effect.
    #[default]
    Success,
    /// The action was attempted and did not take effect.
    Failure,
}

impl Outcome {
    /// The wire name, identical to the serde form, for query strings and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            _ => Err(format!(
                "unknown outcome `{}`; expected success or failure",
                shorten(s)
            )),
        }
    }
}

/// Who performed an activity and from where; the "who" of every audit answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The kind of principal.
    #[serde(rename = "type")]
    pub actor_type: ActorType,
    /// The platform's identifier of the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The principal's email address (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A display name (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client IP address the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The client's user agent string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The key the principal acted through, when it used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The user an agent or non-human identity acted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

impl Actor {
    /// An actor of the given type with every optional detail empty, the usual
    /// starting point when the server builds its own events.
    pub fn new(actor_type: ActorType) -> Actor {
        Actor {
            actor_type,
            id: None,
            email: None,
            name: None,
            ip_address: None,
            user_agent: None,
            api_key_id: None,
            on_behalf_of: None,
        }
    }
}

/// The object an activity acted upon, referenced by type and id, never by its
/// content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The kind of object, e.g. `api_key`, `file`, `mcp_server`.
    #[serde(rename = "type")]
    pub target_type: String,
    /// The platform's identifier of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A human-readable name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One field an activity changed, so a reviewer sees "what changed" without
/// reconstructing state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The name of the setting or attribute that changed.
    pub field: String,
    /// The value before the change, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    /// The value after the change, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

/// A validated activity as a source sent it, before the server assigns its
/// id, sequence number and receive time; only [`crate::parse_activity`] or the
/// server's own code produce one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityInput {
    /// The source's own idempotency id, used to deduplicate retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_event_id: Option<String>,
    /// A type name present in the catalog.
    #[serde(rename = "type")]
    pub activity_type: String,
    /// The type's category, taken from the catalog, never from the source.
    pub category: Category,
    /// When it happened by the source's clock, in UTC with millisecond precision.
    pub created_at: jiff::Timestamp,
    /// The organization (tenant) the activity belongs to.
    pub organization_id: String,
    /// The workspace inside the organization, when the activity has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The product that reported the activity, e.g. `platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Who performed it.
    pub actor: Actor,
    /// What it was performed on, when anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Whether it succeeded.
    #[serde(default)]
    pub outcome: Outcome,
    /// A short free-text reason, typically for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fields that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Type-specific details (never inference content).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Cuts a user-supplied string to a length fit for an error message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_str_and_serde() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
        }
        for t in ActorType::ALL {
            assert_eq!(t.as_str().parse::<ActorType>().unwrap(), t);
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::json!(t.as_str())
            );
        }
        for o in [Outcome::Success, Outcome::Failure] {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(
                serde_json::to_value(o).unwrap(),
                serde_json::json!(o.as_str())
            );
        }
        assert_eq!(Outcome::default(), Outcome::Success);
        assert!("Admin".parse::<Category>().is_err());
        assert!("bot".parse::<ActorType>().is_err());
        assert!("ok".parse::<Outcome>().is_err());
    }

    #[test]
    fn actor_serializes_without_empty_options() {
        let mut a = Actor::new(ActorType::ServiceAccount);
        a.id = Some("svc_1".into());
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"type": "service_account", "id": "svc_1"})
        );
    }

    #[test]
    fn shorten_cuts_long_values() {
        assert_eq!(shorten("abc"), "abc");
        let long = "x".repeat(100);
        assert_eq!(shorten(&long).chars().count(), 65);
    }
}
