//! pixelwire display firmware for the ESP32-C3: brings up the chip, the SPI panel and WiFi, shows a
//! status screen, then streams whatever the pixelwire server routes to this display, reconnecting
//! with backoff and keeping the last image when the connection drops.
//!
//! This file is glue only. The protocol, the panel drivers, frame staging, strips and the status
//! screen live in `crates/panel` (`pixelwire-panel`) and `crates/proto`, which are tested on the
//! host. `docs/firmware.md` describes wiring, configuration, building and flashing. Which panel
//! (a DCS TFT or an SSD1306 OLED) is chosen at build time, in `display.rs`.
//!
//! RAM plan (docs/firmware.md, "Memory"): staging 64 KiB (the declared `frame_buffer_bytes`), two
//! 5 KiB strips for a TFT (no framebuffer) or one 1 KiB strip and a 1 KiB framebuffer for an
//! SSD1306, a 4 KiB receive chunk, a 16 KiB TCP receive buffer, a 100 KiB heap for the WiFi driver
//! (64 KiB of it in RAM the bootloader hands back), the rest stack.
#![no_std]
#![no_main]

mod config;
mod display;
mod net;

use core::fmt::Write as _;
use display::{FwDisplay, STRIP_BYTES};
use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpAddress, IpEndpoint, StackResources};
use embassy_time::{Delay, Duration, Instant, Timer};
use embedded_hal_bus::spi::ExclusiveDevice;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::rtc_cntl::{Rtc, Rwdt, RwdtStage};
use esp_hal::spi::Mode;
use esp_hal::spi::master::{Config as SpiConfig, Spi};
use esp_hal::time::Rate;
use esp_hal::timer::timg::TimerGroup;
use esp_radio::wifi::{ControllerConfig, Interface, WifiController};
use net::WifiState;
use pixelwire_panel::runner::{DeviceHooks, RunnerEvent};
use pixelwire_panel::status::{StatusInfo, TextBuf, draw_overlay, draw_status};
use pixelwire_panel::{Buffers, Clock, Runner, RunnerConfig};
use pixelwire_proto::ShortStr;
use static_cell::{ConstStaticCell, StaticCell};

esp_bootloader_esp_idf::esp_app_desc!();

/// Firmware version, sent in HELLO and shown on the status screen.
const FIRMWARE: &str = concat!("pixelwire-esp32c3 ", env!("CARGO_PKG_VERSION"));

/// Frame staging buffer = `frame_buffer_bytes` in HELLO.
const STAGING_BYTES: usize = 64 * 1024;
/// Socket reads land here.
const RX_CHUNK_BYTES: usize = 4096;
/// smoltcp socket buffers: a large receive window keeps the sender going while frames are drawn.
const TCP_RX_BYTES: usize = 16 * 1024;
const TCP_TX_BYTES: usize = 1024;
/// Largest RECT accepted.
const MAX_PACKET_BYTES: u16 = 8192;

static STAGING: ConstStaticCell<[u8; STAGING_BYTES]> = ConstStaticCell::new([0; STAGING_BYTES]);
static STRIP_A: ConstStaticCell<[u8; STRIP_BYTES[0]]> = ConstStaticCell::new([0; STRIP_BYTES[0]]);
static STRIP_B: ConstStaticCell<[u8; STRIP_BYTES[1]]> = ConstStaticCell::new([0; STRIP_BYTES[1]]);
static RX_CHUNK: ConstStaticCell<[u8; RX_CHUNK_BYTES]> = ConstStaticCell::new([0; RX_CHUNK_BYTES]);
static TCP_RX: ConstStaticCell<[u8; TCP_RX_BYTES]> = ConstStaticCell::new([0; TCP_RX_BYTES]);
static TCP_TX: ConstStaticCell<[u8; TCP_TX_BYTES]> = ConstStaticCell::new([0; TCP_TX_BYTES]);
static NET_RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();

/// The device clock: embassy-time, µs since boot.
struct EmbassyClock;

