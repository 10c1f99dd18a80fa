//! Checking what the controller sends back from a reencrypt before anything is written:
//! the reply must be the object that was sent (same name, namespace, scope, mode,
//! template and keys), and recipients it dropped are named, not lost in silence.

use anyhow::bail;
use seal_core::documents;
use seal_core::{SealedSecret, convert};

use crate::cluster::Answer;

/// The SealedSecret in a reencrypt reply to `sent`, standing at `at`. Fails when the
/// reply is not that object, or when the controller dropped recipients and
/// `drop_untrusted` is not set.
pub fn accept(
    at: &str,
    sent: &SealedSecret,
    answer: &Answer,
    drop_untrusted: bool,
) -> anyhow::Result<SealedSecret> {
    let Some(doc) = documents::parse(at, &answer.body)?.into_iter().next() else {
        bail!("{at}: the controller sent back no SealedSecret");
    };
    let reply = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
    if let Some(field) = differs(sent, &reply) {
        bail!("{at}: the controller's reply changed {field}; nothing written");
    }
    if !answer.dropped.is_empty() && !drop_untrusted {
        bail!(
            "{at}: the controller would drop recipients it does not trust: {}; nothing written. To keep them, have the cluster admin trust them (unseal --trusted-recipient) or re-seal here with an identity (seal recipients add -i IDENTITY -r …); to drop them, add --drop-untrusted",
            answer.dropped.join(", ")
        );
    }
    for dropped in &answer.dropped {
        eprintln!("{at}: dropped recipient {dropped} (not trusted by the controller)");
    }
    Ok(reply)
}

/// The first field in which `reply` is not the object that was sent.
fn differs(sent: &SealedSecret, reply: &SealedSecret) -> Option<&'static str> {
    if sent.metadata.name != reply.metadata.name {
        return Some("metadata.name");
    }
    if sent.metadata.namespace != reply.metadata.namespace {
        return Some("metadata.namespace");
    }
    if sent.spec.scope != reply.spec.scope {
        return Some("spec.scope");
    }
    if sent.spec.mode != reply.spec.mode {
        return Some("spec.mode");
    }
    if sent.spec.template != reply.spec.template {
        return Some("spec.template");
    }
    if !sent
        .spec
        .encrypted_data
        .keys()
        .eq(reply.spec.encrypted_data.keys())
    {
        return Some("the set of keys in spec.encryptedData");
    }
    None
}

#[cfg(test)]
mod tests {
    use seal_core::{Mode, SealedSecretSpec};

    use super::*;

    fn object() -> SealedSecret {
        let mut s = SealedSecret::new(
            "db",
            SealedSecretSpec {
                scope: Default::default(),
                mode: Mode::Owned,
                recipients: Vec::new(),
                template: Default::default(),
                encrypted_data: Default::default(),
            },
        );
        s.metadata.namespace = Some("apps".into());
        s.spec.encrypted_data.insert("password".into(), "x".into());
        s
    }

    #[test]
    fn a_reply_that_is_another_object_is_refused() {
        let sent = object();
        assert_eq!(differs(&sent, &sent.clone()), None);
        let mut moved = sent.clone();
        moved.metadata.namespace = Some("attacker".into());
        assert_eq!(differs(&sent, &moved), Some("metadata.namespace"));
        let mut merged = sent.clone();
        merged.spec.mode = Mode::Merge;
        assert_eq!(differs(&sent, &merged), Some("spec.mode"));
        let mut extra = sent.clone();
        extra.spec.encrypted_data.insert("more".into(), "y".into());
        assert_eq!(
            differs(&sent, &extra),
            Some("the set of keys in spec.encryptedData")
        );
    }

    #[test]
    fn dropped_recipients_stop_the_write_unless_allowed() {
        let sent = object();
        let body = documents::render(std::slice::from_ref(&sent), documents::Format::Yaml)
            .expect("renders")
            .to_string();
        let answer = Answer {
            status: 200,
            body,
            dropped: vec!["age1breakglass".into()],
        };
        let err = accept("f.yaml: document 1", &sent, &answer, false).expect_err("refused");
        assert!(err.to_string().contains("age1breakglass"), "{err}");
        assert!(err.to_string().contains("--drop-untrusted"), "{err}");
        assert!(accept("f.yaml: document 1", &sent, &answer, true).is_ok());
    }
}
