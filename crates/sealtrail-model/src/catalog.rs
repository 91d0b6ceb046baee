//! The versioned registry of activity types: category, required fields,
//! personal-data metadata keys and OCSF mapping of each type. `CATALOG.md`
//! lists the built-in types in a table.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::activity::{Category, shorten};
use crate::validate::is_inference_content_key;

/// Where an activity type lands in OCSF 1.8, so SIEMs can consume the feed
/// without a custom parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OcsfMapping {
    /// The OCSF event class, e.g. 3002 Authentication.
    pub class_uid: u32,
    /// The activity within the class, e.g. 1 Logon.
    pub activity_id: u32,
    /// The OCSF category, always `class_uid / 1000`; derived when a config omits it.
    #[serde(default)]
    pub category_uid: u32,
}

impl OcsfMapping {
    /// A mapping whose category is derived from its class, so the two cannot
    /// disagree.
    pub const fn new(class_uid: u32, activity_id: u32) -> OcsfMapping {
        OcsfMapping {
            class_uid,
            activity_id,
            category_uid: class_uid / 1000,
        }
    }

    /// The OCSF `type_uid`, `class_uid * 100 + activity_id`, which SIEM rules
    /// key on.
    pub fn type_uid(&self) -> u32 {
        self.class_uid
            .saturating_mul(100)
            .saturating_add(self.activity_id)
    }
}

/// The JSON type a metadata property must have, for operator-registered
/// schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A JSON number without a fractional part.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON array.
    Array,
    /// A JSON object.
    Object,
}

impl PropertyType {
    /// The wire name, used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Number => "number",
            PropertyType::Integer => "integer",
            PropertyType::Boolean => "boolean",
            PropertyType::Array => "array",
            PropertyType::Object => "object",
        }
    }

    /// Whether a JSON value has this type; integers are numbers without a
    /// fractional part.
    pub fn matches(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            PropertyType::String => value.is_string(),
            PropertyType::Number => value.is_number(),
            PropertyType::Integer => match value {
                Value::Number(n) => {
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                _ => false,
            },
            PropertyType::Boolean => value.is_boolean(),
            PropertyType::Array => value.is_array(),
            PropertyType::Object => value.is_object(),
        }
    }
}

/// A small, flat schema for an activity type's `metadata` object: enough for
/// operators to keep custom events consistent without a JSON Schema engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataSchema {
    /// The expected type of each named top-level metadata key.
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyType>,
    /// Metadata keys that must be present and non-null.
    #[serde(default)]
    pub required: Vec<String>,
    /// Whether keys not listed in `properties` are accepted.
    #[serde(default = "yes", alias = "additionalProperties")]
    pub additional_properties: bool,
}

fn yes() -> bool {
    true
}

/// One activity type of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypeDef {
    /// The dotted type name, e.g. `api_key.created`.
    pub name: String,
    /// The category every event of this type carries.
    pub category: Category,
    /// One line saying what the type records.
    pub description: String,
    /// Field paths an event must carry non-empty, e.g. `target.id`, `metadata.scopes`.
    pub required: Vec<String>,
    /// Top-level metadata keys holding personal data, to be committed rather than stored in leaves.
    pub personal_metadata: Vec<String>,
    /// Where the type lands in OCSF.
    pub ocsf: OcsfMapping,
    /// Optional shape of the `metadata` object.
    pub metadata_schema: Option<MetadataSchema>,
    /// Whether the type ships with Sealtrail rather than being registered by the operator.
    pub builtin: bool,
}

/// An operator's registration of an extra activity type, read from the
/// configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomTypeConfig {
    /// A namespaced name `<vendor>.<noun>.<verb>`.
    pub name: String,
    /// The category; `compliance` is reserved.
    pub category: Category,
    /// One line saying what the type records.
    #[serde(default)]
    pub description: Option<String>,
    /// Field paths an event must carry non-empty.
    #[serde(default)]
    pub required: Vec<String>,
    /// Top-level metadata keys holding personal data.
    #[serde(default)]
    pub personal_metadata: Vec<String>,
    /// Optional shape of the `metadata` object.
    #[serde(default)]
    pub metadata_schema: Option<MetadataSchema>,
    /// The OCSF mapping; when absent, activity "Other" (99) of a class chosen by category.
    #[serde(default)]
    pub ocsf: Option<OcsfMapping>,
}

