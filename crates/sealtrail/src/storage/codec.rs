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
//!   made with dictionary v1.
//!
//! A stored value that cannot be decoded is returned as stored: it then
//! fails to hash to its leaf, and `fsck` names the event as edited.

use std::cell::RefCell;

/// The dictionary of tag [`TAG_ZSTD_V1`].
const DICT_V1: &[u8] = include_bytes!("entry-dict-v1.txt");

/// Tag of a zstd frame made with [`DICT_V1`].
const TAG_ZSTD_V1: u8 = 0x01;

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

/// The stored form of an entry.
pub fn encode_entry(entry: &[u8]) -> Vec<u8> {
    let packed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = compressor().ok();
        }
        let c = slot.as_mut()?;
        let mut out = Vec::with_capacity(1 + zstd::zstd_safe::compress_bound(entry.len()));
        out.push(TAG_ZSTD_V1);
        let mut frame = c.compress(entry).ok()?;
        out.append(&mut frame);
        Some(out)
    });
    match packed {
        Some(p) if p.len() < entry.len() => p,
        _ => entry.to_vec(),
    }
}

/// The entry a stored value holds (see the module notes for what an
/// undecodable value gives).
pub fn decode_entry(stored: Vec<u8>) -> Vec<u8> {
    match stored.first() {
        Some(&TAG_ZSTD_V1) => unpack(&stored[1..]).unwrap_or(stored),
        _ => stored,
    }
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

    const ENTRY: &[u8] = br#"{"actor":{"email":{"commitment":"rTgtCc70pPlRybap/IqLapRO5K3qOsHHkcoKy5RxM60="},"id":"user_t3dfv7xmp2ae","type":"user"},"category":"admin","created_at":"2026-11-05T08:46:26.890Z","id":"act_01M91KW25F000000000000DNKR","metadata":{"method":"sso","mfa":false},"organization_id":"org_acme_api","outcome":"success","product":"platform","received_at":"2026-12-04T22:47:48.655Z","seq":1,"source_event_id":"sim-1-12","target":{"id":"sess_65ysjahm68s9t559","type":"session"},"type":"user.login","v":1}"#;

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
        assert_eq!(decode_entry(stored), ENTRY);
    }

    #[test]
    fn raw_entries_are_read_as_they_are() {
        assert_eq!(decode_entry(ENTRY.to_vec()), ENTRY);
        // Too short to shrink: stored as is.
        assert_eq!(encode_entry(b"{}"), b"{}");
        assert_eq!(decode_entry(b"{}".to_vec()), b"{}");
    }

    #[test]
    fn damaged_frames_never_panic_and_undecodable_ones_come_back_as_stored() {
        let stored = encode_entry(ENTRY);
        // Whatever a flipped bit decodes to, reading it must not panic; what
        // it gives back is checked against the leaf by the callers.
        for i in 1..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x40;
            let _ = decode_entry(bad);
        }
        // Truncated frames cannot be decoded: the stored bytes come back.
        for n in 1..stored.len() {
            assert_eq!(decode_entry(stored[..n].to_vec()), &stored[..n]);
        }
        // A frame claiming an absurd size is refused, not allocated.
        let mut huge = vec![TAG_ZSTD_V1];
        huge.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0xe4, 0, 0, 0, 0x40, 0, 0, 0, 0]);
        assert_eq!(decode_entry(huge.clone()), huge);
    }
}
