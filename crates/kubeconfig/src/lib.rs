//! How `seal` and `unseal` reach a cluster from outside it: a kubeconfig file (given, or
//! `$KUBECONFIG`, or `~/.kube/config`) and a context, or the in-cluster service account.
//! One place, so both binaries read kubeconfigs the same way and say the same things
//! when they cannot.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

/// The `--kubeconfig` and `--context` flags both binaries take.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KubeconfigArgs {
    /// The kubeconfig file [default: $KUBECONFIG or ~/.kube/config; in a pod, its service
    /// account].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: the current one].
    #[arg(long)]
    pub context: Option<String>,
}

impl KubeconfigArgs {
    /// The configuration these flags name (see [`load`]).
    pub async fn load(&self) -> Result<kube::Config, KubeconfigError> {
        load(self.kubeconfig.as_deref(), self.context.as_deref()).await
    }

    /// The name of the context these flags select (see [`context_name`]).
    pub fn context_name(&self) -> Option<String> {
        context_name(self.kubeconfig.as_deref(), self.context.as_deref())
    }
}

/// Why no usable configuration was found.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The named kubeconfig file cannot be read or parsed.
    #[error("{}: cannot read kubeconfig: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig was read but does not give a usable cluster (context, user, server).
    #[error("{}: unusable kubeconfig: {source}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// The context asked for cannot be loaded from the default kubeconfig.
    #[error("cannot load the kubeconfig context: {0}")]
    Context(kube::config::KubeconfigError),
    /// Neither a kubeconfig nor an in-cluster service account is there.
    #[error("no cluster configured (KUBECONFIG, --kubeconfig, or in-cluster): {0}")]
    NotConfigured(kube::config::InferConfigError),
}

/// The configuration for `kubeconfig` (a file) and `context`; with neither, inferred
/// (`$KUBECONFIG`, `~/.kube/config`, then in-cluster).
pub async fn load(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, KubeconfigError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|source| KubeconfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|source| KubeconfigError::Unusable {
                    path: path.to_path_buf(),
                    source,
                })
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(KubeconfigError::Context),
        None => kube::Config::infer()
            .await
            .map_err(KubeconfigError::NotConfigured),
    }
}

/// The name of the context [`load`] uses for `kubeconfig` and `context`: `context` when
/// given, else the kubeconfig's `current-context`; `None` when no kubeconfig names one
/// (in a pod, with its service account). A kubeconfig that cannot be read gives `None`
/// too: [`load`] is the place that reports it.
pub fn context_name(kubeconfig: Option<&Path>, context: Option<&str>) -> Option<String> {
    if let Some(context) = context {
        return Some(context.to_owned());
    }
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok()?,
        None => Kubeconfig::read().ok()?,
    };
    file.current_context.filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: one\n  context: {cluster: c, user: u}\ncurrent-context: one\n";

    #[tokio::test]
    async fn a_file_and_its_context() {
        let dir = std::env::temp_dir().join(format!("seal-kubeconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("config");
        std::fs::write(&file, KUBECONFIG).expect("written");
        let config = load(Some(&file), None).await.expect("loads");
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:6443/");
        let err = load(Some(&file), Some("other"))
            .await
            .expect_err("no such context");
        assert!(
            err.to_string()
                .starts_with(&format!("{}: unusable kubeconfig", file.display())),
            "{err}"
        );
        assert_eq!(context_name(Some(&file), None).as_deref(), Some("one"));
        assert_eq!(
            context_name(Some(&file), Some("two")).as_deref(),
            Some("two")
        );
        let missing = dir.join("missing");
        let err = load(Some(&missing), None).await.expect_err("no file");
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read kubeconfig", missing.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).expect("cleaned");
    }
}
