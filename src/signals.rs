//! Signals besides the stop signals (SIGTERM, SIGINT: see `run`).
//!
//! SIGHUP (protocol notes §12.5): 3.0.6 re-reads its configuration; we also
//! reopen the log files, so that `logrotate` can send it after moving them.
//! [`on_sighup`] does the log side; the configuration reload listens for the
//! same signal in `run` (both run for every SIGHUP).

use slog::{error, info, Logger};

use crate::logging::LogHandle;

/// What a signal handler may act on.
pub struct Handles {
    pub log: Logger,
    /// Reopens the log files.
    pub logs: LogHandle,
}

/// Everything SIGHUP does, in order.
pub fn on_sighup(h: &Handles) {
    // Queued in line with the log lines: the line below is already in the new file.
    h.logs.reopen();
    info!(h.log, "Signal SIGHUP received: log files reopened");
}

/// Installs the SIGHUP handler and runs [`on_sighup`] for every SIGHUP until
/// the daemon stops. Call it first thing inside the actix system: until the
/// handler is installed, SIGHUP kills the daemon.
pub fn install(h: Handles) {
    use actix_rt::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            actix_rt::spawn(async move {
                while hup.recv().await.is_some() {
                    on_sighup(&h);
                }
            });
        }
        Err(e) => error!(
            h.log,
            "cannot handle SIGHUP: {e}; the log files will not be reopened"
        ),
    }
}
