//! The manifest reader: `documents::parse` (multi-document YAML, JSON streams, `List`
//! kinds), then each document as a Secret (`PlainSecret::from_value`) and as a
//! SealedSecret (`convert::sealed_secret_from_value`).

use seal_core::documents::{self, Format};
use seal_core::error::Error;
use seal_core::{PlainSecret, SealedSecret, convert, names};
use serde_json::Value;

use super::common::{as_json, assert_no_identity_echo, assert_no_secret_echo};

/// The file name the documents are read under.
const FILE: &str = "fuzz.yaml";

/// The annotation `kubectl apply` keeps the whole plaintext Secret in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `documents::parse` on arbitrary text, then every document it yields as a Secret and
/// as a SealedSecret:
///
/// - a syntax error names a place and never the text; the only other refusal is a List
///   without items;
/// - every document is numbered from 1 in order, and writing it out as YAML (and as JSON
///   when it is an object) reads back to the same value;
/// - a Secret or SealedSecret that reads writes back out (JSON and YAML) and reads again
///   to the same object; one that does not is refused without echoing a value of
///   `data`/`stringData` (or of the last-applied annotation) or an age identity.
pub fn documents(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let docs = match documents::parse(FILE, text) {
        Ok(docs) => docs,
        Err(e) => {
            match &e {
                Error::Syntax { at, .. } => {
                    assert_eq!(at.file, FILE);
                    assert!(at.document.is_some_and(|d| d >= 1), "{at:?}");
                    assert_eq!(at.item, None);
                }
                Error::Field { field, problem, .. } if field == "items" => {
                    assert_eq!(problem, "a List needs an items array");
                }
                other => panic!("documents::parse gave {other:?}"),
            }
            return;
        }
    };
    let mut last = 0;
    for doc in docs {
        assert_eq!(doc.at.file, FILE);
        let index = doc.at.document.expect("a document has an index");
        assert!(index >= 1 && index >= last, "{:?} after {last}", doc.at);
        last = index;
        if doc.at.item.is_none() {
            assert!(!doc.value.is_null(), "an empty document was kept");
        }
        round_trip(&doc.value);
        secret(data, &doc.value);
        sealed_secret(data, &doc.value);
    }
}

/// Whether a value is expanded by `documents::parse` rather than kept as one document.
fn expands(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => {
            map.contains_key("items")
                && map
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
        }
        _ => false,
    }
}

/// A document written out by `documents::render` reads back to the same value.
fn round_trip(value: &Value) {
    if expands(value) {
        return;
    }
    let mut formats = vec![Format::Yaml];
    if value.is_object() {
        formats.push(Format::Json);
    }
    for format in formats {
        let text = documents::render(std::slice::from_ref(value), format).expect("renders");
        let back = documents::parse(FILE, &text)
            .unwrap_or_else(|e| panic!("{format:?} we wrote does not read: {e}\n{}", &*text));
        let values: Vec<&Value> = back.iter().map(|d| &d.value).collect();
        assert_eq!(values, [value], "{format:?} round trip of\n{}", &*text);
    }
}

/// The strings of a document that are secret (values of `data` and `stringData`, the
/// last-applied annotation) and every other string and key, which an error may name.
fn secrets_and_names(value: &Value) -> (Vec<&[u8]>, Vec<&[u8]>) {
    let mut secrets = Vec::new();
    let mut public = Vec::new();
    fn walk<'a>(
        value: &'a Value,
        secret: bool,
        secrets: &mut Vec<&'a [u8]>,
        public: &mut Vec<&'a [u8]>,
    ) {
        match value {
            Value::String(s) if secret => secrets.push(s.as_bytes()),
            Value::String(s) => public.push(s.as_bytes()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, secret, secrets, public)),
            Value::Object(map) => {
                for (k, v) in map {
                    public.push(k.as_bytes());
                    walk(v, secret, secrets, public);
                }
            }
            _ => {}
        }
    }
    let Value::Object(root) = value else {
        walk(value, false, &mut secrets, &mut public);
        return (secrets, public);
    };
    for (key, v) in root {
        public.push(key.as_bytes());
        let secret = matches!(key.as_str(), "data" | "stringData");
        match (key.as_str(), v) {
            (_, Value::Object(map)) if secret => {
                for (k, v) in map {
                    public.push(k.as_bytes());
                    walk(v, true, &mut secrets, &mut public);
                }
            }
            ("metadata", Value::Object(metadata)) => {
                for (k, v) in metadata {
                    public.push(k.as_bytes());
                    match (k.as_str(), v) {
                        ("annotations", Value::Object(annotations)) => {
                            for (name, a) in annotations {
                                public.push(name.as_bytes());
                                walk(a, name == LAST_APPLIED, &mut secrets, &mut public);
                            }
                        }
                        _ => walk(v, false, &mut secrets, &mut public),
                    }
                }
            }
            _ => walk(v, false, &mut secrets, &mut public),
        }
    }
    (secrets, public)
}

