//! What every target shares: the checks that an error message echoes neither an age
//! identity found in the input nor a secret value, and the corpus replay that the
//! workspace tests run.

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

/// How every age X25519 identity (private key) starts.
pub const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-";

/// The shortest run of bytes that counts as echoed.
pub const ECHO_RUN: usize = 20;

/// Panics when `message` holds [`ECHO_RUN`] bytes of `input` that start like an age
/// identity (`AGE-SECRET-KEY-…`, ASCII case ignored as bech32 does).
pub fn assert_no_identity_echo(input: &[u8], message: &str) {
    let msg = message.as_bytes();
    let prefix = IDENTITY_PREFIX.as_bytes();
    let mut lower_input: Option<Vec<u8>> = None;
    for at in 0..msg.len() {
        let Some(run) = msg.get(at..at + ECHO_RUN) else {
            break;
        };
        if !run[..prefix.len()].eq_ignore_ascii_case(prefix) {
            continue;
        }
        let input = lower_input.get_or_insert_with(|| input.to_ascii_lowercase());
        assert!(
            !contains(input, &run.to_ascii_lowercase()),
            "an error message echoes an age identity from the input: {message:?}"
        );
    }
}

/// Panics when `message` holds [`ECHO_RUN`] bytes of one of `secrets` that none of
/// `public` (names, keys and other texts an error may quote) holds as well.
pub fn assert_no_secret_echo(secrets: &[&[u8]], public: &[&[u8]], message: &str) {
    let windows: HashSet<&[u8]> = message.as_bytes().windows(ECHO_RUN).collect();
    if windows.is_empty() {
        return;
    }
    for secret in secrets {
        for run in secret.windows(ECHO_RUN) {
            if windows.contains(run) && !public.iter().any(|p| contains(p, run)) {
                panic!(
                    "an error message echoes a secret value ({:?}): {message:?}",
                    String::from_utf8_lossy(run)
                );
            }
        }
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A SealedSecret (which has no `PartialEq`) as JSON, to compare two.
pub fn as_json(sealed: &seal_core::SealedSecret) -> serde_json::Value {
    serde_json::to_value(sealed).expect("a SealedSecret serializes")
}

/// Runs `check` on every file of `dir` (a `fuzz/corpus/<target>` folder) and panics
/// naming each file whose check panicked, or when the folder holds fewer than
/// `at_least` files (a corpus that went missing must not pass as an empty one).
pub fn replay(dir: &Path, at_least: usize, check: impl Fn(&[u8])) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= at_least,
        "{}: {} inputs, expected at least {at_least}",
        dir.display(),
        files.len()
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if panic::catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} inputs broke an invariant (the panics are printed above): {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echoed_identity_is_caught_in_any_case() {
        let input = b"x: AGE-SECRET-KEY-1QQQQQQQQQQQQQQ";
        assert_no_identity_echo(input, "x: unknown field");
        let caught = panic::catch_unwind(|| {
            assert_no_identity_echo(input, "bad value `age-secret-key-1qqqqqq`")
        });
        assert!(caught.is_err());
    }

    #[test]
    fn a_secret_is_caught_unless_it_is_also_public() {
        let secret: &[u8] = b"0123456789abcdefghijklmnop";
        let message = "data.k: 0123456789abcdefghij";
        assert!(panic::catch_unwind(|| assert_no_secret_echo(&[secret], &[], message)).is_err());
        assert_no_secret_echo(&[secret], &[b"0123456789abcdefghijXYZ"], message);
    }
}
