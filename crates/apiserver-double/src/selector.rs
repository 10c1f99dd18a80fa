//! Label and field selectors, as far as the controller and its tests use them:
//! `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated;
//! field selectors `metadata.name` and `metadata.namespace` with `=`/`==`/`!=`.

use serde_json::Value;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector(Vec<Requirement>);

impl Selector {
    /// Parses a selector string.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some((k, set)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().to_owned(), set_values(set)?)
            } else if let Some((k, set)) = part.split_once(" in ") {
                Requirement::In(k.trim().to_owned(), set_values(set)?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.trim().to_owned())
            } else {
                Requirement::Exists(part.to_owned())
            };
            requirements.push(req);
        }
        Ok(Self(requirements))
    }

    /// Whether it has no requirement (matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a label map matches.
    pub fn matches_labels(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.matches(|k| labels.get(k).and_then(Value::as_str).map(str::to_owned))
    }

    /// Whether an object's fields match (field selectors).
    pub fn matches_fields(&self, object: &Value) -> bool {
        self.matches(|k| {
            let v = match k {
                "metadata.name" => &object["metadata"]["name"],
                "metadata.namespace" => &object["metadata"]["namespace"],
                _ => return None,
            };
            v.as_str().map(str::to_owned)
        })
    }

    fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, set) => get(k).is_some_and(|v| set.contains(&v)),
            Requirement::NotIn(k, set) => get(k).is_none_or(|v| !set.contains(&v)),
        })
    }
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn set_values(set: &str) -> Result<Vec<String>, String> {
    let inner = set
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("bad set {set:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let yes = [
            "a=1",
            "a==1,b",
            "c!=x",
            "!c",
            "a in (1,3)",
            "b notin (3)",
            "",
        ];
        for s in yes {
            assert!(
                Selector::parse(s).expect("parses").matches_labels(&obj),
                "{s}"
            );
        }
        for s in ["a=2", "c", "!a", "a in (2,3)", "a=1,c"] {
            assert!(
                !Selector::parse(s).expect("parses").matches_labels(&obj),
                "{s}"
            );
        }
    }

    #[test]
    fn field_selectors() {
        let obj = json!({"metadata": {"name": "x", "namespace": "n"}});
        assert!(
            Selector::parse("metadata.name=x")
                .expect("parses")
                .matches_fields(&obj)
        );
        assert!(
            !Selector::parse("metadata.namespace!=n")
                .expect("parses")
                .matches_fields(&obj)
        );
    }
}