/// The set of activity types a server accepts, built once at startup and
/// shared read-only.
#[derive(Clone, Debug)]
pub struct Catalog {
    types: Vec<TypeDef>,
    index: HashMap<String, usize>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::builtin()
    }
}

// OCSF 1.8 classes used by the built-in types.
const ACCOUNT_CHANGE: u32 = 3001;
const AUTHENTICATION: u32 = 3002;
const ENTITY_MANAGEMENT: u32 = 3004;
const USER_ACCESS: u32 = 3005;
const GROUP_MANAGEMENT: u32 = 3006;
const API_ACTIVITY: u32 = 6003;
const FILE_HOSTING: u32 = 6006;
/// The activity id every OCSF class reserves for "Other".
const OCSF_OTHER: u32 = 99;

/// One row of the built-in table.
struct Builtin {
    name: &'static str,
    category: Category,
    description: &'static str,
    required: &'static [&'static str],
    personal: &'static [&'static str],
    ocsf: OcsfMapping,
}

const fn b(
    name: &'static str,
    category: Category,
    description: &'static str,
    required: &'static [&'static str],
    personal: &'static [&'static str],
    class_uid: u32,
    activity_id: u32,
) -> Builtin {
    Builtin {
        name,
        category,
        description,
        required,
        personal,
        ocsf: OcsfMapping::new(class_uid, activity_id),
    }
}

use Category::{Admin, Agent, Compliance, Resource};

const TID: &[&str] = &["target.id"];
const NONE: &[&str] = &[];

