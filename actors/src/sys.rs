//! The only `unsafe` code of this crate, kept small and in one place:
//!
//! * [`run_as`]: the credentials change of a `respawn` child, done in the
//!   child between `fork` and `exec` (`pre_exec`);
//! * [`set_watchdog_timeout`]: the `WDIOC_SETTIMEOUT` ioctl;
//! * [`register_socket`]: a raw ICMP socket registered with the runtime's
//!   reactor (`AsyncFd::register`).
#![allow(unsafe_code)]

use std::os::fd::AsRawFd as _;

use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};

/// Makes `cmd`'s child drop to `uid`, `gid` and the supplementary `groups`
/// (the user's, from `getgrouplist`, computed by the caller in the parent)
/// before it executes the program. Order: groups, then gid, then uid, as
/// after that the child no longer has the right to change them.
///
/// The closure runs in the child of a multi-threaded process, where only
/// async-signal-safe calls are allowed: it makes three system calls and
/// allocates nothing (`groups` was built in the parent). `std`'s own
/// `uid`/`gid` are not used because they would run before this closure and
/// leave it without the right to call `setgroups`.
pub(crate) fn run_as(cmd: &mut tokio::process::Command, uid: Uid, gid: Gid, groups: Vec<Gid>) {
    // SAFETY: the closure only calls setgroups, setgid and setuid (plain
    // system calls, async-signal-safe) on data owned by the closure, and
    // converts errors without allocating.
    unsafe {
        cmd.pre_exec(move || {
            setgroups(&groups)?;
            setgid(gid)?;
            setuid(uid)?;
            Ok(())
        });
    }
}

nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, nix::libc::c_int);

/// `WDIOC_SETTIMEOUT`: asks the watchdog behind `dev` to fire after `secs`
/// seconds without a keepalive. Returns the timeout the driver chose. Any
/// file that is not a watchdog (a FIFO, a regular file) fails with `ENOTTY`.
pub(crate) fn set_watchdog_timeout(dev: &std::fs::File, secs: i32) -> nix::Result<i32> {
    let mut value: nix::libc::c_int = secs;
    // SAFETY: the fd is open for the whole call (borrowed from `dev`), and the
    // pointer is to a live, properly aligned c_int, as the ioctl expects.
    unsafe { wdioc_settimeout(dev.as_raw_fd(), &mut value) }?;
    Ok(value)
}

/// Puts the calling thread in the `SCHED_FIFO` class at `priority`, as
/// heartbeat's `make_realtime` does, with `SCHED_RESET_ON_FORK`: processes and
/// threads it creates later (resource scripts, respawned programs) start in
/// the normal class, so a busy script cannot take the CPU from everything.
pub(crate) fn set_fifo(priority: i32) -> std::io::Result<()> {
    let param = nix::libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: sched_setscheduler only reads `param`, a valid local value;
    // pid 0 means the calling thread.
    let rc = unsafe {
        nix::libc::sched_setscheduler(
            0,
            nix::libc::SCHED_FIFO | nix::libc::SCHED_RESET_ON_FORK,
            &param,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Registers `socket` with the current runtime's reactor, for the ping media
/// (tokio has no raw-socket type).
pub(crate) fn register_socket(
    socket: socket2::Socket,
) -> std::io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: a `socket2::Socket` owns its descriptor: it stays open, and
    // `as_raw_fd` returns the same descriptor, until the Socket is dropped,
    // which happens only when the AsyncFd that owns it is dropped.
    unsafe { tokio::io::unix::AsyncFd::register(socket) }.map_err(std::io::Error::from)
}
