//! A running control plane as tests see it: clients (cluster-admin, or impersonating a
//! user such as the controller's ServiceAccount) and a fresh namespace per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// The user the controller runs as in the cluster (deploy/serviceaccount.yaml), for
/// [`ControlPlane::client_as`]: impersonated, it gets exactly what deploy/rbac.yaml grants.
pub const CONTROLLER_USER: &str = "system:serviceaccount:seal-system:unseal";

/// The label every namespace made by [`ControlPlane::namespace`] carries.
pub const TEST_NAMESPACE_LABEL: &str = "seal.dev/test-namespace";

/// A running control plane: where its kubeconfig is.
#[derive(Debug)]
pub struct ControlPlane {
    kubeconfig: PathBuf,
}

impl ControlPlane {
    pub(crate) fn new(kubeconfig: PathBuf) -> Self {
        Self { kubeconfig }
    }

    /// The cluster-admin kubeconfig (a bearer token of a `system:masters` user).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster-admin client configuration, to adjust before making a client.
    pub async fn config(&self) -> Config {
        let file = Kubeconfig::read_from(&self.kubeconfig)
            .unwrap_or_else(|e| panic!("{}: {e}", self.kubeconfig.display()));
        Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.kubeconfig.display()))
    }

    /// A cluster-admin client. Make one per test: a client belongs to the tokio runtime
    /// it was made on.
    pub async fn client(&self) -> Client {
        client(self.config().await)
    }

    /// A client that impersonates `user` (the `Impersonate-User` header, as `kubectl
    /// --as`): requests are authorized as that user, so RBAC is what the cluster grants
    /// it. A ServiceAccount user (`system:serviceaccount:NS:NAME`) also gets its groups.
    pub async fn client_as(&self, user: &str) -> Client {
        let mut config = self.config().await;
        config.auth_info.impersonate = Some(user.to_owned());
        client(config)
    }

    /// Creates a namespace with a fresh name (`PREFIX-xxxxx`, chosen by the API server)
    /// and returns that name.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> String {
        let ns = Namespace {
            metadata: ObjectMeta {
                generate_name: Some(format!("{prefix}-")),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let made = Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating a namespace {prefix}-…: {e}"));
        made.metadata
            .name
            .unwrap_or_else(|| panic!("the API server named no namespace for {prefix}-"))
    }
}

fn client(config: Config) -> Client {
    Client::try_from(config).unwrap_or_else(|e| panic!("a kube client: {e}"))
}
