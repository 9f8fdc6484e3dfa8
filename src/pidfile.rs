//! The pid file (`/var/run/heartbeat.pid`, spec §12.4): one daemon per file.
//!
//! The file holds the daemon's PID right-aligned in 10 characters and a
//! newline, as 3.0.6 writes it. The daemon also holds an open file
//! description lock (`F_OFD_SETLK`, a write lock on the whole file) for as
//! long as it runs:
//!
//! - the kernel drops the lock when the daemon dies, however it dies, so a
//!   file left by a killed daemon is known to be stale without guessing from
//!   PIDs (which are reused, and small in a PID namespace);
//! - the lock belongs to the open file description, which `fork` shares: the
//!   process that runs `heartbeat start` takes it before it forks, and the
//!   daemon it leaves behind keeps it;
//! - `status`, `stop` and `reload` only *test* the lock (`F_OFD_GETLK`), so
//!   they never make a concurrent start fail.
//!
//! A file nobody locks may still belong to a live daemon that does not lock,
//! Debian's heartbeat 3.0.6 (its default pid file is the same file): a PID
//! that runs an executable called `heartbeat*` counts as running.
//!
//! The file is created with `O_EXCL | O_NOFOLLOW`, mode 0644; an existing
//! file is opened with `O_NOFOLLOW`, so a symbolic link planted at the path
//! is refused, never followed. A stale file is unlinked and created anew,
//! so it gets our owner and mode whoever made the old one.

use std::fmt;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::libc;

/// Why the pid file cannot be taken.
#[derive(Debug)]
pub enum AcquireError {
    /// A daemon runs: it holds the file (or, for a 3.0.6 daemon, its PID is
    /// alive). `None` while a starting daemon has not written its PID yet.
    Running {
        /// The pid file.
        path: PathBuf,
        /// The PID it names.
        pid: Option<i32>,
    },
    /// The path is a symbolic link, a directory, a FIFO...: refused.
    NotAFile {
        /// The pid file.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// Creating, opening, locking or reading it failed.
    Io {
        /// The pid file.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Running {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "Heartbeat already running [pid {pid}] (pid file {}); stop it first with `heartbeat stop`",
                path.display()
            ),
            AcquireError::Running { path, pid: None } => write!(
                f,
                "another heartbeat is starting (it holds {} and has not written its pid yet)",
                path.display()
            ),
            AcquireError::NotAFile { path, what } => write!(
                f,
                "refusing the pid file {}: it is {what}, not a regular file (remove it if nothing should be there)",
                path.display()
            ),
            AcquireError::Io { path, error } => {
                write!(f, "cannot use the pid file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for AcquireError {}

/// The pid file, taken: it is locked for as long as this (or a forked copy
/// of its file descriptor) lives. Dropping it removes the file.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
    /// False once disowned.
    remove_on_drop: bool,
}

/// What a pid file says about the daemon, for `status`, `stop` and `reload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// There is no pid file.
    Absent,
    /// A pid file that nobody holds, naming a process that is gone (`None`:
    /// it names no valid PID).
    Stale(Option<i32>),
    /// The daemon runs with this PID.
    Running(i32),
    /// A daemon holds the file but has not written its PID yet.
    Starting,
}

/// The text of a pid file: the PID right-aligned in 10 characters, as 3.0.6.
pub fn format_pid(pid: i32) -> String {
    format!("{pid:>10}\n")
}

/// The PID a pid file's text names, if it is a positive number.
pub fn parse_pid(text: &str) -> Option<i32> {
    text.trim().parse::<i32>().ok().filter(|p| *p > 0)
}

fn io_err(path: &Path, error: std::io::Error) -> AcquireError {
    AcquireError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// What a file type is, for a refusal, or `None` for a regular file.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_dir() {
        Some("a directory")
    } else {
        Some("a special file")
    }
}

/// A write lock on the whole file, as `F_OFD_SETLK` or `F_OFD_GETLK` takes it.
fn whole_file_write_lock() -> libc::flock {
    libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        // Must be 0 for OFD locks.
        l_pid: 0,
    }
}

