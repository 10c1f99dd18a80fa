//! `seal argocd-health`: the Argo CD health check for SealedSecrets, as the `argocd-cm`
//! ConfigMap snippet that installs it (deploy/argocd/argocd-cm-health.yaml holds the same).

use serde_json::json;

use crate::output;

/// The Lua health check (one source: deploy/argocd/sealedsecret-health.lua).
pub const HEALTH_LUA: &str = include_str!("../../../../deploy/argocd/sealedsecret-health.lua");

/// The `argocd-cm` key Argo CD reads the check from.
pub const HEALTH_KEY: &str = "resource.customizations.health.seal.dev_SealedSecret";

/// The argocd-cm snippet as a YAML document.
pub fn snippet() -> anyhow::Result<String> {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-cm",
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"}
        },
        "data": {HEALTH_KEY: HEALTH_LUA}
    });
    let text = seal_core::yaml::to_string(&cm).map_err(anyhow::Error::msg)?;
    Ok(format!(
        "# Merge this key into argocd-cm (a patch, not a replacement of the ConfigMap).\n{text}"
    ))
}

/// Prints the snippet.
pub fn run() -> anyhow::Result<()> {
    output::print(snippet()?.as_bytes())
}
