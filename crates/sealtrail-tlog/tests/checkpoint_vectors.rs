//! Checkpoint tests against published checkpoints and malformed bodies.
//!
//! Vectors:
//! - C2SP/C2SP, `tlog-checkpoint.md`: the `example.com/behind-the-sofa`
//!   checkpoint (its key is not published; parsed only).
//! - transparency-dev/trillian-tessera, `internal/parse/parse_test.go`: a
//!   signed tree head of the Go checksum database (`go.sum database tree`,
//!   size 31700353), verified with the public `sum.golang.org` key.
//! - transparency-dev/formats, `log/checkpoint_test.go` (`TestUnmarshalLogState`,
//!   `TestExtendCheckpoint`): bodies with short hashes, extension lines and
//!   invalid sizes.

use sealtrail_tlog::{
    Checkpoint, CheckpointError, NoteError, NoteSigner, NoteVerifier, empty_root, open_checkpoint,
    parse_note, sign_checkpoint,
};

const SOFA: &str = "example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

/// The Go checksum database's public verifier key.
const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_NOTE: &str = "go.sum database tree\n\
31700353\n\
qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\
\n\
\u{2014} sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n";

const ROOT_B64: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

#[test]
fn parses_spec_example() {
    let parsed = parse_note(SOFA).unwrap();
    let cp = Checkpoint::parse(&parsed.text).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(
        hex::encode(cp.root_hash),
        "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
    );
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.to_body(), parsed.text);
    // Signed by a key we do not know: rejected.
    let other = NoteSigner::from_seed("example.com/behind-the-sofa", &[1u8; 32]).unwrap();
    assert!(matches!(
        open_checkpoint(SOFA, &[other.verifier()], None),
        Err(CheckpointError::Note(NoteError::NoVerifiedSignature { .. }))
    ));
}

#[test]
fn verifies_real_checksum_database_checkpoint() {
    let v = NoteVerifier::parse(SUMDB_VKEY).unwrap();
    assert_eq!(v.key_id(), 0x033de0ae);
    let cp = open_checkpoint(
        SUMDB_NOTE,
        std::slice::from_ref(&v),
        Some("go.sum database tree"),
    )
    .unwrap();
    assert_eq!(cp.size, 31700353);
    assert_eq!(cp.to_body(), parse_note(SUMDB_NOTE).unwrap().text);
    assert_eq!(
        open_checkpoint(
            SUMDB_NOTE,
            std::slice::from_ref(&v),
            Some("example.com/log")
        ),
        Err(CheckpointError::OriginMismatch {
            expected: "example.com/log".into(),
            got: "go.sum database tree".into()
        })
    );
    let tampered = SUMDB_NOTE.replace("31700353", "31700354");
    assert!(matches!(
        open_checkpoint(&tampered, &[v], None),
        Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
    ));
}

#[test]
fn sign_and_open_round_trip() {
    let signer = NoteSigner::from_seed("sealtrail.example/audit", &[7u8; 32]).unwrap();
    let cp = Checkpoint::new("sealtrail.example/audit", 0, empty_root());
    let note = sign_checkpoint(&cp, &signer).unwrap();
    assert!(note.starts_with(
        "sealtrail.example/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} sealtrail.example/audit "
    ));
    let back =
        open_checkpoint(&note, &[signer.verifier()], Some("sealtrail.example/audit")).unwrap();
    assert_eq!(back, cp);

    let mut ext = Checkpoint::new("sealtrail.example/audit", 42, [9u8; 32]);
    ext.extensions = vec!["6086d1a9".into(), "Waxing gibbous".into()];
    let note = sign_checkpoint(&ext, &signer).unwrap();
    assert_eq!(
        open_checkpoint(&note, &[signer.verifier()], None).unwrap(),
        ext
    );
}

#[test]
fn extension_lines_are_kept() {
    // Shape of transparency-dev/formats TestExtendCheckpoint, with a 32-byte hash.
    let body = format!("Moon Log\n4027504\n{ROOT_B64}\n6086d1a9\nWaxing gibbous\n");
    let cp = Checkpoint::parse(&body).unwrap();
    assert_eq!(cp.origin, "Moon Log");
    assert_eq!(cp.size, 4027504);
    assert_eq!(cp.extensions, vec!["6086d1a9", "Waxing gibbous"]);
    assert_eq!(cp.to_body(), body);
}

