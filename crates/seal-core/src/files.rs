//! Reading inputs (a file or standard input) and writing outputs atomically: a temporary
//! file in the same folder, renamed over the target only once it is complete.

use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::Error;

/// The name standard input goes by in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// Reads a whole input: `-` is standard input. The buffer is wiped on drop since inputs
/// may be plaintext Secrets or identity files.
pub fn read_input(path: &str) -> Result<Zeroizing<String>, Error> {
    let mut bytes = Zeroizing::new(Vec::new());
    if path == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(Path::new(STDIN_NAME), "read", e))?;
    } else {
        let mut file =
            std::fs::File::open(path).map_err(|e| Error::io(Path::new(path), "read", e))?;
        if let Ok(meta) = file.metadata() {
            bytes.reserve_exact(usize::try_from(meta.len()).unwrap_or(0));
        }
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(Path::new(path), "read", e))?;
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Input {
        file: display_name(path).to_owned(),
        problem: "not UTF-8 text (expected YAML or JSON)".to_owned(),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// How a path is named in messages.
pub fn display_name(path: &str) -> &str {
    if path == "-" { STDIN_NAME } else { path }
}

/// Whether a new file may replace an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace the target if it exists.
    Replace,
    /// Fail if the target exists (never clobber a key file).
    Refuse,
}

/// Writes `contents` to `path` atomically with Unix permission `mode`: readers see the old
/// file or the new one, never half of one; on error nothing is left behind.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".seal-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, "create a temporary file beside", e))?;
    set_mode(temp.as_file(), mode).map_err(|e| Error::io(path, "set permissions of", e))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io(path, "write", e))?;
    match overwrite {
        Overwrite::Replace => temp.persist(path).map(drop),
        Overwrite::Refuse => temp.persist_noclobber(path).map(drop),
    }
    .map_err(|e| {
        let action = if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            "write (it exists; refusing to overwrite)"
        } else {
            "write"
        };
        Error::io(path, action, e.error)
    })
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_or_refuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.yaml");
        write_atomic(&path, b"one", 0o644, Overwrite::Replace).expect("writes");
        write_atomic(&path, b"two", 0o644, Overwrite::Replace).expect("replaces");
        assert_eq!(std::fs::read(&path).expect("reads"), b"two");
        let err = write_atomic(&path, b"three", 0o600, Overwrite::Refuse).expect_err("refuses");
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read(&path).expect("reads"), b"two");
        let leftovers = std::fs::read_dir(dir.path()).expect("lists").count();
        assert_eq!(leftovers, 1, "no temporary file may remain");
    }

    #[cfg(unix)]
    #[test]
    fn mode_is_applied() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.txt");
        write_atomic(&path, b"k", 0o600, Overwrite::Refuse).expect("writes");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_input_names_the_file() {
        let err = read_input("/nonexistent/secret.yaml").expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("/nonexistent/secret.yaml: cannot read: "),
            "{err}"
        );
    }
}
