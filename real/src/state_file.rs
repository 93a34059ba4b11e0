//! Small files in the state directory (the boot epoch, the standby flag), written so that a
//! crash or a power cut at any moment leaves the old content or the new, never a torn one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to `file` atomically: a temporary file beside it, fsync'd, renamed over
/// it, then the directory fsync'd so the rename itself survives a crash.
pub fn write_atomically(file: &Path, text: &str) -> io::Result<()> {
    let tmp: PathBuf = file.with_extension("tmp");
    let written = (|| {
        let mut out = fs::File::create(&tmp)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, file)?;
    if let Some(dir) = file.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `e` with `path` in front, so the message names the file.
pub fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
