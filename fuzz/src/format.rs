//! The sealed value (docs/FORMAT.md): the shape check of an age ciphertext
//! ([`ciphertext`]), opening a sealed value ([`envelope`]) and the binding header line
//! inside it ([`header`]).

use std::str::FromStr;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use seal_core::binding::{FORMAT_V1, Header, MAX_HEADER_LEN};
use seal_core::ciphertext::{self, MAX_GREASE, MAX_HEADER, MAX_STANZAS};
use seal_core::envelope::{open_value, open_value_with_age, seal_value, shape};
use seal_core::{Binding, KeyRing, OpenError, Recipients, Scope, names};
use zeroize::Zeroizing;

use super::common::assert_no_identity_echo;

/// The age v1 magic line.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The payload nonce, and the tag of each STREAM chunk of 64 KiB.
const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 16;
const CHUNK_LEN: usize = 64 * 1024;

/// The throw-away, public key pair of keys-example/ (see its README).
const IDENTITY_FILE: &str = include_str!("../../keys-example/identity.txt");
const RECIPIENTS_FILE: &str = include_str!("../../keys-example/recipients.txt");
/// A recipient whose identity is nowhere here (the vectors' second recipient).
const OTHER_RECIPIENT: &str = "age1qegwqnmnd4wqfq30v8phuqpyvulpg7zsd66f70wf2fq87r0gccasvvmspm";

/// The keys-example identity as a key ring, as an age identity and as recipients.
pub struct Keys {
    ring: KeyRing,
    identity: age::x25519::Identity,
    recipients: Recipients,
    ours: String,
}

/// The keys every check of this module opens with (parsed once).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut ring = KeyRing::new();
        ring.add_file(
            "keys-example/identity.txt",
            &Zeroizing::new(IDENTITY_FILE.to_owned()),
        )
        .expect("keys-example/identity.txt is an identity file");
        let line = IDENTITY_FILE
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .expect("keys-example/identity.txt holds an identity");
        let identity = age::x25519::Identity::from_str(line).expect("a valid identity");
        let mut recipients = Recipients::new();
        recipients
            .add_file("keys-example/recipients.txt", RECIPIENTS_FILE)
            .expect("keys-example/recipients.txt is a recipients file");
        let ours = identity.to_public().to_string();
        assert_eq!(recipients.to_strings(), std::slice::from_ref(&ours));
        Keys {
            ring,
            identity,
            recipients,
            ours,
        }
    })
}

impl Keys {
    /// One of four `spec.recipients` hints: none, ours, another's, both.
    fn hint(&self, selector: u8) -> Vec<String> {
        match selector & 3 {
            0 => Vec::new(),
            1 => vec![self.ours.clone()],
            2 => vec![OTHER_RECIPIENT.to_owned()],
            _ => vec![OTHER_RECIPIENT.to_owned(), self.ours.clone()],
        }
    }

    /// Whether the key ring tries its identity under `hint`.
    fn tried(&self, hint: &[String]) -> bool {
        hint.is_empty() || hint.contains(&self.ours)
    }
}

/// One of four places a value can stand.
fn standing(selector: u8) -> Binding {
    let (scope, namespace, name) = match selector & 3 {
        0 => (Scope::Strict, "apps", "db"),
        1 => (Scope::Namespace, "apps", "db"),
        2 => (Scope::Cluster, "", ""),
        _ => (Scope::Strict, "apps", "other"),
    };
    Binding::new(scope, namespace, name, "password").expect("a valid binding")
}

/// What the age format says of a header, worked out here independently of seal-core:
/// the stanza tags before the first `---` line, and where that line ends.
struct Stanzas {
    x25519: usize,
    grease: usize,
    foreign: usize,
    header_len: usize,
    longest_line: usize,
}

fn stanzas(bytes: &[u8]) -> Option<Stanzas> {
    let body = bytes.strip_prefix(MAGIC)?;
    let mut found = Stanzas {
        x25519: 0,
        grease: 0,
        foreign: 0,
        header_len: 0,
        longest_line: 0,
    };
    let mut at = 0;
    loop {
        let eol = body[at..].iter().position(|b| *b == b'\n')?;
        let line = &body[at..at + eol];
        at += eol + 1;
        found.longest_line = found.longest_line.max(eol);
        if line.starts_with(b"---") {
            found.header_len = MAGIC.len() + at;
            return Some(found);
        }
        if let Some(stanza) = line.strip_prefix(b"-> ") {
            let tag = stanza.split(|b| *b == b' ').next().unwrap_or_default();
            if tag == b"X25519" {
                found.x25519 += 1;
            } else if tag.ends_with(b"-grease") {
                found.grease += 1;
            } else {
                found.foreign += 1;
            }
        }
    }
}

