//! Reading what a caller sends: exactly one SealedSecret in the body and the `add=` /
//! `remove=` recipients of a reencrypt call. Everything here is untrusted input: errors
//! say what is wrong in a fixed text, never by echoing the input.

use axum::http::StatusCode;
use seal_core::bitnami::BitnamiSealedSecret;
use seal_core::bitnami::object::is_bitnami;
use seal_core::documents::{self, Format};
use seal_core::{SealedSecret, convert};

use super::{ApiProblem, problem};

fn bad(message: &str) -> ApiProblem {
    problem(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// The `add=` and `remove=` recipients of a reencrypt call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecipientChange {
    /// Recipients to add (only this controller's keys or trusted ones are accepted).
    pub add: Vec<String>,
    /// Recipients to remove.
    pub remove: Vec<String>,
}

impl RecipientChange {
    /// Parses the query string (`None`: no change).
    pub fn parse(query: Option<&str>) -> Result<Self, ApiProblem> {
        let mut change = Self::default();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let list = match name {
                "add" => &mut change.add,
                "remove" => &mut change.remove,
                _ => return Err(bad("unknown query parameter (only add= and remove=)")),
            };
            seal_core::keys::parse_recipient(value).map_err(|p| bad(&format!("{name}: {p}")))?;
            list.push(value.to_owned());
        }
        Ok(change)
    }
}

/// The `recipient=` parameters of a migrate call: who the caller would like the result
/// sealed to, besides the active key. Only a claim: [`super::reseal::targets`] decides.
pub fn requested_recipients(query: Option<&str>) -> Result<Vec<String>, ApiProblem> {
    let mut wanted = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "recipient" {
            return Err(bad("unknown query parameter (only recipient=)"));
        }
        seal_core::keys::parse_recipient(value).map_err(|p| bad(&format!("recipient: {p}")))?;
        if !wanted.iter().any(|w| w == value) {
            wanted.push(value.to_owned());
        }
    }
    Ok(wanted)
}

/// Parses the body as exactly one bitnami SealedSecret (YAML or JSON). Its namespace
/// must be in it when its scope binds one: nothing else may stand in for it.
pub fn parse_one_bitnami(body: &[u8]) -> Result<(BitnamiSealedSecret, Format), ApiProblem> {
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8 text"))?;
    let format = Format::of(text);
    let docs = documents::parse("request", text).map_err(|e| bad(&e.to_string()))?;
    let [doc] = docs.as_slice() else {
        return Err(bad("send exactly one bitnami.com/v1alpha1 SealedSecret"));
    };
    if !is_bitnami(&doc.value) {
        return Err(bad("send exactly one bitnami.com/v1alpha1 SealedSecret"));
    }
    let object = BitnamiSealedSecret::read(&doc.value, None).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidSpec",
            &e.at(&doc.at).to_string(),
        )
    })?;
    Ok((object, format))
}

/// Parses the body as exactly one SealedSecret (YAML or JSON), with a namespace when
/// its scope binds one.
pub fn parse_one(body: &[u8]) -> Result<(SealedSecret, Format), ApiProblem> {
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8 text"))?;
    let format = Format::of(text);
    let mut docs = documents::parse("request", text).map_err(|e| bad(&e.to_string()))?;
    if docs.len() != 1 {
        return Err(bad("send exactly one SealedSecret"));
    }
    let doc = docs.remove(0);
    let sealed = convert::sealed_secret_from_value(doc.value)
        .map_err(|e| bad(&e.at(&doc.at).to_string()))?;
    if sealed.metadata.namespace.is_none() && sealed.spec.scope.binds_namespace() {
        return Err(bad("request: metadata.namespace: required for this scope"));
    }
    // Every listed recipient must be one: a malformed entry could not be named back in a
    // reply header, and the caller would not learn that it was dropped.
    for (i, r) in sealed.spec.recipients.iter().enumerate() {
        if seal_core::keys::parse_recipient(r).is_err() {
            return Err(bad(&format!(
                "request: spec.recipients[{i}]: not an age1… X25519 recipient"
            )));
        }
    }
    Ok((sealed, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_only_recipients_and_never_echo_input() {
        assert_eq!(
            RecipientChange::parse(None).ok(),
            Some(RecipientChange::default())
        );
        let err = RecipientChange::parse(Some("add=AGE-SECRET-KEY-1QQQ")).expect_err("identity");
        assert!(!err.message.contains("QQQ"), "{err:?}");
        let err = RecipientChange::parse(Some("evil=<script>")).expect_err("unknown");
        assert!(!err.message.contains("script"), "{err:?}");
    }

    #[test]
    fn migrate_queries_take_only_recipients_and_never_echo_input() {
        let r = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert_eq!(
            requested_recipients(Some(&format!("recipient={r}&recipient={r}"))).ok(),
            Some(vec![r.to_owned()])
        );
        assert_eq!(requested_recipients(None).ok(), Some(Vec::new()));
        for query in ["add=x", "recipient=AGE-SECRET-KEY-1QQQ", "remove=<script>"] {
            let err = requested_recipients(Some(query)).expect_err(query);
            assert!(
                !err.message.contains("QQQ") && !err.message.contains("script"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn migrate_bodies_must_hold_exactly_one_bitnami_sealed_secret() {
        let seal = b"apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, namespace: n}\nspec: {}\n";
        assert_eq!(parse_one_bitnami(seal).expect_err("seal").status, 400);
        let strict_without_ns = b"apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: a}\nspec: {encryptedData: {k: AAAA}}\n";
        let err = parse_one_bitnami(strict_without_ns).expect_err("no namespace");
        assert_eq!(err.status, 422);
        assert!(err.message.contains("metadata.namespace"), "{err:?}");
        let ok = b"apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, namespace: apps}\nspec: {encryptedData: {k: AAAA}}\n";
        assert_eq!(parse_one_bitnami(ok).expect("reads").0.name, "a");
    }

    #[test]
    fn bodies_must_hold_exactly_one_sealed_secret() {
        assert!(parse_one(b"\xff\xfe").is_err());
        assert!(parse_one(b"kind: [unclosed").is_err());
        let two = b"apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, namespace: n}\n---\napiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {name: b, namespace: n}\n";
        assert_eq!(
            parse_one(two).expect_err("two").message,
            "send exactly one SealedSecret"
        );
        let strict_without_ns =
            b"apiVersion: seal.dev/v1alpha1\nkind: SealedSecret\nmetadata: {name: a}\nspec: {}\n";
        assert!(parse_one(strict_without_ns).is_err());
    }
}
