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
use seal_core::secret_bytes::SecretBytes;
use seal_core::{Mode, PlainSecret, SealedSecret};

use crate::cli::MigrateArgs;
use crate::cluster::{self, Cluster};
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
    let expected = expected_reply(job)?;
    let reply = reseal_reply::accept(&at, &expected, &answer, &[], drop_untrusted)?;
    let marked = reply
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MIGRATED_FROM_ANNOTATION))
        .is_some_and(|v| v == API_VERSION);
    if !marked {
        bail!(
            "{at}: the controller's reply lacks the {MIGRATED_FROM_ANNOTATION} marker; nothing written"
        );
    }
    Ok(reply)
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
    for key in object.encrypted_data.keys() {
        expected
            .spec
            .encrypted_data
            .insert(key.clone(), String::new());
    }
    Ok(expected)
}