#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    // admin
    b("user.login", Admin, "A user signed in.", &["actor.id"], NONE, AUTHENTICATION, 1),
    b("user.login_failed", Admin, "A sign-in attempt was refused.", NONE, &["username"], AUTHENTICATION, 1),
    b("user.logout", Admin, "A user signed out.", &["actor.id"], NONE, AUTHENTICATION, 2),
    b("session.revoked", Admin, "A session was ended by a user, an administrator or the platform.", &["target"], NONE, AUTHENTICATION, 2),
    b("account.settings_updated", Admin, "A user changed their own account settings.", &["actor.id"], NONE, ENTITY_MANAGEMENT, 3),
    b("organization.settings_updated", Admin, "Organization-wide settings were changed.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("workspace.created", Admin, "A workspace was created.", TID, NONE, ENTITY_MANAGEMENT, 1),
    b("workspace.updated", Admin, "A workspace's settings were changed.", TID, NONE, ENTITY_MANAGEMENT, 3),
    b("workspace.archived", Admin, "A workspace was archived.", TID, NONE, ENTITY_MANAGEMENT, 3),
    b("api_key.created", Admin, "An API key was created.", TID, NONE, ENTITY_MANAGEMENT, 1),
    b("api_key.updated", Admin, "An API key's name, scopes or limits were changed.", TID, NONE, ENTITY_MANAGEMENT, 3),
    b("api_key.rotated", Admin, "An API key's secret was replaced.", TID, NONE, ENTITY_MANAGEMENT, 3),
    b("api_key.deleted", Admin, "An API key was deleted or revoked.", TID, NONE, ENTITY_MANAGEMENT, 4),
    b("admin_key.created", Admin, "An administrative key was created.", TID, NONE, ENTITY_MANAGEMENT, 1),
    b("admin_key.deleted", Admin, "An administrative key was deleted or revoked.", TID, NONE, ENTITY_MANAGEMENT, 4),
    b("member.invited", Admin, "Someone was invited to join the organization.", TID, &["email"], ENTITY_MANAGEMENT, 1),
    b("member.added", Admin, "A user joined the organization or a workspace.", TID, &["email"], GROUP_MANAGEMENT, 3),
    b("member.removed", Admin, "A user was removed from the organization or a workspace.", TID, &["email"], GROUP_MANAGEMENT, 4),
    b("member.role_changed", Admin, "A member's role was changed.", &["target.id", "changes"], NONE, USER_ACCESS, 1),
    b("permission.granted", Admin, "A permission was granted to a user, group or key.", TID, NONE, USER_ACCESS, 1),
    b("permission.revoked", Admin, "A permission was revoked from a user, group or key.", TID, NONE, USER_ACCESS, 2),
    b("sso.configured", Admin, "Single sign-on was set up, changed or turned off.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("scim.user_created", Admin, "A user was provisioned through SCIM.", TID, &["email", "user_name", "display_name"], ACCOUNT_CHANGE, 1),
    b("scim.user_deleted", Admin, "A user was deprovisioned through SCIM.", TID, &["email", "user_name", "display_name"], ACCOUNT_CHANGE, 6),
    b("ip_allowlist.updated", Admin, "The IP allowlist was changed.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    // resource
    b("file.created", Resource, "A file was uploaded or created.", TID, NONE, FILE_HOSTING, 1),
    b("file.downloaded", Resource, "A file was downloaded.", TID, NONE, FILE_HOSTING, 2),
    b("file.deleted", Resource, "A file was deleted.", TID, NONE, FILE_HOSTING, 4),
    b("skill.created", Resource, "A skill was created.", TID, NONE, API_ACTIVITY, 1),
    b("skill.updated", Resource, "A skill was changed.", TID, NONE, API_ACTIVITY, 3),
    b("skill.deleted", Resource, "A skill was deleted.", TID, NONE, API_ACTIVITY, 4),
    b("project.created", Resource, "A project was created.", TID, NONE, API_ACTIVITY, 1),
    b("project.deleted", Resource, "A project was deleted.", TID, NONE, API_ACTIVITY, 4),
    // agent
    b("mcp_server.added", Agent, "An MCP server was registered for use by agents.", &["target"], NONE, API_ACTIVITY, 1),
    b("mcp_server.removed", Agent, "An MCP server was unregistered.", &["target"], NONE, API_ACTIVITY, 4),
    b("mcp_server.connected", Agent, "An agent connected to an MCP server.", &["target"], NONE, API_ACTIVITY, OCSF_OTHER),
    b("tool.invoked", Agent, "An agent invoked a tool (name and server only, never arguments or results).", &["metadata.tool_name", "metadata.server"], NONE, API_ACTIVITY, OCSF_OTHER),
    b("data.accessed", Agent, "An agent read a resource (reference only, never the data).", &["target"], NONE, API_ACTIVITY, 2),
    // compliance
    b("compliance.enabled", Compliance, "Activity recording was turned on for the organization.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("compliance.disabled", Compliance, "Activity recording was turned off for the organization.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("compliance_api.accessed", Compliance, "The compliance API was read (feed, export or proofs).", NONE, NONE, API_ACTIVITY, 2),
    b("compliance.key_created", Compliance, "A compliance key was created.", TID, NONE, ENTITY_MANAGEMENT, 1),
    b("compliance.key_revoked", Compliance, "A compliance key was revoked.", TID, NONE, ENTITY_MANAGEMENT, 4),
    b("compliance.export_created", Compliance, "An evidence export was produced.", NONE, NONE, API_ACTIVITY, 1),
    b("compliance.subject_erased", Compliance, "A data subject's personal data was erased.", TID, NONE, ENTITY_MANAGEMENT, 4),
    b("compliance.retention_changed", Compliance, "The retention period was changed.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("compliance.retention_pruned", Compliance, "Event bodies past retention were pruned; their leaves remain.", NONE, NONE, ENTITY_MANAGEMENT, 4),
    b("compliance.legal_hold_set", Compliance, "A legal hold was placed.", NONE, NONE, ENTITY_MANAGEMENT, 1),
    b("compliance.legal_hold_released", Compliance, "A legal hold was released.", NONE, NONE, ENTITY_MANAGEMENT, 4),
    b("compliance.sink_changed", Compliance, "A delivery sink was created, changed or removed.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("compliance.rule_changed", Compliance, "A detection rule was created, changed or removed.", NONE, NONE, ENTITY_MANAGEMENT, 3),
    b("compliance.review_attested", Compliance, "A reviewer attested a range of the log.", NONE, NONE, ENTITY_MANAGEMENT, 1),
];

/// Top-level fields a required path may start with.
const REQUIRABLE_ROOTS: &[&str] = &[
    "source_event_id",
    "workspace_id",
    "product",
    "actor",
    "target",
    "reason",
    "changes",
    "metadata",
];
const ACTOR_FIELDS: &[&str] = &[
    "type",
    "id",
    "email",
    "name",
    "ip_address",
    "user_agent",
    "api_key_id",
    "on_behalf_of",
];
const TARGET_FIELDS: &[&str] = &["type", "id", "name"];
const MAX_NAME_CHARS: usize = 128;

impl Catalog {
    /// The version of the built-in catalog, published with the feed so
    /// consumers know which type names to expect.
    pub const VERSION: &'static str = "2026-12-01";

    /// The built-in catalog, every type of SPEC §3.
    pub fn builtin() -> Catalog {
        let types: Vec<TypeDef> = BUILTINS
            .iter()
            .map(|row| TypeDef {
                name: row.name.to_owned(),
                category: row.category,
                description: row.description.to_owned(),
                required: row.required.iter().map(|s| (*s).to_owned()).collect(),
                personal_metadata: row.personal.iter().map(|s| (*s).to_owned()).collect(),
                ocsf: row.ocsf,
                metadata_schema: builtin_schema(row.name),
                builtin: true,
            })
            .collect();
        let index = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Catalog { types, index }
    }

    /// The built-in catalog extended with operator-registered types; refuses
    /// the whole configuration, naming the offending type, if any entry is
    /// unsafe or ambiguous.
    pub fn with_custom(custom: Vec<CustomTypeConfig>) -> Result<Catalog, String> {
        let mut catalog = Catalog::builtin();
        let builtin_namespaces: BTreeSet<String> = catalog
            .types
            .iter()
            .filter_map(|t| t.name.split('.').next().map(str::to_owned))
            .collect();
        for cfg in custom {
            let def = check_custom(cfg, &builtin_namespaces)?;
            if catalog.index.contains_key(&def.name) {
                return Err(format!(
                    "custom activity type `{}` is defined twice or collides with a built-in type",
                    def.name
                ));
            }
            catalog.index.insert(def.name.clone(), catalog.types.len());
            catalog.types.push(def);
        }
        Ok(catalog)
    }

    /// The definition of a type name, or `None` when the catalog lacks it.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.index.get(name).and_then(|&i| self.types.get(i))
    }

    /// Every type, built-ins first in catalog order, then custom types in
    /// registration order.
    pub fn iter(&self) -> impl Iterator<Item = &TypeDef> {
        self.types.iter()
    }

    /// The number of types in the catalog.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the catalog has no types (never true for a built catalog).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Whether a type name matches a filter pattern: `*` matches every name,
    /// `ns.*` matches names that start with `ns.`, anything else must be equal.
    pub fn matches_pattern(pattern: &str, name: &str) -> bool {
        if pattern == "*" {
            return true;
        }
        match pattern.strip_suffix(".*") {
            Some(prefix) => {
                name.len() > prefix.len() + 1
                    && name.starts_with(prefix)
                    && name.as_bytes().get(prefix.len()) == Some(&b'.')
            }
            None => pattern == name,
        }
    }

    /// Checks the syntax of a type filter value (`*`, `ns.*`, or a dotted
    /// name); it does not require the name to exist, so filters stay valid
    /// across catalog versions.
    pub fn validate_pattern(pattern: &str) -> Result<(), String> {
        if pattern == "*" {
            return Ok(());
        }
        if pattern.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "activity type pattern `{}` is longer than {MAX_NAME_CHARS} characters",
                shorten(pattern)
            ));
        }
        let body = pattern.strip_suffix(".*").unwrap_or(pattern);
        if body.split('.').all(is_segment) {
            Ok(())
        } else {
            Err(format!(
                "activity type pattern `{}` is invalid; use a dotted name of lowercase \
                 [a-z0-9_] segments, optionally ending in `.*`, or `*` alone",
                shorten(pattern)
            ))
        }
    }
}

/// Built-in types that constrain their metadata beyond required paths.
fn builtin_schema(name: &str) -> Option<MetadataSchema> {
    match name {
        "tool.invoked" => Some(MetadataSchema {
            properties: BTreeMap::from([
                ("tool_name".to_owned(), PropertyType::String),
                ("server".to_owned(), PropertyType::String),
            ]),
            required: vec!["tool_name".to_owned(), "server".to_owned()],
            additional_properties: true,
        }),
        _ => None,
    }
}

/// Whether a name segment is non-empty lowercase `[a-z0-9_]`.
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn check_custom(
    cfg: CustomTypeConfig,
    builtin_namespaces: &BTreeSet<String>,
) -> Result<TypeDef, String> {
    let name = cfg.name;
    let segments: Vec<&str> = name.split('.').collect();
    if name.chars().count() > MAX_NAME_CHARS
        || segments.len() < 3
        || !segments.iter().all(|s| is_segment(s))
    {
        return Err(format!(
            "custom activity type `{}` must be namespaced as `<vendor>.<noun>.<verb>`: at least \
             three dot-separated lowercase [a-z0-9_] segments, at most {MAX_NAME_CHARS} characters",
            shorten(&name)
        ));
    }
    let vendor = segments.first().copied().unwrap_or_default();
    if vendor == "compliance" || vendor == "compliance_api" {
        return Err(format!(
            "custom activity type `{name}` uses the `{vendor}` namespace, which is reserved for \
             Sealtrail's own events"
        ));
    }
    if builtin_namespaces.contains(vendor) {
        return Err(format!(
            "custom activity type `{name}` uses the built-in namespace `{vendor}`; choose a \
             vendor prefix so filters like `{vendor}.*` keep meaning built-in types"
        ));
    }
    if cfg.category == Category::Compliance {
        return Err(format!(
            "custom activity type `{name}` cannot use the compliance category, which is reserved \
             for Sealtrail's own events"
        ));
    }
    for path in &cfg.required {
        check_required_path(&name, path)?;
    }
    for key in &cfg.personal_metadata {
        if key.is_empty() || is_inference_content_key(key) {
            return Err(format!(
                "custom activity type `{name}` lists personal metadata key `{}`, which is empty \
                 or named like inference content",
                shorten(key)
            ));
        }
    }
    if let Some(schema) = &cfg.metadata_schema {
        for key in schema.properties.keys().chain(schema.required.iter()) {
            if key.is_empty() || is_inference_content_key(key) {
                return Err(format!(
                    "custom activity type `{name}` declares metadata property `{}`, which is \
                     empty or named like inference content and would always be refused",
                    shorten(key)
                ));
            }
        }
        if !schema.additional_properties
            && let Some(missing) = schema
                .required
                .iter()
                .find(|k| !schema.properties.contains_key(*k))
        {
            return Err(format!(
                "custom activity type `{name}` requires metadata property `{}` but does not \
                     declare it while additional properties are refused",
                shorten(missing)
            ));
        }
    }
    let ocsf = match cfg.ocsf {
        None => OcsfMapping::new(
            match cfg.category {
                Category::Admin => ENTITY_MANAGEMENT,
                _ => API_ACTIVITY,
            },
            OCSF_OTHER,
        ),
        Some(m) => {
            let derived = m.class_uid / 1000;
            if !(1000..=99_999).contains(&m.class_uid) || m.activity_id > 99 {
                return Err(format!(
                    "custom activity type `{name}` has an invalid OCSF mapping: class_uid must be \
                     1000..=99999 and activity_id 0..=99"
                ));
            }
            if m.category_uid != 0 && m.category_uid != derived {
                return Err(format!(
                    "custom activity type `{name}` has OCSF category_uid {} but class {} belongs \
                     to category {derived}",
                    m.category_uid, m.class_uid
                ));
            }
            OcsfMapping::new(m.class_uid, m.activity_id)
        }
    };
    let description = cfg
        .description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("Custom activity type {name}."));
    Ok(TypeDef {
        name,
        category: cfg.category,
        description,
        required: cfg.required,
        personal_metadata: cfg.personal_metadata,
        ocsf,
        metadata_schema: cfg.metadata_schema,
        builtin: false,
    })
}