/// Replaces every secret string of a document (see [`secrets_and_names`]) by `filler`.
fn replace_secrets(value: &mut Value, filler: &str) {
    fn fill(value: &mut Value, filler: &str) {
        match value {
            Value::String(s) => filler.clone_into(s),
            Value::Array(items) => items.iter_mut().for_each(|v| fill(v, filler)),
            Value::Object(map) => map.values_mut().for_each(|v| fill(v, filler)),
            _ => {}
        }
    }
    let Value::Object(root) = value else {
        return;
    };
    for (key, v) in root.iter_mut() {
        match (key.as_str(), v) {
            ("data" | "stringData", Value::Object(map)) => {
                map.values_mut().for_each(|v| fill(v, filler));
            }
            ("metadata", Value::Object(metadata)) => {
                if let Some(Value::Object(annotations)) = metadata.get_mut("annotations")
                    && let Some(a) = annotations.get_mut(LAST_APPLIED)
                {
                    fill(a, filler);
                }
            }
            _ => {}
        }
    }
}

/// `PlainSecret::from_value`: reads back what it writes, refuses without echoing.
fn secret(input: &[u8], value: &Value) {
    match PlainSecret::from_value(value.clone()) {
        Ok(secret) => {
            assert!(names::check_object_name(&secret.name).is_ok());
            if let Some(ns) = &secret.namespace {
                assert!(names::check_namespace(ns).is_ok());
            }
            assert!(!secret.annotations.contains_key(LAST_APPLIED));
            let json = serde_json::to_value(secret.manifest()).expect("serializes");
            let again = PlainSecret::from_value(json).expect("a Secret we wrote reads");
            assert_eq!(again, secret, "JSON round trip");
            let yaml = documents::render(&[secret.manifest()], Format::Yaml).expect("renders");
            let docs = documents::parse(FILE, &yaml).expect("YAML we wrote parses");
            assert_eq!(docs.len(), 1);
            let again = PlainSecret::from_value(docs[0].value.clone()).expect("reads");
            assert_eq!(again, secret, "YAML round trip of\n{}", &*yaml);
        }
        Err(e) => {
            let message = e.to_string();
            let (secrets, mut public) = secrets_and_names(value);
            // What the refusal says of the same document with other values is fixed text
            // (or names), not an echo: a value may well contain "expected Secret".
            let twins: Vec<String> = ["AAAA", "!"]
                .iter()
                .filter_map(|filler| {
                    let mut twin = value.clone();
                    replace_secrets(&mut twin, filler);
                    PlainSecret::from_value(twin).err().map(|e| e.to_string())
                })
                .collect();
            public.extend(twins.iter().map(|t| t.as_bytes()));
            assert_no_secret_echo(&secrets, &public, &message);
            assert_no_identity_echo(input, &message);
        }
    }
}

/// `convert::sealed_secret_from_value`: reads back what it writes, refuses without
/// echoing an identity.
fn sealed_secret(input: &[u8], value: &Value) {
    match convert::sealed_secret_from_value(value.clone()) {
        Ok(sealed) => {
            let name = sealed.metadata.name.as_deref().expect("a name");
            assert!(names::check_object_name(name).is_ok());
            if let Some(ns) = &sealed.metadata.namespace {
                assert!(names::check_namespace(ns).is_ok());
            }
            let json = as_json(&sealed);
            let again =
                convert::sealed_secret_from_value(json.clone()).expect("one we wrote reads");
            assert_eq!(as_json(&again), json, "JSON round trip");
            let yaml = documents::render(&[&sealed], Format::Yaml).expect("renders");
            let docs = documents::parse(FILE, &yaml).expect("YAML we wrote parses");
            assert_eq!(docs.len(), 1);
            let again: SealedSecret = convert::sealed_secret_from_value(docs[0].value.clone())
                .expect("YAML we wrote reads");
            assert_eq!(as_json(&again), json, "YAML round trip of\n{}", &*yaml);
            let for_git = convert::for_git(&sealed);
            assert_eq!(for_git.spec, sealed.spec);
            assert_eq!(for_git.status, None);
        }
        Err(e) => assert_no_identity_echo(input, &e.to_string()),
    }
}
