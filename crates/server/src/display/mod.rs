//! TFT display sinks over TCP. One listener per display port accepts both protocols: a peer that
//! opens with a pixelwire HELLO is served by [`pixelwire_conn`], one that stays silent for
//! `legacy.detect_ms` by [`legacy_conn`] (the seed-000 sketch never sends a byte). Each connection is
//! one task that owns a sans-IO session from `pixelwire-core`; what both do around it (registry,
//! metrics, status, end reasons) is in [`connection`], [`live`] and [`end`]; which stream a display
//! shows, and switching it live, in [`routes`].

pub mod budget;
pub mod connection;
pub mod end;
pub mod legacy_conn;
pub mod listener;
pub mod live;
pub mod pixelwire_conn;
pub mod registry;
pub mod route_store;
pub mod routes;
pub mod status;
pub mod writer;

use crate::bus::Bus;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use registry::DisplayRegistry;
use routes::RouteTable;
use std::sync::Arc;

/// What display connection tasks share; cheap to clone.
#[derive(Debug, Clone)]
pub struct DisplayContext {
    /// Routes, tuning and legacy settings.
    pub cfg: Arc<Config>,
    /// Streams to show.
    pub bus: Arc<Bus>,
    /// Metrics.
    pub metrics: Metrics,
    /// Connected displays.
    pub displays: Arc<DisplayRegistry>,
    /// Which stream each display shows (configured, or chosen from the page or the API).
    pub routes: Arc<RouteTable>,
    /// Shutdown signal.
    pub shutdown: ShutdownSignal,
}
