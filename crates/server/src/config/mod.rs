//! The configuration file: one TOML document deserialised into these types, documented field by
//! field in `docs/config.md` (whose example is parsed by a test). Every field has a default, so
//! `pixelwire serve` runs with no file at all; where pixelwire-core has a default (display
//! processing, rate control, legacy sessions), that one is used, not a copy.
//!
//! Parsing checks what one key can get wrong: each bounded number is a type that refuses values
//! outside its range (`ranges.rs`), each source's options belong to its variant of the stream's
//! source (`streams.rs`). What is left for [`Config::parse`] to check afterwards are the rules
//! between tables: unique stream names, routes naming defined streams, dashboard rules. Every
//! error names the file, the line and the key (`error.rs`).
//!
//! Layout: `streams.rs` (`[[streams]]`), `dashboard.rs` and `panel.rs` (`[streams.dashboard]`),
//! `display.rs` (display settings, `[[displays]]`), `legacy.rs` (`[legacy]`,
//! `[[legacy_displays]]`), `limits.rs` (`[limits]`), `cameras.rs` (`[cameras]`, `[[api_keys]]`), `https.rs` (the HTTPS keys of
//! `[server]`), `video.rs` (`[video]`), `rtsp.rs` (`[rtsp]`), `recording.rs` (`[recording]`), `webrtc.rs` (`[webrtc]`), `ranges.rs`, `table.rs`
//! (reading a table key by key), `error.rs`, and `docs.rs` (tests that `docs/config.md` states
//! the defaults the code has).

mod cameras;
mod cluster;
pub mod dashboard;
mod display;
#[cfg(test)]
mod docs;
mod error;
mod https;
mod legacy;
mod limits;
mod panel;
pub mod ranges;
mod recording;
mod rtsp;
pub mod screen;
mod streams;
mod table;
mod video;
mod webrtc;

pub use cameras::{ApiKey, CameraSettings, DEFAULT_API_KEY};
pub use cluster::ClusterSettings;
pub use display::{
    DisplayRoute, DisplayTuning, DitherName, FilterName, FitName, PreferName, ResolvedTuning,
};
pub use https::CertSource;
pub use legacy::{LegacyRoute, LegacySettings};
pub use limits::{DEFAULT_DISPLAY_MEMORY_BYTES, Limits};
pub use recording::{RecordMode, RecordingSettings, StreamRecording};
pub use rtsp::RtspSettings;
pub use streams::{Source, SourceKind, StreamConfig, Ticks};
pub use video::VideoSettings;
pub use webrtc::{Advertised, IceServer, WebrtcSettings};

