//! Reading manifests (multi-document YAML, JSON, `v1/List`) into located documents, and
//! writing documents back out as YAML or JSON.

use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, Location};
use crate::wiping_buffer::WipingBuffer;
use crate::yaml;

/// One object of the input with where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// File, document index and List item.
    pub at: Location,
    /// The object as generic JSON.
    pub value: Value,
}

/// Splits a file's text into documents. `List` kinds (`v1/List`, `SecretList`, …) are
/// expanded into their items. Empty YAML documents (`---` twice in a row) are skipped and
/// not counted: document N is the N-th document with content.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, Error> {
    let values = if Format::of(text) == Format::Json {
        parse_json(file, text)?
    } else {
        yaml::parse_documents(text).map_err(|e| Error::Syntax {
            at: Location::document(file, document_of_line(text, e.line)),
            format: "YAML",
            line: e.line,
            column: e.column,
        })?
    };
    let mut documents = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let at = Location::document(file, index + 1);
        match value {
            Value::Null => {}
            Value::Object(mut map) if is_list(&map) => {
                // Taken, not copied: a List body is already in memory once.
                let Some(Value::Array(items)) = map.remove("items") else {
                    return Err(Error::Field {
                        at,
                        field: "items".to_owned(),
                        problem: "a List needs an items array".to_owned(),
                    });
                };
                for (item, value) in items.into_iter().enumerate() {
                    let at = Location {
                        item: Some(item),
                        ..at.clone()
                    };
                    documents.push(Document { at, value });
                }
            }
            value => documents.push(Document { at, value }),
        }
    }
    Ok(documents)
}

fn is_list(map: &serde_json::Map<String, Value>) -> bool {
    map.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && map.contains_key("items")
}

fn parse_json(file: &str, text: &str) -> Result<Vec<Value>, Error> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .enumerate()
        .map(|(index, value)| {
            value.map_err(|e| Error::Syntax {
                at: Location::document(file, index + 1),
                format: "JSON",
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
            })
        })
        .collect()
}

/// The 1-based document a line falls in, counting `---` separators above it.
fn document_of_line(text: &str, line: Option<u64>) -> usize {
    let Some(line) = line else { return 1 };
    let limit = usize::try_from(line).unwrap_or(usize::MAX);
    let mut document = 1;
    let mut seen_content = false;
    for l in text.lines().take(limit.saturating_sub(1)) {
        if l == "---" || l.starts_with("--- ") {
            if seen_content {
                document += 1;
            }
            seen_content = true;
        } else if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            seen_content = true;
        }
    }
    document
}

/// How documents are written out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// YAML documents separated by `---`.
    #[default]
    Yaml,
    /// One JSON object, or a `v1/List` of several.
    Json,
}

impl Format {
    /// The format a text is read as (and written back in): JSON when it starts with `{`,
    /// YAML otherwise.
    pub fn of(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Every document of every input file; no file at all (or `-`) is standard input.
pub fn read_files(paths: &[String]) -> Result<Vec<Document>, Error> {
    let stdin = ["-".to_owned()];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    let mut all = Vec::new();
    for path in paths {
        let text = crate::files::read_input(path)?;
        all.extend(parse(crate::files::display_name(path), &text)?);
    }
    Ok(all)
}

/// Renders documents. The buffer is wiped on drop because it may hold plaintext
/// (`unseal recover`).
pub fn render<T: Serialize>(documents: &[T], format: Format) -> Result<Zeroizing<String>, Error> {
    let failed = |e: String| Error::Input {
        file: "<output>".to_owned(),
        problem: format!("cannot serialize: {e}"),
    };
    // Rendered documents may hold plaintext (unseal recover): every outgrown buffer is
    // wiped, not only the final one.
    let mut out = WipingBuffer::with_capacity(4096);
    match format {
        Format::Yaml => {
            for (i, doc) in documents.iter().enumerate() {
                if i > 0 {
                    out.push_bytes(b"---\n");
                }
                yaml::to_writer(&mut out, doc).map_err(failed)?;
            }
        }
        Format::Json => {
            let written = if let [one] = documents {
                serde_json::to_writer_pretty(&mut out, one)
            } else {
                serde_json::to_writer_pretty(
                    &mut out,
                    &ListOf {
                        api_version: "v1",
                        kind: "List",
                        items: documents,
                    },
                )
            };
            written.map_err(|e| failed(e.to_string()))?;
            out.push_bytes(b"\n");
        }
    }
    let out = out
        .into_string()
        .map_err(|_| failed("not UTF-8".to_owned()))?;
    Ok(out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOf<'a, T> {
    api_version: &'static str,
    kind: &'static str,
    items: &'a [T],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_are_numbered_and_lists_expanded() {
        let text = "a: 1\n---\n---\napiVersion: v1\nkind: List\nitems:\n- b: 2\n- c: 3\n";
        let docs = parse("in.yaml", text).expect("parses");
        let places: Vec<String> = docs.iter().map(|d| d.at.to_string()).collect();
        assert_eq!(
            places,
            [
                "in.yaml: document 1",
                "in.yaml: document 2, items[0]",
                "in.yaml: document 2, items[1]"
            ]
        );
    }

    #[test]
    fn json_streams_are_read() {
        let docs = parse("in.json", "{\"a\":1}\n{\"b\":2}").expect("parses");
        assert_eq!(docs.len(), 2);
        let err = parse("in.json", "{\"a\":1}\n{\"b\":").expect_err("fails");
        assert!(
            err.to_string()
                .starts_with("in.json: document 2: not valid JSON at line 2"),
            "{err}"
        );
    }

    #[test]
    fn yaml_errors_name_the_document_and_never_the_text() {
        let text = "a: 1\n---\nsecret: \"hunter2\n";
        let err = parse("in.yaml", text).expect_err("fails").to_string();
        assert!(
            err.starts_with("in.yaml: document 2: not valid YAML"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn render_yaml_and_json() {
        let docs = [serde_json::json!({"a": 1}), serde_json::json!({"b": 2})];
        assert_eq!(
            &*render(&docs, Format::Yaml).expect("renders"),
            "a: 1\n---\nb: 2\n"
        );
        let json: Value =
            serde_json::from_str(&render(&docs, Format::Json).expect("renders")).expect("json");
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"][1]["b"], 2);
        let one: Value = serde_json::from_str(&render(&docs[..1], Format::Json).expect("renders"))
            .expect("json");
        assert_eq!(one["a"], 1);
    }
}
