//! [`Wiped`]: Kubernetes objects that hold plaintext (a Secret read or about to be
//! written) overwritten with zeros when they drop.
//!
//! `k8s_openapi::ByteString` is a plain `Vec<u8>`: a Secret's data would otherwise stay in
//! freed memory after each reconcile. (The kube client's own request and response buffers
//! are beyond reach; this covers every copy the controller makes.)

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use zeroize::Zeroize;

/// Something whose secret contents can be overwritten in place.
pub trait Wipe {
    /// Overwrites the secret contents with zeros.
    fn wipe(&mut self);
}

impl Wipe for BTreeMap<String, ByteString> {
    fn wipe(&mut self) {
        for value in self.values_mut() {
            value.0.zeroize();
        }
    }
}

impl Wipe for Secret {
    fn wipe(&mut self) {
        if let Some(data) = self.data.as_mut() {
            data.wipe();
        }
        if let Some(data) = self.string_data.as_mut() {
            for value in data.values_mut() {
                value.zeroize();
            }
        }
    }
}

impl<T: Wipe> Wipe for Option<T> {
    fn wipe(&mut self) {
        if let Some(inner) = self.as_mut() {
            inner.wipe();
        }
    }
}

/// A value wiped when it drops.
#[derive(Debug, Default, PartialEq)]
pub struct Wiped<T: Wipe>(pub T);

impl<T: Wipe> Drop for Wiped<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

impl<T: Wipe> Deref for Wiped<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe> DerefMut for Wiped<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Wipe + Clone> Clone for Wiped<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_data_is_zeroed() {
        let mut secret = Secret {
            data: Some(BTreeMap::from([(
                "k".to_owned(),
                ByteString(b"value".to_vec()),
            )])),
            string_data: Some(BTreeMap::from([("s".to_owned(), "text".to_owned())])),
            ..Default::default()
        };
        secret.wipe();
        let data = secret.data.expect("data");
        assert!(data["k"].0.iter().all(|b| *b == 0) || data["k"].0.is_empty());
        let strings = secret.string_data.expect("strings");
        assert!(strings["s"].is_empty());
    }
}