impl Clock for EmbassyClock {
    fn now_us(&self) -> u64 {
        Instant::now().as_micros()
    }

    fn sleep_until(&self, deadline_us: u64) -> impl core::future::Future<Output = ()> {
        Timer::at(Instant::from_micros(deadline_us))
    }
}

/// Watchdog, device figures and what the main loop learns from a session.
struct Hooks<'a> {
    wdt: &'a mut Rwdt,
    frames: u32,
    welcomed: bool,
}

impl DeviceHooks for Hooks<'_> {
    fn feed_watchdog(&mut self) {
        self.wdt.feed();
    }

    fn rssi_dbm(&mut self) -> i8 {
        net::rssi()
    }

    fn free_heap_bytes(&mut self) -> u32 {
        esp_alloc::HEAP.free().min(u32::MAX as usize) as u32
    }

    fn on_event(&mut self, event: &RunnerEvent) {
        match event {
            RunnerEvent::Welcome(w) => {
                self.welcomed = true;
                log::info!(
                    "server welcomed us: window {}, codecs {:#x}",
                    w.window,
                    w.codecs.bits()
                );
            }
            RunnerEvent::Presented { .. } => self.frames = self.frames.saturating_add(1),
            RunnerEvent::Stats(s) => log::debug!(
                "fps {}.{:02} decode {} us panel {} us {} px/s",
                s.fps_centi / 100,
                s.fps_centi % 100,
                s.decode_us,
                s.panel_us,
                s.panel_pixels_per_s
            ),
            RunnerEvent::BudgetOverflow => log::warn!("frame exceeded the staging buffer"),
        }
    }
}

/// What the main loop shows about the connection.
struct Link {
    device_id: ShortStr<32>,
    panel: TextBuf<40>,
    state: TextBuf<32>,
    retries: u32,
    last_error: TextBuf<120>,
    ip: Option<[u8; 4]>,
}

impl Link {
    fn info(&self) -> (StatusInfo<'_>, TextBuf<48>) {
        let reason = net::reason();
        let wifi = match net::state() {
            WifiState::Starting => "starting",
            WifiState::Connecting => "connecting",
            WifiState::Connected => "connected",
            WifiState::Failed => "failed, retrying",
        };
        let info = StatusInfo {
            device_id: self.device_id.as_str(),
            firmware: FIRMWARE,
            panel: self.panel.as_str(),
            ssid: config::SSID,
            wifi,
            rssi_dbm: net::rssi(),
            ip: self.ip,
            server: config::SERVER_TEXT,
            link: self.state.as_str(),
            retries: self.retries,
            last_error: self.last_error.as_str(),
        };
        (info, reason)
    }
}

type FwRunner = Runner<'static, FwDisplay>;

