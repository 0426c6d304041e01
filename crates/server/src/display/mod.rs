//! TFT display sinks over TCP. One listener per display port accepts both protocols: a peer that
//! opens with a pixelwire HELLO is served by [`pixelwire_conn`], one that stays silent for
//! `legacy.detect_ms` by [`legacy_conn`] (the seed-000 sketch never sends a byte). Each connection is
//! one task that owns a sans-IO session from `pixelwire-core`.

pub mod legacy_conn;
pub mod listener;
pub mod pixelwire_conn;
pub mod registry;
pub mod status;
pub mod writer;

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
