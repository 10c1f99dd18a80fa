//! What the API server does to an object on every write before storing it, as far as
//! the controller's objects go: a Secret's `stringData` merged into `data` (it wins) and
//! dropped, its `type` defaulted to `Opaque`, its keys checked (`[-._a-zA-Z0-9]+`, at
//! most 253 characters, not `.`, `..` or `..`-prefixed) and its size capped at 1 MiB;
//! a SealedSecret's schema defaults filled in and its `spec.mode` and `spec.scope` enums
//! checked (deploy/cluster/crd.yaml). Refusals are 422 Invalid with the real message.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::path::ResourceKind;
use crate::store::ApiError;

/// kube-apiserver's cap on a Secret's data (`core.MaxSecretSize`).
const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// The longest key a Secret or ConfigMap may have.
const MAX_KEY_LENGTH: usize = 253;

/// The SealedSecret CRD's enums: the field and its values, in the schema's order.
const SEALED_SECRET_ENUMS: [(&str, &[&str]); 2] = [
    ("mode", &["Owned", "Merge"]),
    ("scope", &["strict", "namespace", "cluster"]),
];

/// Defaults, merges and checks `body` (a whole object about to be stored).
pub(crate) fn admit(kind: &ResourceKind, body: &mut Value) -> Result<(), ApiError> {
    if *kind == ResourceKind::secrets() {
        merge_string_data(body);
        if body["type"].as_str().is_none_or(str::is_empty) {
            body["type"] = json!("Opaque");
        }
        return check_secret(body);
    }
    if kind.group == "seal.dev" && kind.plural == "sealedsecrets" {
        return admit_sealed_secret(body);
    }
    Ok(())
}

/// `stringData` is write-only: each entry goes into `data`, base64-encoded, replacing a
/// `data` entry of the same key.
fn merge_string_data(body: &mut Value) {
    let Some(map) = body.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if !data.is_object() {
        *data = Value::Object(Default::default());
    }
    for (key, value) in strings {
        let text = value.as_str().unwrap_or_default();
        data[key.as_str()] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// The problems of one key, as `validation.IsConfigMapKey` words them.
fn key_problems(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if key.len() > MAX_KEY_LENGTH {
        problems.push(format!("must be no more than {MAX_KEY_LENGTH} characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if key.is_empty() || !key.chars().all(allowed) {
        problems.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' \
             (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation \
             is '[-._a-zA-Z0-9]+')"
                .to_owned(),
        );
    }
    if key == "." {
        problems.push("must not be '.'".to_owned());
    } else if key == ".." {
        problems.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        problems.push("must not start with '..'".to_owned());
    }
    problems
}

fn check_secret(body: &Value) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut size = 0;
    if let Some(data) = body["data"].as_object() {
        for (key, value) in data {
            for problem in key_problems(key) {
                errors.push(format!("data[{key}]: Invalid value: {key:?}: {problem}"));
            }
            size += value
                .as_str()
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                .map_or(0, |v| v.len());
        }
    }
    if size > MAX_SECRET_SIZE {
        errors.push(format!(
            "data: Too long: may not be more than {MAX_SECRET_SIZE} bytes"
        ));
    }
    invalid("Secret", body, errors)
}

fn admit_sealed_secret(body: &mut Value) -> Result<(), ApiError> {
    if !body["spec"].is_object() {
        return Ok(());
    }
    let spec = &mut body["spec"];
    for (field, default) in [
        ("encryptedData", json!({})),
        ("recipients", json!([])),
        ("scope", json!("strict")),
    ] {
        if spec.get(field).is_none_or(Value::is_null) {
            spec[field] = default;
        }
    }
    let mut errors = Vec::new();
    for (field, allowed) in SEALED_SECRET_ENUMS {
        let Some(value) = spec.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
            let supported: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            errors.push(format!(
                "spec.{field}: Unsupported value: {value}: supported values: {}",
                supported.join(", ")
            ));
        }
    }
    invalid("SealedSecret.seal.dev", body, errors)
}

/// A 422 naming the object, as the API server words it (several errors in brackets).
fn invalid(qualified_kind: &str, body: &Value, errors: Vec<String>) -> Result<(), ApiError> {
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    let listed = match errors.as_slice() {
        [] => return Ok(()),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    Err(ApiError::new(
        422,
        "Invalid",
        format!("{qualified_kind} {name:?} is invalid: {listed}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_kind() -> ResourceKind {
        ResourceKind::new("seal.dev", "v1alpha1", "sealedsecrets")
    }

    #[test]
    fn string_data_goes_into_data_and_wins() {
        let mut secret = json!({"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eA=="},
                                "stringData": {"b": "y", "c": "z"}});
        admit(&ResourceKind::secrets(), &mut secret).expect("admitted");
        assert_eq!(
            secret["data"],
            json!({"a": "eA==", "b": "eQ==", "c": "eg=="})
        );
        assert!(secret.get("stringData").is_none());
        assert_eq!(secret["type"], "Opaque");
    }

    #[test]
    fn secret_keys_are_checked() {
        for key in ["a b", "", ".", "..", "..x", "ü", &"k".repeat(254)] {
            let mut secret = json!({"metadata": {"name": "s"}, "stringData": {key: "v"}});
            let err = admit(&ResourceKind::secrets(), &mut secret).expect_err(key);
            assert_eq!((err.code, err.reason), (422, "Invalid"), "{key}");
            assert!(
                err.message.starts_with("Secret \"s\" is invalid: data["),
                "{}",
                err.message
            );
        }
        for key in ["a", "A-b_c.d", ".hidden", &"k".repeat(253)] {
            let mut secret = json!({"metadata": {"name": "s"}, "data": {key: "eA=="}});
            admit(&ResourceKind::secrets(), &mut secret).expect(key);
        }
    }

    #[test]
    fn sealed_secret_enums_and_defaults() {
        let mut ok = json!({"metadata": {"name": "x"}, "spec": {"mode": "Merge"}});
        admit(&sealed_kind(), &mut ok).expect("admitted");
        assert_eq!(ok["spec"]["scope"], "strict");
        assert_eq!(ok["spec"]["encryptedData"], json!({}));
        assert_eq!(ok["spec"]["recipients"], json!([]));
        let mut bad = json!({"metadata": {"name": "x"}, "spec": {"mode": "owned"}});
        let err = admit(&sealed_kind(), &mut bad).expect_err("lower case");
        assert_eq!(
            err.message,
            "SealedSecret.seal.dev \"x\" is invalid: spec.mode: Unsupported value: \"owned\": supported values: \"Owned\", \"Merge\""
        );
    }
}