/// Refuses required paths that no event could ever satisfy or that name
/// server-assigned fields.
fn check_required_path(name: &str, path: &str) -> Result<(), String> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let ok = match root {
        "actor" => match rest.as_slice() {
            [] => true,
            [field] => ACTOR_FIELDS.contains(field),
            _ => false,
        },
        "target" => match rest.as_slice() {
            [] => true,
            [field] => TARGET_FIELDS.contains(field),
            _ => false,
        },
        "metadata" => {
            !rest.is_empty()
                && rest
                    .iter()
                    .all(|k| !k.is_empty() && !is_inference_content_key(k))
        }
        r => REQUIRABLE_ROOTS.contains(&r) && rest.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "custom activity type `{name}` has required path `{}`, which is not a field an event \
             can carry (use e.g. `actor.id`, `target.id`, `changes` or `metadata.<key>`)",
            shorten(path)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_complete_and_consistent() {
        let c = Catalog::builtin();
        assert_eq!(c.len(), BUILTINS.len());
        assert_eq!(c.index.len(), c.types.len(), "duplicate builtin name");
        for t in c.iter() {
            assert!(t.builtin);
            assert_eq!(t.ocsf.category_uid, t.ocsf.class_uid / 1000);
            assert!(t.name.split('.').all(is_segment), "{}", t.name);
            assert_eq!(t.name.split('.').count(), 2, "{}", t.name);
            assert_eq!(
                t.category == Category::Compliance,
                t.name.starts_with("compliance.") || t.name.starts_with("compliance_api."),
                "{}",
                t.name
            );
            for p in &t.required {
                check_required_path(&t.name, p).unwrap();
            }
            assert!(t.description.ends_with('.'));
        }
        assert_eq!(c.get("api_key.created").unwrap().ocsf.type_uid(), 300_401);
        assert_eq!(c.get("user.login").unwrap().ocsf.type_uid(), 300_201);
        assert_eq!(c.get("file.downloaded").unwrap().ocsf.type_uid(), 600_602);
        assert_eq!(
            c.get("member.invited").unwrap().personal_metadata,
            vec!["email".to_owned()]
        );
    }

    #[test]
    fn type_uid_saturates() {
        assert_eq!(OcsfMapping::new(u32::MAX, 1).type_uid(), u32::MAX);
    }

    #[test]
    fn property_types_match_values() {
        use serde_json::json;
        assert!(PropertyType::Integer.matches(&json!(3)));
        assert!(PropertyType::Integer.matches(&json!(3.0)));
        assert!(!PropertyType::Integer.matches(&json!(3.5)));
        assert!(PropertyType::Number.matches(&json!(3.5)));
        assert!(!PropertyType::String.matches(&json!(3)));
        assert!(PropertyType::Array.matches(&json!([])));
        assert!(PropertyType::Object.matches(&json!({})));
        assert!(PropertyType::Boolean.matches(&json!(false)));
    }
}
