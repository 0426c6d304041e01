//! Checks that `docs/config.md` states the defaults the code has: every "default" cell of its key
//! tables is parsed as TOML and compared with what a config without that key gets (mostly
//! pixelwire-core's defaults, through `Config::default()`). The code keeps one copy of each
//! default; this test keeps the documentation in step with it. (The example config of the same
//! page is parsed by `tests::docs_example_parses`.)

use super::dashboard::{DEFAULT_COLOR, DashboardConfig, HexColor, PanelKind, Preset, Unit};
use super::{Config, DitherName, FilterName, FitName, PreferName, SourceKind, StreamConfig};
use pixelwire_core::{Dither, Filter, Fit};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

const DOC: &str = include_str!("../../../../docs/config.md");

/// The "default" cell of the table row whose first cell is exactly `key` (with its backticks).
fn cell(key: &str) -> &'static str {
    let prefix = format!("| {key} |");
    let rows: Vec<&str> = DOC.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(rows.len(), 1, "docs/config.md: one row for {key}");
    rows[0][prefix.len()..]
        .split('|')
        .next()
        .unwrap_or_default()
        .trim()
}

/// The values written in backticks in the default cell of `key`, parsed as TOML values.
fn documented<T: DeserializeOwned>(key: &str) -> Vec<T> {
    #[derive(serde::Deserialize)]
    struct Value<T> {
        v: T,
    }
    cell(key)
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|v| {
            toml::from_str::<Value<T>>(&format!("v = {v}"))
                .unwrap_or_else(|e| panic!("docs/config.md, {key}: {v}: {e}"))
                .v
        })
        .collect()
}

/// The single value documented for `key`.
fn one<T: DeserializeOwned>(key: &str) -> T {
    let mut values = documented(key);
    assert_eq!(values.len(), 1, "docs/config.md, {key}: one value");
    values.remove(0)
}

#[test]
fn server_and_cameras() {
    let c = Config::default();
    assert_eq!(one::<SocketAddr>("`http`"), c.server.http);
    assert_eq!(one::<SocketAddr>("`display`"), c.server.display);
    assert_eq!(
        &one::<String>("`default_stream`"),
        c.server.default_stream.get_ref()
    );
    assert_eq!(
        one::<String>("`data_dir`"),
        c.server.data_dir.to_string_lossy()
    );
    assert_eq!(
        one::<usize>("`max_connections`"),
        c.server.max_connections.get()
    );
    assert_eq!(
        one::<usize>("`max_connections_per_peer`"),
        c.server.max_connections_per_peer.get()
    );
    assert_eq!(
        one::<u64>("`header_read_timeout_ms`"),
        c.server.header_read_timeout_ms.get()
    );
    assert_eq!(cell("`https`"), "off");
    assert_eq!(c.server.https, None);
    assert_eq!((cell("`tls_cert`"), cell("`tls_key`")), ("—", "—"));
    assert_eq!((&c.server.tls_cert, &c.server.tls_key), (&None, &None));
    assert_eq!(one::<Vec<String>>("`tls_names`"), c.server.tls_names);
    assert_eq!(
        one::<u64>("`stalled_viewer_timeout_ms`"),
        c.server.stalled_viewer_timeout_ms.get()
    );
    assert_eq!(
        one::<u32>("`send_queue_bytes`"),
        c.server.send_queue_bytes.get()
    );
    let cam = &c.cameras;
    assert_eq!(
        one::<Vec<SocketAddr>>("`websocket_listen`"),
        cam.websocket_listen
    );
    assert_eq!(one::<Vec<SocketAddr>>("`viewer_listen`"), cam.viewer_listen);
    assert_eq!(one::<Vec<SocketAddr>>("`http_listen`"), cam.http_listen);
    assert_eq!(one::<Vec<SocketAddr>>("`tcp_listen`"), cam.tcp_listen);
    assert_eq!(
        documented::<u32>("`tcp_raw_width`, `tcp_raw_height`"),
        [cam.tcp_raw_width.get(), cam.tcp_raw_height.get()]
    );
    assert_eq!(one::<usize>("`max_frame_bytes`"), cam.max_frame_bytes.get());
    assert_eq!(one::<u64>("`offline_after_s`"), cam.offline_after_s.get());
    assert_eq!(one::<u64>("`max_frame_pixels`"), cam.max_frame_pixels.get());
    assert_eq!(
        one::<usize>("`max_pushed_streams`"),
        cam.max_pushed_streams.get()
    );
    assert_eq!(
        one::<usize>("`max_unregistered_devices`"),
        cam.max_unregistered_devices.get()
    );
    assert_eq!(one::<u64>("`pushed_expiry_s`"), cam.pushed_expiry_s.get());
    assert_eq!(one::<bool>("`require_keys`"), cam.require_keys);
    assert_eq!(
        one::<usize>("`tcp_max_connections`"),
        cam.tcp_max_connections
    );
    assert_eq!(
        one::<usize>("`tcp_max_connections_per_peer`"),
        cam.tcp_max_connections_per_peer
    );
}

