//! How canonical entries are stored: compressed with zstd against a fixed
//! dictionary, behind a one-byte tag.
//!
//! An entry is the exact byte string its leaf hashes, so storage must give
//! back the same bytes; compression is invisible above the storage layer.
//! The dictionary (`entry-dict-v1.txt`) holds only the format's own words
//! — field names, catalog types, categories, the JSON between them — and
//! none of any organization's data, so it never needs erasing or pruning.
//! It is frozen: a later dictionary gets a new tag, and both are read.
//!
//! Stored forms:
//! - starts with `{`: the entry itself (entries written before
//!   compression, and any entry that would not shrink);
//! - `0x01` then a zstd frame (content size included, no dictionary id)
//!   made with dictionary v1, of the whole entry;
//! - `0x02` then three offsets (LEB128) and a zstd frame as above of the
//!   entry *without* its `id`, `received_at` and `seq` fields (the
//!   *template*): those three are rebuilt from the row's `gseq`,
//!   `received_ms` and `seq` columns and inserted at the offsets. The
//!   template is compressed on the request's thread, before the event has
//!   a log position, so the single writer only stores it; and the three
//!   fields are not stored twice.
//!
//! A stored value that cannot be decoded is returned as stored: it then
//! fails to hash to its leaf, and `fsck` names the event as edited.

use std::cell::RefCell;

/// The dictionary of tag [`TAG_ZSTD_V1`].
const DICT_V1: &[u8] = include_bytes!("entry-dict-v1.txt");

/// Tag of a zstd frame made with [`DICT_V1`].
const TAG_ZSTD_V1: u8 = 0x01;

/// Tag of a template (see the module notes).
const TAG_TEMPLATE_V1: u8 = 0x02;

/// The fields the sequencer adds, in key order.
const ADDED: [&str; 3] = ["id", "received_at", "seq"];

/// zstd level: compression runs on the single writer thread, and on
/// entries of a few hundred bytes levels above 1 gain only a few percent
/// of size (about 2% at level 3) for a slower writer.
const LEVEL: i32 = 1;

/// The largest entry a stored frame may claim to hold (the ingest limits
/// keep real entries far below).
const MAX_ENTRY: usize = 16 << 20;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

fn compressor() -> std::io::Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, DICT_V1)?;
    c.include_dictid(false)?;
    c.include_checksum(false)?;
    c.include_contentsize(true)?;
    Ok(c)
}

/// Appends the zstd frame of `data` to `out`.
fn pack(out: &mut Vec<u8>, data: &[u8]) -> Option<()> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = compressor().ok();
        }
        let c = slot.as_mut()?;
        let mut frame = c.compress(data).ok()?;
        out.append(&mut frame);
        Some(())
    })
}

/// The stored form of a whole entry.
pub fn encode_entry(entry: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + zstd::zstd_safe::compress_bound(entry.len()));
    out.push(TAG_ZSTD_V1);
    match pack(&mut out, entry) {
        Some(()) if out.len() < entry.len() => out,
        _ => entry.to_vec(),
    }
}

/// The stored form of the entry made of `parts` (each `"key":value`,
/// sorted by key, none of them `id`, `received_at` or `seq`) and the
/// three fields the sequencer adds. `None` when it cannot be built, e.g.
/// if a part is one of the added keys; the caller then stores the
/// finished entry with [`encode_entry`].
pub fn encode_template(parts: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut template =
        Vec::with_capacity(parts.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 2);
    template.push(b'{');
    let mut offsets = [0usize; 3];
    let mut next = 0;
    for (i, (k, b)) in parts.iter().enumerate() {
        if ADDED.contains(&k.as_str()) || (i > 0 && parts[i - 1].0 >= *k) {
            return None;
        }
        while next < ADDED.len() && ADDED[next] < k.as_str() {
            offsets[next] = template.len();
            next += 1;
        }
        if i > 0 {
            template.push(b',');
        }
        template.extend_from_slice(b);
    }
    // The rest go before the closing brace.
    while next < ADDED.len() {
        offsets[next] = template.len();
        next += 1;
    }
    template.push(b'}');
    // Offsets at a part's start point past its separating comma.
    for o in &mut offsets {
        if *o > 1 && template[*o] == b',' {
            *o += 1;
        }
    }
    let mut out = Vec::with_capacity(8 + template.len());
    out.push(TAG_TEMPLATE_V1);
    for o in offsets {
        leb128(&mut out, o);
    }
    pack(&mut out, &template)?;
    Some(out)
}

