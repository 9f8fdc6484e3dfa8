//! The local control socket: one request line per connection, one answer line.
//! Only root (or the daemon's own user) may talk to it: the peer's credentials are
//! checked on every connection, and the socket file is mode 0600.
//!
//! ```text
//! standby [all|local|foreign|failback]   -> ok | error: ...
//! takeover [all|local|foreign|failback]  -> ok | error: ...
//! status                                 -> {...} (one line of JSON: crate::status::Snapshot) | error: ...
//! ```

use std::path::{Path, PathBuf};

use actix::prelude::*;
use actix_rt::net::{UnixListener, UnixStream};
use hb_core::resources::nice::Hold;

use crate::messages::StatusQuery;
use slog::{debug, info, warn, Logger};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Longest request line accepted.
const MAX_REQUEST: usize = 256;
/// How long a caller may take to send its request line: a connection that
/// sends nothing is closed, never held for ever.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// A request from the control socket, for the node table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "Result<(), String>")]
pub enum ControlRequest {
    /// Give these groups to the peer (`hb_standby`).
    Standby(Hold),
    /// Ask the peer for these groups (`hb_takeover`).
    Takeover(Hold),
}

/// Parses `standby|takeover [all|local|foreign|failback]` (default all; `failback`
/// means foreign for standby, as hb_standby has it, and all for takeover, as
/// 3.0.6's hb_takeover script ends up doing).
pub fn parse_request(line: &str) -> Result<ControlRequest, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let set = words.next().unwrap_or("all");
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?}"));
    }
    let hold = match (verb, set) {
        (_, "all") => Hold::ALL,
        (_, "local") => Hold::LOCAL,
        (_, "foreign") => Hold::FOREIGN,
        ("standby", "failback") => Hold::FOREIGN,
        ("takeover", "failback") => Hold::ALL,
        _ => {
            return Err(format!(
                "unknown set {set:?}: use all, local, foreign or failback"
            ))
        }
    };
    match verb {
        "standby" => Ok(ControlRequest::Standby(hold)),
        "takeover" => Ok(ControlRequest::Takeover(hold)),
        _ => Err(format!("unknown request {verb:?}: use standby or takeover")),
    }
}

/// A request line of any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `standby` or `takeover`, for the node table.
    Group(ControlRequest),
    /// `status`: the status snapshot.
    Status,
}

/// Parses a request line: `status`, or what [`parse_request`] reads.
pub fn parse_line(line: &str) -> Result<Request, String> {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("status") => match words.next() {
            None => Ok(Request::Status),
            Some(extra) => Err(format!("unexpected {extra:?}")),
        },
        Some("standby" | "takeover") => parse_request(line).map(Request::Group),
        verb => Err(format!(
            "unknown request {:?}: use standby, takeover or status",
            verb.unwrap_or_default()
        )),
    }
}

/// Binds the control socket (replacing a stale file), mode 0600.
pub fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
            // A socket that answers belongs to a running daemon: never steal it.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("another heartbeat is running: {} answers", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(_) => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The control socket actor.
pub struct ControlSocket {
    listener: Option<std::os::unix::net::UnixListener>,
    path: PathBuf,
    /// Where requests go (the node table).
    table: Recipient<ControlRequest>,
    /// Where `status` goes (the node table); without it, `status` is refused.
    status: Option<Recipient<StatusQuery>>,
    log: Logger,
}

impl ControlSocket {
    /// An actor serving an already bound listener.
    pub fn new(
        listener: std::os::unix::net::UnixListener,
        path: PathBuf,
        table: Recipient<ControlRequest>,
        log: &Logger,
    ) -> ControlSocket {
        ControlSocket {
            listener: Some(listener),
            path,
            table,
            status: None,
            log: log.new(slog::o!("actor" => "control")),
        }
    }

    /// Answers `status` with the snapshot `status` returns.
    pub fn with_status(mut self, status: Recipient<StatusQuery>) -> ControlSocket {
        self.status = Some(status);
        self
    }
}

