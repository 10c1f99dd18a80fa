//! Checking what the controller sends back from a reencrypt before anything is written:
//! the reply must be the object that was sent (same name, namespace, scope, mode,
//! template and keys), and every recipient it lost must be accounted for: asked to be
//! removed, named as dropped (untrusted) or as replaced (one of the controller's own
//! older keys, now its active key). The client checks this itself rather than trusting
//! the headers alone: a reply that loses a recipient it does not name is refused.

use anyhow::bail;
use seal_core::documents;
use seal_core::{SealedSecret, convert};

use crate::cluster::Answer;
use crate::output;

/// The SealedSecret in a reencrypt reply to `sent`, standing at `at`, when `removed`
/// were the recipients asked to be removed. Fails when the reply is not that object, when
/// it loses a recipient the controller does not name (`seal-dropped-recipients`,
/// `seal-replaced-recipients`), or when the controller dropped recipients and
/// `drop_untrusted` is not set.
pub fn accept(
    at: &str,
    sent: &SealedSecret,
    answer: &Answer,
    removed: &[String],
    drop_untrusted: bool,
) -> anyhow::Result<SealedSecret> {
    let Some(doc) = documents::parse(at, &answer.body)?.into_iter().next() else {
        bail!("{at}: the controller sent back no SealedSecret");
    };
    let reply = convert::sealed_secret_from_value(doc.value).map_err(|e| e.at(&doc.at))?;
    if let Some(field) = differs(sent, &reply) {
        bail!("{at}: the controller's reply changed {field}; nothing written");
    }
    let unnamed: Vec<String> = sent
        .spec
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            !reply.spec.recipients.contains(r)
                && !removed.contains(r)
                && !answer.dropped.contains(r)
                && !answer.replaced.contains(r)
        })
        .map(|(i, r)| format!("spec.recipients[{i}] {}", output::shown(r)))
        .collect();
    if !unnamed.is_empty() {
        bail!(
            "{at}: the controller's reply silently drops recipients it names neither as dropped nor as replaced: {}; nothing written (a controller older than this seal does not name the keys it replaced: upgrade it)",
            unnamed.join(", ")
        );
    }
    let dropped: Vec<String> = answer
        .dropped
        .iter()
        .map(|r| output::shown(r).into_owned())
        .collect();
    if !dropped.is_empty() && !drop_untrusted {
        bail!(
            "{at}: the controller would drop recipients it does not trust: {}; nothing written. To keep them, have the cluster admin trust them (unseal --trusted-recipient) or re-seal here with an identity (seal recipients add -i IDENTITY -r …); to drop them, add --drop-untrusted",
            dropped.join(", ")
        );
    }
    for dropped in &dropped {
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
    // Only what `for_git` keeps may come back, and the labels and annotations unchanged:
    // an owner reference, a finalizer, a status or an extra label or annotation the
    // controller slipped in would be committed with the file and act in the cluster.
    let tags =
        |m: &Option<std::collections::BTreeMap<String, String>>| m.clone().unwrap_or_default();
    if tags(&sent.metadata.labels) != tags(&reply.metadata.labels) {
        return Some("metadata.labels");
    }
    if tags(&sent.metadata.annotations) != tags(&reply.metadata.annotations) {
        return Some("metadata.annotations");
    }
    if convert::for_git(reply).metadata != reply.metadata {
        return Some("metadata (a field beyond name, namespace, labels and annotations)");
    }
    if reply.status.is_some() {
        return Some("status");
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
        // What a dishonest controller adds to a reencrypt reply's own metadata.
        let mut labelled = sent.clone();
        labelled.metadata.labels = Some([("team".into(), "attacker".into())].into());
        assert_eq!(differs(&sent, &labelled), Some("metadata.labels"));
        let mut finalized = sent.clone();
        finalized.metadata.finalizers = Some(vec!["example.com/never".into()]);
        assert!(differs(&sent, &finalized).is_some_and(|f| f.starts_with("metadata (")));
        let mut with_status = sent.clone();
        with_status.status = Some(Default::default());
        assert_eq!(differs(&sent, &with_status), Some("status"));
        // Server-side fields the sent file carried (kubectl get) are not a change.
        let mut fetched = sent.clone();
        fetched.metadata.resource_version = Some("42".into());
        fetched.metadata.annotations = Some(Default::default());
        assert_eq!(differs(&fetched, &sent), None);
    }

    fn reply(
        object: &SealedSecret,
        recipients: &[&str],
        dropped: &[&str],
        replaced: &[&str],
    ) -> Answer {
        let mut object = object.clone();
        object.spec.recipients = recipients.iter().map(|r| (*r).to_owned()).collect();
        let body = documents::render(std::slice::from_ref(&object), documents::Format::Yaml)
            .expect("renders")
            .to_string();
        let names = |list: &[&str]| list.iter().map(|r| (*r).to_owned()).collect();
        Answer {
            status: 200,
            body,
            dropped: names(dropped),
            replaced: names(replaced),
        }
    }

    #[test]
    fn dropped_recipients_stop_the_write_unless_allowed() {
        let mut sent = object();
        sent.spec.recipients = vec!["age1active".into(), "age1breakglass".into()];
        let answer = reply(&sent, &["age1active"], &["age1breakglass"], &[]);
        let err = accept("f.yaml: document 1", &sent, &answer, &[], false).expect_err("refused");
        assert!(err.to_string().contains("age1breakglass"), "{err}");
        assert!(err.to_string().contains("--drop-untrusted"), "{err}");
        assert!(accept("f.yaml: document 1", &sent, &answer, &[], true).is_ok());
    }

    /// The controller that omitted its header when a recipient would not fit in one (a
    /// newline in it): the client must notice the loss by itself, even with
    /// --drop-untrusted, and say so without echoing the recipient's bytes.
    #[test]
    fn a_recipient_lost_without_a_name_is_refused_even_with_drop_untrusted() {
        let forged = "age1x\n::error file=.seal.yaml,line=1::all good\n\u{1b}[2K\u{1b}[1A";
        let mut sent = object();
        sent.spec.recipients = vec!["age1old".into(), "age1breakglass".into(), forged.into()];
        for answer in [
            reply(&sent, &["age1active"], &["age1breakglass"], &["age1old"]),
            reply(&sent, &["age1active"], &[], &[]),
        ] {
            let err = accept("f.yaml: document 1", &sent, &answer, &[], true)
                .expect_err("refused")
                .to_string();
            assert!(
                err.starts_with(
                    "f.yaml: document 1: the controller's reply silently drops recipients"
                ),
                "{err}"
            );
            assert!(
                err.contains("spec.recipients[2] \"age1x\\n::error"),
                "{err}"
            );
            assert!(output::is_plain(&err), "{err:?}");
        }
        let removed = [forged.to_owned()];
        let accounted = reply(&sent, &["age1active"], &["age1breakglass"], &["age1old"]);
        assert!(accept("f.yaml: document 1", &sent, &accounted, &removed, true).is_ok());
    }

    #[test]
    fn replaced_own_keys_and_asked_removals_need_no_flag() {
        let mut sent = object();
        sent.spec.recipients = vec!["age1old".into(), "age1staging".into()];
        let answer = reply(&sent, &["age1active"], &[], &["age1old"]);
        let removed = ["age1staging".to_owned()];
        assert!(accept("f.yaml: document 1", &sent, &answer, &removed, false).is_ok());
        let err = accept("f.yaml: document 1", &sent, &answer, &[], false)
            .expect_err("staging lost unasked")
            .to_string();
        assert!(err.contains("spec.recipients[1] age1staging"), "{err}");
    }
}
