//! `seal ingress`: how to expose argocd-server with cert-manager TLS, in three shapes.
//!
//! - `passthrough`: one Ingress, TLS passed through ingress-nginx to argocd-server, which
//!   serves the cert-manager certificate from `argocd-server-tls` itself (HTTP and gRPC on
//!   one host).
//! - `terminate`: TLS ends at the ingress: an HTTP Ingress on the host and a gRPC Ingress
//!   on `grpc.<host>`, each with its own TLS Secret, and `server.insecure` for
//!   argocd-server.
//! - `gateway`: Gateway API routes (HTTPRoute and GRPCRoute) for an existing Gateway, and a
//!   cert-manager Certificate for its listener.
//!
//! Facts kept right: the server certificate Secret is `argocd-server-tls` (pointing
//! cert-manager at `argocd-secret` would overwrite what Argo CD keeps there); only
//! `spec.ingressClassName`, never the `kubernetes.io/ingress.class` annotation too; no
//! `tls-acme` annotation.

use anyhow::bail;
use seal_core::names;
use serde_json::{Value, json};

use crate::cli::{IngressArgs, IngressMode};
use crate::output;

/// The Secret argocd-server reads its TLS certificate from.
pub const SERVER_TLS_SECRET: &str = "argocd-server-tls";

/// Prints the manifests and, on stderr, what the cluster must have for them to work.
pub fn run(args: IngressArgs) -> anyhow::Result<()> {
    let (documents, notes) = manifests(&args)?;
    output::emit(&documents, &args.output)?;
    for note in notes {
        eprintln!("# {note}");
    }
    Ok(())
}

/// The issuer annotation (`cert-manager.io/cluster-issuer` or `cert-manager.io/issuer`)
/// and the issuer reference for a Certificate.
fn issuer(args: &IngressArgs) -> anyhow::Result<((&'static str, String), Value)> {
    match (&args.cluster_issuer, &args.issuer) {
        (Some(name), None) => Ok((
            ("cert-manager.io/cluster-issuer", name.clone()),
            json!({"name": name, "kind": "ClusterIssuer", "group": "cert-manager.io"}),
        )),
        (None, Some(name)) => Ok((
            ("cert-manager.io/issuer", name.clone()),
            json!({"name": name, "kind": "Issuer", "group": "cert-manager.io"}),
        )),
        _ => bail!(
            "give exactly one of --cluster-issuer or --issuer (the cert-manager issuer that signs the certificate)"
        ),
    }
}

/// The manifests for the chosen mode, and the notes about prerequisites.
pub fn manifests(args: &IngressArgs) -> anyhow::Result<(Vec<Value>, Vec<String>)> {
    names::check_hostname(&args.host).map_err(|p| anyhow::anyhow!("--host: {p}"))?;
    names::check_namespace(&args.namespace).map_err(|p| anyhow::anyhow!("--namespace: {p}"))?;
    let grpc_host = args
        .grpc_host
        .clone()
        .unwrap_or_else(|| format!("grpc.{}", args.host));
    names::check_hostname(&grpc_host).map_err(|p| anyhow::anyhow!("--grpc-host: {p}"))?;
    let ((issuer_key, issuer_name), issuer_ref) = issuer(args)?;
    let ns = args.namespace.as_str();
    let host = args.host.as_str();
    let class = args.class.as_str();
    let backend =
        |port: &str| json!({"service": {"name": "argocd-server", "port": {"name": port}}});
    let ingress = |name: &str, host: &str, annotations: Value, port: &str, tls_secret: &str| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {
                "ingressClassName": class,
                "rules": [{"host": host, "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend(port)}
                ]}}],
                "tls": [{"hosts": [host], "secretName": tls_secret}]
            }
        })
    };
    let insecure = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cmd-params-cm", "namespace": ns},
        "data": {"server.insecure": "true"}
    });
    let mut notes = vec![format!(
        "cert-manager must be installed with the {} {issuer_name:?}",
        issuer_ref["kind"].as_str().unwrap_or("issuer")
    )];
    let documents = match args.mode {
        IngressMode::Passthrough => {
            let annotations = json!({
                issuer_key: issuer_name,
                "nginx.ingress.kubernetes.io/ssl-passthrough": "true",
                "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
            });
            notes.push("ingress-nginx must run with --enable-ssl-passthrough (off by default), or this Ingress is served without passthrough".into());
            notes.push(format!("argocd-server serves the certificate cert-manager writes to the Secret {SERVER_TLS_SECRET} (it reloads it by itself)"));
            notes.push(
                "ingress-nginx was archived in March 2026; --mode gateway is the way forward"
                    .into(),
            );
            vec![ingress(
                "argocd-server",
                host,
                annotations,
                "https",
                SERVER_TLS_SECRET,
            )]
        }
        IngressMode::Terminate => {
            let http_annotations = json!({
                issuer_key: issuer_name.clone(),
                "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                "nginx.ingress.kubernetes.io/backend-protocol": "HTTP",
            });
            let grpc_annotations = json!({
                issuer_key: issuer_name,
                "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
            });
            notes.push(format!("the CLI logs in with: argocd login {grpc_host}"));
            notes.push("merge server.insecure=\"true\" into argocd-cmd-params-cm (not a replacement of it), then restart argocd-server".into());
            vec![
                ingress(
                    "argocd-server-http",
                    host,
                    http_annotations,
                    "http",
                    "argocd-server-http-tls",
                ),
                ingress(
                    "argocd-server-grpc",
                    &grpc_host,
                    grpc_annotations,
                    "https",
                    "argocd-server-grpc-tls",
                ),
                insecure,
            ]
        }
        IngressMode::Gateway => {
            let Some(gateway) = &args.gateway else {
                bail!(
                    "--gateway NAME is required with --mode gateway (the Gateway the routes attach to)"
                );
            };
            let gateway_ns = args
                .gateway_namespace
                .clone()
                .unwrap_or_else(|| ns.to_owned());
            names::check_object_name(gateway).map_err(|p| anyhow::anyhow!("--gateway: {p}"))?;
            names::check_namespace(&gateway_ns)
                .map_err(|p| anyhow::anyhow!("--gateway-namespace: {p}"))?;
            let parent =
                json!([{"name": gateway, "namespace": gateway_ns, "sectionName": "https"}]);
            let service = json!([{"name": "argocd-server", "port": 80}]);
            notes.push(format!("Gateway {gateway_ns}/{gateway} needs an HTTPS listener named \"https\" for {host} and {grpc_host} with certificateRefs [{{name: argocd-server-gateway-tls}}] (the Certificate below writes it) that allows routes from namespace {ns}"));
            notes.push("merge server.insecure=\"true\" into argocd-cmd-params-cm (not a replacement of it), then restart argocd-server".into());
            vec![
                json!({
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "Certificate",
                    "metadata": {"name": "argocd-server-gateway", "namespace": gateway_ns},
                    "spec": {"secretName": "argocd-server-gateway-tls", "dnsNames": [host, grpc_host], "issuerRef": issuer_ref}
                }),
                json!({
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "HTTPRoute",
                    "metadata": {"name": "argocd-server", "namespace": ns},
                    "spec": {"parentRefs": parent, "hostnames": [host], "rules": [{
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": service
                    }]}
                }),
                json!({
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "GRPCRoute",
                    "metadata": {"name": "argocd-server", "namespace": ns},
                    "spec": {"parentRefs": parent, "hostnames": [grpc_host], "rules": [{"backendRefs": service}]}
                }),
                insecure,
            ]
        }
    };
    Ok((documents, notes))
}
