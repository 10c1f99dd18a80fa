//! `clusterRecipients` / `clusterRecipientsFiles` of a `.seal.yaml` rule: the only cluster
//! keys online sealing may use for the files the rule covers.

use crate::trust::TrustError;
use crate::trust::cluster_keys::ClusterOffer;

/// The cluster keys a rule pins, and where the rule is (for the refusal).
#[derive(Debug, Clone)]
pub struct ClusterPins {
    /// The pinned `age1…` recipients.
    pub recipients: Vec<String>,
    /// The rules file, as named to the user.
    pub file: String,
    /// The rule's line.
    pub line: u64,
}

impl ClusterPins {
    /// Whether `recipient` is pinned.
    pub fn pins(&self, recipient: &str) -> bool {
        self.recipients.iter().any(|r| r == recipient)
    }

    /// Refuses an offer with any key that is not pinned.
    pub fn check(&self, offer: &ClusterOffer) -> Result<(), TrustError> {
        let unpinned: Vec<String> = offer
            .recipients
            .to_strings()
            .into_iter()
            .filter(|r| !self.pins(r))
            .collect();
        if unpinned.is_empty() {
            return Ok(());
        }
        Err(TrustError::Unpinned {
            file: self.file.clone(),
            line: self.line,
            context: offer.context.clone(),
            offered: unpinned.join(", "),
        })
    }
}
