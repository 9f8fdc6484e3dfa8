//! What a panic leaves behind: the process aborts (`panic = "abort"` in every
//! profile), but first one CRIT line in heartbeat's format goes to standard
//! error and, written directly (the logging thread may be the one that is
//! stuck), to the log file, so the operator sees why the node left.

use std::io::Write as _;
use std::path::PathBuf;

/// Installs the hook; `logfile` is where the daemon logs, if anywhere.
pub fn install(host: String, logfile: Option<PathBuf>) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "?".to_owned());
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let line = format!(
            "{} {} heartbeat: [{}]: CRIT: heartbeat panicked{at}: {}; aborting: the other nodes take over after deadtime, and init restarts heartbeat\n",
            chrono::Local::now().format("%b %d %H:%M:%S"),
            host,
            std::process::id(),
            what.replace('\n', " ")
        );
        if let Some(path) = &logfile {
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        let _ = std::io::stderr().write_all(line.as_bytes());
        default(info);
    }));
}
