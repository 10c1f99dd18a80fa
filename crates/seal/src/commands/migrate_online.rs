//! `seal migrate --online`: the cluster's controller converts each bitnami object
//! (`POST /v1/migrate`) with the bitnami keys an admin imported into it, so no bitnami
//! private key sits on this machine and no plaintext reaches it.
//!
//! Every reply is checked before anything is written, as `seal reencrypt` checks its
//! replies ([`reseal_reply::accept`]): it must be the object sent, converted (same
//! name, namespace, scope, template and keys, an `Owned` SealedSecret marked
//! `seal.dev/migrated-from`); a recipient asked for that it lacks must be named as
//! dropped (untrusted, refused unless `--drop-untrusted`) or replaced (one of the
//! controller's own older keys). One failure stops the run and nothing is written.

use anyhow::bail;
use seal_core::bitnami::{API_VERSION, MIGRATED_FROM_ANNOTATION};
use seal_core::convert::{self, SealOptions};
use seal_core::documents;
use seal_core::secret_bytes::SecretBytes;
use seal_core::{Mode, PlainSecret, SealedSecret};

use crate::cli::MigrateArgs;
use crate::cluster::{self, Answer, Cluster};
use crate::commands::migrate::Job;
use crate::commands::reseal_reply;

/// Converts every job through the controller; the results in the jobs' order.
pub(crate) fn convert_all(args: &MigrateArgs, jobs: &[Job]) -> anyhow::Result<Vec<SealedSecret>> {
    cluster::block_on(async {
        let cluster = Cluster::connect(&args.recipients.cluster).await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(convert_one(&cluster, job, args.drop_untrusted).await?);
        }
        Ok(out)
    })
}

async fn convert_one(
    cluster: &Cluster,
    job: &Job,
    drop_untrusted: bool,
) -> anyhow::Result<SealedSecret> {
    let at = job.at.to_string();
    let mut document = job.document.clone();
    // The namespace -n gave stands in the object sent: the controller reads nothing else.
    if let (Some(ns), Some(meta)) = (
        &job.object.namespace,
        document.get_mut("metadata").and_then(|m| m.as_object_mut()),
    ) {
        meta.insert("namespace".into(), ns.clone().into());
    }
    let body = serde_json::to_vec(&document)?;
    let recipients = job.recipients.to_strings();
    let query: Vec<String> = recipients
        .iter()
        .map(|r| format!("recipient={r}"))
        .collect();
    let path = format!("/v1/migrate?{}", query.join("&"));
    let answer = cluster.call("POST", &path, body).await?;
    if answer.status != 200 {
        bail!("{at}: not migrated: {}", cluster::refusal(&answer));
    }
    check_reply(job, &answer, drop_untrusted)
}

/// The SealedSecret in the controller's reply for `job`, once checked (see the module
/// docs); nothing of a reply that fails a check is used.
fn check_reply(job: &Job, answer: &Answer, drop_untrusted: bool) -> anyhow::Result<SealedSecret> {
    let at = job.at.to_string();
    let expected = expected_reply(job)?;
    let marked = documents::parse(&at, &answer.body)?
        .first()
        .and_then(|d| d.value.pointer("/metadata/annotations"))
        .and_then(|a| a.get(MIGRATED_FROM_ANNOTATION))
        .is_some_and(|v| v == API_VERSION);
    if !marked {
        bail!(
            "{at}: the controller's reply lacks the {MIGRATED_FROM_ANNOTATION} marker; nothing written"
        );
    }
    // The marker is the one annotation the reply may add: any other difference in its
    // metadata is refused by `accept`.
    reseal_reply::accept(&at, &expected, answer, &[], drop_untrusted)
}

