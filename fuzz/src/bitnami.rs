//! `seal migrate`'s readers of bitnami sealed-secrets input: the key file
//! (`BitnamiKeys::add_file`: PEM or key Secrets) and each `bitnami.com/v1alpha1`
//! SealedSecret of a manifest (`BitnamiSealedSecret::read`, then `open` with the example
//! key of keys-example/).

use std::sync::OnceLock;

use seal_core::bitnami::object::is_bitnami;
use seal_core::bitnami::{BitnamiKeys, BitnamiSealedSecret};
use seal_core::documents;

use super::common::assert_no_identity_echo;

/// The throw-away bitnami key of keys-example/ (published on purpose).
const EXAMPLE_KEY: &str = include_str!("../../keys-example/sealed-secrets.key");

fn example_keys() -> &'static BitnamiKeys {
    static KEYS: OnceLock<BitnamiKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = BitnamiKeys::new();
        keys.add_file("example", EXAMPLE_KEY)
            .expect("the example key reads");
        keys
    })
}

/// On arbitrary text:
///
/// - as a key file: it adds keys or fails adding none, with one line that shows neither
///   a PEM body nor an age identity of the input;
/// - as manifests: each bitnami SealedSecret reads or is refused in one line; one that
///   reads opens to exactly its keys under its own name and namespace, or is refused in
///   one line that holds none of its sealed values.
pub fn bitnami(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut keys = BitnamiKeys::new();
    if let Err(e) = keys.add_file("fuzz.pem", text) {
        let message = e.to_string();
        assert!(keys.is_empty(), "a refused key file added keys");
        assert!(!message.contains('\n'), "one line: {message:?}");
        assert!(!message.contains("MII"), "a PEM body shown: {message}");
        assert_no_identity_echo(data, &message);
    }
    let Ok(docs) = documents::parse("fuzz.yaml", text) else {
        return;
    };
    for doc in docs.iter().filter(|d| is_bitnami(&d.value)) {
        let object = match BitnamiSealedSecret::read(&doc.value, None) {
            Ok(object) => object,
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains('\n'), "one line: {message:?}");
                continue;
            }
        };
        match object.open(example_keys()) {
            Ok(plain) => {
                assert_eq!(plain.name, object.name);
                assert_eq!(plain.namespace, object.namespace);
                assert!(plain.data.keys().eq(object.encrypted_data.keys()));
            }
            Err(e) => {
                let message = e.to_string();
                assert!(!message.contains('\n'), "one line: {message:?}");
                for value in object.encrypted_data.values().filter(|v| v.len() >= 8) {
                    assert!(!message.contains(value.as_str()), "a sealed value shown");
                }
            }
        }
    }
}