/// `ciphertext::read` and `ciphertext::check` on arbitrary bytes: they accept exactly the
/// headers of seal's shape (1 to [`MAX_STANZAS`] X25519 stanzas, at most [`MAX_GREASE`]
/// grease ones, nothing else, a header of at most [`MAX_HEADER`] bytes, a payload of at
/// least a nonce and a tag), and measure them right.
pub fn ciphertext(data: &[u8]) {
    let read = ciphertext::read(data);
    let expected = stanzas(data);
    match (&read, &expected) {
        (Ok(shape), Some(found)) => {
            assert_eq!(shape.x25519_stanzas, found.x25519, "X25519 stanzas");
            assert_eq!(shape.other_stanzas, found.grease, "grease stanzas");
            assert_eq!(found.foreign, 0, "a foreign stanza was accepted");
            assert!((1..=MAX_STANZAS).contains(&shape.x25519_stanzas));
            assert!(shape.other_stanzas <= MAX_GREASE);
            assert_eq!(shape.header_len, found.header_len, "header length");
            assert!(
                shape.header_len <= MAX_HEADER,
                "a header of {} bytes was accepted (MAX_HEADER is {MAX_HEADER})",
                shape.header_len
            );
            assert_eq!(shape.ciphertext_len, data.len());
            let stream = data.len() - shape.header_len - NONCE_LEN;
            assert!(stream >= TAG_LEN, "a payload without a tag was accepted");
            let chunks = stream.div_ceil(CHUNK_LEN + TAG_LEN);
            assert_eq!(shape.plaintext_len, stream - chunks * TAG_LEN);
        }
        (Ok(_), None) => panic!("accepted bytes that are not an age header"),
        (Err(e), found) => {
            if let Some(found) = found {
                let refusable = found.x25519 == 0
                    || found.x25519 > MAX_STANZAS
                    || found.grease > MAX_GREASE
                    || found.foreign > 0
                    || found.header_len > MAX_HEADER
                    || found.longest_line > MAX_HEADER
                    || data.len() < found.header_len + NONCE_LEN + TAG_LEN;
                assert!(refusable, "refused a header of seal's shape: {e:?}");
                if found.x25519 > MAX_STANZAS || found.grease > MAX_GREASE {
                    assert!(matches!(e, OpenError::BadShape { .. }), "{e:?}");
                }
            }
        }
    }
    for listed in [0usize, 1, 2, MAX_STANZAS] {
        let hint = vec![String::new(); listed];
        let checked = ciphertext::check(data, &hint);
        match &read {
            Ok(shape) if listed == 0 || shape.x25519_stanzas <= listed => {
                assert_eq!(checked.as_ref(), Ok(shape));
            }
            Ok(_) => assert!(matches!(checked, Err(OpenError::BadShape { .. }))),
            Err(e) => assert_eq!(checked.as_ref(), Err(e)),
        }
    }
}

/// `envelope::open_value` with the keys-example identity. The first byte picks the
/// hint (bits 2–3), where the value stands (bits 4–5) and what the rest is (bits 0–1):
///
/// - 0: base64 text as found in a manifest, opened as it is;
/// - 1: an age ciphertext, base64-encoded and opened;
/// - 2: a binding and a value (`scope byte, namespace \0 name \0 key \0 value`), sealed
///   with `seal_value` and opened where it was sealed for and where it was moved to;
/// - 3: a plaintext, encrypted to the keys-example recipient with age (so any header
///   line, well-formed or not) and opened.
///
/// Opening gives exactly the value after a header that binds where it stands, or the
/// error that explains why not; an error never shows plaintext.
pub fn envelope(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let keys = keys();
    let hint = keys.hint(selector >> 2);
    let at = standing(selector >> 4);
    match selector & 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let opened = same_as_age_reader(&text, &at, &keys.ring, &hint);
            if let Err(e) = &opened {
                assert_no_identity_echo(rest, &e.to_string());
            }
            match ciphertext::decode(&text) {
                Ok(bytes) => {
                    assert_eq!(shape(&text), ciphertext::read(&bytes));
                    expect_open(&bytes, &at, &hint, opened);
                }
                Err(e) => assert_eq!(opened.map(|_| ()), Err(e)),
            }
        }
        1 => {
            let opened = same_as_age_reader(&STANDARD.encode(rest), &at, &keys.ring, &hint);
            expect_open(rest, &at, &hint, opened);
        }
        2 => seal_and_open(rest, &hint),
        _ => {
            let sealed = age::encrypt(&keys.identity.to_public(), rest).expect("age encrypts");
            let opened = same_as_age_reader(&STANDARD.encode(&sealed), &at, &keys.ring, &hint);
            expect_open(&sealed, &at, &hint, opened);
        }
    }
}

