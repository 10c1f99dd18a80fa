//! What the controller refuses to act on, whatever a SealedSecret claims: checked before
//! any value is opened or any Secret is read.
//!
//! - SealedSecrets in the controller's own namespace: a Secret made there could pose as
//!   a sealing key, the key backup or anything else the controller trusts in its
//!   namespace.
//! - `seal.dev/*` labels and annotations in the template: they mark sealing keys,
//!   managed Secrets and opted-in merge targets, and only the controller and the owners
//!   of live Secrets may set them.
//! - Secret types that other parts of Kubernetes fill in or act on: a
//!   `kubernetes.io/service-account-token` Secret is given a token for the service account
//!   it names (the controller, which may write Secrets anywhere, would mint tokens for
//!   whoever may create SealedSecrets, then fight the token controller over its data for
//!   ever), and a `bootstrap.kubernetes.io/token` Secret lets nodes join the cluster.

use kube::ResourceExt;
use seal_core::SealedSecret;

use crate::status::Verdict;

/// The condition reason for a SealedSecret in the controller's namespace.
pub const RESERVED_NAMESPACE: &str = "ReservedNamespace";

/// Secret types the controller never writes.
pub const REFUSED_TYPES: &[&str] = &[
    "kubernetes.io/service-account-token",
    "bootstrap.kubernetes.io/token",
];

/// `Err` with the verdict to report when the controller must not act on `sealed`.
pub fn admit(sealed: &SealedSecret, controller_namespace: &str) -> Result<(), Verdict> {
    let refuse = |reason: &'static str, message: String| {
        Err(Verdict {
            synced: false,
            reason,
            message,
        })
    };
    match sealed.namespace() {
        None => refuse(
            "InvalidSpec",
            "a SealedSecret must be namespaced".to_owned(),
        ),
        Some(ns) if ns == controller_namespace => refuse(
            RESERVED_NAMESPACE,
            format!(
                "SealedSecrets in the controller's own namespace {ns} are never unsealed (its Secrets are the sealing keys)"
            ),
        ),
        Some(_) => {
            if let Some(field) = sealed.spec.template.metadata.reserved_field() {
                return refuse(
                    "InvalidSpec",
                    format!(
                        "{field}: seal.dev/ labels and annotations are reserved for the controller"
                    ),
                );
            }
            match sealed.spec.template.type_.as_deref() {
                Some(t) if REFUSED_TYPES.contains(&t) => refuse(
                    "InvalidSpec",
                    format!(
                        "spec.template.type: {t} Secrets are made by Kubernetes itself; the controller never writes them"
                    ),
                ),
                _ => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use seal_core::{Mode, SealedSecretSpec};

    use super::*;

    fn sealed(ns: &str) -> SealedSecret {
        let mut s = SealedSecret::new(
            "db",
            SealedSecretSpec {
                scope: Default::default(),
                mode: Mode::Owned,
                recipients: Vec::new(),
                template: Default::default(),
                encrypted_data: Default::default(),
            },
        );
        s.metadata.namespace = Some(ns.to_owned());
        s
    }

    #[test]
    fn the_controller_namespace_and_reserved_metadata_are_refused() {
        assert!(admit(&sealed("apps"), "seal-system").is_ok());
        let verdict = admit(&sealed("seal-system"), "seal-system").expect_err("own ns");
        assert_eq!(verdict.reason, RESERVED_NAMESPACE);
        let mut labelled = sealed("apps");
        labelled
            .spec
            .template
            .metadata
            .labels
            .insert("seal.dev/sealing-key".into(), "true".into());
        let verdict = admit(&labelled, "seal-system").expect_err("reserved label");
        assert_eq!(verdict.reason, "InvalidSpec");
        assert!(verdict.message.contains("labels.seal.dev/sealing-key"));
        let mut token = sealed("apps");
        token.spec.template.type_ = Some("kubernetes.io/service-account-token".into());
        let verdict = admit(&token, "seal-system").expect_err("a token Secret");
        assert_eq!(verdict.reason, "InvalidSpec");
        assert!(verdict.message.starts_with("spec.template.type: "));
    }
}
