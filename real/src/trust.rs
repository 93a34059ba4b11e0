//! Strict modes, as sshd's `StrictModes`: a file that decides what this daemon runs as root —
//! its configuration (which names the hook directory) and its hook scripts — must be owned by
//! root or by the daemon's own user and writable by no one else, and so must every directory
//! above it. Otherwise whoever can write one of them can make the daemon run what they like,
//! and it refuses, naming the file and why.
//!
//! Symbolic links are followed (`Test -> /bin/false` is the documented notification-only
//! hook), and both the directory holding the link — whoever can write it can point the link
//! elsewhere — and the file it finally leads to, with every directory above that, are checked.
//! A directory writable by others is accepted only with the sticky bit (like `/tmp`), where no
//! one can rename or replace an entry they do not own.

use nix::unistd::{geteuid, Uid};
use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a file is not trusted. The message names the file (and the link's target).
#[derive(Debug, Error)]
#[error("{}: {why}; refusing it (see \"Strict modes\" in README.md)", path.display())]
pub struct Untrusted {
    /// The file as named (in the configuration or the hook directory).
    pub path: PathBuf,
    /// What is wrong, naming the file or directory at fault.
    pub why: String,
}

/// What a checked path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (not a directory, FIFO or device).
    File,
    /// A directory.
    Directory,
}

/// Checks `path` (following symbolic links) and every directory above it; returns the path
/// it finally leads to.
pub fn check(path: &Path, kind: Kind) -> Result<PathBuf, Untrusted> {
    let untrusted = |why: String| Untrusted {
        path: path.to_path_buf(),
        why,
    };
    let real = fs::canonicalize(path).map_err(|e| untrusted(e.to_string()))?;
    let link = if real == path {
        String::new()
    } else {
        format!(" (the link leads to {})", real.display())
    };
    let meta = fs::metadata(&real).map_err(|e| untrusted(e.to_string()))?;
    let is_kind = match kind {
        Kind::File => meta.is_file(),
        Kind::Directory => meta.is_dir(),
    };
    if !is_kind {
        let expected = match kind {
            Kind::File => "a regular file",
            Kind::Directory => "a directory",
        };
        return Err(untrusted(format!("is not {expected}{link}")));
    }
    if let Some(why) = fault(&real, &meta, kind == Kind::Directory) {
        return Err(untrusted(format!("{why}{link}")));
    }
    // Every directory above the target, and above the link itself (the link's own name may
    // pass through other links: its parent is resolved first).
    let mut dirs: Vec<PathBuf> = real.ancestors().skip(1).map(Path::to_path_buf).collect();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let parent = fs::canonicalize(parent).map_err(|e| untrusted(e.to_string()))?;
        dirs.extend(parent.ancestors().map(Path::to_path_buf));
    }
    for dir in dirs {
        let meta = fs::metadata(&dir).map_err(|e| untrusted(format!("{}: {e}", dir.display())))?;
        if let Some(why) = fault(&dir, &meta, true) {
            return Err(untrusted(format!("{why}{link}")));
        }
    }
    Ok(real)
}

/// What is wrong with one file or directory, if anything.
fn fault(path: &Path, meta: &Metadata, directory: bool) -> Option<String> {
    let owner = Uid::from_raw(meta.uid());
    let me = geteuid();
    let name = path.display();
    if !owner.is_root() && owner != me {
        return Some(format!(
            "{name} is owned by uid {owner}, neither root nor this daemon's user (uid {me})"
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    let sticky = directory && mode & 0o1000 != 0;
    let writers = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "its group and everyone",
        (true, false) => "its group",
        (false, true) => "everyone",
        (false, false) => return None,
    };
    (!sticky).then(|| format!("{name} is writable by {writers} (mode {mode:04o})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use tempfile::TempDir;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn dir() -> TempDir {
        let dir = TempDir::new().unwrap();
        chmod(dir.path(), 0o755);
        dir
    }

    #[test]
    fn a_private_file_in_private_directories_is_trusted() {
        let dir = dir();
        let file = dir.path().join("failoverd.toml");
        fs::write(&file, "x").unwrap();
        chmod(&file, 0o644);
        assert_eq!(
            check(&file, Kind::File).unwrap(),
            file.canonicalize().unwrap()
        );
    }

    #[test]
    fn a_file_writable_by_others_is_refused_naming_it_and_its_mode() {
        let dir = dir();
        let file = dir.path().join("PreAcq");
        fs::write(&file, "x").unwrap();
        for (mode, writers) in [(0o666, "its group and everyone"), (0o620, "its group")] {
            chmod(&file, mode);
            let e = check(&file, Kind::File).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", file.display())), "{e}");
            assert!(
                e.contains(&format!("writable by {writers} (mode 0{mode:o})")),
                "{e}"
            );
            assert!(e.contains("Strict modes"), "{e}");
        }
    }

    #[test]
    fn a_directory_writable_by_others_is_refused_unless_sticky() {
        let dir = dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        let file = open.join("Test");
        fs::write(&file, "x").unwrap();
        chmod(&file, 0o755);
        chmod(&open, 0o777);
        let e = check(&file, Kind::File).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{} is writable by", open.display())),
            "{e}"
        );
        chmod(&open, 0o1777);
        check(&file, Kind::File).unwrap();
    }

    #[test]
    fn a_link_is_judged_by_where_it_leads_and_where_it_lives() {
        let dir = dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let target = open.join("evil");
        fs::write(&target, "x").unwrap();
        chmod(&target, 0o755);
        let link = dir.path().join("PostAcq");
        symlink(&target, &link).unwrap();
        let e = check(&link, Kind::File).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", link.display())), "{e}");
        assert!(
            e.contains(&format!("the link leads to {}", target.display())),
            "{e}"
        );
        // A link to a trusted file, living in a directory anyone may write: refused too.
        let good = dir.path().join("good");
        fs::write(&good, "x").unwrap();
        let link = open.join("Test");
        symlink(&good, &link).unwrap();
        let e = check(&link, Kind::File).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "{} is writable by its group and everyone",
                open.display()
            )),
            "{e}"
        );
        // The documented notification-only hook: a link to /bin/false in a private directory.
        let test = dir.path().join("Test");
        symlink("/bin/false", &test).unwrap();
        check(&test, Kind::File).unwrap();
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused() {
        let dir = dir();
        let e = check(dir.path(), Kind::File).unwrap_err().to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        let e = check(Path::new("/dev/zero"), Kind::File)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        let e = check(&dir.path().join("missing"), Kind::File).unwrap_err();
        assert!(e.to_string().contains("No such file"), "{e}");
    }
}
