//! Applying manifests for real, as `kubectl apply --server-side` would: each object
//! server-side applied by the resource that discovery (or a CRD applied just before) says
//! serves its kind, and each CRD waited on until the API server has established it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use serde_json::Value;

/// The field manager of every apply made here.
pub const FIELD_MANAGER: &str = "seal-tests";

/// How long a CRD may take to be established.
const ESTABLISHED_WITHIN: Duration = Duration::from_secs(60);

/// Why manifests could not be read or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A manifest file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest file is not YAML, or a kustomization has no `resources` list.
    #[error("{}: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A document is not an object with `apiVersion`, `kind` and `metadata.name`.
    #[error("not an object with apiVersion, kind and metadata.name: {0}")]
    NotAnObject(String),
    /// The API server serves no resource of this kind.
    #[error("{kind} {name}: the API server serves no {api_version} {kind}")]
    UnknownKind {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
        /// Its name.
        name: String,
    },
    /// The API server refused a request.
    #[error("{what}: {source}")]
    Api {
        /// The request.
        what: String,
        /// The API server's answer.
        source: kube::Error,
    },
    /// Watching a CRD for its establishment failed.
    #[error("watching CustomResourceDefinition {name}: {source}")]
    Watch {
        /// The CRD.
        name: String,
        /// Why.
        source: kube::runtime::wait::Error,
    },
    /// A CRD was accepted but not established in time.
    #[error("CustomResourceDefinition {0} not established within {ESTABLISHED_WITHIN:?}")]
    NotEstablished(String),
}

/// The repository's `deploy/` folder.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read_documents(path: &Path) -> Result<Vec<Value>, ApplyError> {
    let text = std::fs::read_to_string(path).map_err(|source| ApplyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let documents =
        serde_saphyr::from_multiple::<Value>(&text).map_err(|e| ApplyError::Malformed {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// The objects of one kustomization's `resources` (plain files), in their order.
fn kustomization_documents(dir: &Path) -> Result<Vec<Value>, ApplyError> {
    let kustomization = dir.join("kustomization.yaml");
    let resources = read_documents(&kustomization)?
        .first()
        .and_then(|k| k.get("resources"))
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| ApplyError::Malformed {
            path: kustomization.clone(),
            problem: "no resources list".to_owned(),
        })?;
    let mut all = Vec::new();
    for file in resources {
        let file = file.as_str().ok_or_else(|| ApplyError::Malformed {
            path: kustomization.clone(),
            problem: format!("a resource that is not a file name: {file}"),
        })?;
        all.extend(read_documents(&dir.join(file))?);
    }
    Ok(all)
}

/// Every object of `deploy/cluster/` (the namespace and the CRD, installed first) and of
/// `deploy/` (the controller), in their order: what `kubectl apply -k deploy/cluster &&
/// kubectl apply -k deploy/` sends, as the kustomizations have no transformers.
pub fn deploy_documents() -> Result<Vec<Value>, ApplyError> {
    let dir = deploy_dir();
    let mut all = kustomization_documents(&dir.join("cluster"))?;
    all.extend(kustomization_documents(&dir)?);
    Ok(all)
}

/// Applies `deploy/` (the `seal-system` namespace, the SealedSecret CRD, the controller's
/// ServiceAccount, RBAC, Deployment, Service, NetworkPolicy and PodDisruptionBudget) and
/// waits until the CRD is established. Idempotent. Nothing runs the Deployment: the
/// control plane has no nodes.
pub async fn install_deploy(client: &Client) -> Result<(), ApplyError> {
    apply(client, &deploy_documents()?).await
}

/// Server-side applies each object in order (field manager [`FIELD_MANAGER`], conflicts
/// forced). A namespaced object without a namespace goes to `default`. After a CRD, waits
/// until it is established, so later objects may be of its kind.
pub async fn apply(client: &Client, documents: &[Value]) -> Result<(), ApplyError> {
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .map_err(|source| ApplyError::Api {
            what: "discovery".to_owned(),
            source,
        })?;
    let mut defined: HashMap<GroupVersionKind, (ApiResource, Scope)> = HashMap::new();
    for document in documents {
        let object: DynamicObject = serde_json::from_value(document.clone())
            .map_err(|_| ApplyError::NotAnObject(short(document)))?;
        let (Some(types), Some(name)) = (object.types.as_ref(), object.metadata.name.as_ref())
        else {
            return Err(ApplyError::NotAnObject(short(document)));
        };
        let gvk = GroupVersionKind::try_from(types)
            .map_err(|_| ApplyError::NotAnObject(short(document)))?;
        let (resource, scope) = match discovery.resolve_gvk(&gvk) {
            Some((resource, capabilities)) => (resource, capabilities.scope),
            None => defined
                .get(&gvk)
                .cloned()
                .ok_or_else(|| ApplyError::UnknownKind {
                    api_version: types.api_version.clone(),
                    kind: types.kind.clone(),
                    name: name.clone(),
                })?,
        };
        let api: Api<DynamicObject> = match scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                object.metadata.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(document),
        )
        .await
        .map_err(|source| ApplyError::Api {
            what: format!("applying {} {name}", types.kind),
            source,
        })?;
        if gvk.group == "apiextensions.k8s.io" && gvk.kind == "CustomResourceDefinition" {
            let crd = established(client, name).await?;
            defined.extend(served_kinds(&crd));
        }
    }
    Ok(())
}

async fn established(client: &Client, name: &str) -> Result<CustomResourceDefinition, ApplyError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let wait = await_condition(crds, name, conditions::is_crd_established());
    match tokio::time::timeout(ESTABLISHED_WITHIN, wait).await {
        Ok(Ok(Some(crd))) => Ok(crd),
        Ok(Ok(None)) | Err(_) => Err(ApplyError::NotEstablished(name.to_owned())),
        Ok(Err(source)) => Err(ApplyError::Watch {
            name: name.to_owned(),
            source,
        }),
    }
}

/// The kinds an established CRD serves, by version.
fn served_kinds(crd: &CustomResourceDefinition) -> Vec<(GroupVersionKind, (ApiResource, Scope))> {
    let spec = &crd.spec;
    let scope = if spec.scope == "Namespaced" {
        Scope::Namespaced
    } else {
        Scope::Cluster
    };
    spec.versions
        .iter()
        .filter(|v| v.served)
        .map(|v| {
            let gvk = GroupVersionKind::gvk(&spec.group, &v.name, &spec.names.kind);
            let resource = ApiResource::from_gvk_with_plural(&gvk, &spec.names.plural);
            (gvk, (resource, scope.clone()))
        })
        .collect()
}

/// A document for an error message, cut short.
fn short(document: &Value) -> String {
    let text = document.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
