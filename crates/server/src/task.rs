//! Tasks whose panic must not take anything else down: one connection, one session.

use std::future::Future;

/// Runs a connection task; a panic in it is logged and only that connection is lost.
pub fn spawn_connection(what: String, fut: impl Future<Output = ()> + Send + 'static) {
    let inner = tokio::spawn(fut);
    tokio::spawn(async move {
        if let Err(e) = inner.await
            && e.is_panic()
        {
            tracing::error!(connection = %what, "connection task panicked; connection dropped (this is a bug)");
        }
    });
}
