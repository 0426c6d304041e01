//! `pixelwire display-emu`: an emulated TFT display. It decodes the pixelwire protocol with the same
//! `pixelwire-proto` device code the firmware runs, into a double-buffered framebuffer; acknowledges
//! like the firmware; simulates a slow link (`--link-kbps`, `--rtt-ms`) and a slow panel
//! (`--spi-mhz`); prints received fps, bytes/s and capture-to-display latency; writes PNG snapshots;
//! and reconnects with backoff, keeping the last image. `--legacy` parses the seed-000 protocol
//! exactly like the sketch instead. `--panel` (with `--rotation`, `--glass`) sends every frame
//! through the firmware's panel driver to a virtual ILI9341/ST7789/ST7735, so snapshots show what
//! that panel would show. `--format gray8|gray4|mono1` declares a grey or monochrome panel
//! (`docs/protocol.md`, "Pixel formats"): the framebuffer is packed as the wire packs it and
//! snapshots are grey PNGs.

pub mod legacy;
pub mod link;
pub mod panel;
mod server_quality;

use link::LinkModel;
use panel::EmuPanel;
use pixelwire_proto::{Codec, CodecSet, DeviceError, DeviceSession, Hello, PixelFormat, ShortStr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::time::Instant;

/// Command-line options.
#[derive(Debug, Clone, clap::Args)]
pub struct EmuOptions {
    /// Server display port, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: String,
    /// Panel size, WxH.
    #[arg(long, value_name = "WxH", default_value = "320x240", value_parser = parse_size)]
    pub size: (u16, u16),
    /// Speak the seed-000 legacy protocol (never send a byte) instead of pixelwire.
    #[arg(long)]
    pub legacy: bool,
    /// Link rate each way in kilobytes per second (1 kB = 1000 bytes); unthrottled if absent.
    #[arg(long, value_name = "N")]
    pub link_kbps: Option<f64>,
    /// Round-trip time added by the emulated link, ms.
    #[arg(long, value_name = "N", default_value_t = 0.0)]
    pub rtt_ms: f64,
    /// SPI clock of the emulated panel, MHz (pixel push time = pixels × bits per pixel / clock); 0 = instant.
    #[arg(long, value_name = "MHZ", default_value_t = 40.0)]
    pub spi_mhz: f64,
    /// Write the panel to this PNG at every report and on exit.
    #[arg(long, value_name = "FILE.png")]
    pub snapshot: Option<PathBuf>,
    /// Exit after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Device id sent in HELLO.
    #[arg(long, default_value = "display-emu")]
    pub id: String,
    /// Largest RECT payload the emulated device accepts, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub max_packet: u16,
    /// Frames the emulated device lets be in flight (1..=8).
    #[arg(long, default_value_t = 2)]
    pub window: u8,
    /// Codecs the emulated device decodes (comma separated: raw,rle,palette_rle,dct,dct_half).
    #[arg(long, default_value = "raw,rle,palette_rle,dct,dct_half", value_parser = parse_codecs)]
    pub codecs: CodecSet,
    /// Seconds between reports.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub report_interval: f64,
    /// Seconds at the start that the summary leaves out (connection, first full frame).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub warmup: f64,
    /// Size of the socket receive buffer, bytes (an ESP32 has 5–16 KiB).
    #[arg(long, value_name = "BYTES", default_value_t = 16384)]
    pub recv_buffer: u32,
    /// Draw through the firmware's panel driver onto a virtual panel: ili9341, st7789 or st7735.
    /// Its size after `--rotation` replaces `--size`.
    #[arg(long, value_name = "CONTROLLER")]
    pub panel: Option<String>,
    /// Rotation of the `--panel`, degrees: 0, 90, 180 or 270.
    #[arg(long, value_name = "DEGREES", default_value = "90")]
    pub rotation: String,
    /// Glass of the `--panel` in portrait orientation, WxH or WxH+X+Y (its position in the
    /// controller's memory); default: the controller's usual module.
    #[arg(long, value_name = "WxH[+X+Y]")]
    pub glass: Option<String>,
    /// Pixel format declared in HELLO: rgb565, rgb565le, gray8, gray4 or mono1.
    #[arg(long, value_name = "FORMAT", default_value = "rgb565", value_parser = parse_format)]
    pub format: PixelFormat,
    /// Emulate a device CPU: `esp32c3` announces the ESP32-C3 firmware (so the server weighs its
    /// decode cost) and takes the decode time its cost model gives (`pixelwire_core::DeviceCpu`);
    /// without it decoding is instant.
    #[arg(long, value_name = "CPU", value_parser = ["esp32c3"])]
    pub cpu: Option<String>,
    /// Print no line per report interval and no reconnection notes (only the summary); for a load
    /// generator that runs many emulators in one process.
    #[arg(long)]
    pub quiet: bool,
    /// The server's HTTP address (host:port): the summary then carries the mean PSNR the server
    /// measured for this display (`/api/displays`), since the emulator has no source frame.
    #[arg(long, value_name = "HOST:PORT")]
    pub server_http: Option<String>,
}

fn parse_format(s: &str) -> Result<PixelFormat, String> {
    PixelFormat::from_name(s).ok_or_else(|| {
        format!("unknown pixel format {s:?} (rgb565, rgb565le, gray8, gray4 or mono1)")
    })
}

impl EmuOptions {
    /// The `--panel` configuration, if one was asked for.
    pub fn panel_config(&self) -> anyhow::Result<Option<pixelwire_panel::PanelConfig>> {
        let Some(panel) = &self.panel else {
            return Ok(None);
        };
        let (mut width, mut height, mut ox, mut oy) = (None, None, None, None);
        if let Some(g) = &self.glass {
            let (size, offset) = match g.split_once('+') {
                Some((s, o)) => (s, Some(o)),
                None => (g.as_str(), None),
            };
            let (w, h) = size
                .split_once(['x', 'X'])
                .ok_or_else(|| anyhow::anyhow!("--glass: expected WxH or WxH+X+Y, got {g:?}"))?;
            (width, height) = (Some(w), Some(h));
            if let Some(o) = offset {
                let (x, y) = o
                    .split_once('+')
                    .ok_or_else(|| anyhow::anyhow!("--glass: expected WxH+X+Y, got {g:?}"))?;
                (ox, oy) = (Some(x), Some(y));
            }
        }
        pixelwire_panel::settings::panel_config(pixelwire_panel::settings::PanelSettings {
            panel: Some(panel),
            rotation: Some(&self.rotation),
            width,
            height,
            offset_x: ox,
            offset_y: oy,
            ..Default::default()
        })
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--panel/--rotation/--glass: {e}"))
    }
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WxH, e.g. 320x240")?;
    let w: u16 = w.parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u16 = h.parse().map_err(|_| format!("bad height {h:?}"))?;
    if w == 0 || h == 0 || w > 4096 || h > 4096 {
        return Err("width and height must be within 1..=4096".into());
    }
    Ok((w, h))
}

fn parse_codecs(s: &str) -> Result<CodecSet, String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .try_fold(CodecSet::EMPTY.with(Codec::Raw), |set, name| {
            Codec::from_name(name)
                .map(|c| set.with(c))
                .ok_or_else(|| format!("unknown codec {name:?}"))
        })
}

