//! Accepting client connections: how many at once, how long a client may
//! take to send its headers or to read its answer, and a graceful stop.
//!
//! A backup server faces clients on slow or broken links, and sometimes
//! clients that are hostile. Each limit here bounds what one of them can
//! hold: a connection slot (`max_connections`), the time to send headers
//! (`header_timeout`, which also closes idle kept-alive connections), and
//! the time a response may sit unread in a full socket buffer
//! (`idle_timeout`). Pauses in a request body are bounded in the HTTP
//! layer (`http::limits`), where the request can still be answered.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;

use crate::config::ConnectionLimits;

/// Serves `router` on `listener` within `limits` until `shutdown`
/// completes; then stops accepting, closes idle connections and waits
/// for requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // A client may close its sending side once its request is out and
        // still wait for the answer; without this, hyper drops the request.
        .half_close(true)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut full_logged = false;
    tokio::pin!(shutdown);
    loop {
        // Waiting for a slot before accepting leaves further clients in
        // the kernel's backlog rather than accepting what cannot be served.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                full_logged = false;
                slot
            }
            Err(_) => {
                if !full_logged {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "every connection slot is taken; new clients wait until one frees up"
                    );
                    full_logged = true;
                }
                tokio::select! {
                    s = slots.clone().acquire_owned() => match s {
                        Ok(s) => s,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    pause_after_accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = http.serve_connection(
            wrap(tcp, limits.idle_timeout),
            TowerToHyperService::new(router.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // Timeouts and resets are the client's business; they are
                // worth a debug line, not an error.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // Idle connections close at once; requests in flight get a while to
    // finish. A client trickling an upload must not hold the stop for
    // ever: its temp file is removed at the next start and it retries.
    if tokio::time::timeout(REQUEST_PATIENCE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            patience_s = REQUEST_PATIENCE.as_secs(),
            "requests still running at shutdown were cut off"
        );
    }
}

/// How long a stopping server lets requests in flight finish.
pub const REQUEST_PATIENCE: Duration = Duration::from_secs(20);

/// The socket as hyper sees it: without Nagle's delay (small answers on
/// kept-alive connections must not wait), and with a bound on how long a
/// write may wait for a client that does not read.
fn wrap(tcp: TcpStream, idle: Duration) -> TokioIo<std::pin::Pin<Box<TimeoutStream<TcpStream>>>> {
    let _ = tcp.set_nodelay(true);
    let mut io = TimeoutStream::new(tcp);
    io.set_write_timeout(Some(idle));
    TokioIo::new(Box::pin(io))
}

/// Accept fails for one connection (it was aborted before we took it:
/// go on at once) or for the listener's own reasons, such as running out
/// of file descriptors: then the loop must go on without spinning, so it
/// pauses, and says why.
async fn pause_after_accept_error(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(error = %e, "a connection was aborted before it was accepted");
        return;
    }
    use rustix::io::Errno;
    let out_of_files = matches!(
        Errno::from_io_error(e),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
    );
    if out_of_files {
        tracing::error!(error = %e, "cannot accept connections: out of file descriptors or memory (raise LimitNOFILE or lower max_connections)");
    } else {
        tracing::error!(error = %e, "cannot accept connections");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}
