//! The errors of this crate. Every message names where the problem is (file, document,
//! field) and never carries a secret value: the types hold only names, keys, line numbers
//! and fixed texts.

use std::fmt;
use std::io;
use std::path::Path;

/// Where a document stands in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (`-` or `<stdin>` for standard input).
    pub file: String,
    /// 1-based index of the document in the file (YAML `---` documents or JSON values).
    pub document: Option<usize>,
    /// 0-based index in a `v1/List`'s `items`, when the document is a List.
    pub item: Option<usize>,
}

impl Location {
    /// The whole file.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            document: None,
            item: None,
        }
    }

    /// One document of a file.
    pub fn document(file: impl Into<String>, document: usize) -> Self {
        Self {
            document: Some(document),
            ..Self::file(file)
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(document) = self.document {
            write!(f, ": document {document}")?;
        }
        if let Some(item) = self.item {
            write!(f, ", items[{item}]")?;
        }
        Ok(())
    }
}

/// Why a sealed value did not open. The `reason()` strings are the ones the controller
/// puts in conditions and metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The value is not base64.
    #[error("not valid base64")]
    InvalidBase64,
    /// The bytes are not an age v1 file.
    #[error("not an age v1 ciphertext")]
    NotAge,
    /// None of the identities held can open it.
    #[error("no identity held here can open this value (sealed to other recipients)")]
    NoMatchingKey,
    /// The ciphertext is far outside the shape `seal` produces (a stanza flood, a huge
    /// header, a foreign stanza type): refused before the age library parses it.
    #[error("refused before decryption: {problem}")]
    BadShape {
        /// What is wrong.
        problem: &'static str,
    },
    /// A matching identity was found but the ciphertext does not authenticate.
    #[error("the ciphertext does not authenticate (tampered or truncated)")]
    DecryptFailed,
    /// It opened but its header is from a newer format version.
    #[error("format version {version} is not supported by this version of seal")]
    UnsupportedVersion {
        /// The version token, e.g. `seal.dev/v2`.
        version: String,
    },
    /// It opened but the plaintext carries no valid seal header.
    #[error("opened, but it is not a seal value (no valid header)")]
    NotSealFormat,
    /// It opened but was sealed for another place than where it stands.
    #[error(
        "sealed for {field} {} but stands in {field} {}",
        crate::names::shown(.sealed_for),
        crate::names::shown(.stands_in)
    )]
    ScopeMismatch {
        /// `scope`, `namespace`, `name` or `key`.
        field: &'static str,
        /// What the header says.
        sealed_for: String,
        /// Where the value is now.
        stands_in: String,
    },
}

impl OpenError {
    /// A stable reason code (`DecryptFailed`, `NoMatchingKey`, `ScopeMismatch`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            OpenError::InvalidBase64 => "InvalidBase64",
            OpenError::NotAge => "NotAge",
            OpenError::NoMatchingKey => "NoMatchingKey",
            OpenError::BadShape { .. } => "InvalidSpec",
            OpenError::DecryptFailed => "DecryptFailed",
            OpenError::UnsupportedVersion { .. } => "UnsupportedVersion",
            OpenError::NotSealFormat => "NotSealFormat",
            OpenError::ScopeMismatch { .. } => "ScopeMismatch",
        }
    }
}

/// A problem with one field of one document, before its location is known.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The field is missing or malformed.
    #[error("{field}: {problem}")]
    Field {
        /// A path such as `data.password` or `metadata.namespace`.
        field: String,
        /// What is wrong, in words that never include the field's value.
        problem: String,
    },
    /// A sealed value did not open.
    #[error("{field}: {error}")]
    Open {
        /// `spec.encryptedData.<key>`.
        field: String,
        /// Why (shown in the message, so not chained as a source).
        error: OpenError,
    },
}

impl DocError {
    /// A field problem.
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        DocError::Field {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Attaches the document's location.
    pub fn at(self, at: &Location) -> Error {
        match self {
            DocError::Field { field, problem } => Error::Field {
                at: at.clone(),
                field,
                problem,
            },
            DocError::Open { field, error } => Error::Open {
                at: at.clone(),
                field,
                error: Box::new(error),
            },
        }
    }
}

/// Any failure of reading, sealing or opening, with its location.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: cannot {action}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// `read`, `write`, `create`, …
        action: &'static str,
        /// The OS error (shown in the message, so not chained as a source).
        cause: io::Error,
    },
    /// The text is not YAML or JSON.
    #[error("{at}: not valid {format}{}", line_col(*.line, *.column))]
    Syntax {
        /// The file and the document the error is in.
        at: Location,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// 1-based line in the file, when known.
        line: Option<u64>,
        /// 1-based column, when known.
        column: Option<u64>,
    },
    /// A field of a document is missing or malformed.
    #[error("{at}: {field}: {problem}")]
    Field {
        /// Where.
        at: Location,
        /// Which field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A sealed value did not open.
    #[error("{at}: {field}: {error}")]
    Open {
        /// Where.
        at: Location,
        /// Which value.
        field: String,
        /// Why (shown in the message, so not chained as a source; boxed to keep the
        /// error small).
        error: Box<OpenError>,
    },
    /// A line of a recipients or identity file is malformed.
    #[error("{file}: line {line}: {problem}")]
    KeyFileLine {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the line's content: it may be a private key).
        problem: &'static str,
    },
    /// A whole input is unusable (empty recipients file, no Secret found, …).
    #[error("{file}: {problem}")]
    Input {
        /// The file or flag.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

impl Error {
    /// An I/O error on a path.
    pub fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            action,
            cause: source,
        }
    }

    /// Whether this is a sealed value that did not open (as opposed to bad input).
    pub fn is_open_failure(&self) -> bool {
        matches!(self, Error::Open { .. })
    }
}

fn line_col(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_naturally() {
        let mut at = Location::document("a.yaml", 2);
        assert_eq!(at.to_string(), "a.yaml: document 2");
        at.item = Some(3);
        assert_eq!(at.to_string(), "a.yaml: document 2, items[3]");
        assert_eq!(Location::file("-").to_string(), "-");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = Error::Syntax {
            at: Location::document("x.yaml", 1),
            format: "YAML",
            line: Some(3),
            column: Some(7),
        };
        assert_eq!(
            e.to_string(),
            "x.yaml: document 1: not valid YAML at line 3, column 7"
        );
    }
}
