//! The server's integration tests, one module per area, in one test binary.
//!
//! Each integration-test binary links the whole server with OpenH264 and libjpeg-turbo, so every
//! change to the server used to relink eleven of them; one binary links once (cargo's "one
//! integration test crate" layout). Nothing here needs a process of its own: the tests share no
//! global state (no tracing subscriber, environment variables, working directory or signal
//! handlers), bind every port as 0 and take fresh temp dirs, and `loopback_processes` runs the
//! `pixelwire` binary in child processes.
//!
//! Run one area with `cargo test -p pixelwire --test it http_api::` (the module path filters).
//! A new area is a module here, not a new file under `tests/`: that would be a binary of its own.

mod common;

mod browser_viewer;
mod camera_ingest;
mod cluster;
mod cluster_kv;
mod cluster_three;
mod dashboard_faults;
mod dashboard_prometheus;
mod display_control;
mod display_hostile;
mod display_legacy;
mod display_pixelwire;
mod emu_virtual_panel;
mod hostile_http;
mod hostile_ingest;
mod hostile_peers;
mod http_api;
mod https;
mod load_generator;
mod loopback_processes;
mod prometheus_self_monitoring;
mod recording;
mod rtsp_out;
mod screen_capture;
mod screen_stripes_browser;
mod viewer_outputs;
mod viewer_reports;
mod whep;