use anyhow::Context;
use error::{Document, KeyError};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listening addresses and global settings.
    pub server: ServerConfig,
    /// Processing defaults for every display.
    pub display_defaults: DisplayTuning,
    /// Settings for seed-000 sketches.
    pub legacy: LegacySettings,
    /// What display peers may cost the server.
    pub limits: Limits,
    /// Named streams; empty means the built-in set (`bios`, `cpu`, `pattern`, and the dashboards
    /// `system` and `pixelwire`).
    pub streams: Vec<StreamConfig>,
    /// Routes and overrides for pixelwire devices, by device id.
    pub displays: Vec<DisplayRoute>,
    /// Routes and overrides for legacy sketches, by peer address and/or listening port.
    pub legacy_displays: Vec<LegacyRoute>,
    /// Where pushing devices (cameras) connect.
    pub cameras: CameraSettings,
    /// Keys HTTP devices present; empty means only the seed firmware's default key.
    pub api_keys: Vec<ApiKey>,
    /// The shared H.264 encode of each stream.
    pub video: VideoSettings,
    /// Where recordings go and how long they stay.
    pub recording: RecordingSettings,
    /// RTSP out.
    pub rtsp: RtspSettings,
    /// WebRTC out via WHEP.
    pub webrtc: WebrtcSettings,
    /// Joins other nodes through NATS; `None` (no `[cluster]` table) keeps the in-process bus.
    pub cluster: Option<ClusterSettings>,
    /// Where the file came from (for messages).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTP API, web page and metrics.
    pub http: SocketAddr,
    /// Display port: pixelwire devices and legacy sketches alike.
    pub display: SocketAddr,
    /// Stream for displays that no route names.
    pub default_stream: Spanned<String>,
    /// Directory for persistent state (the device registry); relative to the working directory.
    pub data_dir: PathBuf,
    /// Connections each HTTP listener holds at once (`docs/security.md`).
    pub max_connections: ranges::MaxConnections,
    /// Connections one peer address holds on each HTTP listener.
    pub max_connections_per_peer: ranges::MaxConnectionsPerPeer,
    /// Time a client has to send a complete request head, from connecting or from the end of the
    /// previous response (so also the keep-alive idle timeout).
    pub header_read_timeout_ms: ranges::HeaderTimeoutMs,
    /// Unsent bytes an HTTP connection may hold in its kernel send queue before viewers skip frames.
    pub send_queue_bytes: ranges::SendQueueBytes,
    /// A viewer whose socket stays backed up this long (its peer stopped reading) is cut off.
    pub stalled_viewer_timeout_ms: ranges::StalledViewerMs,
    /// HTTPS listener (the same router as `http`); off unless set (`https.rs`).
    pub https: Option<SocketAddr>,
    /// PEM certificate chain for `https`; with `tls_key`, or neither for a self-signed one.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Extra host names and addresses of the self-signed certificate.
    pub tls_names: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([0, 0, 0, 0], 8080)),
            display: SocketAddr::from(([0, 0, 0, 0], 8888)),
            default_stream: Spanned::new(0..0, "bios".to_string()),
            data_dir: PathBuf::from("pixelwire-data"),
            max_connections: ranges::MaxConnections::new_const(512),
            max_connections_per_peer: ranges::MaxConnectionsPerPeer::new_const(64),
            header_read_timeout_ms: ranges::HeaderTimeoutMs::new_const(10_000),
            send_queue_bytes: ranges::SendQueueBytes::new_const(16 << 10),
            stalled_viewer_timeout_ms: ranges::StalledViewerMs::new_const(60_000),
            https: None,
            tls_cert: None,
            tls_key: None,
            tls_names: Vec::new(),
        }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, Some(path))
    }

    /// Parses and checks config text; `path` only labels messages.
    pub fn parse(text: &str, path: Option<&Path>) -> anyhow::Result<Config> {
        let file = path.map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!("config file {file}: {}", Document::new(text).toml_error(&e))
        })?;
        cfg.source = path.map(Path::to_path_buf);
        cfg.check().map_err(|e| {
            anyhow::anyhow!("config file {file}: {}", Document::new(text).key_error(&e))
        })?;
        Ok(cfg)
    }

    /// The streams to run: configured ones, or the built-in set.
    pub fn effective_streams(&self) -> Vec<StreamConfig> {
        if !self.streams.is_empty() {
            return self.streams.clone();
        }
        let mut out: Vec<StreamConfig> = [SourceKind::Bios, SourceKind::Cpu, SourceKind::Pattern]
            .into_iter()
            .map(|k| StreamConfig::builtin(k.name(), k))
            .collect();
        out.push(StreamConfig::builtin("system", SourceKind::Dashboard));
        let mut own = StreamConfig::builtin("pixelwire", SourceKind::Dashboard);
        own.source = Source::Dashboard(dashboard::DashboardConfig {
            preset: dashboard::Preset::Pixelwire,
            ..dashboard::DashboardConfig::default()
        });
        out.push(own);
        out
    }

    /// The rules between tables (everything else was checked while parsing).
    fn check(&self) -> Result<(), KeyError> {
        let streams = self.effective_streams();
        let mut names = HashSet::new();
        for (i, s) in streams.iter().enumerate() {
            let name = s.name.get_ref();
            if !names.insert(name.clone()) {
                return Err(KeyError::new(
                    format!("streams[{i}].name"),
                    format!("streams.name = {name:?} is defined twice"),
                ));
            }
            if let Source::Dashboard(d) = &s.source {
                d.check(&format!("streams[{i}].dashboard"))?;
            }
            let pre_roll = s.recording.pre_roll_s.get();
            if pre_roll > self.video.ring_seconds.get() {
                return Err(KeyError::new(
                    format!("streams[{i}].pre_roll_s"),
                    format!(
                        "streams.pre_roll_s = {pre_roll} is longer than the encoded video kept in RAM (video.ring_seconds = {}); raise video.ring_seconds or shorten the pre-roll",
                        self.video.ring_seconds.get()
                    ),
                ));
            }
        }
        let check_ref = |r: &Spanned<String>, key: &str| -> Result<(), KeyError> {
            if names.contains(r.get_ref()) {
                return Ok(());
            }
            let message = if r.span().is_empty() {
                format!(
                    "{key} is not set and its default {:?} names no stream (defined: {}); set {key}",
                    r.get_ref(),
                    sorted(&names)
                )
            } else {
                format!(
                    "{key} = {:?} names no stream (defined: {})",
                    r.get_ref(),
                    sorted(&names)
                )
            };
            Err(KeyError::new(key, message))
        };
        check_ref(&self.server.default_stream, "server.default_stream")?;
        https::check(&self.server)?;
        for (i, d) in self.displays.iter().enumerate() {
            if let Some(s) = &d.stream {
                check_ref(s, &format!("displays[{i}].stream"))?;
            }
        }
        for (i, l) in self.legacy_displays.iter().enumerate() {
            if let Some(s) = &l.stream {
                check_ref(s, &format!("legacy_displays[{i}].stream"))?;
            }
        }
        Ok(())
    }

    /// Settings for a pixelwire device: (stream, tuning).
    pub fn route_display(&self, id: &str) -> (String, ResolvedTuning) {
        let route = self.displays.iter().find(|d| d.id == id);
        let stream = route
            .and_then(|r| r.stream.as_ref())
            .unwrap_or(&self.server.default_stream)
            .get_ref()
            .clone();
        let tuning = match route {
            Some(r) => self.display_defaults.overlaid(&r.tuning),
            None => self.display_defaults.clone(),
        };
        (stream, tuning.resolve())
    }

    /// Settings for a legacy peer: (stream, width, height, tuning).
    pub fn route_legacy(&self, peer: IpAddr, port: u16) -> (String, u32, u32, ResolvedTuning) {
        let route = self.legacy_displays.iter().find(|r| r.matches(peer, port));
        let stream = route
            .and_then(|r| r.stream.as_ref())
            .unwrap_or(&self.server.default_stream)
            .get_ref()
            .clone();
        let width = route.and_then(|r| r.width).unwrap_or(self.legacy.width);
        let height = route.and_then(|r| r.height).unwrap_or(self.legacy.height);
        let tuning = match route {
            Some(r) => self.display_defaults.overlaid(&r.tuning),
            None => self.display_defaults.clone(),
        };
        (stream, width.get(), height.get(), tuning.resolve())
    }

    /// Every display listening address: `server.display` plus each legacy route's port.
    pub fn display_listeners(&self) -> Vec<SocketAddr> {
        let mut out = vec![self.server.display];
        for p in self.legacy_displays.iter().filter_map(|r| r.port) {
            let a = SocketAddr::new(self.server.display.ip(), p);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

fn sorted(names: &HashSet<String>) -> String {
    let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_proto::{Codec, CodecSet};

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", None).unwrap();
        assert_eq!(c.server.http.port(), 8080);
        assert_eq!(c.server.display.port(), 8888);
        let names: Vec<String> = c
            .effective_streams()
            .iter()
            .map(|s| s.name.get_ref().clone())
            .collect();
        assert_eq!(names, ["bios", "cpu", "pattern", "system", "pixelwire"]);
        let (stream, t) = c.route_display("anything");
        assert_eq!(stream, "bios");
        assert_eq!(t.window, 2);
        assert_eq!(t.codecs, CodecSet::all());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = Config::parse(
            "[server]\nhttp = \"0.0.0.0:1\"\nbogus = 3\n",
            Some(Path::new("my.toml")),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("my.toml"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");

        let err = Config::parse(
            "[[displays]]\nid = \"a\"\nstream = \"nope\"\n",
            Some(Path::new("x.toml")),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("x.toml") && msg.contains("line 3") && msg.contains("displays[0].stream"),
            "{msg}"
        );

        // Inside a table with flattened display settings, the line is the table's header.
        let err =
            Config::parse("[server]\n[[displays]]\nid = \"a\"\ngama = 2.2\n", None).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("line 2") && msg.contains("unknown field `gama`"),
            "{msg}"
        );

        let err = Config::parse("[legacy]\nmax_payload = 20000\n", None).unwrap_err();
        assert!(format!("{err:#}").contains("legacy.max_payload"));

        let err = Config::parse("[display_defaults]\ndither = \"fancy\"\n", None).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("line 2") && msg.contains("dither"), "{msg}");
    }

    #[test]
    fn errors_in_route_and_stream_tables_point_at_the_key() {
        let msg = |text: &str| format!("{:#}", Config::parse(text, None).unwrap_err());
        let m = msg("[server]\n[[displays]]\nid = \"a\"\ngama = 2.2\n");
        assert!(
            m.contains("line 4: displays[0].gama: unknown field `gama`"),
            "{m}"
        );
        assert!(m.contains("= in [[displays]] at line 2"), "{m}");
        let m = msg("[[legacy_displays]]\nport = 9000\ngamma = 9\n");
        assert!(
            m.contains("line 3: legacy_displays[0].gamma: 9 is outside 0.1..=5"),
            "{m}"
        );
        let m = msg(
            "[[streams]]\nname = \"bios\"\nsource = \"dashboard\"\n[streams.dashboard]\nhistory_s = 1\n",
        );
        assert!(
            m.contains("line 5: streams[0].dashboard.history_s = 1 holds 1 samples"),
            "{m}"
        );
        let m = msg(
            "[[streams]]\nname = \"bios\"\nsource = \"bios\"\n[[streams]]\nname = \"bios\"\nsource = \"cpu\"\n",
        );
        assert!(
            m.contains("line 5: streams.name = \"bios\" is defined twice"),
            "{m}"
        );
    }

    #[test]
    fn overrides_layer() {
        let c = Config::parse(
            "[display_defaults]\ngamma = 2.2\ntarget_fps = 20\n[[displays]]\nid = \"desk\"\nstream = \"cpu\"\ntarget_fps = 10\ncodecs = [\"rle\"]\n",
            None,
        )
        .unwrap();
        let (stream, t) = c.route_display("desk");
        assert_eq!(stream, "cpu");
        assert_eq!(t.sink.rate.target_fps, 10.0);
        assert_eq!(t.sink.correction.gamma, 2.2);
        assert!(
            t.codecs.contains(Codec::Rle)
                && t.codecs.contains(Codec::Raw)
                && !t.codecs.contains(Codec::PaletteRle)
        );
        let (_, t) = c.route_display("other");
        assert_eq!(t.sink.rate.target_fps, 20.0);
    }

    #[test]
    fn legacy_routes_by_address_and_port() {
        let c = Config::parse(
            "[[legacy_displays]]\naddress = \"10.0.0.5\"\nstream = \"cpu\"\nwidth = 240\n[[legacy_displays]]\nport = 8889\nstream = \"pattern\"\n",
            None,
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(c.route_legacy(ip("10.0.0.5"), 8888).0, "cpu");
        assert_eq!(c.route_legacy(ip("10.0.0.5"), 8888).1, 240);
        assert_eq!(c.route_legacy(ip("10.0.0.6"), 8889).0, "pattern");
        assert_eq!(c.route_legacy(ip("10.0.0.6"), 8888).0, "bios");
        assert_eq!(c.display_listeners().len(), 2);
    }

    #[test]
    fn docs_example_parses() {
        let doc = include_str!("../../../../docs/config.md");
        let start = doc
            .find("```toml\n")
            .expect("docs/config.md has a toml example")
            + 8;
        let end = start + doc[start..].find("```").expect("closed block");
        let c = Config::parse(&doc[start..end], Some(Path::new("docs/config.md"))).unwrap();
        assert!(!c.streams.is_empty());
    }
}