fn leb128(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut v: usize = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Where a stored entry sits in the log: what a template's three fields
/// are rebuilt from.
#[derive(Clone, Copy, Debug)]
pub struct Position {
    /// Global commit sequence (with `received_ms`, the activity id).
    pub gseq: u64,
    /// Store time, ms.
    pub received_ms: i64,
    /// Leaf index in the organization's log.
    pub seq: u64,
}

/// The entry a stored value holds, at its position in the log (see the
/// module notes for what an undecodable value gives).
pub fn decode_entry(stored: Vec<u8>, at: Position) -> Vec<u8> {
    match stored.first() {
        Some(&TAG_ZSTD_V1) => unpack(&stored[1..]).unwrap_or(stored),
        Some(&TAG_TEMPLATE_V1) => fill(&stored, at).unwrap_or(stored),
        _ => stored,
    }
}

fn fill(stored: &[u8], at: Position) -> Option<Vec<u8>> {
    let mut pos = 1;
    let mut offsets = [0usize; 3];
    for o in &mut offsets {
        *o = read_leb128(stored, &mut pos)?;
    }
    let template = unpack(stored.get(pos..)?)?;
    let close = template.len().checked_sub(1)?;
    if template.first() != Some(&b'{')
        || template.get(close) != Some(&b'}')
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets.iter().any(|o| *o == 0 || *o > close)
    {
        return None;
    }
    let fields = [
        format!(
            "\"id\":\"{}\"",
            crate::ids::ActivityId::new(at.received_ms as u64, at.gseq)
        ),
        format!(
            "\"received_at\":\"{}\"",
            crate::time::fmt_ms(at.received_ms)
        ),
        format!("\"seq\":{}", at.seq),
    ];
    let mut out = Vec::with_capacity(template.len() + 96);
    let mut from = 0;
    for (o, field) in offsets.iter().zip(&fields) {
        out.extend_from_slice(&template[from..*o]);
        from = *o;
        if *o == close {
            if out.last() != Some(&b'{') {
                out.push(b',');
            }
            out.extend_from_slice(field.as_bytes());
        } else {
            out.extend_from_slice(field.as_bytes());
            out.push(b',');
        }
    }
    out.extend_from_slice(&template[from..]);
    Some(out)
}

fn unpack(frame: &[u8]) -> Option<Vec<u8>> {
    let size = zstd::zstd_safe::get_frame_content_size(frame).ok()??;
    let size = usize::try_from(size).ok().filter(|s| *s <= MAX_ENTRY)?;
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Decompressor::with_dictionary(DICT_V1).ok();
        }
        let d = slot.as_mut()?;
        let out = d.decompress(frame, size).ok()?;
        (out.len() == size).then_some(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::prepare::finish_entry;

    const ENTRY: &[u8] = br#"{"actor":{"email":{"commitment":"rTgtCc70pPlRybap/IqLapRO5K3qOsHHkcoKy5RxM60="},"id":"user_t3dfv7xmp2ae","type":"user"},"category":"admin","created_at":"2026-11-05T08:46:26.890Z","id":"act_01M91KW25F000000000000DNKR","metadata":{"method":"sso","mfa":false},"organization_id":"org_acme_api","outcome":"success","product":"platform","received_at":"2026-12-04T22:47:48.655Z","seq":1,"source_event_id":"sim-1-12","target":{"id":"sess_65ysjahm68s9t559","type":"session"},"type":"user.login","v":1}"#;

    const AT: Position = Position {
        gseq: 4242,
        received_ms: 1_764_888_468_655,
        seq: 17,
    };

    fn part(k: &str, v: &str) -> (String, Vec<u8>) {
        (k.to_string(), format!("\"{k}\":{v}").into_bytes())
    }

    fn finished(parts: &[(String, Vec<u8>)], at: Position) -> Vec<u8> {
        let id = crate::ids::ActivityId::new(at.received_ms as u64, at.gseq).to_string();
        finish_entry(parts, &id, at.received_ms, at.seq)
    }

    #[test]
    fn entries_round_trip_smaller() {
        let stored = encode_entry(ENTRY);
        assert_eq!(stored[0], TAG_ZSTD_V1);
        assert!(
            stored.len() * 2 < ENTRY.len(),
            "{} of {}",
            stored.len(),
            ENTRY.len()
        );
        assert_eq!(decode_entry(stored, AT), ENTRY);
    }

    #[test]
    fn raw_entries_are_read_as_they_are() {
        assert_eq!(decode_entry(ENTRY.to_vec(), AT), ENTRY);
        // Too short to shrink: stored as is.
        assert_eq!(encode_entry(b"{}"), b"{}");
        assert_eq!(decode_entry(b"{}".to_vec(), AT), b"{}");
    }

    #[test]
    fn templates_rebuild_exactly_the_finished_entry() {
        let all = [
            part("actor", r#"{"id":"u1","type":"user"}"#),
            part("category", r#""admin""#),
            part("created_at", r#""2026-11-05T08:46:26.890Z""#),
            part("metadata", r#"{"method":"sso"}"#),
            part("organization_id", r#""org_acme""#),
            part("outcome", r#""success""#),
            part("product", r#""platform""#),
            part("source_event_id", r#""s-1""#),
            part("target", r#"{"id":"t","type":"session"}"#),
            part("type", r#""user.login""#),
            part("v", "1"),
        ];
        // Every contiguous run of parts, so the three fields land first,
        // last, together and apart, and with no parts at all.
        for from in 0..=all.len() {
            for to in from..=all.len() {
                let parts = &all[from..to];
                for at in [
                    AT,
                    Position {
                        gseq: 1,
                        received_ms: 0,
                        seq: 0,
                    },
                ] {
                    let stored = encode_template(parts).unwrap();
                    assert_eq!(stored[0], TAG_TEMPLATE_V1);
                    let want = finished(parts, at);
                    assert_eq!(
                        String::from_utf8(decode_entry(stored, at)).unwrap(),
                        String::from_utf8(want).unwrap(),
                        "parts {from}..{to}"
                    );
                }
            }
        }
        // The three fields are not stored: the template is smaller than the
        // whole entry compressed.
        let t = encode_template(&all).unwrap();
        assert!(t.len() < encode_entry(&finished(&all, AT)).len());
        // Another position gives another entry (a row moved or renumbered
        // no longer hashes to its leaf).
        let other = Position { seq: 18, ..AT };
        assert_ne!(decode_entry(t.clone(), other), decode_entry(t, AT));
    }

    #[test]
    fn templates_refuse_parts_they_cannot_represent() {
        assert!(encode_template(&[part("seq", "1")]).is_none());
        assert!(encode_template(&[part("type", "1"), part("actor", "1")]).is_none());
        assert!(encode_template(&[part("actor", "1"), part("actor", "2")]).is_none());
    }

    #[test]
    fn prepared_events_store_templates_that_rebuild_their_entries() {
        use sealtrail_model::{Catalog, Limits, parse_activity};
        let catalog = Catalog::builtin();
        let master = crate::privacy::crypto::MasterKey::from_secret(&[3u8; 32]);
        let org = crate::storage::Org {
            key: 1,
            id: "org_a".into(),
            name: "A".into(),
            parent: None,
            tree: 1,
            enabled: true,
            logging_enabled_at: Some(1),
            logging_disabled_at: None,
            created_ms: 1,
            retention_days: None,
        };
        let mut checked = 0;
        for (i, ty) in [
            "user.login",
            "file.downloaded",
            "api_key.created",
            "member.role_changed",
        ]
        .iter()
        .enumerate()
        {
            let ev = serde_json::json!({
                "type": ty, "created_at": "2026-01-10T10:00:00Z", "organization_id": "org_a",
                "actor": {"type": "user", "id": "u1", "email": "a@x.com", "ip_address": "203.0.113.7"},
                "target": {"type": "member", "id": "m1", "name": "M"},
                "metadata": {"role": "admin", "old_role": "member", "email": "m@x.com"},
            });
            let Ok(input) = parse_activity(&ev, ev.to_string().len(), &catalog, &Limits::default())
            else {
                continue;
            };
            let def = catalog.get(&input.activity_type).unwrap();
            let p =
                crate::log::prepare::prepare(&input, def, &org, Some("platform"), &master, true);
            let at = Position {
                gseq: 100 + i as u64,
                ..AT
            };
            let stored = p.stored.clone().unwrap();
            assert_eq!(decode_entry(stored, at), finished(&p.parts, at), "{ty}");
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} of the sample events parsed");
    }

    #[test]
    fn damaged_frames_never_panic_and_undecodable_ones_come_back_as_stored() {
        let whole = encode_entry(ENTRY);
        let template = encode_template(&[part("actor", r#"{"id":"u1"}"#), part("v", "1")]).unwrap();
        for stored in [whole, template] {
            // Whatever a flipped bit decodes to, reading it must not panic;
            // what it gives back is checked against the leaf by the callers.
            for i in 1..stored.len() {
                let mut bad = stored.clone();
                bad[i] ^= 0x40;
                let _ = decode_entry(bad, AT);
            }
            // Truncated frames cannot be decoded: the stored bytes come back.
            for n in 1..stored.len() {
                assert_eq!(decode_entry(stored[..n].to_vec(), AT), &stored[..n]);
            }
        }
        // A frame claiming an absurd size is refused, not allocated.
        let mut huge = vec![TAG_ZSTD_V1];
        huge.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0xe4, 0, 0, 0, 0x40, 0, 0, 0, 0]);
        assert_eq!(decode_entry(huge.clone(), AT), huge);
    }
}