/// [`open_value`], which reads the files `seal` writes in one pass, gives exactly what
/// the `age` crate's general reader gives ([`open_value_with_age`]): the same value or
/// the same error.
fn same_as_age_reader(
    sealed: &str,
    at: &Binding,
    ring: &KeyRing,
    hint: &[String],
) -> Result<seal_core::SecretBytes, OpenError> {
    let opened = open_value(sealed, at, ring, hint);
    let reference = open_value_with_age(sealed, at, ring, hint);
    assert_eq!(
        opened.as_ref().map(|v| v.expose().to_vec()),
        reference.as_ref().map(|v| v.expose().to_vec()),
        "the one-pass reader and the age crate's reader disagree"
    );
    opened
}

/// What opening `bytes` must give, worked out with the age library directly.
fn expect_open(
    bytes: &[u8],
    at: &Binding,
    hint: &[String],
    opened: Result<seal_core::SecretBytes, OpenError>,
) {
    let keys = keys();
    let opened = opened.map(|v| v.expose().to_vec());
    if let Err(e) = ciphertext::check(bytes, hint) {
        assert_eq!(opened, Err(e), "the shape check comes first");
        return;
    }
    let Ok(plaintext) = age::decrypt(&keys.identity, bytes) else {
        assert!(
            matches!(
                opened,
                Err(OpenError::NotAge | OpenError::DecryptFailed | OpenError::NoMatchingKey)
            ),
            "age refuses it but open_value gave {opened:?}"
        );
        return;
    };
    if !keys.tried(hint) {
        assert_eq!(opened, Err(OpenError::NoMatchingKey));
        return;
    }
    let expected = Header::split(&plaintext).and_then(|(header, value)| {
        at.accepts(&header)?;
        Ok(value.to_vec())
    });
    assert_eq!(opened, expected);
    match &opened {
        Ok(value) => {
            let mut whole = at.header_line().into_bytes();
            whole.extend_from_slice(value);
            assert_eq!(whole, plaintext, "the header line is canonical");
        }
        Err(e) => {
            assert_error_shows_no_plaintext(e, at);
            assert_no_identity_echo(&plaintext, &e.to_string());
        }
    }
}

