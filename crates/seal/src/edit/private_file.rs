//! The one place plaintext touches a disk during `seal edit`: a file only the user may
//! read (0600) in a folder only the user may enter (0700), on memory-backed storage when
//! there is some (`$XDG_RUNTIME_DIR`, else `/dev/shm`). When dropped, every regular file
//! in the folder (the buffer and whatever the editor left beside it: swap files, backups)
//! is overwritten with zeros and removed, then the folder is removed. Nothing is ever
//! written or read through a symbolic link: an editor (or anything else running as the
//! user) that swaps the buffer for a link cannot make `seal` read, or wipe, another file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// The environment variable naming the user's private runtime folder.
pub const RUNTIME_DIR_ENV: &str = "XDG_RUNTIME_DIR";

/// A private temporary file holding plaintext; wiped and removed on drop.
pub struct PrivateFile {
    path: PathBuf,
    dir: Option<tempfile::TempDir>,
    /// The user the private folder was made by: the only owner the file may have.
    owner: Option<u32>,
}

impl PrivateFile {
    /// Creates the private folder and the empty file `name` in it, in the first of
    /// `$XDG_RUNTIME_DIR`, `/dev/shm` and the system's temporary folder that is safe.
    pub fn create(name: &str) -> std::io::Result<Self> {
        Self::create_in(&base_dirs(), name)
    }

    /// [`PrivateFile::create`] in the first safe folder of `bases`: one whose entries
    /// nobody else can rename or replace (sticky, like /tmp and /dev/shm, or the user's
    /// own and writable by nobody else). Otherwise whoever could write the folder could
    /// swap the private folder for one of their own before the plaintext is written.
    pub fn create_in(bases: &[PathBuf], name: &str) -> std::io::Result<Self> {
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no safe folder for a private temporary file",
        );
        for base in bases {
            match Self::try_create_in(base, name) {
                Ok(file) => return Ok(file),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_create_in(base: &Path, name: &str) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("seal-edit-")
            .tempdir_in(base)?;
        if !is_safe_base(base, dir.path())? {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{}: others may rename what is in it; not used for plaintext",
                    base.display()
                ),
            ));
        }
        set_mode(dir.path(), 0o700)?;
        let path = dir.path().join(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        restrict(&mut options);
        options.open(&path)?;
        let owner = owner_of(dir.path())?;
        Ok(Self {
            path,
            dir: Some(dir),
            owner,
        })
    }

    /// The file's path (what the editor is given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's content (the file keeps its identity and mode).
    pub fn write(&self, text: &str) -> std::io::Result<()> {
        let mut file = self.open_regular(true)?;
        file.set_len(0)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    /// The file's content as the editor left it. Fails when it is no longer a regular
    /// file (a symbolic link, a folder) or was swapped while being opened.
    pub fn read(&self) -> std::io::Result<Zeroizing<Vec<u8>>> {
        let mut file = self.open_regular(false)?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Opens the file only when it is a regular file, and is still the same file once
    /// open (its device and inode match what `lstat` saw).
    fn open_regular(&self, write: bool) -> std::io::Result<File> {
        let file = open_regular(&self.path, write)?;
        if let Some(owner) = self.owner
            && owner_of_file(&file)? != Some(owner)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file belongs to someone else now (its folder was swapped)",
            ));
        }
        Ok(file)
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            wipe_folder(dir.path());
            // TempDir removes the folder and anything left in it without following links.
            drop(dir);
        }
    }
}

/// Where the private folder may go, best first: `$XDG_RUNTIME_DIR` (per-user,
/// memory-backed on systemd systems), `/dev/shm`, the system's temporary folder.
fn base_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(RUNTIME_DIR_ENV).map(PathBuf::from)
        && dir.is_absolute()
        && dir.is_dir()
    {
        dirs.push(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        dirs.push(shm.to_path_buf());
    }
    dirs.push(std::env::temp_dir());
    dirs
}

/// Whether nobody but the user (and root) can rename or replace entries of `base`: it
/// belongs to root or to the user (the owner of `ours`, just made in it), and it is
/// sticky or no one else may write it. The owner of a sticky folder can still rename
/// what others put in it, so a sticky folder of another user does not do.
#[cfg(unix)]
fn is_safe_base(base: &Path, ours: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(base)?;
    let me = std::fs::metadata(ours)?.uid();
    let sticky = meta.mode() & 0o1000 != 0;
    let others_write = meta.mode() & 0o022 != 0;
    let owned = meta.uid() == me || meta.uid() == 0;
    Ok(owned && (sticky || !others_write))
}

#[cfg(not(unix))]
fn is_safe_base(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(true)
}

/// The user owning `path` (`None` where files have no such owner).
#[cfg(unix)]
fn owner_of(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::MetadataExt;
    Ok(Some(std::fs::symlink_metadata(path)?.uid()))
}

#[cfg(not(unix))]
fn owner_of(_: &Path) -> std::io::Result<Option<u32>> {
    Ok(None)
}