/// Redraws the full status screen (before any image was shown) or the one-line overlay.
async fn show(runner: &mut FwRunner, link: &Link, image_shown: bool) {
    let (mut info, reason) = link.info();
    let mut err: TextBuf<120> = TextBuf::new();
    if link.last_error.as_str().is_empty() && !reason.as_str().is_empty() {
        let _ = write!(err, "wifi: {}", reason.as_str());
        info.last_error = err.as_str();
    }
    let (panel, scratch) = runner.panel_and_scratch();
    let drawn = if image_shown {
        let mut line: TextBuf<120> = TextBuf::new();
        let _ = write!(line, "{} | {}", info.link, info.last_error);
        draw_overlay(panel, scratch, line.as_str()).await
    } else {
        draw_status(panel, scratch, &info).await
    };
    if let Err(e) = drawn {
        log::warn!("status screen: {e:?}");
    }
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    esp_println::logger::init_logger_from_env();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);

    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    // The RTC watchdog resets the chip if the main loop stops for 10 s (it is fed per frame and at
    // least once a second while idle).
    let mut rtc = Rtc::new(peripherals.RTC_TIMER);
    rtc.rwdt
        .set_timeout(RwdtStage::Stage0, esp_hal::time::Duration::from_secs(10));
    rtc.rwdt.enable();
    let wdt = &mut rtc.rwdt;

    // Panel: SPI2 on the IO_MUX pins (SCK 6, MOSI 7, CS 10) with DMA; DC 4, RST 5, backlight 3 (a
    // TFT's; an OLED has none, and the pin stays low).
    let spi_cfg = SpiConfig::default()
        .with_frequency(Rate::from_mhz(config::SPI_MHZ))
        .with_mode(if config::SPI_MODE == 3 {
            Mode::_3
        } else {
            Mode::_0
        });
    let dma_rx = esp_hal::dma_rx_buffer!(64);
    let dma_tx = esp_hal::dma_tx_buffer!(4092);
    let (spi, dma_rx, dma_tx) = match (Spi::new(peripherals.SPI2, spi_cfg), dma_rx, dma_tx) {
        (Ok(s), Ok(r), Ok(t)) => (s, r, t),
        // Fixed, valid settings: only a broken build gets here.
        _ => panic!("SPI or DMA buffer setup failed"),
    };
    let spi = spi
        .with_sck(peripherals.GPIO6)
        .with_mosi(peripherals.GPIO7)
        .with_dma(peripherals.DMA_CH0)
        .with_buffers(dma_rx, dma_tx)
        .into_async();
    let out = OutputConfig::default();
    let cs = Output::new(peripherals.GPIO10, Level::High, out);
    let dc = Output::new(peripherals.GPIO4, Level::Low, out);
    let mut rst = Output::new(peripherals.GPIO5, Level::High, out);
    let mut backlight = Output::new(peripherals.GPIO3, Level::Low, out);
    let Ok(spi_dev) = ExclusiveDevice::new(spi, cs, Delay);
    rst.set_low();
    Timer::after_millis(10).await;
    rst.set_high();
    Timer::after_millis(120).await;
    let strip_a = STRIP_A.take();
    let panel = display::bring_up(spi_dev, dc, &mut backlight, strip_a).await;

    // WiFi and IP.
    let wifi_if = Interface::station();
    let mac = wifi_if.mac_address();
    let device_id = match config::DEVICE_ID {
        Some(id) => ShortStr::truncating(id),
        None => pixelwire_panel::settings::device_id_from_mac(mac),
    };
    let mut link = Link {
        device_id,
        panel: TextBuf::new(),
        state: TextBuf::new(),
        retries: 0,
        last_error: TextBuf::new(),
        ip: None,
    };
    let _ = write!(
        link.panel,
        "{} {}x{} rot {}",
        config::DISPLAY.name(),
        config::DISPLAY.width(),
        config::DISPLAY.height(),
        config::DISPLAY.rotation().degrees()
    );
    let _ = write!(link.state, "waiting for WiFi");

    let runner_cfg = RunnerConfig {
        device_id,
        firmware: ShortStr::truncating(FIRMWARE),
        window: 2,
        max_packet_bytes: MAX_PACKET_BYTES,
        stats_interval_us: 1_000_000,
    };
    let bufs = Buffers {
        rx: RX_CHUNK.take(),
        staging: STAGING.take(),
        strips: [strip_a, STRIP_B.take()],
    };
    let mut runner = Runner::new(panel, bufs, runner_cfg);
    show(&mut runner, &link, false).await;
    log::info!(
        "{FIRMWARE}: device {} panel {} server {}",
        device_id.as_str(),
        link.panel.as_str(),
        config::SERVER_TEXT
    );

    let wifi_cfg = ControllerConfig::default()
        .with_rx_queue_size(16)
        .with_static_rx_buf_num(16)
        .with_dynamic_rx_buf_num(32)
        .with_rx_ba_win(16);
    let controller = match WifiController::new(peripherals.WIFI, wifi_cfg) {
        Ok(c) => c,
        Err(e) => {
            let _ = write!(link.last_error, "WiFi init failed: {e:?}");
            show(&mut runner, &link, false).await;
            loop {
                wdt.feed();
                Timer::after_secs(1).await;
            }
        }
    };
    let seed = u64::from(esp_hal::rng::Rng::new().random()) << 32
        | u64::from(esp_hal::rng::Rng::new().random());
    let (stack, net_runner) = embassy_net::new(
        wifi_if,
        embassy_net::Config::dhcpv4(Default::default()),
        NET_RESOURCES.init(StackResources::new()),
        seed,
    );
    match (net::wifi_task(controller), net::net_task(net_runner)) {
        (Ok(w), Ok(n)) => {
            spawner.spawn(w);
            spawner.spawn(n);
        }
        // Each task is spawned once, so its pool always has room.
        _ => log::error!("cannot spawn the network tasks"),
    }

    let endpoint = IpEndpoint::new(
        IpAddress::v4(
            config::SERVER.ip[0],
            config::SERVER.ip[1],
            config::SERVER.ip[2],
            config::SERVER.ip[3],
        ),
        config::SERVER.port,
    );
    let tcp_rx = TCP_RX.take();
    let tcp_tx = TCP_TX.take();
    let mut image_shown = false;
    let mut backoff_ms: u64 = 250;
    loop {
        wdt.feed();
        // 1. WiFi and an address.
        let mut last_drawn = (WifiState::Starting, u32::MAX, false);
        while !stack.is_config_up() {
            wdt.feed();
            link.ip = None;
            link.state.clear();
            let _ = write!(link.state, "waiting for WiFi (try {})", net::attempts());
            let now = (net::state(), net::attempts(), false);
            if now != last_drawn && !image_shown {
                show(&mut runner, &link, false).await;
                last_drawn = now;
            }
            let _ = select(stack.wait_config_up(), Timer::after_secs(1)).await;
        }
        link.ip = stack.config_v4().map(|c| c.address.address().octets());

        // 2. Connect to the server.
        link.state.clear();
        let _ = write!(link.state, "connecting");
        if !image_shown {
            show(&mut runner, &link, false).await;
        }
        let mut socket = TcpSocket::new(stack, &mut tcp_rx[..], &mut tcp_tx[..]);
        socket.set_timeout(Some(Duration::from_secs(20)));
        socket.set_keep_alive(Some(Duration::from_secs(5)));
        socket.set_nagle_enabled(false);
        let connected = match select(socket.connect(endpoint), Timer::after_secs(5)).await {
            Either::First(Ok(())) => true,
            Either::First(Err(e)) => {
                link.last_error.clear();
                let _ = write!(link.last_error, "connect: {e:?}");
                false
            }
            Either::Second(()) => {
                link.last_error.clear();
                let _ = write!(link.last_error, "connect: timed out");
                false
            }
        };

        // 3. Stream until the session ends.
        if connected {
            link.state.clear();
            let _ = write!(link.state, "streaming");
            let mut hooks = Hooks {
                wdt: &mut *wdt,
                frames: 0,
                welcomed: false,
            };
            let end = runner.run(&mut socket, &EmbassyClock, &mut hooks).await;
            let (frames, welcomed) = (hooks.frames, hooks.welcomed);
            link.last_error.clear();
            let _ = write!(link.last_error, "{end}");
            log::warn!("session ended after {frames} frames: {end}");
            if frames > 0 {
                image_shown = true;
            }
            if welcomed {
                // A session that got going resets the backoff.
                link.retries = 0;
                backoff_ms = 250;
            }
        }
        socket.abort();
        let _ = select(socket.flush(), Timer::after_millis(200)).await;
        drop(socket);

        // 4. Say why, wait, retry.
        link.retries = link.retries.saturating_add(1);
        link.state.clear();
        let _ = write!(
            link.state,
            "retry {} in {}.{} s",
            link.retries,
            backoff_ms / 1000,
            backoff_ms % 1000 / 100
        );
        show(&mut runner, &link, image_shown).await;
        let until = Instant::now() + Duration::from_millis(backoff_ms);
        while Instant::now() < until {
            wdt.feed();
            Timer::after_millis(250).await;
        }
        backoff_ms = (backoff_ms * 2).min(16_000);
    }
}
