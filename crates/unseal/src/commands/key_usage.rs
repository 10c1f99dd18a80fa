//! What still uses each sealing key: the SealedSecrets of the cluster whose
//! `spec.recipients` name its recipient, and how many values they hold. (`spec.recipients`
//! is what the objects claim; a key an object claims but is not sealed to is counted too,
//! which errs on the side of keeping a key.)

use std::collections::BTreeMap;

use kube::api::ListParams;
use kube::{Api, Client};
use seal_core::SealedSecret;

/// The SealedSecrets sealed to one key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// `namespace/name` of each, sorted.
    pub objects: Vec<String>,
    /// Their values, summed.
    pub values: usize,
}

/// Usage by recipient, over every SealedSecret of the cluster.
pub async fn by_recipient(client: &Client) -> kube::Result<BTreeMap<String, Usage>> {
    let sealed: Api<SealedSecret> = Api::all(client.clone());
    let items = sealed.list(&ListParams::default()).await?.items;
    Ok(count(&items))
}

/// Usage by recipient of these objects.
pub fn count(items: &[SealedSecret]) -> BTreeMap<String, Usage> {
    let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
    for item in items {
        let name = format!(
            "{}/{}",
            item.metadata.namespace.as_deref().unwrap_or("-"),
            item.metadata.name.as_deref().unwrap_or("-")
        );
        let mut seen = std::collections::BTreeSet::new();
        for recipient in &item.spec.recipients {
            if !seen.insert(recipient) {
                continue;
            }
            let entry = usage.entry(recipient.clone()).or_default();
            entry.objects.push(name.clone());
            entry.values += item.spec.encrypted_data.len();
        }
    }
    for entry in usage.values_mut() {
        entry.objects.sort();
    }
    usage
}

#[cfg(test)]
mod tests {
    use seal_core::{Mode, SealedSecretSpec};

    use super::*;

    fn object(ns: &str, name: &str, recipients: &[&str], values: usize) -> SealedSecret {
        let mut s = SealedSecret::new(
            name,
            SealedSecretSpec {
                scope: Default::default(),
                mode: Mode::Owned,
                recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
                template: Default::default(),
                encrypted_data: Default::default(),
            },
        );
        s.metadata.namespace = Some(ns.into());
        for i in 0..values {
            s.spec.encrypted_data.insert(format!("k{i}"), "x".into());
        }
        s
    }

    #[test]
    fn objects_and_values_are_counted_per_recipient_once() {
        let usage = count(&[
            object("b", "two", &["age1old", "age1new"], 2),
            object("a", "one", &["age1old", "age1old"], 3),
            object("a", "three", &["age1new"], 1),
        ]);
        assert_eq!(usage["age1old"].objects, ["a/one", "b/two"]);
        assert_eq!(usage["age1old"].values, 5);
        assert_eq!(usage["age1new"].values, 3);
        assert!(!usage.contains_key("age1unused"));
    }
}