/// Running figures and the end-of-run summary (after the warm-up).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    /// Frames presented.
    pub frames: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Legacy packets received.
    pub packets: u64,
    /// Seconds measured.
    pub elapsed_s: f64,
    /// Frames presented per second.
    pub fps: f64,
    /// Bytes received per second.
    pub bytes_per_s: f64,
    /// Bytes per presented frame.
    pub bytes_per_frame: f64,
    /// Capture-to-display latency, median, ms.
    pub latency_p50_ms: Option<f64>,
    /// Capture-to-display latency, 95th percentile, ms.
    pub latency_p95_ms: Option<f64>,
    /// Capture-to-display latency, largest, ms.
    pub latency_max_ms: Option<f64>,
    /// Connections after the first.
    pub reconnects: u64,
    /// Mean PSNR of what the server sent this display, dB (`--server-http`; the server's figure:
    /// the panel against the frames it was built from).
    pub psnr_db_mean: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

struct Emulator {
    opts: EmuOptions,
    panel: EmuPanel,
    measuring_from: Instant,
    window_start: Instant,
    deadline: Option<Instant>,
    next_report: Instant,
    window_bytes: u64,
    window_packets: u64,
    window_pixels: u64,
    all_latencies: Vec<f64>,
    total: Report,
}

fn device_clock_us() -> u64 {
    pixelwire_media::clock::now().as_micros()
}

