//! Validation at the edge: the one place raw source JSON becomes an
//! [`ActivityInput`], refusing inference content, oversized or malformed
//! events with an error that names the field and the reason.
//!
//! The rules are described in the crate documentation.

use std::fmt;
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::activity::{
    ActivityInput, Actor, ActorType, Category, Change, Outcome, Target, shorten,
};
use crate::catalog::{Catalog, MetadataSchema, TypeDef};

/// Words whose presence as a key marks inference content (prompts, model
/// output, conversation text), which Sealtrail must never store; the crate
/// documentation gives the exact matching rule.
pub const INFERENCE_CONTENT_KEYS: &[&str] = &[
    "prompt",
    "completion",
    "messages",
    "content",
    "response",
    "input",
    "output",
];

/// Bounds on one event; they keep free text and payloads small enough that
/// content cannot hide in an audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest event, in bytes of JSON as received.
    pub max_event_bytes: usize,
    /// Longest string value anywhere in the event, in characters.
    pub max_string_chars: usize,
    /// Deepest nesting of objects and arrays, the event object being level 1.
    pub max_depth: usize,
    /// Most top-level keys in `metadata`.
    pub max_metadata_keys: usize,
    /// Most entries in `changes`.
    pub max_changes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 16_384,
            max_string_chars: 1_024,
            max_depth: 8,
            max_metadata_keys: 64,
            max_changes: 64,
        }
    }
}

/// Why an event was refused, as a stable machine-readable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A key is named like prompts, model output or conversation text.
    InferenceContent,
    /// A string or key is longer than allowed.
    TooLong,
    /// The event, its metadata or its changes are larger than allowed.
    TooLarge,
    /// Objects and arrays nest deeper than allowed.
    TooDeep,
    /// A field the activity type needs is missing.
    Required,
    /// The type is not in the catalog.
    UnknownType,
    /// The type is reserved for Sealtrail's own events.
    ReservedType,
    /// A field is malformed or not allowed.
    Invalid,
}

impl Rule {
    /// The wire code, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::InferenceContent => "inference_content",
            Rule::TooLong => "too_long",
            Rule::TooLarge => "too_large",
            Rule::TooDeep => "too_deep",
            Rule::Required => "required",
            Rule::UnknownType => "unknown_type",
            Rule::ReservedType => "reserved_type",
            Rule::Invalid => "invalid",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A per-event refusal a source can act on: which field, which rule, and a
/// sentence saying why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Dotted path of the field, array indexes as `[i]`, e.g.
    /// `metadata.a.b.prompt` or `changes[2].new`; empty for the whole event.
    pub field: String,
    /// The rule that was broken.
    pub rule: Rule,
    /// One human sentence naming the field and the reason.
    pub message: String,
}

impl FieldError {
    /// Builds an error, for callers that refuse events for reasons of their
    /// own (e.g. a source writing for another product).
    pub fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

/// Longest object key anywhere in an event, in characters.
const MAX_KEY_CHARS: usize = 128;
/// Longest identifier, in characters.
const MAX_ID_CHARS: usize = 128;
/// Longest product name, in characters.
const MAX_PRODUCT_CHARS: usize = 64;
/// Longest target type, in characters.
const MAX_TARGET_TYPE_CHARS: usize = 64;
/// Longest email address (RFC 5321 path limit).
const MAX_EMAIL_CHARS: usize = 254;
/// How far ahead of the server clock `created_at` may be.
const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);

const TOP_LEVEL_FIELDS: &[&str] = &[
    "type",
    "created_at",
    "organization_id",
    "workspace_id",
    "product",
    "source_event_id",
    "actor",
    "target",
    "outcome",
    "reason",
    "changes",
    "metadata",
];
const SERVER_ASSIGNED_FIELDS: &[&str] = &["id", "category", "received_at", "log"];
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
const CHANGE_FIELDS: &[&str] = &["field", "old", "new"];

/// Whether an object key is named like inference content, by the rule in the
/// module documentation; shared with config checks and the server.
pub fn is_inference_content_key(key: &str) -> bool {
    let word = last_word(key);
    INFERENCE_CONTENT_KEYS.iter().any(|k| {
        let k = k.as_bytes();
        match word.len() {
            n if n == k.len() => word.eq_ignore_ascii_case(k),
            n if n == k.len() + 1 => {
                word.get(..k.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(k))
                    && matches!(word.last(), Some(b's' | b'S'))
            }
            _ => false,
        }
    })
}

