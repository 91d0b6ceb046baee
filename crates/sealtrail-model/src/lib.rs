//! The activity model of Sealtrail: what one recorded activity looks like, the
//! versioned catalog of activity types, and the validation that turns a
//! source's raw JSON into a trusted [`ActivityInput`] at the edge.
//!
//! Everything a source sends passes through [`parse_activity`], so the rest of
//! the system only ever handles values that are already known to be well
//! formed, bounded in size and free of inference content.
//!
//! # Inference content rule
//!
//! An object key anywhere in an event (top level, actor, target, changes,
//! metadata, nested objects inside arrays) is inference content when its
//! **last word** is one of [`INFERENCE_CONTENT_KEYS`] or that word plus `s`,
//! compared ASCII case-insensitively. Words are split at every character that
//! is not a letter (`_`, `-`, `.`, spaces, digits) and at camelCase
//! boundaries. So `prompt`, `Prompts`, `system_prompt`, `systemPrompt`,
//! `user-input`, `tool_output`, `model_response` and `messages` are refused,
//! while `input_tokens`, `content_type`, `prompt_id` and `message` (an error
//! message) are accepted. The `field` of a change is a key name too: a change
//! of `system_prompt` would carry content in `old`/`new`, so it is refused.
//! This check runs before any other, so such an event is always refused for
//! that reason.
//!
//! # Other bounds
//!
//! Every string value is at most [`Limits::max_string_chars`] characters,
//! every key at most 128 characters, containers nest at most
//! [`Limits::max_depth`] levels (the event object itself is level 1, so
//! `metadata` is level 2), and an event is at most [`Limits::max_event_bytes`]
//! bytes as received. A required path (from the catalog) counts as missing
//! when it is absent, `null`, `""`, `[]` or `{}`. Identifiers
//! (`organization_id`, `workspace_id`, `source_event_id`, `actor.id`,
//! `actor.api_key_id`, `actor.on_behalf_of`, `target.id`) are 1 to 128
//! characters of `[A-Za-z0-9._:@/-]`; `product` is 1 to 64 characters of
//! `[a-z0-9_-]`. When several rules are broken, the error reported is, in
//! order: inference content, event size, depth, string length, then the
//! first structural problem.
//!
//! # Catalog
//!
//! `CATALOG.md` in this crate lists every built-in type with its category,
//! required paths, personal metadata keys and OCSF 1.8 mapping.

#![warn(missing_docs)]

mod activity;
mod catalog;
mod validate;

pub use activity::{ActivityInput, Actor, ActorType, Category, Change, Outcome, Target};
pub use catalog::{Catalog, CustomTypeConfig, MetadataSchema, OcsfMapping, PropertyType, TypeDef};
pub use validate::{
    FieldError, INFERENCE_CONTENT_KEYS, Limits, Rule, is_inference_content_key, parse_activity,
    parse_activity_at,
};