impl Emulator {
    fn report(&mut self, now: Instant, last: bool) {
        let secs = self.opts.report_interval.max(0.1);
        let fps = self.panel.frames as f64 / secs;
        let mut l = std::mem::take(&mut self.panel.latencies_ms);
        l.sort_by(f64::total_cmp);
        // Only windows that start after the warm-up count towards the summary.
        if self.window_start >= self.measuring_from {
            self.all_latencies.extend_from_slice(&l);
            self.total.frames += self.panel.frames;
            self.total.bytes += self.window_bytes;
            self.total.packets += self.window_packets;
        }
        if !last && !self.opts.quiet {
            let lat = match (percentile(&l, 0.5), percentile(&l, 0.95)) {
                (Some(a), Some(b)) => format!("latency p50 {a:.1} ms p95 {b:.1} ms"),
                _ => "latency n/a".into(),
            };
            if self.opts.legacy {
                println!(
                    "display-emu: {:.1} packets/s, {:.1} kB/s",
                    self.window_packets as f64 / secs,
                    self.window_bytes as f64 / secs / 1000.0
                );
            } else {
                println!(
                    "display-emu: {fps:.1} fps, {:.1} kB/s, {lat}",
                    self.window_bytes as f64 / secs / 1000.0
                );
            }
        }
        self.panel.frames = 0;
        self.window_bytes = 0;
        self.window_packets = 0;
        self.window_pixels = 0;
        self.write_snapshot();
        self.next_report = now + Duration::from_secs_f64(secs);
        self.window_start = now;
    }

    /// What the emulated device reports about itself (STATS), over the current report window.
    fn device_stats(&self) -> pixelwire_proto::Stats {
        let secs = self.opts.report_interval.max(0.1);
        let frames = self.panel.frames.max(1);
        let px_per_s = if self.opts.spi_mhz > 0.0 {
            self.opts.spi_mhz * 1e6 / 16.0
        } else {
            0.0
        };
        pixelwire_proto::Stats {
            fps_centi: ((self.panel.frames as f64 / secs) * 100.0).min(f64::from(u16::MAX)) as u16,
            decode_us: 0,
            panel_us: panel::spi_time(
                self.window_pixels / frames,
                self.opts.format.bits_per_pixel(),
                self.opts.spi_mhz,
            )
            .as_micros() as u32,
            rssi_dbm: 0,
            free_heap_bytes: 0,
            panel_pixels_per_s: px_per_s.min(f64::from(u32::MAX)) as u32,
        }
    }

    fn write_snapshot(&mut self) {
        let Some(path) = &self.opts.snapshot else {
            return;
        };
        let (w, h) = self.opts.size;
        let shown = self.panel.shown(self.opts.legacy);
        let (w, h) = (u32::from(w), u32::from(h));
        let format = self.panel.format();
        let img = match format {
            PixelFormat::Rgb565(order) => {
                pixelwire_core::Rgb565Image::from_bytes(w, h, &shown, order)
            }
            _ => pixelwire_core::Rgb565Image::from_packed(w, h, &shown, format),
        };
        match pixelwire_media::png::panel_png(&img, format) {
            Ok(png) => {
                let tmp = path.with_extension("png.tmp");
                if std::fs::write(&tmp, png)
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .is_err()
                {
                    eprintln!("display-emu: cannot write snapshot {}", path.display());
                }
            }
            Err(e) => eprintln!("display-emu: cannot encode snapshot: {e}"),
        }
    }

    fn summary(&mut self) -> Report {
        self.report(Instant::now(), true);
        let elapsed = self.measuring_from.elapsed().as_secs_f64();
        let mut t = std::mem::take(&mut self.total);
        t.elapsed_s = elapsed;
        t.fps = t.frames as f64 / elapsed.max(1e-9);
        t.bytes_per_s = t.bytes as f64 / elapsed.max(1e-9);
        t.bytes_per_frame = if t.frames > 0 {
            t.bytes as f64 / t.frames as f64
        } else {
            0.0
        };
        self.all_latencies.sort_by(f64::total_cmp);
        t.latency_p50_ms = percentile(&self.all_latencies, 0.5);
        t.latency_p95_ms = percentile(&self.all_latencies, 0.95);
        t.latency_max_ms = self.all_latencies.last().copied();
        t
    }