/// The bytes of the last word of a key: letters only, split at non-letters
/// and camelCase boundaries (non-ASCII bytes count as lowercase letters and
/// never match a keyword).
fn last_word(key: &str) -> &[u8] {
    let b = key.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphabetic() || c >= 0x80;
    let is_lower = |c: u8| c.is_ascii_lowercase() || c >= 0x80;
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut end = b.len();
    while end > 0 && !is_word(at(end - 1)) {
        end -= 1;
    }
    if end == 0 {
        return &[];
    }
    let mut start = end - 1;
    while start > 0 {
        let prev = at(start - 1);
        let cur = at(start);
        let next = if start + 1 < end { at(start + 1) } else { 0 };
        let boundary = !is_word(prev)
            || (cur.is_ascii_uppercase() && is_lower(prev))
            || (cur.is_ascii_uppercase() && prev.is_ascii_uppercase() && is_lower(next));
        if boundary {
            break;
        }
        start -= 1;
    }
    b.get(start..end).unwrap_or_default()
}

/// Parses one event a source submitted, checking it against the catalog and
/// limits; `raw_len` is the byte length of the event's JSON as received.
pub fn parse_activity(
    raw: &Value,
    raw_len: usize,
    catalog: &Catalog,
    limits: &Limits,
) -> Result<ActivityInput, FieldError> {
    parse_activity_at(raw, raw_len, catalog, limits, Timestamp::now())
}

/// [`parse_activity`] with the current time supplied, so the future-timestamp
/// bound is deterministic in tests and consistent across one batch.
pub fn parse_activity_at(
    raw: &Value,
    raw_len: usize,
    catalog: &Catalog,
    limits: &Limits,
    now: Timestamp,
) -> Result<ActivityInput, FieldError> {
    scan(raw, raw_len, limits)?;
    let obj = match raw {
        Value::Object(map) => map,
        _ => {
            return Err(FieldError::new(
                "",
                Rule::Invalid,
                "The event must be a JSON object.",
            ));
        }
    };
    for key in obj.keys() {
        if SERVER_ASSIGNED_FIELDS.contains(&key.as_str()) {
            return Err(FieldError::new(
                key.as_str(),
                Rule::Invalid,
                format!("Field `{key}` is assigned by the server and must not be sent."),
            ));
        }
        if !TOP_LEVEL_FIELDS.contains(&key.as_str()) {
            return Err(unknown_field(key, TOP_LEVEL_FIELDS));
        }
    }

    let type_name = match obj.get("type") {
        None | Some(Value::Null) => return Err(required("type")),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(not_a_string("type")),
    };
    let def = catalog.get(type_name).ok_or_else(|| {
        FieldError::new(
            "type",
            Rule::UnknownType,
            format!(
                "Field `type` names activity type `{}`, which is not in the catalog (version {}).",
                shorten(type_name),
                Catalog::VERSION
            ),
        )
    })?;
    if def.category == Category::Compliance {
        return Err(FieldError::new(
            "type",
            Rule::ReservedType,
            format!(
                "Field `type` names `{}`, a compliance activity type that only Sealtrail itself records.",
                def.name
            ),
        ));
    }

    let created_at = match obj.get("created_at") {
        None | Some(Value::Null) => return Err(required("created_at")),
        Some(Value::String(s)) => parse_created_at(s, now)?,
        Some(_) => return Err(not_a_string("created_at")),
    };
    let organization_id = identifier(obj.get("organization_id"), "organization_id")?
        .ok_or_else(|| required("organization_id"))?;
    let workspace_id = identifier(obj.get("workspace_id"), "workspace_id")?;
    let source_event_id = identifier(obj.get("source_event_id"), "source_event_id")?;
    let product = product(obj.get("product"))?;
    let actor = parse_actor(obj.get("actor"))?;
    let target = parse_target(obj.get("target"))?;
    let outcome = match obj.get("outcome") {
        None | Some(Value::Null) => Outcome::default(),
        Some(Value::String(s)) => s.parse::<Outcome>().map_err(|_| {
            FieldError::new(
                "outcome",
                Rule::Invalid,
                format!(
                    "Field `outcome` is `{}` but must be `success` or `failure`.",
                    shorten(s)
                ),
            )
        })?,
        Some(_) => return Err(not_a_string("outcome")),
    };
    let reason = text(obj.get("reason"), "reason")?.filter(|r| !r.is_empty());
    let changes = parse_changes(obj.get("changes"), limits)?;
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => {
            if m.len() > limits.max_metadata_keys {
                return Err(FieldError::new(
                    "metadata",
                    Rule::TooLarge,
                    format!(
                        "Field `metadata` has {} keys, more than the limit of {}.",
                        m.len(),
                        limits.max_metadata_keys
                    ),
                ));
            }
            m.clone()
        }
        Some(_) => {
            return Err(FieldError::new(
                "metadata",
                Rule::Invalid,
                "Field `metadata` must be a JSON object.",
            ));
        }
    };

    check_required(obj, def)?;
    if let Some(schema) = &def.metadata_schema {
        check_schema(&metadata, schema, def)?;
    }

    Ok(ActivityInput {
        source_event_id,
        activity_type: def.name.clone(),
        category: def.category,
        created_at,
        organization_id,
        workspace_id,
        product,
        actor,
        target,
        outcome,
        reason,
        changes,
        metadata,
    })
}

