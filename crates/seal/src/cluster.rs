//! Talking to the controller through the kubeconfig: its published recipients (the
//! ConfigMap first, readable by every authenticated user; the HTTP API through the API
//! server's service proxy as a fallback), and its verify and reencrypt endpoints.
//!
//! Every failure is one line saying what was tried: an unreachable cluster, a missing
//! controller, or RBAC refusing.

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

use crate::cli::ClusterArgs;

/// The ConfigMap the controller publishes its recipients in.
const RECIPIENTS_CONFIGMAP: &str = "unseal-recipients";

/// A connection to the cluster and where its controller is.
pub struct Cluster {
    client: Client,
    server: String,
    namespace: String,
    service: String,
}

/// An answer of the controller's HTTP API.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// Recipients a reencrypt dropped because the controller does not trust them (its
    /// `seal-dropped-recipients` header).
    pub dropped: Vec<String>,
    /// The controller's own keys (not its active one) a reencrypt replaced by its active
    /// key (its `seal-replaced-recipients` header).
    pub replaced: Vec<String>,
}

/// The header in which the controller names the recipients a reencrypt dropped.
const DROPPED_HEADER: &str = "seal-dropped-recipients";
/// The header in which the controller names its own keys a reencrypt replaced.
const REPLACED_HEADER: &str = "seal-replaced-recipients";

/// The comma-separated recipients of a reply header; none when it is absent or not text.
fn listed(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Cluster {
    /// Connects with `--kubeconfig`/`--context`, or what kube infers (KUBECONFIG,
    /// ~/.kube/config, in-cluster).
    pub async fn connect(args: &ClusterArgs) -> anyhow::Result<Self> {
        let config = args.kube.load()
            .await
            .map_err(|e| match e {
                seal_kubeconfig::KubeconfigError::NotConfigured(_) => anyhow::anyhow!(
                    "no recipients given (-r/-R) and no cluster configured (KUBECONFIG, --kubeconfig) to fetch them from"
                ),
                other => other.into(),
            })?;
        let mut config = config;
        // A CLI answers at once: kube's default retries of 503/429 (up to 15, with
        // backoff to minutes) would make "no controller" look like a hang.
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).context("cannot create the Kubernetes client")?;
        Ok(Self {
            client,
            server,
            namespace: args.controller_namespace.clone(),
            service: args.controller_name.clone(),
        })
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn unreachable(&self, e: &kube::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the Kubernetes API server at {}: {e}",
            self.server.trim_end_matches('/')
        )
    }

    /// The controller's recipients file: from the ConfigMap, else over HTTP.
    pub async fn recipients_text(&self) -> anyhow::Result<String> {
        let maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        let why_not_configmap = match maps.get_opt(RECIPIENTS_CONFIGMAP).await {
            Ok(Some(cm)) => match cm.data.and_then(|d| d.get("recipients.txt").cloned()) {
                Some(text) => return Ok(text),
                None => "it has no recipients.txt".to_owned(),
            },
            Ok(None) => "it does not exist".to_owned(),
            Err(kube::Error::Api(s)) if s.code == 403 => format!("forbidden: {}", s.message),
            Err(kube::Error::Api(s)) => format!("{} {}", s.code, s.message),
            Err(e) => return Err(self.unreachable(&e)),
        };
        let answer = self
            .call("GET", "/v1/recipients?format=text", Vec::new())
            .await?;
        match answer.status {
            200 => Ok(answer.body),
            403 => bail!(
                "forbidden: cannot read ConfigMap {}/{RECIPIENTS_CONFIGMAP} ({why_not_configmap}) nor use the service proxy of {}/{}; ask for the seal-recipients RBAC or use -R with a fetched recipients file",
                self.namespace,
                self.namespace,
                self.service
            ),
            _ => bail!(
                "no seal controller found: ConfigMap {}/{RECIPIENTS_CONFIGMAP}: {why_not_configmap}; service {}/{}: {} (install it, set --controller-namespace, or give -r/-R)",
                self.namespace,
                self.namespace,
                self.service,
                first_line(&answer.body)
            ),
        }
    }

    /// Calls the controller's HTTP API through the API server's service proxy.
    pub async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> anyhow::Result<Answer> {
        let uri = format!(
            "/api/v1/namespaces/{}/services/{}:http/proxy{path}",
            self.namespace, self.service
        );
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, "application/yaml")
            .body(kube::client::Body::from(body))
            .context("cannot build the request")?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        let dropped = listed(response.headers(), DROPPED_HEADER);
        let replaced = listed(response.headers(), REPLACED_HEADER);
        let bytes = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(|e| self.unreachable(&e))?;
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            dropped,
            replaced,
        })
    }
}

/// The reason and message of a refusal from the controller (or the API server).
pub fn refusal(answer: &Answer) -> String {
    match serde_json::from_str::<serde_json::Value>(&answer.body) {
        Ok(v) => format!(
            "{}: {}",
            v["reason"].as_str().unwrap_or("Refused"),
            v["message"].as_str().unwrap_or_default()
        ),
        Err(_) => format!("HTTP {}: {}", answer.status, first_line(&answer.body)),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// Runs one async task on a small runtime (the CLI is otherwise synchronous).
pub fn block_on<T>(
    task: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_recipient_headers_are_read_alike() {
        let mut headers = http::HeaderMap::new();
        headers.insert(DROPPED_HEADER, "age1a, age1b".parse().expect("header"));
        headers.insert(REPLACED_HEADER, "age1old,".parse().expect("header"));
        assert_eq!(listed(&headers, DROPPED_HEADER), ["age1a", "age1b"]);
        assert_eq!(listed(&headers, REPLACED_HEADER), ["age1old"]);
        assert!(listed(&http::HeaderMap::new(), REPLACED_HEADER).is_empty());
    }
}
