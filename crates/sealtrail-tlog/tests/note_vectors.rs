//! Signed-note tests against published vectors and malformed inputs.
//!
//! Vectors:
//! - golang/mod, `sumdb/note/note.go` (package doc example) and
//!   `sumdb/note/note_test.go` (`TestNewVerifier`, `TestNewSigner`,
//!   `TestSign`, `TestOpen`): the PeterNeumann and EnochRoot keys and notes.
//! - C2SP/C2SP, `signed-note.md` (v1.1.0, "Example"): the `example.com/foo`
//!   verifier key and signed message; and (v1.0.0) the `quasimodo.example`
//!   note, whose key is not published, used for parsing only.

use sealtrail_tlog::note::{MAX_SIGNATURES, is_valid_key_name};
use sealtrail_tlog::{
    NoteError, NoteSigner, NoteVerifier, ed25519_key_id, open_note, parse_note, sign_note,
};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const FOO_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const FOO_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const QUASIMODO_NOTE: &str = "Ognuno sta solo sul cuor della terra\n\
trafitto da un raggio di sole:\n\
\n\
ed è subito sera.\n\
\n\
\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

fn peter() -> NoteVerifier {
    NoteVerifier::parse(PETER_VKEY).unwrap()
}

fn enoch() -> NoteVerifier {
    NoteVerifier::parse(ENOCH_VKEY).unwrap()
}

#[test]
fn verifier_key_parses_and_round_trips() {
    let v = peter();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), 0xc74f20a3);
    assert_eq!(v.to_string(), PETER_VKEY);
    assert_eq!(
        ed25519_key_id("PeterNeumann", v.verifying_key().as_bytes()),
        0xc74f20a3
    );
    let parsed: NoteVerifier = PETER_VKEY.parse().unwrap();
    assert_eq!(parsed, v);

    let foo = NoteVerifier::parse(FOO_VKEY).unwrap();
    assert_eq!(foo.name(), "example.com/foo");
    assert_eq!(foo.key_id(), 0x530d903a);
    assert_eq!(
        hex::encode(foo.verifying_key().as_bytes()),
        "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    );
    assert_eq!(foo.to_string(), FOO_VKEY);
}

#[test]
fn signer_key_matches_published_verifier() {
    let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(s.verifier_key(), PETER_VKEY);
    assert_eq!(s.to_skey(), PETER_SKEY);
    assert_eq!(s.verifier(), peter());
    // Debug output never shows the secret key.
    let dbg = format!("{s:?}");
    assert!(dbg.contains("PeterNeumann") && dbg.contains("c74f20a3"));
    assert!(!dbg.contains("AYEKFALV"));
}

#[test]
fn signing_reproduces_published_note_byte_for_byte() {
    let s = NoteSigner::from_skey(PETER_SKEY).unwrap();
    let note = sign_note(TEXT, &[&s]).unwrap();
    assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn published_notes_verify() {
    let opened = open_note(&format!("{TEXT}\n{PETER_SIG}"), &[peter()]).unwrap();
    assert_eq!(opened.text, TEXT);
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.verified[0].name, "PeterNeumann");
    assert_eq!(opened.verified[0].key_id, 0xc74f20a3);
    assert_eq!(opened.verified[0].to_line(), PETER_SIG);
    assert!(opened.unknown.is_empty());

    let foo = NoteVerifier::parse(FOO_VKEY).unwrap();
    let opened = open_note(FOO_NOTE, &[foo]).unwrap();
    assert_eq!(opened.text, "This is an example message.\n");
}