/// One step of a path inside the event.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn render(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

fn too_long_chars(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

/// Walks the whole value once (iteratively, so hostile nesting cannot
/// exhaust the stack) and applies the content, size, depth and length bounds
/// in that order of precedence.
fn scan(raw: &Value, raw_len: usize, limits: &Limits) -> Result<(), FieldError> {
    let mut too_deep: Option<String> = None;
    let mut too_long: Option<(String, bool)> = None;
    let mut path: Vec<Seg<'_>> = Vec::new();
    let mut stack: Vec<(&Value, usize, Option<Seg<'_>>)> = vec![(raw, 0, None)];
    while let Some((value, depth, seg)) = stack.pop() {
        path.truncate(depth.saturating_sub(1));
        if let Some(seg) = seg {
            path.push(seg);
        }
        match value {
            Value::Object(map) => {
                if depth >= limits.max_depth && too_deep.is_none() {
                    too_deep = Some(render(&path));
                }
                for (key, child) in map.iter().rev() {
                    if is_inference_content_key(key) {
                        path.push(Seg::Key(key));
                        return Err(inference(&render(&path), key));
                    }
                    if too_long.is_none() && too_long_chars(key, MAX_KEY_CHARS) {
                        path.push(Seg::Key(key));
                        too_long = Some((render(&path), true));
                        path.pop();
                    }
                    stack.push((child, depth + 1, Some(Seg::Key(key))));
                }
            }
            Value::Array(items) => {
                if depth >= limits.max_depth && too_deep.is_none() {
                    too_deep = Some(render(&path));
                }
                for (i, child) in items.iter().enumerate().rev() {
                    stack.push((child, depth + 1, Some(Seg::Index(i))));
                }
            }
            Value::String(s)
                if too_long.is_none() && too_long_chars(s, limits.max_string_chars) =>
            {
                too_long = Some((render(&path), false));
            }
            _ => {}
        }
    }
    if let Some(Value::Array(changes)) = raw.get("changes") {
        for (i, change) in changes.iter().enumerate() {
            if let Some(Value::String(field)) = change.get("field")
                && is_inference_content_key(field)
            {
                return Err(FieldError::new(
                    format!("changes[{i}].field"),
                    Rule::InferenceContent,
                    format!(
                        "Field `changes[{i}].field` names `{}`, a setting that holds inference \
                             content (prompts, model output or conversation text), which Sealtrail never records.",
                        shorten(field)
                    ),
                ));
            }
        }
    }
    if raw_len > limits.max_event_bytes {
        return Err(FieldError::new(
            "",
            Rule::TooLarge,
            format!(
                "The event is {raw_len} bytes, larger than the limit of {} bytes.",
                limits.max_event_bytes
            ),
        ));
    }
    if let Some(field) = too_deep {
        return Err(FieldError::new(
            field.as_str(),
            Rule::TooDeep,
            format!(
                "Field `{}` nests objects or arrays deeper than the limit of {} levels.",
                display_path(&field),
                limits.max_depth
            ),
        ));
    }
    if let Some((field, is_key)) = too_long {
        let message = if is_key {
            format!("Field `{field}` has a name longer than {MAX_KEY_CHARS} characters.")
        } else {
            format!(
                "Field `{field}` is longer than the limit of {} characters; free text must stay short.",
                limits.max_string_chars
            )
        };
        return Err(FieldError::new(field, Rule::TooLong, message));
    }
    Ok(())
}

fn display_path(field: &str) -> &str {
    if field.is_empty() { "(event)" } else { field }
}

fn inference(field: &str, key: &str) -> FieldError {
    FieldError::new(
        field,
        Rule::InferenceContent,
        format!(
            "Field `{field}` is named like inference content (`{}`), and Sealtrail never records \
             prompts, model output or conversation text.",
            shorten(key)
        ),
    )
}

fn required(field: &str) -> FieldError {
    FieldError::new(
        field,
        Rule::Required,
        format!("Field `{field}` is required."),
    )
}

fn not_a_string(field: &str) -> FieldError {
    FieldError::new(
        field,
        Rule::Invalid,
        format!("Field `{field}` must be a string."),
    )
}

fn unknown_field(path: &str, allowed: &[&str]) -> FieldError {
    let (parent, _) = path.rsplit_once('.').unwrap_or(("", path));
    let where_ = if parent.is_empty() {
        "an activity".to_owned()
    } else {
        format!("`{parent}`")
    };
    FieldError::new(
        path,
        Rule::Invalid,
        format!(
            "Field `{path}` is not part of {where_}; allowed fields are {}.",
            allowed.join(", ")
        ),
    )
}

/// Checks that an object only has the listed keys, reporting the first other
/// one under `prefix`.
fn only_fields(map: &Map<String, Value>, prefix: &str, allowed: &[&str]) -> Result<(), FieldError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(unknown_field(&format!("{prefix}.{k}"), allowed)),
        None => Ok(()),
    }
}

