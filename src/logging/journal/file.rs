//! The journal's files: append, rotate by size, drop the oldest. Only the
//! journal thread touches them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use nix::libc;

use super::Limits;

/// Mode of the journal files: it names nodes, addresses and scripts, which
/// is nobody's business but root's.
pub(crate) const MODE: u32 = 0o600;

/// `journal` and its rotated predecessors `journal.1` ... `journal.N-1`.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    limits: Limits,
    /// `None` until opened, and after a failure (opened again at the next batch).
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
}

/// Opens `path` for appending: created with [`MODE`] (an existing file is
/// set to it), never through a symbolic link, and only a regular file.
fn open(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .read(true)
        .create(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                e.kind(),
                format!("{e}: it is a symbolic link, and the journal is not opened through one"),
            ),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.permissions().mode() & 0o7777 != MODE {
        file.set_permissions(std::fs::Permissions::from_mode(MODE))?;
    }
    nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_APPEND),
    )?;
    Ok(file)
}

impl RotatingFile {
    pub fn new(path: PathBuf, limits: Limits) -> RotatingFile {
        RotatingFile {
            path,
            limits: Limits {
                max_file: limits.max_file.max(1),
                files: limits.files.max(1),
            },
            file: None,
            size: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Opens the current file. A file left by a crash in the middle of an
    /// entry gets the newline it lacks, so the next entry starts on its own line.
    fn ensure_open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let mut file = open(&self.path)?;
            let mut size = file.metadata()?.len();
            if size > 0 {
                let mut last = [0u8; 1];
                file.read_exact_at(&mut last, size - 1)?;
                if last[0] != b'\n' {
                    file.write_all(b"\n")?;
                    size += 1;
                }
            }
            self.size = size;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// `journal` becomes `journal.1`, ..., the oldest is overwritten (with one
    /// file only, the journal starts again empty); a new `journal` is opened.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        if self.limits.files == 1 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.limits.files - 1).rev() {
                match std::fs::rename(self.rotated(n), self.rotated(n + 1)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        self.ensure_open()?;
        Ok(())
    }

    /// Appends the entries (each ending with a newline), rotating before an
    /// entry that would take the file past the limit. An entry longer than a
    /// whole file is left out (entries are far smaller; see `MAX_ENTRY`).
    /// On an error the rest of the batch is lost and the file is opened again
    /// next time.
    pub fn append(&mut self, entries: &[String]) -> io::Result<()> {
        let result = self.append_all(entries);
        if result.is_err() {
            self.file = None;
        }
        result
    }

    fn append_all(&mut self, entries: &[String]) -> io::Result<()> {
        let max = self.limits.max_file;
        let mut buf: Vec<u8> = Vec::new();
        self.ensure_open()?;
        for e in entries {
            let len = e.len() as u64;
            if len > max {
                continue;
            }
            if self.size + buf.len() as u64 + len > max {
                self.write_buf(&mut buf)?;
                if self.size > 0 {
                    self.rotate()?;
                }
            }
            buf.extend_from_slice(e.as_bytes());
        }
        self.write_buf(&mut buf)?;
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        Ok(())
    }

    fn write_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let file = self.ensure_open()?;
        file.write_all(buf)?;
        self.size += buf.len() as u64;
        buf.clear();
        Ok(())
    }
}