#[test]
fn streams_and_dashboards() {
    let bios = StreamConfig::builtin("b", SourceKind::Bios);
    assert_eq!(
        documented::<u32>("`width`, `height`"),
        [bios.width.get(), bios.height.get()]
    );
    assert_eq!(one::<bool>("`still`"), bios.still());
    assert_eq!(
        one::<super::screen::CursorConfig>("`screen.cursor`"),
        super::screen::ScreenConfig::default().cursor
    );
    // "bios 1, cpu 2, pattern 30": no backticks, one "source fps" pair per kind.
    for pair in cell("`fps`").split(", ") {
        let (name, fps) = pair.split_once(' ').expect("source and fps");
        let kind: SourceKind = one_word(name);
        assert_eq!(fps.parse::<f32>().ok(), Some(kind.default_fps()), "{pair}");
    }
    let d = DashboardConfig::default();
    assert_eq!(one::<String>("`prometheus`"), d.prometheus.as_str());
    assert_eq!(one::<Preset>("`preset`"), d.preset);
    assert_eq!(one::<u64>("`interval_ms`"), d.interval_ms.get());
    assert_eq!(one::<u32>("`history_s`"), d.history_s);
    assert_eq!(one::<u64>("`timeout_ms`"), d.timeout_ms.get());
    assert_eq!(one::<Unit>("`unit`"), Unit::default());
    assert_eq!(one::<PanelKind>("`kind`"), PanelKind::default());
    assert_eq!(one::<HexColor>("`color`").0, DEFAULT_COLOR);
}

#[test]
fn display_settings_and_legacy() {
    let c = Config::default();
    let (_, t) = c.route_display("any");
    let (s, r) = (&t.sink, &t.sink.rate);
    assert_eq!(one::<f32>("`target_fps`"), r.target_fps);
    assert_eq!(one::<f32>("`min_fps`"), r.min_fps);
    assert_eq!(
        pixelwire_core::Prefer::from(one::<PreferName>("`prefer`")),
        r.prefer
    );
    assert_eq!(one::<f64>("`gamma`"), s.correction.gamma);
    assert_eq!(
        one::<[f64; 3]>("`white_balance`"),
        s.correction.white_balance
    );
    assert_eq!(Dither::from(one::<DitherName>("`dither`")), s.dither);
    assert_eq!(Fit::from(one::<FitName>("`fit`")), s.fit);
    assert_eq!(Filter::from(one::<FilterName>("`filter`")), s.filter);
    assert_eq!(one::<u32>("`tile_size`"), s.tile_size);
    assert_eq!(one::<u32>("`paint_over_frames`"), s.paint_over_frames);
    assert_eq!(one::<u8>("`max_quality_level`"), r.max_level.get());
    assert_eq!(one::<u8>("`window`"), t.window);
    assert_eq!(
        u128::from(one::<u64>("`keepalive_ms`")),
        t.keepalive.as_millis()
    );
    assert_eq!(cell("`codecs`"), "all");
    assert_eq!(t.codecs, pixelwire_proto::CodecSet::all());
    let lg = &c.legacy;
    assert_eq!(one::<u64>("`legacy.detect_ms`"), lg.detect_ms.get());
    assert_eq!(
        documented::<u32>("`legacy.width`, `legacy.height`"),
        [lg.width.get(), lg.height.get()]
    );
    assert_eq!(one::<u32>("`legacy.max_payload`"), lg.max_payload.get());
    assert_eq!(one::<u64>("`legacy.keepalive_ms`"), lg.keepalive_ms);
    assert_eq!(
        one::<u32>("`legacy.send_buffer_bytes`"),
        lg.send_buffer_bytes
    );
    assert_eq!(
        one::<u64>("`limits.display_memory_bytes`"),
        c.limits.display_memory_bytes
    );
    assert_eq!(
        one::<usize>("`limits.display_connections`"),
        c.limits.display_connections
    );
    assert_eq!(
        one::<usize>("`limits.display_connections_per_peer`"),
        c.limits.display_connections_per_peer
    );
    assert_eq!(
        one::<u32>("`video.ring_seconds`"),
        c.video.ring_seconds.get()
    );
    assert_eq!(
        one::<u64>("`video.ring_max_bytes`"),
        c.video.ring_max_bytes.get()
    );
    assert_eq!(
        one::<bool>("`video.skip_unchanged`"),
        c.video.skip_unchanged
    );
    assert_eq!(
        cell("`rtsp.listen`"),
        format!("`[\"{}\"]`", c.rtsp.listen[0])
    );
    assert_eq!(
        one::<usize>("`rtsp.max_connections`"),
        c.rtsp.max_connections
    );
    assert_eq!(
        one::<usize>("`rtsp.max_connections_per_peer`"),
        c.rtsp.max_connections_per_peer
    );
    assert_eq!(
        one::<u64>("`rtsp.session_timeout_s`"),
        c.rtsp.session_timeout_s
    );
    let cl = crate::config::ClusterSettings::default();
    assert_eq!(one::<String>("`cluster.nats_url`"), cl.nats_url);
    assert_eq!(one::<String>("`cluster.node_name`"), cl.node_name);
    assert_eq!(one::<String>("`cluster.subject_prefix`"), cl.subject_prefix);
    assert_eq!(one::<u64>("`cluster.heartbeat_ms`"), cl.heartbeat_ms);
    assert_eq!(
        one::<u64>("`cluster.offline_after_ms`"),
        cl.offline_after_ms
    );
    assert_eq!(one::<u64>("`cluster.forget_after_ms`"), cl.forget_after_ms);
}

