//! `pixelwire serve`: binds every port, starts the stream sources, the display listeners and the
//! HTTP server, and shuts down gracefully on the first SIGINT/SIGTERM (immediately on the second).

use crate::bus::{Stream, StreamDescription, StreamKind};
use crate::config::Config;
use crate::display::DisplayContext;
use crate::http::AppState;
use crate::shutdown::Shutdown;
use axum::extract::FromRef;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::info;

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// Where HTTP listens (useful with port 0).
    pub http_addr: SocketAddr,
    /// Where HTTPS listens, when `server.https` is set.
    pub https_addr: Option<SocketAddr>,
    /// Where displays connect.
    pub display_addrs: Vec<SocketAddr>,
    /// Extra WebSocket camera ports (any path).
    pub camera_ws_addrs: Vec<SocketAddr>,
    /// Extra seed 001 viewer ports (any path).
    pub viewer_addrs: Vec<SocketAddr>,
    /// Extra ports of the HTTP device API.
    pub device_http_addrs: Vec<SocketAddr>,
    /// Picamera raw TCP ports.
    pub tcp_camera_addrs: Vec<SocketAddr>,
    /// RTSP ports.
    pub rtsp_addrs: Vec<SocketAddr>,
    /// The WebRTC (WHEP) UDP port, when `webrtc.enabled`.
    pub webrtc_addr: Option<SocketAddr>,
    /// Shared state (tests inspect it).
    pub state: AppState,
    shutdown: Shutdown,
    tasks: JoinSet<()>,
}