/// An optional free-text string; its length was bounded by the scan.
fn text(value: Option<&Value>, field: &str) -> Result<Option<String>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(not_a_string(field)),
    }
}

fn is_identifier(s: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&s.len())
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'@' | b'/' | b'-')
        })
}

/// An optional identifier: 1..=128 characters of `[A-Za-z0-9._:@/-]`.
fn identifier(value: Option<&Value>, field: &str) -> Result<Option<String>, FieldError> {
    match text(value, field)? {
        None => Ok(None),
        Some(s) if is_identifier(&s) => Ok(Some(s)),
        Some(s) => Err(FieldError::new(
            field,
            Rule::Invalid,
            format!(
                "Field `{field}` is `{}` but must be an identifier of 1 to {MAX_ID_CHARS} \
                 characters from A-Z, a-z, 0-9 and `._:@/-`.",
                shorten(&s)
            ),
        )),
    }
}

fn product(value: Option<&Value>) -> Result<Option<String>, FieldError> {
    match text(value, "product")? {
        None => Ok(None),
        Some(s)
            if (1..=MAX_PRODUCT_CHARS).contains(&s.len())
                && s.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-'
                }) =>
        {
            Ok(Some(s))
        }
        Some(s) => Err(FieldError::new(
            "product",
            Rule::Invalid,
            format!(
                "Field `product` is `{}` but must be 1 to {MAX_PRODUCT_CHARS} characters from \
                 a-z, 0-9, `_` and `-`.",
                shorten(&s)
            ),
        )),
    }
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= MAX_EMAIL_CHARS
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks the strict RFC 3339 shape `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`
/// before handing the text to jiff, which is more lenient.
fn is_rfc3339_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let one_of = |i: usize, set: &[u8]| b.get(i).is_some_and(|c| set.contains(c));
    let date_time = (0..4).all(digit)
        && one_of(4, b"-")
        && digit(5)
        && digit(6)
        && one_of(7, b"-")
        && digit(8)
        && digit(9)
        && one_of(10, b"Tt")
        && digit(11)
        && digit(12)
        && one_of(13, b":")
        && digit(14)
        && digit(15)
        && one_of(16, b":")
        && digit(17)
        && digit(18);
    if !date_time {
        return false;
    }
    let mut i = 19;
    if one_of(i, b".") {
        i += 1;
        let start = i;
        while digit(i) {
            i += 1;
        }
        if !(1..=9).contains(&(i - start)) {
            return false;
        }
    }
    if one_of(i, b"Zz") {
        return i + 1 == b.len();
    }
    one_of(i, b"+-")
        && digit(i + 1)
        && digit(i + 2)
        && one_of(i + 3, b":")
        && digit(i + 4)
        && digit(i + 5)
        && i + 6 == b.len()
}