#[test]
fn recording() {
    let r = Config::default().recording;
    assert_eq!(cell("`recording.dir`"), "`<data_dir>/recordings`");
    assert_eq!(
        r.dir(std::path::Path::new("<data_dir>")),
        std::path::PathBuf::from("<data_dir>/recordings")
    );
    assert_eq!(
        one::<u32>("`recording.segment_seconds`"),
        r.segment_seconds.get()
    );
    assert_eq!(one::<u64>("`recording.fragment_ms`"), r.fragment_ms.get());
    assert_eq!(one::<u64>("`recording.max_age_s`"), r.max_age_s.get());
    assert_eq!(one::<u64>("`recording.max_bytes`"), r.max_bytes.get());
    assert_eq!(one::<u64>("`recording.min_free_bytes`"), r.min_free_bytes);
    let s = StreamConfig::builtin("b", SourceKind::Bios).recording;
    assert_eq!(one::<super::RecordMode>("`record`"), s.mode);
    assert_eq!(one::<u32>("`pre_roll_s`"), s.pre_roll_s.get());
}

#[test]
fn webrtc() {
    let w = Config::default().webrtc;
    assert_eq!(one::<bool>("`webrtc.enabled`"), w.enabled);
    assert_eq!(one::<SocketAddr>("`webrtc.listen`"), w.listen);
    assert!(documented::<Vec<String>>("`webrtc.advertise`")[0].is_empty());
    assert!(w.advertise.is_empty());
    assert!(documented::<Vec<String>>("`webrtc.ice_servers`")[0].is_empty());
    assert!(w.ice_servers.is_empty());
    assert_eq!(one::<usize>("`webrtc.max_sessions`"), w.max_sessions);
    assert_eq!(
        one::<usize>("`webrtc.max_sessions_per_peer`"),
        w.max_sessions_per_peer
    );
    assert_eq!(
        one::<u64>("`webrtc.connect_timeout_ms`"),
        w.connect_timeout_ms
    );
    assert_eq!(
        one::<u64>("`webrtc.disconnect_timeout_ms`"),
        w.disconnect_timeout_ms
    );
}

/// A bare word parsed as a TOML string into `T`.
fn one_word<T: DeserializeOwned>(word: &str) -> T {
    #[derive(serde::Deserialize)]
    struct Value<T> {
        v: T,
    }
    toml::from_str::<Value<T>>(&format!("v = {word:?}"))
        .unwrap_or_else(|e| panic!("{word}: {e}"))
        .v
}
