//! `unseal crd`: the CustomResourceDefinition generated from the Rust types.

use kube::CustomResourceExt;
use seal_core::SealedSecret;

/// Annotations that keep the CRD through an uninstall: deleting it deletes every
/// SealedSecret, and the garbage collector then every Secret they own.
pub const KEEP_ANNOTATIONS: [(&str, &str); 2] = [
    (
        "argocd.argoproj.io/sync-options",
        "Delete=false,Prune=false",
    ),
    ("helm.sh/resource-policy", "keep"),
];

/// The CRD as YAML (what deploy/cluster/crd.yaml holds).
pub fn crd_yaml() -> anyhow::Result<String> {
    let mut crd = SealedSecret::crd();
    crd.metadata.annotations = Some(
        KEEP_ANNOTATIONS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    seal_core::yaml::to_string(&crd).map_err(|e| anyhow::anyhow!("cannot render the CRD: {e}"))
}

/// Prints the CRD.
pub fn run() -> anyhow::Result<()> {
    print!("{}", crd_yaml()?);
    Ok(())
}
