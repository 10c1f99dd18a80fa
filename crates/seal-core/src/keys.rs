//! Public recipients (`age1…`) to seal to, and the [`KeyRing`] of private identities
//! (`AGE-SECRET-KEY-1…`) that opens sealed values. Both read the standard age file
//! formats: one entry per line, `#` comments and blank lines ignored.

use std::str::FromStr;

use age::x25519;
use zeroize::Zeroizing;

use crate::error::Error;

/// The distinct recipients a value is sealed to, kept sorted by their `age1…` form so that
/// `spec.recipients` is stable from run to run.
#[derive(Clone, Default)]
pub struct Recipients {
    entries: Vec<(String, x25519::Recipient)>,
}

impl Recipients {
    /// No recipients yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one `age1…` recipient given on the command line (`origin` names the flag).
    pub fn add_arg(&mut self, origin: &str, text: &str) -> Result<(), Error> {
        let recipient = parse_recipient(text.trim()).map_err(|problem| Error::Input {
            file: origin.to_owned(),
            problem: problem.to_owned(),
        })?;
        self.insert(recipient);
        Ok(())
    }

    /// Adds every recipient of a recipients file; a file that lists none is an error.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), Error> {
        let mut found = 0;
        for (line_no, line) in entries(text) {
            let recipient = parse_recipient(line).map_err(|problem| Error::KeyFileLine {
                file: file.to_owned(),
                line: line_no,
                problem,
            })?;
            self.insert(recipient);
            found += 1;
        }
        if found == 0 {
            return Err(Error::Input {
                file: file.to_owned(),
                problem: "no recipients in this file (expected lines of age1…)".to_owned(),
            });
        }
        Ok(())
    }

    /// Adds a recipient that is already parsed.
    pub fn insert(&mut self, recipient: x25519::Recipient) {
        let text = recipient.to_string();
        if let Err(at) = self.entries.binary_search_by(|(t, _)| t.cmp(&text)) {
            self.entries.insert(at, (text, recipient));
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many distinct recipients.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The `age1…` strings, sorted.
    pub fn to_strings(&self) -> Vec<String> {
        self.entries.iter().map(|(t, _)| t.clone()).collect()
    }

    /// The recipients as the age crate takes them.
    pub fn as_age(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.entries.iter().map(|(_, r)| r as &dyn age::Recipient)
    }
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(t, _)| t))
            .finish()
    }
}

/// Parses one `age1…` X25519 recipient. The error never repeats the input: a private key
/// pasted by mistake must not be echoed to a terminal or a CI log.
pub fn parse_recipient(text: &str) -> Result<x25519::Recipient, &'static str> {
    if text.starts_with("AGE-SECRET-KEY-") {
        return Err(
            "this is a private identity, not a recipient: never share it; give its age1… public key",
        );
    }
    if !text.starts_with("age1") {
        return Err("not an age recipient (expected age1…)");
    }
    x25519::Recipient::from_str(text)
        .map_err(|_| "not a valid age X25519 recipient (only age1… X25519 keys are supported)")
}

