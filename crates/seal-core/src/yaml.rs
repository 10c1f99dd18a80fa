//! The one place that knows the YAML library (serde-saphyr), so that it can be swapped
//! without touching anything else.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value with the place in the text it came from (for configuration files, whose
/// errors name a line).
pub use serde_saphyr::Spanned;

/// Where a YAML text is malformed (1-based line and column in the whole text). The
/// parser's own message is not kept: it may quote the input, which may be a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line, when the parser knows it.
    pub line: Option<u64>,
    /// Column, when the parser knows it.
    pub column: Option<u64>,
}

/// The parser's budget for a text of `len` bytes: the library's defaults allow 64 MiB of
/// scalars however small the input, so a few anchors repeated through aliases (a "billion
/// laughs") could grow a 1 MB request body to over 100 MB of memory. Here what the
/// documents may expand to is tied to the input: at most twice its size (at least
/// 64 KiB), for scalars and for what anchors retain alike.
fn budget_for(len: usize) -> serde_saphyr::Options {
    let cap = len.saturating_mul(2).max(64 * 1024);
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_total_scalar_bytes = cap;
    budget.max_recorded_anchor_bytes = cap;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Parses every document of a multi-document YAML stream into generic values, within a
/// budget tied to the text's size ([`budget_for`]).
pub fn parse_documents(text: &str) -> Result<Vec<serde_json::Value>, SyntaxError> {
    serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, budget_for(text.len()))
        .map_err(|e| {
            let location = e.location();
            SyntaxError {
                line: location.map(|l| l.line()),
                column: location.map(|l| l.column()),
            }
        })
}

/// A configuration file that does not fit its schema: where, and what is wrong. Unlike
/// [`SyntaxError`] this keeps the parser's message, so use it only for files that hold
/// no secret values (such as `.seal.yaml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// What is wrong (one line, without the location).
    pub message: String,
}

/// Parses a single-document configuration into `T` (use `deny_unknown_fields` on it so
/// that misspelt fields are errors).
pub fn from_config_str<T: DeserializeOwned>(text: &str) -> Result<T, SchemaError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let first = e.to_string().lines().next().unwrap_or_default().to_owned();
        let first = first.strip_prefix("error: ").unwrap_or(&first).to_owned();
        // The message repeats "line L column C: " when it knows the place; drop it, the
        // caller names the line its own way.
        let message = match first.split_once(": ") {
            Some((place, rest)) if place.starts_with("line ") => rest.to_owned(),
            _ => first,
        };
        // Even a configuration file can hold a private key pasted in the wrong place.
        let message = crate::names::without_identities(&message);
        SchemaError { line, message }
    })
}

/// Serializes one document as block-style YAML, ending in a newline. Long one-line
/// strings stay plain scalars on one line (never folded `>` blocks, whose line breaks
/// would read back as spaces), as kubectl writes them, so base64 ciphertexts diff line by
/// line; strings with newlines become literal `|` blocks.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    let mut out = String::new();
    to_writer(&mut out, value)?;
    Ok(out)
}

/// [`to_string`] into a writer (such as a [`crate::wiping_buffer::WipingBuffer`] for a
/// document that holds plaintext).
pub fn to_writer<W: std::fmt::Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), String> {
    let options =
        serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX, min_fold_chars: usize::MAX };
    let mut ends_in_newline = EndsInNewline {
        inner: out,
        last: 0,
    };
    serde_saphyr::to_fmt_writer_with_options(&mut ends_in_newline, value, options)
        .map_err(|e| e.to_string())?;
    if ends_in_newline.last != b'\n' {
        ends_in_newline
            .inner
            .write_char('\n')
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A writer that remembers the last byte written.
struct EndsInNewline<'a, W> {
    inner: &'a mut W,
    last: u8,
}

impl<W: std::fmt::Write> std::fmt::Write for EndsInNewline<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if let Some(b) = s.as_bytes().last() {
            self.last = *b;
        }
        self.inner.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_documents_and_locations() {
        let docs = parse_documents("a: 1\n---\nb: [x, z]\n").expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"][1], "z");
        let err = parse_documents("a: 1\nb: [unclosed\n").expect_err("fails");
        assert!(err.line.is_some());
    }

    #[test]
    fn an_alias_bomb_is_refused_within_a_budget_tied_to_the_input() {
        let big = "x".repeat(100_000);
        let aliases = "  - *big\n".repeat(72);
        let text = format!("kind: List\nitems:\n  - &big \"{big}\"\n{aliases}");
        assert!(text.len() < 110_000);
        assert!(
            parse_documents(&text).is_err(),
            "7 MB of expansion from 100 KB"
        );
        let fine = format!("a: &x \"{}\"\nb: *x\n", "y".repeat(1000));
        assert_eq!(
            parse_documents(&fine).expect("small aliases")[0]["b"]
                .as_str()
                .map(str::len),
            Some(1000)
        );
    }

    #[test]
    fn schema_errors_name_the_line_and_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Config {
            name: Spanned<String>,
        }
        let err = from_config_str::<Config>("name: a\nnmae: b\n").expect_err("fails");
        assert_eq!(err.line, Some(2));
        assert!(err.message.starts_with("unknown field `nmae`"), "{err:?}");
        let ok = from_config_str::<Config>("\nname: a\n").expect("parses");
        assert_eq!(ok.name.referenced.line(), 2);
    }

    #[test]
    fn strings_that_look_like_other_types_round_trip() {
        let long = "A".repeat(500);
        let value = serde_json::json!({"a": "true", "b": "0123", "c": "x: y", "d": "line1\nline2", "e": "", "f": "yes", "g": long});
        let text = to_string(&value).expect("serializes");
        let back = parse_documents(&text).expect("parses");
        assert_eq!(back, vec![value], "{text}");
        assert!(
            text.contains(&format!("g: {long}\n")),
            "long strings stay plain: {text}"
        );
    }
}
