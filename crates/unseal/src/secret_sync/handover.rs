//! The hand-over from bitnami sealed-secrets: a Secret that a `bitnami.com` SealedSecret
//! of the same name controls is taken over by a seal SealedSecret that `seal migrate`
//! made (it carries `seal.dev/migrated-from`), replacing bitnami's ownerReference with
//! ours, so that pruning the bitnami object later does not garbage-collect the Secret.
//!
//! The marker is only a claim (anyone who can create a SealedSecret can write it), so it
//! is not enough: the Secret must be controlled by a bitnami SealedSecret of exactly this
//! name in this namespace (the object `seal migrate` converted), and its type and data
//! must already be what the seal SealedSecret opens to, byte for byte. Taking it over
//! then changes who owns it and nothing else: someone who cannot produce the Secret's
//! values cannot take it, and the Secret is never without its data.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use seal_core::SealedSecret;
use seal_core::bitnami::{API_VERSION, GROUP, MIGRATED_FROM_ANNOTATION};

/// Whether an ownerReference is the controller reference of a bitnami SealedSecret
/// called `name`.
pub fn is_bitnami_controller(r: &OwnerReference, name: &str) -> bool {
    r.controller == Some(true)
        && r.kind == "SealedSecret"
        && r.api_version.split('/').next() == Some(GROUP)
        && r.name == name
}

/// Whether `sealed` may take `existing` over from bitnami: it is marked as migrated, the
/// Secret's controller is the bitnami SealedSecret of its name, and the Secret already
/// holds exactly `data` with the same type.
pub fn applies(
    existing: &Secret,
    sealed: &SealedSecret,
    data: &BTreeMap<String, ByteString>,
    same_type: bool,
) -> bool {
    let marked = sealed
        .annotations()
        .get(MIGRATED_FROM_ANNOTATION)
        .map(String::as_str)
        == Some(API_VERSION);
    let name = sealed.name_any();
    let controlled = existing
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .is_some_and(|r| is_bitnami_controller(r, &name));
    let same_data = existing
        .data
        .as_ref()
        .map_or(data.is_empty(), |d| d == data);
    marked && controlled && same_type && same_data && existing.namespace() == sealed.namespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitnami(name: &str) -> OwnerReference {
        OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: name.into(),
            uid: "b".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }
    }

    fn data(v: &[u8]) -> BTreeMap<String, ByteString> {
        BTreeMap::from([("password".to_owned(), ByteString(v.to_vec()))])
    }

    fn secret(owner: OwnerReference, value: &[u8]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("db".into());
        s.metadata.namespace = Some("apps".into());
        s.metadata.owner_references = Some(vec![owner]);
        s.data = Some(data(value));
        s
    }

    fn sealed(marked: bool) -> SealedSecret {
        let spec = seal_core::SealedSecretSpec {
            scope: Default::default(),
            mode: seal_core::Mode::Owned,
            recipients: Vec::new(),
            template: Default::default(),
            encrypted_data: Default::default(),
        };
        let mut s = SealedSecret::new("db", spec);
        s.metadata.namespace = Some("apps".into());
        if marked {
            s.annotations_mut()
                .insert(MIGRATED_FROM_ANNOTATION.into(), API_VERSION.into());
        }
        s
    }

    #[test]
    fn a_migrated_object_takes_its_bitnami_secret() {
        assert!(applies(
            &secret(bitnami("db"), b"v"),
            &sealed(true),
            &data(b"v"),
            true
        ));
    }

    /// What an attacker who can create SealedSecrets would try: the marker on an object
    /// whose Secret is someone else's, or with values of their own.
    #[test]
    fn the_marker_alone_takes_nothing() {
        let ours = data(b"v");
        assert!(!applies(
            &secret(bitnami("db"), b"v"),
            &sealed(false),
            &ours,
            true
        ));
        assert!(!applies(
            &secret(bitnami("other"), b"v"),
            &sealed(true),
            &ours,
            true
        ));
        let mut external = bitnami("db");
        external.api_version = "external-secrets.io/v1".into();
        external.kind = "ExternalSecret".into();
        assert!(!applies(
            &secret(external, b"v"),
            &sealed(true),
            &ours,
            true
        ));
        let mut lookalike = bitnami("db");
        lookalike.api_version = "bitnami.com.evil.io/v1alpha1".into();
        assert!(!applies(
            &secret(lookalike, b"v"),
            &sealed(true),
            &ours,
            true
        ));
        let mut not_controller = bitnami("db");
        not_controller.controller = None;
        assert!(!applies(
            &secret(not_controller, b"v"),
            &sealed(true),
            &ours,
            true
        ));
        assert!(!applies(
            &secret(bitnami("db"), b"attacker"),
            &sealed(true),
            &ours,
            true
        ));
        assert!(!applies(
            &secret(bitnami("db"), b"v"),
            &sealed(true),
            &ours,
            false
        ));
        let mut elsewhere = secret(bitnami("db"), b"v");
        elsewhere.metadata.namespace = Some("other".into());
        assert!(!applies(&elsewhere, &sealed(true), &ours, true));
    }
}