/// The private identities that can open sealed values, each with its public recipient.
/// Values are opened with [`crate::x25519::Identity`] (the public key computed once).
#[derive(Default)]
pub struct KeyRing {
    entries: Vec<(String, crate::x25519::Identity)>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the identities of an age identity file; a file that holds none is an error.
    /// Line errors name the line, never its content.
    pub fn add_file(&mut self, file: &str, text: &Zeroizing<String>) -> Result<(), Error> {
        let mut found = 0;
        for (line_no, line) in entries(text) {
            let problem = if line.starts_with("AGE-SECRET-KEY-1") {
                match x25519::Identity::from_str(line) {
                    Ok(identity) => {
                        self.insert(identity);
                        found += 1;
                        continue;
                    }
                    Err(_) => "malformed age identity (AGE-SECRET-KEY-1…)",
                }
            } else if line.starts_with("AGE-PLUGIN-") {
                "plugin identities are not supported (only AGE-SECRET-KEY-1… X25519 identities)"
            } else if line.starts_with("age1") {
                "this is a recipient (public key), not an identity"
            } else {
                "not an age identity (expected AGE-SECRET-KEY-1…)"
            };
            return Err(Error::KeyFileLine {
                file: file.to_owned(),
                line: line_no,
                problem,
            });
        }
        if found == 0 {
            return Err(Error::Input {
                file: file.to_owned(),
                problem: "no identities in this file (expected a line AGE-SECRET-KEY-1…)"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Adds an identity (a duplicate is ignored).
    pub fn insert(&mut self, identity: x25519::Identity) {
        let recipient = identity.to_public().to_string();
        if !self.entries.iter().any(|(r, _)| r == &recipient) {
            self.entries
                .push((recipient, crate::x25519::Identity::from_age(&identity)));
        }
    }

    /// How many identities are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The public recipients of the identities held.
    pub fn recipients(&self) -> Vec<String> {
        self.entries.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The identities worth trying for a value sealed to `hint` (its `spec.recipients`):
    /// only those whose recipient is listed, so the cost does not grow with old keys.
    /// With no hint at all every identity is a candidate.
    pub fn candidates<'a>(&'a self, hint: &[String]) -> Vec<&'a dyn age::Identity> {
        self.x25519_candidates(hint)
            .into_iter()
            .map(|i| i as &dyn age::Identity)
            .collect()
    }

    /// [`Self::candidates`] as our own identities, for [`crate::age_file`].
    pub(crate) fn x25519_candidates<'a>(
        &'a self,
        hint: &[String],
    ) -> Vec<&'a crate::x25519::Identity> {
        self.entries
            .iter()
            .filter(|(r, _)| hint.is_empty() || hint.iter().any(|h| h == r))
            .map(|(_, i)| i)
            .collect()
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("recipients", &self.recipients())
            .finish()
    }
}

/// The meaningful lines of an age key file: trimmed, with blank lines and `#` comments
/// dropped, numbered from 1.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;

    fn new_identity() -> x25519::Identity {
        x25519::Identity::generate()
    }

    #[test]
    fn recipients_are_sorted_and_deduplicated() {
        let a = new_identity().to_public().to_string();
        let b = new_identity().to_public().to_string();
        let mut r = Recipients::new();
        let text = format!("# comment\n\n{b}\n{a}\n  {b}  \n");
        r.add_file("r.txt", &text).expect("parses");
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(r.to_strings(), want);
    }

    #[test]
    fn bad_recipient_lines_name_the_line_not_the_content() {
        let secret = new_identity().to_string();
        let text = format!("age1{}\n{}\n", "x".repeat(10), secret.expose_secret());
        let err = Recipients::new()
            .add_file("r.txt", &text)
            .expect_err("fails");
        assert!(err.to_string().starts_with("r.txt: line 1: "), "{err}");
        let err = Recipients::new()
            .add_file("r.txt", &format!("{}\n", secret.expose_secret()))
            .expect_err("fails");
        let shown = err.to_string();
        assert!(shown.contains("private identity"), "{shown}");
        assert!(!shown.contains(secret.expose_secret()));
    }

    #[test]
    fn empty_files_are_errors() {
        let err = Recipients::new()
            .add_file("r.txt", "# only a comment\n")
            .expect_err("fails");
        assert!(err.to_string().contains("no recipients"), "{err}");
        let err = KeyRing::new()
            .add_file("k.txt", &Zeroizing::new("\n".to_owned()))
            .expect_err("fails");
        assert!(err.to_string().contains("no identities"), "{err}");
    }

    #[test]
    fn candidates_follow_the_hint() {
        let (one, two) = (new_identity(), new_identity());
        let one_r = one.to_public().to_string();
        let text = Zeroizing::new(format!(
            "# public key: {one_r}\n{}\n{}\n",
            one.to_string().expose_secret(),
            two.to_string().expose_secret()
        ));
        let mut ring = KeyRing::new();
        ring.add_file("k.txt", &text).expect("parses");
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.candidates(&[one_r]).len(), 1);
        assert_eq!(ring.candidates(&[]).len(), 2);
        assert_eq!(ring.candidates(&["age1other".to_owned()]).len(), 0);
    }

    #[test]
    fn identity_file_lines_are_checked() {
        let r = new_identity().to_public().to_string();
        let err = KeyRing::new()
            .add_file("k.txt", &Zeroizing::new(format!("{r}\n")))
            .expect_err("fails");
        assert_eq!(
            err.to_string(),
            "k.txt: line 1: this is a recipient (public key), not an identity"
        );
    }
}