    fn done(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// One connection; returns why it ended.
    async fn session(&mut self) -> String {
        let addr = match tokio::net::lookup_host(&self.opts.connect)
            .await
            .map(|mut a| a.next())
        {
            Ok(Some(a)) => a,
            _ => return format!("cannot resolve {}", self.opts.connect),
        };
        let sock = match if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        } {
            Ok(s) => s,
            Err(e) => return format!("socket: {e}"),
        };
        let _ = sock.set_recv_buffer_size(self.opts.recv_buffer);
        let stream = match tokio::time::timeout(Duration::from_secs(5), sock.connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return format!("connect to {addr}: {e}"),
            Err(_) => return format!("connect to {addr}: timed out"),
        };
        let _ = stream.set_nodelay(true);
        let link = LinkModel {
            bytes_per_s: self.opts.link_kbps.map(|k| k * 1000.0),
            one_way: Duration::from_secs_f64(self.opts.rtt_ms / 2000.0),
        };
        let (rd, wr) = stream.into_split();
        let mut segments = link::spawn_reader(rd, link);
        let upstream = link::spawn_writer(wr, link);
        if self.opts.legacy {
            return self.legacy_session(&mut segments).await;
        }
        let (w, h) = self.opts.size;
        let hello = Hello {
            version: pixelwire_proto::PROTOCOL_VERSION,
            width: w,
            height: h,
            pixel_format: self.opts.format,
            codecs: self.opts.codecs,
            max_packet_bytes: self
                .opts
                .max_packet
                .max(pixelwire_proto::message::MIN_PACKET_BYTES),
            frame_buffer_bytes: 0,
            window: self.opts.window.clamp(1, 8),
            device_id: ShortStr::truncating(&self.opts.id),
            firmware: ShortStr::truncating(match self.opts.cpu {
                Some(_) => concat!(
                    "pixelwire-esp32c3 (display-emu ",
                    env!("CARGO_PKG_VERSION"),
                    ")"
                ),
                None => concat!("display-emu ", env!("CARGO_PKG_VERSION")),
            }),
        };
        let mut cpu = self
            .opts
            .cpu
            .as_ref()
            .map(|_| pixelwire_core::DeviceCpu::new(pixelwire_core::DecodeCost::ESP32C3));
        let mut dev = DeviceSession::new(hello, device_clock_us());
        let _ = upstream.send(dev.take_transmit().to_vec());
        // The panel is busy pushing pixels until this instant; input waits for it. The CPU is
        // busy with the receive pass until `cpu_free`: kept as a deadline rather than slept
        // per segment, since a timer sleep rounds each sub-millisecond pass up to the timer's tick
        // (1 ms) and a frame's dozens of RECTs would add tens of milliseconds the model never had.
        let mut panel_free = Instant::now();
        let mut cpu_free = Instant::now();
        let mut pending: Option<link::Segment> = None;
        loop {
            if self.done() {
                return "duration reached".into();
            }
            let wake_dev = tokio::time::Instant::from_std(pixelwire_media::clock::instant_of(
                pixelwire_core::Timestamp::from_micros(dev.poll_timeout()),
            ));
            let seg_at = pending.as_ref().map(|s| s.at.max(panel_free).max(cpu_free));
            tokio::select! {
                s = segments.recv(), if pending.is_none() => match s {
                    Some(s) if !s.bytes.is_empty() => pending = Some(s),
                    _ => return "server closed the connection".into(),
                },
                _ = async { match seg_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                    if let Some(seg) = pending.take() {
                        let cost = cpu.as_mut().map(|c| c.feed(&seg.bytes)).unwrap_or_default();
                        // The receive pass checks these bytes before the next are taken; the
                        // deadline runs from when this segment could start (not from when the
                        // timer fired), so timer lateness does not add up.
                        let started = seg.at.max(panel_free).max(cpu_free);
                        cpu_free = started + cost.receive;
                        self.window_bytes += seg.bytes.len() as u64;
                        let latencies_before = self.panel.latencies_ms.len();
                        if let Err(e) = dev.handle_input(device_clock_us(), &seg.bytes, &mut self.panel) {
                            let _ = upstream.send(dev.take_transmit().to_vec());
                            return describe(e);
                        }
                        let px = self.panel.take_pixels();
                        self.window_pixels += px;
                        let bpp = self.opts.format.bits_per_pixel();
                        if cpu.is_some() {
                            // The firmware stages a frame and presents it at FRAME_END: its strips
                            // are decoded beside the SPI DMA of the whole frame, the slower of the
                            // two, after the frame's receive pass.
                            if let Some(present) = cost.present {
                                let spi = panel::spi_time(cost.frame_pixels, bpp, self.opts.spi_mhz);
                                panel_free = cpu_free + spi.max(present);
                                // The frame is on the glass when the panel is done with it.
                                let more = panel_free.saturating_duration_since(Instant::now());
                                for l in &mut self.panel.latencies_ms[latencies_before..] {
                                    *l += more.as_secs_f64() * 1e3;
                                }
                            }
                        } else if px > 0 {
                            // Without a CPU model the pixels go to the panel as they arrive.
                            panel_free = cpu_free + panel::spi_time(px, bpp, self.opts.spi_mhz);
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake_dev) => {
                    if let Err(e) = dev.handle_timeout(device_clock_us()) {
                        return describe(e);
                    }
                }
                _ = tokio::time::sleep_until(self.next_report) => {
                    dev.send_stats(&self.device_stats());
                    self.report(Instant::now(), false);
                }
                _ = async { match self.deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {}
            }
            if dev.has_transmit() {
                // Acks leave after the panel finished the frame they acknowledge.
                let bytes = dev.take_transmit().to_vec();
                let delay = panel_free
                    .max(cpu_free)
                    .saturating_duration_since(Instant::now());
                let up = upstream.clone();
                if delay.is_zero() {
                    let _ = up.send(bytes);
                } else {
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = up.send(bytes);
                    });
                }
            }
        }
    }

    async fn legacy_session(
        &mut self,
        segments: &mut tokio::sync::mpsc::Receiver<link::Segment>,
    ) -> String {
        let (w, h) = self.opts.size;
        let mut parser = legacy::SketchParser::new(w, h);
        loop {
            if self.done() {
                return "duration reached".into();
            }
            tokio::select! {
                s = segments.recv() => match s {
                    Some(s) if !s.bytes.is_empty() => {
                        tokio::time::sleep_until(s.at).await;
                        self.window_bytes += s.bytes.len() as u64;
                        let before = parser.packets;
                        if let Err(legacy::SketchError::Oversize(n)) = parser.feed(&s.bytes, &mut self.panel.fb.front) {
                            return format!("packet of {n} bytes exceeds the sketch's 10240-byte buffer: disconnecting as the sketch would");
                        }
                        self.window_packets += parser.packets - before;
                    }
                    _ => return "server closed the connection".into(),
                },
                _ = tokio::time::sleep_until(self.next_report) => self.report(Instant::now(), false),
                _ = async { match self.deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {}
            }
        }
    }
}

fn describe(e: DeviceError) -> String {
    e.to_string()
}

/// Runs the emulator until `--duration` or Ctrl-C; prints a JSON summary line at the end.
pub async fn run(opts: EmuOptions) -> anyhow::Result<()> {
    let summary = emulate(opts).await?;
    println!("summary {}", serde_json::to_string(&summary)?);
    Ok(())
}

/// Runs the emulator until `--duration` or Ctrl-C and returns its figures after the warm-up.
pub async fn emulate(mut opts: EmuOptions) -> anyhow::Result<Report> {
    let now = Instant::now();
    if !opts.format.is_rgb565() && (opts.legacy || opts.panel.is_some()) {
        anyhow::bail!(
            "--format {} needs the pixelwire protocol and the plain framebuffer: the seed-000 \
             sketch and the --panel controllers are RGB565",
            opts.format.name()
        );
    }
    let panel = match opts.panel_config()? {
        Some(cfg) => {
            opts.size = (cfg.width(), cfg.height());
            EmuPanel::with_virtual_panel(cfg)
        }
        None => EmuPanel::with_format(opts.size.0, opts.size.1, opts.format),
    };
    let measuring_from = now + Duration::from_secs_f64(opts.warmup.max(0.0));
    let first_report = now + Duration::from_secs_f64(opts.report_interval.max(0.1));
    let mut emu = Emulator {
        panel,
        measuring_from,
        window_start: now,
        deadline: opts
            .duration
            .map(|d| now + Duration::from_secs_f64(d.max(0.0))),
        // The first window ends when the warm-up does, so that the summary counts everything
        // after it whatever the report interval (a window that straddles the warm-up is left out).
        next_report: if measuring_from > now {
            first_report.min(measuring_from)
        } else {
            first_report
        },
        window_bytes: 0,
        window_packets: 0,
        window_pixels: 0,
        all_latencies: Vec::new(),
        total: Report::default(),
        opts,
    };
    let mut backoff = Duration::from_millis(250);
    loop {
        let reason = tokio::select! {
            r = emu.session() => r,
            _ = tokio::signal::ctrl_c() => "interrupted".to_string(),
        };
        if emu.done() || reason == "interrupted" {
            break;
        }
        if !emu.opts.quiet {
            eprintln!(
                "display-emu: {reason}; reconnecting in {:.1} s",
                backoff.as_secs_f32()
            );
        }
        emu.total.reconnects += 1;
        let wait = tokio::time::sleep(backoff);
        tokio::select! {
            _ = wait => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        if emu.done() {
            break;
        }
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
    let mut report = emu.summary();
    if let Some(server) = &emu.opts.server_http {
        match server_quality::mean_psnr_db(server, &emu.opts.id).await {
            Ok(p) => report.psnr_db_mean = p,
            Err(e) => eprintln!("display-emu: no quality figure from {server}: {e:#}"),
        }
    }
    Ok(report)
}
