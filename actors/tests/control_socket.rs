//! The control socket against callers that misbehave: a caller that sends
//! nothing is answered and closed after [`REQUEST_DEADLINE`]; bytes that are
//! not text, an overlong line and unknown requests get an error line; none of
//! them reaches the node table, and the socket keeps serving.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use hb_actors::control::{self, ControlRequest, ControlSocket, REQUEST_DEADLINE};
use slog::{o, Logger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Counts the requests that reach it, and accepts them.
struct Table(Arc<AtomicUsize>);

impl Actor for Table {
    type Context = Context<Self>;
}

impl Handler<ControlRequest> for Table {
    type Result = Result<(), String>;

    fn handle(&mut self, _: ControlRequest, _: &mut Context<Self>) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Sends `bytes` (then shuts down the writing side if `close`), and returns
/// the answer, read until the daemon closes.
async fn ask(path: &std::path::Path, bytes: &[u8], close: bool) -> String {
    let mut s = UnixStream::connect(path).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    if close {
        s.shutdown().await.expect("shutdown");
    }
    let mut answer = String::new();
    let read = tokio::time::timeout(
        REQUEST_DEADLINE + Duration::from_secs(20),
        s.read_to_string(&mut answer),
    )
    .await;
    read.expect("the daemon answers and closes within the deadline")
        .expect("read");
    answer
}

#[actix_rt::test]
async fn misbehaving_callers_get_an_error_and_reach_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heartbeat.sock");
    let reached = Arc::new(AtomicUsize::new(0));
    let table = Table(Arc::clone(&reached)).start();
    let log = Logger::root(slog::Discard, o!());
    let listener = control::bind(&path).expect("bind");
    let _socket = ControlSocket::new(listener, path.clone(), table.recipient(), &log).start();

    let silent = ask(&path, b"", false).await;
    assert_eq!(
        silent,
        format!(
            "error: no request within {} s\n",
            REQUEST_DEADLINE.as_secs()
        )
    );
    let binary = ask(&path, &[0xff, 0xfe, 0x00, b'\n'], true).await;
    assert!(binary.starts_with("error: "), "{binary:?}");
    let long = ask(&path, &[b'x'; 10_000], true).await;
    assert!(long.starts_with("error: unknown request"), "{long:?}");
    let unknown = ask(&path, b"reboot now\n", true).await;
    assert!(unknown.starts_with("error: "), "{unknown:?}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "nothing reached the table"
    );
    // Still serving, and a good request goes through.
    let ok = ask(&path, b"standby\n", true).await;
    assert_eq!(ok, "ok\n");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}
