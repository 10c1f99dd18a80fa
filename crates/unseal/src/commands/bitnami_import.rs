//! `unseal keys import --sealed-secrets PATH… | --from-cluster`: the bitnami
//! sealed-secrets keys, into the controller's migration key store
//! ([`crate::keys::bitnami_store`]), for `seal migrate --online`. Each key is named by its
//! public fingerprint, never shown.

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use seal_core::bitnami::BitnamiKeys;
use seal_core::files;
use zeroize::Zeroizing;

use crate::cli::ImportArgs;
use crate::keys::bitnami_store;

/// The label on the bitnami controller's key Secrets.
pub const BITNAMI_KEY_SELECTOR: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

/// Runs the import.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let mut keys = BitnamiKeys::new();
    for path in &args.sealed_secrets {
        let text = Zeroizing::new(files::read_input(path)?);
        let added = keys.add_file(files::display_name(path), &text)?;
        eprintln!("{}: {added} bitnami key(s)", files::display_name(path));
    }
    let client = super::client(&args.cluster).await?;
    if args.from_cluster {
        let namespace = &args.sealed_secrets_namespace;
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let found = from_cluster(&api, namespace, &mut keys).await?;
        eprintln!("namespace {namespace}: {found} bitnami key Secret(s)");
    }
    if keys.is_empty() {
        bail!("no bitnami key to import");
    }
    let namespace = &args.cluster.controller_namespace;
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let imported = bitnami_store::import(&api, namespace, &keys)
        .await
        .with_context(|| format!("secret {namespace}/{}", bitnami_store::SECRET_NAME))?;
    for key in &imported {
        if key.added {
            println!("imported bitnami key {}", key.fingerprint);
        } else {
            println!("already held: bitnami key {}", key.fingerprint);
        }
    }
    eprintln!(
        "stored in secret {namespace}/{}; used only by seal migrate --online; delete it when the migration is done",
        bitnami_store::SECRET_NAME
    );
    Ok(())
}

/// Adds the keys of the bitnami key Secrets in `namespace`; returns how many Secrets.
async fn from_cluster(
    api: &Api<Secret>,
    namespace: &str,
    keys: &mut BitnamiKeys,
) -> anyhow::Result<usize> {
    let list = api
        .list(&ListParams::default().labels(BITNAMI_KEY_SELECTOR))
        .await
        .with_context(|| format!("cannot list the bitnami key Secrets in {namespace}"))?;
    let mut found = 0;
    for mut secret in list.items {
        let name = format!("secret {namespace}/{}", secret.name_any());
        // The bitnami controller makes its key Secrets itself: `kubernetes.io/tls`, owned
        // by nothing. One owned by something was made from an object (a SealedSecret
        // whose template carries the label, written by whoever may write those there);
        // it is no key of the bitnami controller, and is skipped, by name.
        if !secret.owner_references().is_empty() {
            eprintln!(
                "{name}: skipped: has ownerReferences (a bitnami key Secret is owned by nothing; was it made from a SealedSecret?)"
            );
            wipe_all(&mut secret);
            continue;
        }
        if secret.type_.as_deref() != Some("kubernetes.io/tls") {
            eprintln!("{name}: skipped: not of type kubernetes.io/tls, as bitnami key Secrets are");
            wipe_all(&mut secret);
            continue;
        }
        let pem = secret
            .data
            .as_mut()
            .and_then(|d| d.remove("tls.key"))
            .map(|b| Zeroizing::new(b.0));
        wipe_all(&mut secret);
        let Some(pem) = pem else {
            bail!("{name}: no tls.key (not a sealed-secrets key Secret)");
        };
        let text = std::str::from_utf8(&pem)
            .map_err(|_| anyhow::anyhow!("{name}: tls.key is not PEM text"))?;
        keys.add_file(&name, text)?;
        found += 1;
    }
    if found == 0 {
        bail!("no Secret labelled {BITNAMI_KEY_SELECTOR} in namespace {namespace}");
    }
    Ok(found)
}

/// Wipes the data of a listed Secret about to be dropped.
fn wipe_all(secret: &mut Secret) {
    use zeroize::Zeroize as _;
    for value in secret.data.iter_mut().flat_map(|d| d.values_mut()) {
        value.0.zeroize();
    }
}