#[test]
fn one_known_one_unknown_signature() {
    let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let opened = open_note(&note, &[peter()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.unknown.len(), 1);
    assert_eq!(opened.unknown[0].name, "EnochRoot");
    assert_eq!(opened.unknown[0].key_id, 0xaf0cfe78);

    let both = open_note(&note, &[peter(), enoch()]).unwrap();
    assert_eq!(both.verified.len(), 2);
    assert_eq!(both.verified[1].name, "EnochRoot");
    assert!(both.unknown.is_empty());
}

#[test]
fn adding_a_signature_yields_the_published_doubly_signed_note() {
    // The Enoch signature is over the same text, so concatenating the lines
    // reproduces the doubly signed example of the Go package documentation.
    let peter_signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
    let note = sign_note(TEXT, &[&peter_signer]).unwrap();
    let parsed = parse_note(&note).unwrap();
    let enoch_line = parse_note(&format!("{TEXT}\n{ENOCH_SIG}"))
        .unwrap()
        .signatures;
    let mut rebuilt = format!("{}\n", parsed.text);
    for sig in parsed.signatures.iter().chain(enoch_line.iter()) {
        rebuilt.push_str(&sig.to_line());
    }
    assert_eq!(rebuilt, format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}"));
}

#[test]
fn unverified_note_is_rejected_and_names_unknown_keys() {
    let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let err = open_note(&note, &[]).unwrap_err();
    assert_eq!(
        err,
        NoteError::NoVerifiedSignature {
            unknown: vec!["PeterNeumann+c74f20a3".into(), "EnochRoot+af0cfe78".into()]
        }
    );
    assert!(err.to_string().contains("PeterNeumann+c74f20a3"));
    // Same name, other id (and vice versa) is an unknown key, not a failure.
    let other = NoteSigner::from_seed("PeterNeumann", &[9u8; 32]).unwrap();
    assert!(matches!(
        open_note(&note, &[other.verifier()]),
        Err(NoteError::NoVerifiedSignature { .. })
    ));
}

#[test]
fn invalid_signature_from_known_key_rejects_note() {
    let bad_sig = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let err = open_note(&format!("{TEXT}\n{bad_sig}"), &[peter()]).unwrap_err();
    assert_eq!(
        err,
        NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid signature for key PeterNeumann+c74f20a3"
    );
    // Even after a good signature from the same key.
    assert!(matches!(
        open_note(&format!("{TEXT}\n{PETER_SIG}{bad_sig}"), &[peter()]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Tampered text.
    let tampered = format!(
        "{}\n{PETER_SIG}",
        TEXT.replace("cryptography", "cryptographY")
    );
    assert!(matches!(
        open_note(&tampered, &[peter()]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn duplicate_signatures_are_collapsed() {
    let bad_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let note = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{bad_enoch}");
    let opened = open_note(&note, &[peter()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.unknown.len(), 2);
}

#[test]
fn identical_duplicate_verifiers_are_accepted() {
    // Only *different* keys sharing a name and id are ambiguous (see the unit
    // test in note.rs); listing the same key twice is harmless.
    let note = format!("{TEXT}\n{PETER_SIG}");
    open_note(&note, &[peter(), peter()]).unwrap();
}

#[test]
fn too_many_signatures() {
    let note = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        open_note(&note, &[peter()]),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        })
    );
    let note = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES));
    open_note(&note, &[peter()]).unwrap();
}

#[test]
fn malformed_notes_are_named_precisely() {
    let ok = format!("{TEXT}\n{PETER_SIG}");
    let cases: Vec<(String, NoteError)> = vec![
        (
            TEXT.to_string(),
            NoteError::MalformedNote {
                reason: "no blank line separates the text from the signatures",
            },
        ),
        (
            format!("{TEXT}\n"),
            NoteError::MalformedNote {
                reason: "no signature lines after the blank line",
            },
        ),
        (
            ok[..ok.len() - 1].to_string(),
            NoteError::MalformedNote {
                reason: "the last signature line does not end with a newline",
            },
        ),
        (
            format!("\x01{ok}"),
            NoteError::ControlCharacter { offset: 0 },
        ),
        (
            // The name ends at the first space, leaving "Name x08go..." as
            // the signature field.
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "signature is not standard base64",
            },
        ),
        (
            format!("{ok}Unexpected line.\n"),
            NoteError::MalformedSignatureLine {
                line: 2,
                reason: "does not start with an em dash (U+2014) and a space",
            },
        ),
        (
            format!("{TEXT}\n-- PeterNeumann AAAAAAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "does not start with an em dash (U+2014) and a space",
            },
        ),
        (
            format!("{TEXT}\n\u{2014} PeterNeumann\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "missing space between key name and signature",
            },
        ),
        (
            format!("{TEXT}\n\u{2014} PeterNeumann \n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "empty signature",
            },
        ),
        (
            format!("{TEXT}\n\u{2014} PeterNeumann not*base64\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "signature is not standard base64",
            },
        ),
        (
            format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "signature shorter than its 4-byte key id",
            },
        ),
        (
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "signature has a key id but no signature bytes",
            },
        ),
        (
            format!("{TEXT}\n\u{2014}  PeterNeumann AAAAAAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "invalid key name",
            },
        ),
    ];
    for (note, want) in cases {
        assert_eq!(open_note(&note, &[peter()]), Err(want.clone()), "{note:?}");
        assert!(!want.to_string().is_empty());
    }
    // A tab inside the text is a control character too, with its offset.
    let tabbed = format!("If you\tthink\n\n{PETER_SIG}");
    assert_eq!(
        parse_note(&tabbed),
        Err(NoteError::ControlCharacter { offset: 6 })
    );
}

#[test]
fn text_may_contain_blank_lines() {
    let parsed = parse_note(QUASIMODO_NOTE).unwrap();
    assert_eq!(
        parsed.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(parsed.signatures.len(), 1);
    assert_eq!(parsed.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(parsed.signatures[0].signature.len(), 64);
    assert!(matches!(
        open_note(QUASIMODO_NOTE, &[peter()]),
        Err(NoteError::NoVerifiedSignature { .. })
    ));

    let s = NoteSigner::from_seed("example.com/poem", &[3u8; 32]).unwrap();
    let text = "line one\n\nline three\n\n";
    let note = sign_note(text, &[&s]).unwrap();
    let opened = open_note(&note, &[s.verifier()]).unwrap();
    assert_eq!(opened.text, text);
}

#[test]
fn verifier_key_manglings_are_rejected() {
    // Every proper substring and every single-byte increment must fail.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = std::str::from_utf8(&b[i..j]).unwrap();
            assert!(NoteVerifier::parse(s).is_err(), "accepted {s:?}");
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let s = String::from_utf8(m).unwrap();
        assert!(NoteVerifier::parse(&s).is_err(), "accepted {s:?}");
    }
}

#[test]
fn signer_key_manglings_are_rejected() {
    let b = PETER_SKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = std::str::from_utf8(&b[i..j]).unwrap();
            assert!(NoteSigner::from_skey(s).is_err(), "accepted {s:?}");
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let s = String::from_utf8(m).unwrap();
        assert!(NoteSigner::from_skey(&s).is_err(), "accepted {s:?}");
    }
}

#[test]
fn verifier_key_errors_are_specific() {
    // Wrong key length; its last base64 group also has non-zero padding
    // bits, which strict decoding rejects first.
    assert_eq!(
        NoteVerifier::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(NoteError::MalformedVerifierKey {
            reason: "key material is not standard base64"
        })
    );
    let long_key = format!("AR{}", "A".repeat(46));
    let long = NoteVerifier::parse(&format!("PeterNeumann+c74f20a3+{long_key}"));
    assert_eq!(
        long,
        Err(NoteError::MalformedVerifierKey {
            reason: "Ed25519 key material must be 32 bytes"
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::UnknownAlgorithm { alg: 0x65 })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::KeyIdMismatch {
            name: "PeterNeumann".into(),
            stated: 0xc74f20a4,
            computed: 0xc74f20a3
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::MalformedVerifierKey {
            reason: "key id must be 8 lowercase hex digits"
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann"),
        Err(NoteError::MalformedVerifierKey {
            reason: "missing '+' after the key name"
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+c74f20a3"),
        Err(NoteError::MalformedVerifierKey {
            reason: "missing '+' after the key id"
        })
    );
    assert_eq!(
        NoteVerifier::parse("Peter Neumann+c74f20a3+AQ=="),
        Err(NoteError::InvalidKeyName {
            name: "Peter Neumann".into()
        })
    );
    assert_eq!(
        NoteVerifier::parse("+c74f20a3+AQ=="),
        Err(NoteError::InvalidKeyName {
            name: String::new()
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+c74f20a3+"),
        Err(NoteError::MalformedVerifierKey {
            reason: "key material is empty"
        })
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+c74f20a3+A!"),
        Err(NoteError::MalformedVerifierKey {
            reason: "key material is not standard base64"
        })
    );
    assert_eq!(
        NoteSigner::from_skey(
            "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        )
        .unwrap_err(),
        NoteError::MalformedSignerKey {
            reason: "missing PRIVATE+KEY+ prefix"
        }
    );
    // A signer key string whose id does not match its derived public key.
    assert!(matches!(
        NoteSigner::from_skey(
            "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        ),
        Err(NoteError::KeyIdMismatch { .. })
    ));
    // Base64 containing '+' is split correctly.
    let plus = NoteSigner::from_seed("TEST", &[0u8; 32]).unwrap();
    let vkey = plus.verifier_key();
    assert_eq!(NoteVerifier::parse(&vkey).unwrap(), plus.verifier());
}

#[test]
fn key_names() {
    for good in ["a", "example.com/log42", "sum.golang.org", "ünïcode"] {
        assert!(is_valid_key_name(good), "{good:?}");
    }
    for bad in [
        "",
        "a+b",
        "a b",
        "a\tb",
        "a\u{a0}b",
        "a\u{3000}b",
        "a\nb",
        "a\u{1}b",
    ] {
        assert!(!is_valid_key_name(bad), "{bad:?}");
        assert!(matches!(
            NoteSigner::from_seed(bad, &[1u8; 32]),
            Err(NoteError::InvalidKeyName { .. })
        ));
    }
}

#[test]
fn sign_note_rejects_bad_input() {
    let s = NoteSigner::from_seed("example.com/log", &[5u8; 32]).unwrap();
    let cases = [
        ("", "text is empty"),
        ("abc", "text does not end with a newline"),
        (
            "a\rb\n",
            "text contains an ASCII control character other than newline",
        ),
    ];
    for (text, reason) in cases {
        assert_eq!(
            sign_note(text, &[&s]),
            Err(NoteError::InvalidText { reason }),
            "{text:?}"
        );
    }
    assert_eq!(sign_note("abc\n", &[]), Err(NoteError::NoSigners));
    assert_eq!(
        sign_note("abc\n", &[&s, &s]),
        Err(NoteError::DuplicateSigner {
            name: "example.com/log".into(),
            key_id: s.key_id()
        })
    );
}

#[test]
fn multiple_signers_round_trip() {
    let a = NoteSigner::generate("example.com/a").unwrap();
    let b = NoteSigner::generate("example.com/b").unwrap();
    assert_ne!(a.verifier_key(), b.verifier_key());
    let note = sign_note("hello\n", &[&a, &b]).unwrap();
    let opened = open_note(&note, &[b.verifier(), a.verifier()]).unwrap();
    assert_eq!(opened.verified.len(), 2);
    assert_eq!(opened.verified[0].name, "example.com/a");
    // Generated keys survive the signer-key string round trip.
    let again = NoteSigner::from_skey(&a.to_skey()).unwrap();
    assert_eq!(again.verifier(), a.verifier());
    assert_eq!(
        sign_note("x\n", &[&again]).unwrap(),
        sign_note("x\n", &[&a]).unwrap()
    );
    assert!(NoteSigner::generate("bad name").is_err());
}