/// Parses `created_at`, normalizing to UTC with millisecond precision
/// (truncating finer digits) and refusing times far in the future.
fn parse_created_at(s: &str, now: Timestamp) -> Result<Timestamp, FieldError> {
    let invalid = || {
        FieldError::new(
            "created_at",
            Rule::Invalid,
            format!(
                "Field `created_at` is `{}` but must be an RFC 3339 timestamp with an offset, \
                 e.g. 2026-12-04T19:23:27.123Z.",
                shorten(s)
            ),
        )
    };
    if !is_rfc3339_shape(s) {
        return Err(invalid());
    }
    let ts: Timestamp = s.to_ascii_uppercase().parse().map_err(|_| invalid())?;
    let ts = Timestamp::from_millisecond(ts.as_millisecond()).map_err(|_| invalid())?;
    if ts.duration_since(now) > MAX_FUTURE {
        return Err(FieldError::new(
            "created_at",
            Rule::Invalid,
            format!(
                "Field `created_at` is {ts}, more than 24 hours ahead of the server clock ({now})."
            ),
        ));
    }
    Ok(ts)
}

fn parse_actor(value: Option<&Value>) -> Result<Actor, FieldError> {
    let map = match value {
        None | Some(Value::Null) => return Err(required("actor")),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(FieldError::new(
                "actor",
                Rule::Invalid,
                "Field `actor` must be a JSON object.",
            ));
        }
    };
    only_fields(map, "actor", ACTOR_FIELDS)?;
    let actor_type = match map.get("type") {
        None | Some(Value::Null) => return Err(required("actor.type")),
        Some(Value::String(s)) => s.parse::<ActorType>().map_err(|e| {
            FieldError::new(
                "actor.type",
                Rule::Invalid,
                format!("Field `actor.type` has an {e}."),
            )
        })?,
        Some(_) => return Err(not_a_string("actor.type")),
    };
    let email = match text(map.get("email"), "actor.email")? {
        Some(e) if !is_email(&e) => {
            return Err(FieldError::new(
                "actor.email",
                Rule::Invalid,
                format!(
                    "Field `actor.email` is `{}` but must be an email address (one `@`, text on \
                     both sides, no spaces, at most {MAX_EMAIL_CHARS} characters).",
                    shorten(&e)
                ),
            ));
        }
        other => other,
    };
    let ip_address = match text(map.get("ip_address"), "actor.ip_address")? {
        None => None,
        Some(s) => match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip.to_string()),
            Err(_) => {
                return Err(FieldError::new(
                    "actor.ip_address",
                    Rule::Invalid,
                    format!(
                        "Field `actor.ip_address` is `{}` but must be an IPv4 or IPv6 address.",
                        shorten(&s)
                    ),
                ));
            }
        },
    };
    Ok(Actor {
        actor_type,
        id: identifier(map.get("id"), "actor.id")?,
        email,
        name: text(map.get("name"), "actor.name")?,
        ip_address,
        user_agent: text(map.get("user_agent"), "actor.user_agent")?,
        api_key_id: identifier(map.get("api_key_id"), "actor.api_key_id")?,
        on_behalf_of: identifier(map.get("on_behalf_of"), "actor.on_behalf_of")?,
    })
}

fn parse_target(value: Option<&Value>) -> Result<Option<Target>, FieldError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(FieldError::new(
                "target",
                Rule::Invalid,
                "Field `target` must be a JSON object.",
            ));
        }
    };
    only_fields(map, "target", TARGET_FIELDS)?;
    let target_type =
        text(map.get("type"), "target.type")?.ok_or_else(|| required("target.type"))?;
    let type_ok = (1..=MAX_TARGET_TYPE_CHARS).contains(&target_type.len())
        && target_type.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-')
        });
    if !type_ok {
        return Err(FieldError::new(
            "target.type",
            Rule::Invalid,
            format!(
                "Field `target.type` is `{}` but must be 1 to {MAX_TARGET_TYPE_CHARS} characters \
                 from a-z, 0-9, `_`, `.` and `-`.",
                shorten(&target_type)
            ),
        ));
    }
    Ok(Some(Target {
        target_type,
        id: identifier(map.get("id"), "target.id")?,
        name: text(map.get("name"), "target.name")?,
    }))
}