#[test]
fn malformed_bodies_are_rejected_precisely() {
    let size_err = |value: &str, reason| CheckpointError::InvalidSize {
        value: value.into(),
        reason,
    };
    let cases: Vec<(String, CheckpointError)> = vec![
        // transparency-dev/formats: hashes that are not 32 bytes.
        (
            "Log\n123\nYmFuYW5hcw==\n".into(),
            CheckpointError::RootHashLength { got: 7 },
        ),
        (
            "Banana\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n".into(),
            CheckpointError::RootHashLength { got: 37 },
        ),
        (
            "Head\n9944\n".into(),
            CheckpointError::TooFewLines { got: 2 },
        ),
        (
            format!("\n9944\n{ROOT_B64}\n"),
            CheckpointError::EmptyOrigin,
        ),
        (
            format!("Log\n123\n{ROOT_B64}"),
            CheckpointError::MissingTrailingNewline,
        ),
        (
            format!("Log\nbananas\n{ROOT_B64}\n"),
            size_err("bananas", "not a decimal number"),
        ),
        (
            format!("Log\n-34\n{ROOT_B64}\n"),
            size_err("-34", "not a decimal number"),
        ),
        (
            format!("Log\n+34\n{ROOT_B64}\n"),
            size_err("+34", "not a decimal number"),
        ),
        (
            format!("Log\n3438945738945739845734895735\n{ROOT_B64}\n"),
            size_err("3438945738945739845734895735", "does not fit in 64 bits"),
        ),
        (
            format!("Log\n0123\n{ROOT_B64}\n"),
            size_err("0123", "leading zero"),
        ),
        (
            format!("Log\n00\n{ROOT_B64}\n"),
            size_err("00", "leading zero"),
        ),
        (format!("Log\n\n{ROOT_B64}\n"), size_err("", "empty")),
        (
            format!("Log\n 1\n{ROOT_B64}\n"),
            size_err(" 1", "not a decimal number"),
        ),
        (
            "Log\n123\nThisIsn'tBase64\n".into(),
            CheckpointError::RootHashEncoding,
        ),
        (
            format!("Log\n123\n{}\n", ROOT_B64.trim_end_matches('=')),
            CheckpointError::RootHashEncoding,
        ),
        (
            format!("Log\n123\n{ROOT_B64}\n\n\n\n"),
            CheckpointError::EmptyExtensionLine { line: 4 },
        ),
        (
            format!("Log\n123\n{ROOT_B64}\nok\n\n"),
            CheckpointError::EmptyExtensionLine { line: 5 },
        ),
        (
            format!("Lo\tg\n123\n{ROOT_B64}\n"),
            CheckpointError::ControlCharacter { line: 1 },
        ),
        ("".into(), CheckpointError::MissingTrailingNewline),
        ("\n".into(), CheckpointError::TooFewLines { got: 1 }),
    ];
    for (body, want) in cases {
        assert_eq!(Checkpoint::parse(&body), Err(want.clone()), "{body:?}");
        assert!(!want.to_string().is_empty());
    }
    // The largest size parses.
    let max = format!("Log\n{}\n{ROOT_B64}\n", u64::MAX);
    assert_eq!(Checkpoint::parse(&max).unwrap().size, u64::MAX);
    assert_eq!(
        Checkpoint::parse(&format!("Log\n0\n{ROOT_B64}\n"))
            .unwrap()
            .size,
        0
    );
}

#[test]
fn invalid_checkpoints_are_not_signed() {
    let signer = NoteSigner::from_seed("log", &[7u8; 32]).unwrap();
    let mut cp = Checkpoint::new("", 1, [0u8; 32]);
    assert_eq!(
        sign_checkpoint(&cp, &signer),
        Err(CheckpointError::EmptyOrigin)
    );
    cp.origin = "two\nlines".into();
    assert_eq!(
        sign_checkpoint(&cp, &signer),
        Err(CheckpointError::ControlCharacter { line: 1 })
    );
    cp.origin = "log".into();
    cp.extensions = vec![String::new()];
    assert_eq!(
        sign_checkpoint(&cp, &signer),
        Err(CheckpointError::EmptyExtensionLine { line: 4 })
    );
    cp.extensions = vec!["a\nb".into()];
    assert_eq!(
        sign_checkpoint(&cp, &signer),
        Err(CheckpointError::ControlCharacter { line: 4 })
    );
}

#[test]
fn note_errors_pass_through() {
    let err = open_checkpoint("not a note", &[], None).unwrap_err();
    assert!(matches!(
        err,
        CheckpointError::Note(NoteError::MalformedNote { .. })
    ));
    assert!(
        err.to_string()
            .starts_with("checkpoint note: malformed note")
    );
    assert!(std::error::Error::source(&err).is_some());
    // A validly signed note whose text is not a checkpoint.
    let signer = NoteSigner::from_seed("log", &[7u8; 32]).unwrap();
    let note = sealtrail_tlog::sign_note("hello\n", &[&signer]).unwrap();
    assert_eq!(
        open_checkpoint(&note, &[signer.verifier()], None),
        Err(CheckpointError::TooFewLines { got: 1 })
    );
}