/// Serves one connection.
async fn serve(
    stream: UnixStream,
    table: Recipient<ControlRequest>,
    status: Option<Recipient<StatusQuery>>,
    log: Logger,
) {
    let allowed = stream
        .peer_cred()
        .map(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw())
        .unwrap_or(false);
    let (read, mut write) = stream.into_split();
    if !allowed {
        warn!(log, "control socket: refused a caller that is not root");
        let _ = write
            .write_all(b"error: permission denied: only root may control heartbeat\n")
            .await;
        return;
    }
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    let read = tokio::time::timeout(REQUEST_DEADLINE, reader.read_line(&mut line)).await;
    let answer = match read.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no request within {} s", REQUEST_DEADLINE.as_secs()),
        ))
    }) {
        Ok(_) => match parse_line(line.trim()) {
            Ok(Request::Status) => {
                // Monitoring asks often: not worth a line in the log each time.
                debug!(log, "control socket: status");
                match status {
                    Some(to) => match to.send(StatusQuery).await {
                        Ok(snapshot) => match serde_json::to_string(&snapshot) {
                            Ok(json) => json + "\n",
                            Err(e) => format!("error: {e}\n"),
                        },
                        Err(_) => "error: heartbeat is stopping\n".to_owned(),
                    },
                    None => "error: this daemon gives no status\n".to_owned(),
                }
            }
            Ok(Request::Group(req)) => {
                info!(log, "control socket: {}", line.trim());
                match table.send(req).await {
                    Ok(Ok(())) => "ok\n".to_owned(),
                    Ok(Err(e)) => format!("error: {e}\n"),
                    Err(_) => "error: heartbeat is stopping\n".to_owned(),
                }
            }
            Err(e) => format!("error: {e}\n"),
        },
        Err(e) => format!("error: {e}\n"),
    };
    let _ = write.write_all(answer.as_bytes()).await;
    let _ = write.shutdown().await;
    // Closing with unread bytes (an overlong request) would reset the
    // caller's connection before it reads the answer: drain a bounded amount.
    let mut rest = reader.into_inner().into_inner().take(64 * 1024);
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await;
}

impl Actor for ControlSocket {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(std_listener) = self.listener.take() else {
            return;
        };
        let listener = match UnixListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                warn!(self.log, "control socket {}: {e}", self.path.display());
                return;
            }
        };
        let (table, status, log) = (self.table.clone(), self.status.clone(), self.log.clone());
        ctx.spawn(
            async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            actix_rt::spawn(serve(
                                stream,
                                table.clone(),
                                status.clone(),
                                log.clone(),
                            ));
                        }
                        Err(e) => {
                            warn!(log, "control socket: accept failed: {e}");
                            actix::clock::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            }
            .into_actor(self),
        );
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_hb_standby_and_hb_takeover_take_them() {
        assert_eq!(
            parse_request("standby"),
            Ok(ControlRequest::Standby(Hold::ALL))
        );
        assert_eq!(
            parse_request("standby foreign"),
            Ok(ControlRequest::Standby(Hold::FOREIGN))
        );
        assert_eq!(
            parse_request("standby failback"),
            Ok(ControlRequest::Standby(Hold::FOREIGN))
        );
        assert_eq!(
            parse_request("takeover local"),
            Ok(ControlRequest::Takeover(Hold::LOCAL))
        );
        assert_eq!(
            parse_request("takeover failback"),
            Ok(ControlRequest::Takeover(Hold::ALL))
        );
        assert!(parse_request("standby everything").is_err());
        assert!(parse_request("reboot").is_err());
        assert!(parse_request("standby all now").is_err());
    }

    #[test]
    fn status_is_a_request_of_its_own() {
        assert_eq!(parse_line("status"), Ok(Request::Status));
        assert_eq!(
            parse_line("takeover local"),
            Ok(Request::Group(ControlRequest::Takeover(Hold::LOCAL)))
        );
        assert!(parse_line("status now").is_err());
        assert_eq!(
            parse_line("reboot"),
            Err("unknown request \"reboot\": use standby, takeover or status".to_owned())
        );
    }
}