fn parse_changes(value: Option<&Value>, limits: &Limits) -> Result<Vec<Change>, FieldError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(FieldError::new(
                "changes",
                Rule::Invalid,
                "Field `changes` must be an array of {field, old, new} objects.",
            ));
        }
    };
    if items.len() > limits.max_changes {
        return Err(FieldError::new(
            "changes",
            Rule::TooLarge,
            format!(
                "Field `changes` has {} entries, more than the limit of {}.",
                items.len(),
                limits.max_changes
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("changes[{i}]");
        let Value::Object(map) = item else {
            return Err(FieldError::new(
                prefix.as_str(),
                Rule::Invalid,
                format!("Field `{prefix}` must be an object with `field`, `old` and `new`."),
            ));
        };
        only_fields(map, &prefix, CHANGE_FIELDS)?;
        let field_path = format!("{prefix}.field");
        let field = text(map.get("field"), &field_path)?
            .filter(|f| !f.is_empty())
            .ok_or_else(|| required(&field_path))?;
        let keep = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
        out.push(Change {
            field,
            old: keep(map.get("old")),
            new: keep(map.get("new")),
        });
    }
    Ok(out)
}

/// Whether a value counts as absent for a required path.
fn is_missing(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn lookup<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = root.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

fn check_required(obj: &Map<String, Value>, def: &TypeDef) -> Result<(), FieldError> {
    match def.required.iter().find(|p| is_missing(lookup(obj, p))) {
        Some(path) => Err(FieldError::new(
            path.as_str(),
            Rule::Required,
            format!(
                "Field `{path}` is required for activity type `{}`.",
                def.name
            ),
        )),
        None => Ok(()),
    }
}

fn check_schema(
    metadata: &Map<String, Value>,
    schema: &MetadataSchema,
    def: &TypeDef,
) -> Result<(), FieldError> {
    if let Some(key) = schema
        .required
        .iter()
        .find(|k| is_missing(metadata.get(*k)))
    {
        let field = format!("metadata.{key}");
        return Err(FieldError::new(
            field.as_str(),
            Rule::Required,
            format!(
                "Field `{field}` is required for activity type `{}`.",
                def.name
            ),
        ));
    }
    for (key, value) in metadata {
        let field = format!("metadata.{key}");
        match schema.properties.get(key) {
            Some(ty) if !value.is_null() && !ty.matches(value) => {
                return Err(FieldError::new(
                    field.as_str(),
                    Rule::Invalid,
                    format!(
                        "Field `{field}` must be of type {} for activity type `{}`.",
                        ty.as_str(),
                        def.name
                    ),
                ));
            }
            None if !schema.additional_properties => {
                return Err(FieldError::new(
                    field.as_str(),
                    Rule::Invalid,
                    format!(
                        "Field `{field}` is not declared in the metadata schema of activity type `{}`.",
                        def.name
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_key_rule() {
        for k in [
            "prompt",
            "Prompt",
            "PROMPTS",
            "system_prompt",
            "systemPrompt",
            "SystemPROMPT",
            "user-input",
            "tool_output",
            "model_response",
            "messages",
            "chat.messages",
            "content",
            "contents",
            "completion",
            "completions",
            "gpt4Output",
            "prompt_2",
            "HTTPResponse",
            "inputs",
        ] {
            assert!(is_inference_content_key(k), "{k} should be refused");
        }
        for k in [
            "input_tokens",
            "content_type",
            "prompt_id",
            "message",
            "error_message",
            "promptness",
            "outputs_count",
            "scopes",
            "tool_name",
            "",
            "_",
            "123",
            "éprompt",
            "responsesx",
        ] {
            assert!(!is_inference_content_key(k), "{k} should be accepted");
        }
    }

    #[test]
    fn rfc3339_shape() {
        for ok in [
            "2026-12-04T19:23:27Z",
            "2026-12-04t19:23:27z",
            "2026-12-04T19:23:27.1Z",
            "2026-12-04T19:23:27.123456789+05:30",
            "2026-12-04T19:23:27-00:00",
        ] {
            assert!(is_rfc3339_shape(ok), "{ok}");
        }
        for bad in [
            "2026-12-04T19:23:27",
            "2026-12-04 19:23:27Z",
            "2026-12-04T19:23:27.Z",
            "2026-12-04T19:23:27.1234567890Z",
            "2026-12-04T19:23:27+0530",
            "2026-12-04T19:23:27Z ",
            "20261204T192327Z",
            "2026-12-04T19:23:27+05:30[Asia/Kolkata]",
            "",
        ] {
            assert!(!is_rfc3339_shape(bad), "{bad}");
        }
    }

    #[test]
    fn render_paths() {
        assert_eq!(
            render(&[Seg::Key("changes"), Seg::Index(2), Seg::Key("new")]),
            "changes[2].new"
        );
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn email_and_identifier_checks() {
        assert!(is_email("a@x.com"));
        assert!(!is_email("a@@x.com"));
        assert!(!is_email("@x.com"));
        assert!(!is_email("a@"));
        assert!(!is_email("a b@x.com"));
        assert!(is_identifier("org_01J:a/b@c.d-e"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(&"a".repeat(129)));
    }
}