/// The user owning the open `file`.
#[cfg(unix)]
fn owner_of_file(file: &File) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::MetadataExt;
    Ok(Some(file.metadata()?.uid()))
}

#[cfg(not(unix))]
fn owner_of_file(_: &File) -> std::io::Result<Option<u32>> {
    Ok(None)
}

/// Opens `path` only when `lstat` says it is a regular file and the opened file is that
/// same file.
fn open_regular(path: &Path, write: bool) -> std::io::Result<File> {
    let seen = std::fs::symlink_metadata(path)?;
    if !seen.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file (replaced by a symbolic link or a folder)",
        ));
    }
    let file = OpenOptions::new().read(!write).write(write).open(path)?;
    if !same_file(&seen, &file.metadata()?) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file was replaced while it was being opened",
        ));
    }
    Ok(file)
}

/// Overwrites every regular file under `dir` with zeros and removes it; folders are
/// walked, links are removed without being followed. Best effort: a drop cannot fail.
fn wipe_folder(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_dir() {
            wipe_folder(&path);
            let _ = std::fs::remove_dir(&path);
            continue;
        }
        if meta.file_type().is_file()
            && let Ok(mut file) = open_regular(&path, true)
        {
            let zeros = vec![0u8; 64 * 1024];
            let mut left = meta.len();
            while left > 0 {
                let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
                if file.write_all(&zeros[..n]).is_err() {
                    break;
                }
                left -= n as u64;
            }
            let _ = file.sync_all();
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len()
}

#[cfg(unix)]
fn restrict(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn restrict(_: &mut OpenOptions) {}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_wiped_with_what_the_editor_left() {
        use std::os::unix::fs::PermissionsExt;
        let file = PrivateFile::create("buffer.yaml").expect("created");
        file.write("password: hunter2\n").expect("written");
        let dir = file.path().parent().expect("folder").to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        std::fs::write(dir.join(".buffer.yaml.swp"), "hunter2").expect("swap file");
        assert_eq!(&*file.read().expect("reads"), b"password: hunter2\n");
        drop(file);
        assert!(!dir.exists(), "the private folder must be gone");
    }

    /// The attack: a runtime folder others may write (no sticky bit). Whoever can write
    /// it could swap the private folder for one of their own; it is passed over.
    #[cfg(unix)]
    #[test]
    fn a_folder_others_may_write_is_passed_over() {
        use std::os::unix::fs::PermissionsExt;
        let open = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let own = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(own.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let bases = [open.path().to_path_buf(), own.path().to_path_buf()];
        let file = PrivateFile::create_in(&bases, "buffer.yaml").expect("created");
        assert!(file.path().starts_with(own.path()), "{:?}", file.path());
        assert_eq!(
            std::fs::read_dir(open.path()).expect("lists").count(),
            0,
            "nothing left in the unsafe folder"
        );
        let err = PrivateFile::create_in(&bases[..1], "buffer.yaml")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("others may rename"), "{err}");
        let sticky = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(sticky.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        let file = PrivateFile::create_in(&[sticky.path().to_path_buf()], "b.yaml")
            .expect("sticky is fine");
        drop(file);
    }

    /// The attacks of another user: a sticky folder they own (its owner may rename what
    /// others put in it) is passed over, and a buffer that now belongs to them (its
    /// folder swapped) is not read. Making a file another user's needs root; elsewhere
    /// the test says so and checks only what it can.
    #[cfg(unix)]
    #[test]
    fn another_users_sticky_folder_or_file_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        const STRANGER: u32 = 54_321;
        let theirs = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod");
        if std::os::unix::fs::chown(theirs.path(), Some(STRANGER), None).is_err() {
            eprintln!("not root: cannot give a folder to another user; skipped");
            return;
        }
        let err = PrivateFile::create_in(&[theirs.path().to_path_buf()], "b.yaml")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("others may rename"), "{err}");

        let file = PrivateFile::create("buffer.yaml").expect("created");
        file.write("password: hunter2\n").expect("written");
        std::os::unix::fs::chown(file.path(), Some(STRANGER), None).expect("chown");
        let err = file.read().expect_err("refused");
        assert!(err.to_string().contains("belongs to someone else"), "{err}");
        let err = file.write("x").expect_err("refused");
        assert!(err.to_string().contains("belongs to someone else"), "{err}");
    }

    /// The attack: the buffer swapped for a link to another file of the user's. Reading
    /// must refuse, and the wipe must leave the other file's bytes alone.
    #[cfg(unix)]
    #[test]
    fn a_buffer_swapped_for_a_link_is_neither_read_nor_wiped_through() {
        let outside = tempfile::tempdir().expect("tempdir");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep me").expect("victim");
        let file = PrivateFile::create("buffer.yaml").expect("created");
        std::fs::remove_file(file.path()).expect("removed");
        std::os::unix::fs::symlink(&victim, file.path()).expect("link");
        let err = file.read().expect_err("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        drop(file);
        assert_eq!(std::fs::read(&victim).expect("reads"), b"keep me");
    }
}