/// What the controller must send back for `job`, but for the values: the object the
/// offline conversion makes, sealed to the recipients asked for.
fn expected_reply(job: &Job) -> anyhow::Result<SealedSecret> {
    let object = &job.object;
    let shape = PlainSecret {
        name: object.name.clone(),
        namespace: object.namespace.clone(),
        labels: object.labels.clone(),
        annotations: object.annotations.clone(),
        type_: object.type_.clone(),
        immutable: object.immutable,
        data: object
            .encrypted_data
            .keys()
            .map(|k| (k.clone(), SecretBytes::default()))
            .collect(),
    };
    let options = SealOptions {
        scope: object.scope,
        default_namespace: None,
        mode: Mode::Owned,
    };
    let mut expected =
        convert::skeleton(&shape, &job.recipients, &options).map_err(|e| e.at(&job.at))?;
    expected
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(MIGRATED_FROM_ANNOTATION.to_owned(), API_VERSION.to_owned());
    for key in object.encrypted_data.keys() {
        expected
            .spec
            .encrypted_data
            .insert(key.clone(), String::new());
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use seal_core::bitnami::{BitnamiKeys, BitnamiSealedSecret};
    use seal_core::documents::{self, Format};
    use seal_core::{Location, Recipients};

    use super::*;

    /// kubeseal's output for the example key (the fuzz corpus seed).
    const KUBESEALED: &str = include_str!("../../../../fuzz/corpus/bitnami/kubeseal-strict.yaml");
    const EXAMPLE_KEY: &str = include_str!("../../../../keys-example/sealed-secrets.key");

    fn job(recipients: &Recipients) -> Job {
        let doc = documents::parse("db.yaml", KUBESEALED)
            .expect("parses")
            .remove(0);
        let object = BitnamiSealedSecret::read(&doc.value, None).expect("reads");
        Job {
            file: 0,
            at: Location {
                file: "db.yaml".into(),
                document: Some(1),
                item: None,
            },
            object,
            document: doc.value,
            recipients: recipients.clone(),
        }
    }

    /// What an honest controller answers: the offline conversion.
    fn honest(job: &Job, to: &Recipients, edit: impl FnOnce(&mut SealedSecret)) -> Answer {
        let mut keys = BitnamiKeys::new();
        keys.add_file("k", EXAMPLE_KEY).expect("key");
        let mut sealed = job.object.migrate(&keys, to).expect("converts");
        edit(&mut sealed);
        Answer {
            status: 200,
            body: documents::render(&[sealed], Format::Yaml)
                .expect("renders")
                .to_string(),
            dropped: Vec::new(),
            replaced: Vec::new(),
        }
    }

    fn recipients(n: usize) -> Recipients {
        let mut r = Recipients::new();
        for _ in 0..n {
            r.insert(age::x25519::Identity::generate().to_public());
        }
        r
    }

    /// A change a dishonest controller makes to the honest reply.
    type Change = Box<dyn FnOnce(&mut SealedSecret)>;

    #[test]
    fn the_offline_conversion_passes_and_every_change_of_it_is_refused() {
        let to = recipients(1);
        let job = job(&to);
        assert!(check_reply(&job, &honest(&job, &to, |_| {}), false).is_ok());
        let changes: [(&str, Change); 5] = [
            (
                "spec.scope",
                Box::new(|s| s.spec.scope = seal_core::Scope::Cluster),
            ),
            (
                "metadata.namespace",
                Box::new(|s| s.metadata.namespace = Some("evil".into())),
            ),
            (
                "spec.template",
                Box::new(|s| s.spec.template.type_ = Some("kubernetes.io/tls".into())),
            ),
            (
                "spec.encryptedData",
                Box::new(|s| {
                    s.spec.encrypted_data.remove("password");
                }),
            ),
            (
                "seal.dev/migrated-from",
                Box::new(|s| s.metadata.annotations = None),
            ),
        ];
        for (what, change) in changes {
            let err = check_reply(&job, &honest(&job, &to, change), true)
                .expect_err(what)
                .to_string();
            assert!(err.starts_with("db.yaml: document 1: "), "{err}");
            assert!(err.contains(what), "{what}: {err}");
        }
    }

    /// A dishonest controller leaves the spec alone and adds to the object's own metadata
    /// what would act once the file is applied: an owner reference (garbage collection of
    /// the SealedSecret with an object the attacker picks), a finalizer, a label or
    /// annotation a GitOps tool obeys, a status. Each is refused; nothing is written.
    #[test]
    fn a_reply_that_adds_to_the_objects_own_metadata_is_refused() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let to = recipients(1);
        let job = job(&to);
        let changes: [(&str, Change); 5] = [
            (
                "metadata.labels",
                Box::new(|s| {
                    s.metadata.labels =
                        Some([("argocd.argoproj.io/instance".into(), "evil".into())].into());
                }),
            ),
            (
                "metadata.annotations",
                Box::new(|s| {
                    s.metadata.annotations.get_or_insert_default().insert(
                        "argocd.argoproj.io/sync-options".into(),
                        "Prune=true,Replace=true".into(),
                    );
                }),
            ),
            (
                "metadata (a field beyond",
                Box::new(|s| {
                    s.metadata.owner_references = Some(vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "ConfigMap".into(),
                        name: "short-lived".into(),
                        uid: "00000000-0000-0000-0000-000000000001".into(),
                        ..Default::default()
                    }]);
                }),
            ),
            (
                "metadata (a field beyond",
                Box::new(|s| s.metadata.finalizers = Some(vec!["example.com/never".into()])),
            ),
            ("status", Box::new(|s| s.status = Some(Default::default()))),
        ];
        for (what, change) in changes {
            let err = check_reply(&job, &honest(&job, &to, change), true)
                .expect_err(what)
                .to_string();
            assert!(err.starts_with("db.yaml: document 1: "), "{err}");
            assert!(
                err.contains(what) && err.contains("nothing written"),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn a_recipient_asked_for_and_lost_is_refused_unless_named_and_allowed() {
        let asked = recipients(2);
        let job = job(&asked);
        let kept: Recipients = {
            let mut r = Recipients::new();
            r.add_arg("-r", &asked.to_strings()[0]).expect("parses");
            r
        };
        let lost = asked.to_strings()[1].clone();
        let silent = honest(&job, &kept, |_| {});
        let err = check_reply(&job, &silent, true)
            .expect_err("silent")
            .to_string();
        assert!(err.contains("silently drops"), "{err}");
        let mut named = honest(&job, &kept, |_| {});
        named.dropped = vec![lost.clone()];
        let err = check_reply(&job, &named, false)
            .expect_err("dropped")
            .to_string();
        assert!(
            err.contains(&lost) && err.contains("--drop-untrusted"),
            "{err}"
        );
        assert!(check_reply(&job, &named, true).is_ok());
    }
}
