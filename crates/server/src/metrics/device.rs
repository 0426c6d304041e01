//! Figures a pixelwire device reports about itself in STATS (`pixelwire_device_*`), one series per
//! display id. The status page reads them back as [`DeviceFigures`] from the same gauges.

use super::display::DisplayLabel;
use super::series::FloatGauge;
use super::{Metrics, register};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::OnceLock;

/// The device families.
pub(super) struct DeviceFamilies {
    fps: Family<DisplayLabel, FloatGauge>,
    rssi: Family<DisplayLabel, Gauge>,
    heap: Family<DisplayLabel, Gauge>,
    decode: Family<DisplayLabel, FloatGauge>,
}

impl DeviceFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            fps: register(
                r,
                "pixelwire_device_fps",
                "Frames per second reported by the device",
                Family::default(),
            ),
            rssi: register(
                r,
                "pixelwire_device_rssi_dbm",
                "WiFi signal reported by the device",
                Family::default(),
            ),
            heap: register(
                r,
                "pixelwire_device_free_heap_bytes",
                "Free heap reported by the device",
                Family::default(),
            ),
            decode: register(
                r,
                "pixelwire_device_decode_seconds",
                "Mean decode time per frame reported by the device",
                Family::default(),
            ),
        }
    }
}

/// Figures a device reported about itself, as `GET /api/displays` shows them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct DeviceFigures {
    /// Frames presented per second.
    pub fps: f64,
    /// WiFi signal, dBm.
    pub rssi_dbm: i32,
    /// Free heap, bytes.
    pub free_heap_bytes: u64,
    /// Mean decode time per frame, ms.
    pub decode_ms: f64,
}

#[derive(Debug)]
struct DeviceGauges {
    fps: FloatGauge,
    rssi: Gauge,
    heap: Gauge,
    decode: FloatGauge,
}

/// The device gauges of one connection, created with its first STATS.
#[derive(Debug)]
pub struct DeviceMetrics {
    metrics: Metrics,
    label: DisplayLabel,
    gauges: OnceLock<DeviceGauges>,
}

impl DeviceMetrics {
    /// The device reported `s`.
    pub fn stats(&self, s: &pixelwire_proto::Stats) {
        let g = self.gauges.get_or_init(|| {
            let f = &self.metrics.inner.device;
            DeviceGauges {
                fps: f.fps.get_or_create_owned(&self.label),
                rssi: f.rssi.get_or_create_owned(&self.label),
                heap: f.heap.get_or_create_owned(&self.label),
                decode: f.decode.get_or_create_owned(&self.label),
            }
        });
        g.fps.set(f64::from(s.fps_centi) / 100.0);
        g.rssi.set(i64::from(s.rssi_dbm));
        g.heap.set(i64::from(s.free_heap_bytes));
        g.decode.set(f64::from(s.decode_us) / 1e6);
    }

    /// What the device last reported on this connection, if it did.
    pub fn figures(&self) -> Option<DeviceFigures> {
        let g = self.gauges.get()?;
        Some(DeviceFigures {
            fps: g.fps.get(),
            rssi_dbm: i32::try_from(g.rssi.get()).unwrap_or(0),
            free_heap_bytes: u64::try_from(g.heap.get()).unwrap_or(0),
            // The gauge holds whole microseconds in seconds; rounding gives them back exactly, so
            // the milliseconds are those the device's figure makes, to the last digit.
            decode_ms: (g.decode.get() * 1e6).round() / 1e3,
        })
    }
}

impl Metrics {
    pub(super) fn device(&self, label: &DisplayLabel) -> DeviceMetrics {
        DeviceMetrics {
            metrics: self.clone(),
            label: label.clone(),
            gauges: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_what_the_device_said() {
        let m = Metrics::new().display("d1");
        assert_eq!(m.device().figures(), None);
        for decode_us in [0, 1, 3200, 4321, 999_999, u32::MAX] {
            let s = pixelwire_proto::Stats {
                fps_centi: 2950,
                decode_us,
                panel_us: 0,
                rssi_dbm: -60,
                free_heap_bytes: 40_000,
                panel_pixels_per_s: 0,
            };
            m.device().stats(&s);
            assert_eq!(
                m.device().figures(),
                Some(DeviceFigures {
                    fps: f64::from(s.fps_centi) / 100.0,
                    rssi_dbm: -60,
                    free_heap_bytes: 40_000,
                    decode_ms: f64::from(decode_us) / 1e3,
                })
            );
        }
    }
}