/// Binds everything and starts all tasks.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    crate::source::render::text::preload_fonts();
    let (shutdown, signal) = Shutdown::new();
    let cfg = Arc::new(cfg);
    let state = AppState::new(cfg.clone(), signal.clone())?;
    if state.api_keys.is_default() {
        tracing::warn!(
            "no [[api_keys]] configured: HTTP devices are accepted with seed 002's default key \"{}\"; configure your own keys",
            crate::config::DEFAULT_API_KEY
        );
    }
    crate::ingest::log_exposure(&cfg.cameras);
    match pixelwire_media::h264_asm::assembly() {
        "none" => tracing::warn!(
            "H.264: OpenH264 was built without its assembly and encodes about 2.3x slower (docs/media.md, \"OpenH264's assembly\")"
        ),
        asm => info!(assembly = asm, "H.264: OpenH264 with its assembly"),
    }
    let (bus, metrics, cameras) = (
        state.bus.clone(),
        state.metrics.clone(),
        state.cameras.clone(),
    );
    let mut tasks = JoinSet::new();
    for sc in cfg.effective_streams() {
        let generated = sc.kind() != crate::config::SourceKind::Camera;
        let desc = StreamDescription {
            kind: if generated {
                StreamKind::Generated
            } else {
                StreamKind::Camera
            },
            source: sc.kind().name().to_string(),
            width: sc.width.get(),
            height: sc.height.get(),
            nominal_fps: sc.fps(),
        };
        let stream = Stream::new(sc.name.get_ref().clone(), desc);
        bus.insert(stream.clone());
        if sc.kind() == crate::config::SourceKind::Dashboard {
            tasks.spawn(crate::source::dashboard::run_dashboard(
                stream,
                sc,
                state.dashboards.clone(),
                signal.clone(),
                metrics.clone(),
            ));
        } else if sc.kind() == crate::config::SourceKind::Screen {
            tasks.spawn(crate::source::screen::run_screen(
                stream,
                sc,
                signal.clone(),
            ));
        } else if generated {
            tasks.spawn(crate::source::run_generated(
                stream,
                sc,
                signal.clone(),
                metrics.clone(),
            ));
        }
    }
    let mut display_addrs = Vec::new();
    for addr in cfg.display_listeners() {
        let l = crate::display::listener::bind(addr).await?;
        display_addrs.push(l.local_addr()?);
        tasks.spawn(crate::display::listener::run(
            l,
            DisplayContext::from_ref(&state),
        ));
    }
    let bind = |addr: SocketAddr, what: &'static str| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for {what} on {addr}: {e}"))
    };
    let limits = crate::http::HttpLimits::from(&cfg.server);
    let mut camera_ws_addrs = Vec::new();
    for &addr in &cfg.cameras.websocket_listen {
        let l = bind(addr, "websocket cameras").await?;
        camera_ws_addrs.push(l.local_addr()?);
        tasks.spawn(crate::http::serve_router(
            l,
            crate::http::camera_port(state.clone()),
            limits,
            metrics.clone(),
            state.shutdown.clone(),
            "websocket cameras",
            None,
        ));
    }
    let mut viewer_addrs = Vec::new();
    for &addr in &cfg.cameras.viewer_listen {
        let l = bind(addr, "seed 001 viewers").await?;
        viewer_addrs.push(l.local_addr()?);
        tasks.spawn(crate::http::serve_router(
            l,
            crate::http::viewer_port(state.clone()),
            limits,
            metrics.clone(),
            state.shutdown.clone(),
            "seed 001 viewers",
            None,
        ));
    }
    let mut device_http_addrs = Vec::new();
    for &addr in &cfg.cameras.http_listen {
        let l = bind(addr, "the HTTP device API").await?;
        device_http_addrs.push(l.local_addr()?);
        tasks.spawn(crate::http::serve_router(
            l,
            crate::http::device_port(state.clone()),
            limits,
            metrics.clone(),
            state.shutdown.clone(),
            "the HTTP device API",
            None,
        ));
    }
    let mut tcp_camera_addrs = Vec::new();
    for &addr in &cfg.cameras.tcp_listen {
        let l = bind(addr, "raw TCP cameras").await?;
        tcp_camera_addrs.push(l.local_addr()?);
        tasks.spawn(crate::ingest::tcp::run(l, cameras.clone(), signal.clone()));
    }
    let mut rtsp_addrs = Vec::new();
    for &addr in &cfg.rtsp.listen {
        let l = bind(addr, "RTSP").await?;
        let local = l.local_addr()?;
        rtsp_addrs.push(local);
        info!(rtsp = %local, "RTSP: rtsp://HOST:{}/NAME", local.port());
        tasks.spawn(crate::rtsp::run(
            l,
            crate::rtsp::RtspContext {
                bus: bus.clone(),
                encoders: state.encoders.clone(),
                metrics: metrics.clone(),
                shutdown: signal.clone(),
                settings: cfg.rtsp.clone(),
                send_queue_bytes: cfg.server.send_queue_bytes.get(),
                stalled_limit: cfg.server.stalled_viewer_timeout_ms.duration(),
            },
        ));
    }
    if let Some(cluster) = &cfg.cluster {
        tasks.spawn(crate::cluster::run(crate::cluster::ClusterContext {
            settings: cluster.clone(),
            bus: bus.clone(),
            encoders: state.encoders.clone(),
            cameras: cameras.clone(),
            metrics: metrics.clone(),
            shutdown: signal.clone(),
        }));
    }
    tasks.spawn(crate::ingest::run_expiry(cameras.clone(), signal.clone()));
    state
        .recordings
        .spawn(&mut tasks, &bus, &state.encoders, &signal);
    let mut webrtc_addr = None;
    if cfg.webrtc.enabled {
        let socket = crate::whep::udp::bind(&state.whep).await?;
        webrtc_addr = state.whep.bound();
        tasks.spawn(crate::whep::udp::run(
            socket,
            state.whep.clone(),
            metrics.clone(),
            signal.clone(),
        ));
    }
    {
        // Frame-driven registry changes are written every few seconds, and once more at shutdown.
        let cams = cameras.clone();
        let mut sd = signal.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => cams.registry.flush(),
                    _ = sd.wait() => { cams.registry.flush(); return; }
                }
            }
        });
    }
    let http = tokio::net::TcpListener::bind(cfg.server.http)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {}: {e}", cfg.server.http))?;
    let http_addr = http.local_addr()?;
    tasks.spawn(crate::http::serve(http, state.clone(), false));
    let mut https_addr = None;
    if let (Some(addr), Some(tls)) = (cfg.server.https, &state.tls) {
        let l = bind(addr, "HTTPS").await?;
        let local = l.local_addr()?;
        https_addr = Some(local);
        tasks.spawn(crate::http::serve(l, state.clone(), true));
        info!(
            https = %local,
            fingerprint_sha256 = %tls.info.fingerprint_sha256,
            spki_sha256 = %tls.info.spki_sha256_base64,
            self_signed = tls.info.self_signed,
            cert = %tls.info.cert_file.display(),
            "HTTPS certificate (compare the fingerprint with what the browser shows before trusting it)"
        );
    }
    info!(
        max_connections = cfg.server.max_connections.get(),
        max_connections_per_peer = cfg.server.max_connections_per_peer.get(),
        header_read_timeout_ms = cfg.server.header_read_timeout_ms.get(),
        send_queue_bytes = cfg.server.send_queue_bytes.get(),
        "HTTP limits per listener (docs/security.md)"
    );
    info!(http = %http_addr, https = ?https_addr, webrtc = ?webrtc_addr, displays = ?display_addrs, streams = ?cfg.effective_streams().iter().map(|s| s.name.get_ref().clone()).collect::<Vec<_>>(), "pixelwire serving");
    Ok(Running {
        http_addr,
        https_addr,
        display_addrs,
        camera_ws_addrs,
        viewer_addrs,
        device_http_addrs,
        tcp_camera_addrs,
        rtsp_addrs,
        webrtc_addr,
        state,
        shutdown,
        tasks,
    })
}

impl Running {
    /// Asks every task to finish.
    pub fn shutdown(&self) {
        self.shutdown.trigger();
    }

    /// Waits for all tasks (after [`Running::shutdown`]), at most `limit`.
    pub async fn join(mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
    }
}

/// Runs until a signal: the first one shuts down gracefully, a second one exits at once.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let running = start(cfg).await?;
    crate::shutdown::signal().await;
    info!("shutting down (send the signal again to exit at once)");
    running.shutdown();
    tokio::select! {
        _ = running.join(Duration::from_secs(5)) => {}
        _ = crate::shutdown::signal() => info!("second signal: exiting now"),
    }
    Ok(())
}
