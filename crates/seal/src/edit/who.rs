//! Who each recipient of an object is, as far as `seal` knows: the user's own identity,
//! a recipient the `.seal.yaml` rule lists or pins, or a key a cluster offered before
//! (remembered per kubeconfig context). `seal edit` shows this beside every recipient the
//! new values go to, and warns about one it knows nothing of: a key appended to the list
//! by someone else would otherwise receive every value edited from now on.

/// What is known about recipients.
#[derive(Default)]
pub struct Known {
    /// The recipients of the identities given with `-i`.
    pub own: Vec<String>,
    /// The rule that covers the file (as named to the user) and what it lists or pins.
    pub rule: Option<(String, Vec<String>)>,
    /// Kubeconfig contexts and the keys their clusters have offered.
    pub clusters: Vec<(String, Vec<String>)>,
}

impl Known {
    /// How `recipient` is shown, and whether anything vouches for it.
    pub fn describe(&self, recipient: &str) -> (String, bool) {
        let mut why = Vec::new();
        if self.own.iter().any(|r| r == recipient) {
            why.push("your identity".to_owned());
        }
        if let Some((source, listed)) = &self.rule
            && listed.iter().any(|r| r == recipient)
        {
            why.push(format!("listed by {source}"));
        }
        let contexts: Vec<&str> = self
            .clusters
            .iter()
            .filter(|(_, keys)| keys.iter().any(|r| r == recipient))
            .map(|(context, _)| context.as_str())
            .collect();
        if !contexts.is_empty() {
            why.push(format!("a key of context {}", contexts.join(", ")));
        }
        if why.is_empty() {
            (
                format!(
                    "{recipient} (UNKNOWN to seal: not your identity, not in a rule, not a cluster key seen before)"
                ),
                false,
            )
        } else {
            (format!("{recipient} ({})", why.join("; ")), true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_vouches_and_a_stranger_is_named_unknown() {
        let known = Known {
            own: vec!["age1me".into()],
            rule: Some((
                "the rule at .seal.yaml line 2".into(),
                vec!["age1prod".into()],
            )),
            clusters: vec![("prod".into(), vec!["age1prod".into()])],
        };
        assert_eq!(
            known.describe("age1me"),
            ("age1me (your identity)".into(), true)
        );
        let (shown, vouched) = known.describe("age1prod");
        assert!(vouched);
        assert!(
            shown.contains("listed by the rule") && shown.contains("context prod"),
            "{shown}"
        );
        let (shown, vouched) = known.describe("age1stranger");
        assert!(!vouched);
        assert!(shown.contains("UNKNOWN"), "{shown}");
    }
}