/// Takes the lock; `Ok(false)` if another open file description holds it.
fn try_lock(file: &File) -> std::io::Result<bool> {
    match fcntl(
        file.as_fd(),
        FcntlArg::F_OFD_SETLK(&whole_file_write_lock()),
    ) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether another open file description holds a lock on the file (the
/// lock is tested, not taken).
fn is_locked(file: &File) -> std::io::Result<bool> {
    let mut lock = whole_file_write_lock();
    fcntl(file.as_fd(), FcntlArg::F_OFD_GETLK(&mut lock))?;
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}

fn read_pid(file: &mut File) -> std::io::Result<Option<i32>> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.take(64).read_to_string(&mut text)?;
    Ok(parse_pid(&text))
}

/// Whether `path` still names the very file `file` is open on.
fn same_file(path: &Path, file: &File) -> std::io::Result<bool> {
    let ours = file.metadata()?;
    match std::fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == ours.dev() && now.ino() == ours.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `pid` is a live (not zombie) process whose executable looks like
/// a heartbeat daemon: ours, or any file named `heartbeat*` (3.0.6's is
/// `/usr/libexec/heartbeat/heartbeat`). Used only for pid files nobody
/// locks. An executable we may not read counts as heartbeat (the careful
/// answer: it may be).
pub fn is_live_heartbeat(pid: i32) -> bool {
    if pid <= 0 || i64::from(pid) == i64::from(std::process::id()) {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let zombie_or_dead = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X')));
    if zombie_or_dead {
        return false;
    }
    let exe = match std::fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => exe,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    // A replaced binary reads as "/path (deleted)".
    let text = exe.to_string_lossy();
    let exe = PathBuf::from(text.strip_suffix(" (deleted)").unwrap_or(&text));
    let ours = std::env::current_exe().ok();
    ours.as_deref() == Some(exe.as_path())
        || exe
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("heartbeat"))
}

impl PidFile {
    /// Takes the pid file at `path` (absolute), or says who holds it.
    ///
    /// A file nobody holds is stale unless it names a live heartbeat process
    /// (see [`is_live_heartbeat`]): it is replaced, and the returned note says
    /// so, for the caller to show as a warning. The file is left empty: the
    /// daemon writes its PID with [`PidFile::write_pid`].
    pub fn acquire(path: &Path) -> Result<(PidFile, Option<String>), AcquireError> {
        let mut note = None;
        // Each round either takes the file, or finds it held, or removes a
        // stale one; a few rounds cover racing starters.
        for _ in 0..8 {
            let created = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            match created {
                Ok(file) => {
                    // The umask may have taken bits away.
                    file.set_permissions(std::fs::Permissions::from_mode(0o644))
                        .map_err(|e| io_err(path, e))?;
                    // Another starter may have opened it as an existing file
                    // and locked it first: then it is theirs.
                    if try_lock(&file).map_err(|e| io_err(path, e))?
                        && same_file(path, &file).map_err(|e| io_err(path, e))?
                    {
                        let pid_file = PidFile {
                            path: path.to_path_buf(),
                            file,
                            remove_on_drop: true,
                        };
                        return Ok((pid_file, note));
                    }
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(path, e)),
            }
            let meta = match std::fs::symlink_metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(path, e)),
            };
            if let Some(what) = not_regular(&meta) {
                return Err(AcquireError::NotAFile {
                    path: path.to_path_buf(),
                    what,
                });
            }
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            let mut file = match opened {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // ELOOP: replaced by a symbolic link since the lstat.
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(AcquireError::NotAFile {
                        path: path.to_path_buf(),
                        what: "a symbolic link",
                    })
                }
                Err(e) => return Err(io_err(path, e)),
            };
            let pid = read_pid(&mut file).map_err(|e| io_err(path, e))?;
            if !try_lock(&file).map_err(|e| io_err(path, e))? {
                return Err(AcquireError::Running {
                    path: path.to_path_buf(),
                    pid,
                });
            }
            // We hold it now: nobody else did. Is it still the file at `path`?
            if !same_file(path, &file).map_err(|e| io_err(path, e))? {
                continue;
            }
            let pid = read_pid(&mut file).map_err(|e| io_err(path, e))?;
            if let Some(pid) = pid.filter(|p| is_live_heartbeat(*p)) {
                return Err(AcquireError::Running {
                    path: path.to_path_buf(),
                    pid: Some(pid),
                });
            }
            note = Some(match pid {
                Some(pid) => format!(
                    "removing the stale pid file {} (pid {pid} is not running)",
                    path.display()
                ),
                None => format!(
                    "removing the stale pid file {} (it names no pid)",
                    path.display()
                ),
            });
            // Unlinked while we hold its lock: a racing starter that opened
            // it too finds it locked or no longer at `path`.
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(path, e)),
            }
        }
        Err(io_err(
            path,
            std::io::Error::other("it keeps changing under us (another heartbeat starting?)"),
        ))
    }

    /// Writes `pid` into the file (replacing what was there).
    pub fn write_pid(&mut self, pid: u32) -> std::io::Result<()> {
        let pid = i32::try_from(pid).map_err(std::io::Error::other)?;
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(format_pid(pid).as_bytes())?;
        self.file.flush()
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes this copy of the file descriptor without removing the file:
    /// for a process that forked the daemon, which keeps the lock with its
    /// own copy.
    pub fn disown(mut self) {
        self.remove_on_drop = false;
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own file: never one that replaced it (we may have lost
        // the race to a start that found ours stale after a crash).
        if self.remove_on_drop && matches!(same_file(&self.path, &self.file), Ok(true)) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads the pid file at `path` without taking it.
pub fn probe(path: &Path) -> std::io::Result<Probe> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Absent),
        Err(e) => return Err(e),
    };
    if let Some(what) = not_regular(&meta) {
        return Err(std::io::Error::other(format!(
            "{} is {what}, not a regular file",
            path.display()
        )));
    }
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Probe::Absent),
        Err(e) => return Err(e),
    };
    let pid = read_pid(&mut file)?;
    if is_locked(&file)? {
        return Ok(pid.map_or(Probe::Starting, Probe::Running));
    }
    Ok(match pid {
        Some(pid) if is_live_heartbeat(pid) => Probe::Running(pid),
        other => Probe::Stale(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    /// A PID that was alive a moment ago and is not any more.
    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        i32::try_from(pid).expect("pid")
    }

    #[test]
    fn a_fresh_pid_file_is_created_0644_holds_the_pid_right_aligned_and_goes_away_on_drop() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let (mut pf, note) = PidFile::acquire(&path).expect("acquire");
        assert_eq!(note, None);
        pf.write_pid(8395).expect("write");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "      8395\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
        drop(pf);
        assert!(!path.exists(), "removed on drop");
    }

    #[test]
    fn a_second_instance_is_refused_while_the_first_holds_the_file() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let (mut first, _) = PidFile::acquire(&path).expect("acquire");
        match PidFile::acquire(&path) {
            Err(AcquireError::Running { pid: None, .. }) => {}
            other => panic!("not written yet: {other:?}"),
        }
        first.write_pid(4242).unwrap();
        let err = PidFile::acquire(&path).expect_err("second instance");
        assert!(
            matches!(
                err,
                AcquireError::Running {
                    pid: Some(4242),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("Heartbeat already running [pid 4242]"),
            "{err}"
        );
        // Probing does not take the lock, and sees the daemon.
        assert_eq!(probe(&path).unwrap(), Probe::Running(4242));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "      4242\n",
            "the refused start left the file alone"
        );
        drop(first);
        assert_eq!(probe(&path).unwrap(), Probe::Absent);
    }

    #[test]
    fn a_stale_pid_file_of_a_dead_process_is_replaced_with_a_note() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let pid = dead_pid();
        std::fs::write(&path, format_pid(pid)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Stale(Some(pid)));
        let (mut pf, note) = PidFile::acquire(&path).expect("acquire");
        let note = note.expect("a note about the stale file");
        assert!(
            note.contains(&format!("(pid {pid} is not running)")),
            "{note}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "a new file");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644, "created anew, with our mode");
        pf.write_pid(std::process::id()).unwrap();
        drop(pf);
        assert!(!path.exists());
    }

    #[test]
    fn a_pid_file_naming_a_live_process_that_is_not_heartbeat_is_stale() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let mut sleeper = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("sleep");
        let pid = i32::try_from(sleeper.id()).unwrap();
        std::fs::write(&path, format_pid(pid)).unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Stale(Some(pid)));
        let (_pf, note) = PidFile::acquire(&path).expect("acquire");
        assert!(note.is_some());
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }

    #[test]
    fn garbage_in_an_unlocked_pid_file_is_stale() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        std::fs::write(&path, "not a pid\n").unwrap();
        assert_eq!(probe(&path).unwrap(), Probe::Stale(None));
        let (_pf, note) = PidFile::acquire(&path).expect("acquire");
        assert!(note.unwrap().contains("(it names no pid)"));
    }

    #[test]
    fn a_symbolic_link_at_the_path_is_refused_and_its_target_untouched() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let target = d.path().join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = PidFile::acquire(&path).expect_err("a symlink");
        assert!(
            matches!(
                err,
                AcquireError::NotAFile {
                    what: "a symbolic link",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("it is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(probe(&path).is_err(), "status does not follow it either");
        // A dangling link is refused too (O_EXCL never creates through it).
        std::fs::remove_file(&target).unwrap();
        assert!(matches!(
            PidFile::acquire(&path),
            Err(AcquireError::NotAFile { .. })
        ));
        assert!(!target.exists(), "nothing created at the link's target");
    }

    #[test]
    fn a_directory_at_the_path_is_refused() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        std::fs::create_dir(&path).unwrap();
        assert!(matches!(
            PidFile::acquire(&path),
            Err(AcquireError::NotAFile {
                what: "a directory",
                ..
            })
        ));
    }

    #[test]
    fn dropping_a_pid_file_never_removes_a_newer_one() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let (old, _) = PidFile::acquire(&path).expect("acquire");
        // Someone removed ours and a new daemon made its own.
        std::fs::remove_file(&path).unwrap();
        let (mut new, _) = PidFile::acquire(&path).expect("acquire again");
        new.write_pid(77).unwrap();
        drop(old);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format_pid(77));
    }

    #[test]
    fn a_forked_copy_keeps_the_lock_after_disown() {
        let d = dir();
        let path = d.path().join("heartbeat.pid");
        let (mut pf, _) = PidFile::acquire(&path).expect("acquire");
        pf.write_pid(99).unwrap();
        // What fork gives the daemon: another descriptor on the same open
        // file description.
        let copy = pf.file.try_clone().unwrap();
        pf.disown();
        assert!(path.exists(), "disown leaves the file");
        assert_eq!(probe(&path).unwrap(), Probe::Running(99), "still locked");
        drop(copy);
        assert_eq!(probe(&path).unwrap(), Probe::Stale(Some(99)));
    }

    #[test]
    fn pids_are_parsed_as_3_0_6_writes_them() {
        assert_eq!(parse_pid("      8395\n"), Some(8395));
        assert_eq!(parse_pid("8395"), Some(8395));
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0\n"), None);
        assert_eq!(parse_pid("-1\n"), None);
        assert_eq!(format_pid(8395), "      8395\n");
    }
}
