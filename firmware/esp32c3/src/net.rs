//! WiFi station and IP stack: a task that keeps the station connected (reconnecting with backoff)
//! and one that runs embassy-net. Their state reaches the status screen through atomics (load and
//! store only: the C3 has no atomic read-modify-write) and a critical-section cell for the reason.

use crate::config;
use core::cell::RefCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicI8, AtomicU8, AtomicU32, Ordering};
use critical_section::Mutex;
use embassy_futures::select::{Either, select};
use embassy_time::{Duration, Timer};
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, Interface, WifiController};
use pixelwire_panel::status::TextBuf;

/// WiFi states shown on the status screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WifiState {
    /// Not started yet.
    Starting = 0,
    /// Trying to associate.
    Connecting = 1,
    /// Associated.
    Connected = 2,
    /// The last attempt failed; retrying.
    Failed = 3,
}

static STATE: AtomicU8 = AtomicU8::new(WifiState::Starting as u8);
static ATTEMPTS: AtomicU32 = AtomicU32::new(0);
static RSSI: AtomicI8 = AtomicI8::new(0);
static REASON: Mutex<RefCell<TextBuf<48>>> = Mutex::new(RefCell::new(TextBuf::new()));

/// The station's state.
pub fn state() -> WifiState {
    match STATE.load(Ordering::Relaxed) {
        1 => WifiState::Connecting,
        2 => WifiState::Connected,
        3 => WifiState::Failed,
        _ => WifiState::Starting,
    }
}

/// Association attempts so far.
pub fn attempts() -> u32 {
    ATTEMPTS.load(Ordering::Relaxed)
}

/// Last signal strength, dBm (0 = unknown).
pub fn rssi() -> i8 {
    RSSI.load(Ordering::Relaxed)
}

/// Why the last attempt failed or the link dropped.
pub fn reason() -> TextBuf<48> {
    critical_section::with(|cs| *REASON.borrow_ref(cs))
}

fn set_reason(args: core::fmt::Arguments<'_>) {
    critical_section::with(|cs| {
        let mut r = REASON.borrow_ref_mut(cs);
        r.clear();
        let _ = r.write_fmt(args);
    });
}

/// Keeps the station associated; see the module docs.
#[embassy_executor::task]
pub async fn wifi_task(mut controller: WifiController<'static>) {
    let auth = if config::PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        match config::PASSWORD.try_into() {
            Ok(p) => AuthenticationMethodConfig::Wpa2Personal(p),
            Err(_) => AuthenticationMethodConfig::Open,
        }
    };
    let ssid = match config::SSID.try_into() {
        Ok(s) => s,
        Err(_) => {
            // config.rs checks the length at compile time, so this cannot happen.
            set_reason(format_args!("bad SSID"));
            STATE.store(WifiState::Failed as u8, Ordering::Relaxed);
            return;
        }
    };
    let station = Config::Station(
        StationConfig::default()
            .with_ssid(ssid)
            .with_authentication(auth),
    );
    if let Err(e) = controller.set_config(&station) {
        set_reason(format_args!("config: {e:?}"));
        STATE.store(WifiState::Failed as u8, Ordering::Relaxed);
        return;
    }
    let mut backoff = Duration::from_secs(1);
    loop {
        if controller.is_connected() {
            match select(controller.wait_for_disconnect_async(), Timer::after_secs(2)).await {
                Either::First(info) => {
                    match info {
                        Ok(i) => set_reason(format_args!("dropped: {:?}", i.reason)),
                        Err(e) => set_reason(format_args!("dropped: {e:?}")),
                    }
                    STATE.store(WifiState::Connecting as u8, Ordering::Relaxed);
                    RSSI.store(0, Ordering::Relaxed);
                    Timer::after_millis(500).await;
                }
                Either::Second(()) => {
                    if let Ok(r) = controller.rssi() {
                        RSSI.store(r.clamp(-127, 0) as i8, Ordering::Relaxed);
                    }
                }
            }
            continue;
        }
        STATE.store(WifiState::Connecting as u8, Ordering::Relaxed);
        ATTEMPTS.store(attempts().wrapping_add(1), Ordering::Relaxed);
        match controller.connect_async().await {
            Ok(_) => {
                STATE.store(WifiState::Connected as u8, Ordering::Relaxed);
                set_reason(format_args!(""));
                backoff = Duration::from_secs(1);
                if let Ok(r) = controller.rssi() {
                    RSSI.store(r.clamp(-127, 0) as i8, Ordering::Relaxed);
                }
            }
            Err(e) => {
                set_reason(format_args!("{e:?}"));
                STATE.store(WifiState::Failed as u8, Ordering::Relaxed);
                Timer::after(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Runs the IP stack.
#[embassy_executor::task]
pub async fn net_task(mut runner: embassy_net::Runner<'static, Interface>) -> ! {
    runner.run().await
}
