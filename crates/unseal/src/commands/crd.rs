//! `unseal crd`: the CustomResourceDefinition generated from the Rust types.

use kube::CustomResourceExt;
use seal_core::SealedSecret;

/// The CRD as YAML (what deploy/crd.yaml holds).
pub fn crd_yaml() -> anyhow::Result<String> {
    let crd = SealedSecret::crd();
    seal_core::yaml::to_string(&crd).map_err(|e| anyhow::anyhow!("cannot render the CRD: {e}"))
}

/// Prints the CRD.
pub fn run() -> anyhow::Result<()> {
    print!("{}", crd_yaml()?);
    Ok(())
}
