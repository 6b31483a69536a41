//! Binding the exporter's port and serving until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::collect::Exporter;
use crate::http;

/// Binds `addr`, with a message that says what to do when it is taken.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "cannot listen on {addr}: the port is in use; stop what holds it (another vger-exporter?) or set [exporter] listen / --listen to a free address"
            )
        } else {
            format!("cannot listen on {addr}: {e}")
        }
    })
}

/// Serves `/metrics` and `/` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::router(exporter))
        .with_graceful_shutdown(shutdown)
        .await
}