/// The errors of an opened value show only a version token of our shape, or the names
/// of the binding (which Kubernetes rules keep short and free of spaces).
fn assert_error_shows_no_plaintext(error: &OpenError, at: &Binding) {
    match error {
        OpenError::UnsupportedVersion { version } => {
            let ours = version.len() <= 32
                && version
                    .strip_prefix("seal.dev/")
                    .is_some_and(|v| v.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(
                ours,
                "a version token not of our shape is shown: {version:?}"
            );
        }
        OpenError::ScopeMismatch {
            field,
            sealed_for,
            stands_in,
        } => {
            let (valid, here) = match *field {
                "scope" => (Scope::from_str(sealed_for).is_ok(), at.scope.as_str()),
                "namespace" => (names::check_namespace(sealed_for).is_ok(), &*at.namespace),
                "name" => (names::check_object_name(sealed_for).is_ok(), &*at.name),
                "key" => (names::check_key(sealed_for).is_ok(), &*at.key),
                other => panic!("unknown field {other}"),
            };
            assert!(valid, "{field} {sealed_for:?} is shown but is not a name");
            assert_eq!(stands_in, here);
        }
        _ => {}
    }
}

/// Mode 2 of [`envelope`]: a value sealed for a binding opens there, shows its length in
/// its shape, and fails to open wherever the scope says it must not travel.
fn seal_and_open(data: &[u8], hint: &[String]) {
    let Some((&scope, rest)) = data.split_first() else {
        return;
    };
    let scope = [Scope::Strict, Scope::Namespace, Scope::Cluster][usize::from(scope % 3)];
    let mut parts = rest.splitn(4, |b| *b == 0);
    let (Some(namespace), Some(name), Some(key), Some(value)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(namespace), Ok(name), Ok(key)) = (
        std::str::from_utf8(namespace),
        std::str::from_utf8(name),
        std::str::from_utf8(key),
    ) else {
        return;
    };
    let Ok(binding) = Binding::new(scope, namespace, name, key) else {
        return;
    };
    let mut plain = binding.header_line().into_bytes();
    plain.extend_from_slice(value);
    let (header, rest) = Header::split(&plain).expect("a header we wrote splits");
    assert_eq!(rest, value);
    assert_eq!(binding.accepts(&header), Ok(()));

    let keys = keys();
    let sealed = seal_value(&binding, value, &keys.recipients).expect("seals");
    let measured = shape(&sealed).expect("a sealed value has seal's shape");
    assert_eq!(measured.x25519_stanzas, 1);
    assert_eq!(measured.value_len(&binding), value.len());
    let opened = open_value(&sealed, &binding, &keys.ring, hint).map(|v| v.expose().to_vec());
    if keys.tried(hint) {
        assert_eq!(opened, Ok(value.to_vec()));
    } else {
        assert_eq!(opened, Err(OpenError::NoMatchingKey));
    }

    let moved = |field: &'static str, to: Binding| {
        let bound = match field {
            "namespace" => scope.binds_namespace(),
            "name" => scope.binds_name(),
            _ => true,
        };
        let opened = open_value(&sealed, &to, &keys.ring, &[]).map(|v| v.expose().to_vec());
        match opened {
            Err(OpenError::ScopeMismatch { field: f, .. }) if bound => assert_eq!(f, field),
            Ok(v) if !bound => assert_eq!(v, value),
            other => panic!("moving {field} of a {scope} value gave {other:?}"),
        }
    };
    let other = |s: &str| {
        if s == "z" {
            "y".to_owned()
        } else {
            "z".to_owned()
        }
    };
    moved(
        "namespace",
        Binding {
            namespace: other(&binding.namespace),
            ..binding.clone()
        },
    );
    moved(
        "name",
        Binding {
            name: other(&binding.name),
            ..binding.clone()
        },
    );
    moved(
        "key",
        Binding {
            key: other(&binding.key),
            ..binding.clone()
        },
    );
    let wider = if scope == Scope::Cluster {
        Scope::Strict
    } else {
        Scope::Cluster
    };
    moved(
        "scope",
        Binding {
            scope: wider,
            ..binding.clone()
        },
    );
}

/// `Header::split` on arbitrary bytes: it accepts exactly one way of writing each
/// binding (the line `Binding::header_line` writes), gives back the rest as the value,
/// and refuses anything else without showing it.
pub fn header(data: &[u8]) {
    match Header::split(data) {
        Ok((header, value)) => {
            let end = data
                .iter()
                .position(|b| *b == b'\n')
                .expect("a header ends with a newline");
            assert!(end < MAX_HEADER_LEN, "a header past MAX_HEADER_LEN");
            assert_eq!(value, &data[end + 1..]);
            assert_eq!(header.namespace.is_some(), header.scope.binds_namespace());
            assert_eq!(header.name.is_some(), header.scope.binds_name());
            let binding = Binding::new(
                header.scope,
                header.namespace.as_deref().unwrap_or_default(),
                header.name.as_deref().unwrap_or_default(),
                &header.key,
            )
            .expect("an accepted header names a valid binding");
            assert_eq!(
                binding.header_line().as_bytes(),
                &data[..=end],
                "the header line is not canonical"
            );
            assert_eq!(binding.accepts(&header), Ok(()));
        }
        Err(e) => {
            match &e {
                OpenError::NotSealFormat => {}
                OpenError::UnsupportedVersion { version } => {
                    let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
                    let first = line.split(|b| *b == b' ').next().unwrap_or_default();
                    assert_eq!(version.as_bytes(), first);
                    assert_ne!(version, FORMAT_V1);
                }
                other => panic!("Header::split gave {other:?}"),
            }
            assert_error_shows_no_plaintext(&e, &standing(0));
            assert_no_identity_echo(data, &e.to_string());
        }
    }
}
