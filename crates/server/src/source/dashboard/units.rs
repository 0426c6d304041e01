//! Units of dashboard values and how each is written at every magnitude: bytes in IEC steps
//! (B, KiB, MiB, GiB, TiB), bits per second in SI steps, durations from ns to days, percent and
//! degrees as short numbers, plain counts with k/M/G/T. A formatted value comes back as its number
//! and its unit text separately, because the screen draws the number large and the unit small.
//!
//! The default precision is three significant digits ("1.50 GiB", "12.3 MiB/s", "512 KiB/s");
//! percent, degrees and dBm drop to whole numbers from 10 up (seed 000 showed them as integers,
//! which hid everything below 1 %). A panel may fix the number of decimals instead.
//!
//! The `Unit` enum itself is plain config data (`config::dashboard::Unit`); how a unit writes a
//! value is here, as inherent methods.

pub use crate::config::dashboard::Unit;

/// A value written for the screen: the number and its unit text (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// "12.3", "-5", "∞".
    pub number: String,
    /// "MiB/s", "%", "°C", "" for plain numbers without a prefix.
    pub unit: String,
}

impl Formatted {
    /// Number and unit in one string, with a space where the unit is a word ("12.3 MiB/s", "42%").
    pub fn joined(&self) -> String {
        if self.unit.is_empty() {
            self.number.clone()
        } else if self.unit == "%" || self.unit.starts_with('°') || SI.contains(&self.unit.as_str())
        {
            format!("{}{}", self.number, self.unit)
        } else {
            format!("{} {}", self.number, self.unit)
        }
    }
}

const IEC: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const SI: [&str; 6] = ["", "k", "M", "G", "T", "P"];

impl Unit {
    /// The step between prefixes (1024 for bytes), for rounding automatic ranges.
    pub fn base(self) -> f64 {
        match self {
            Unit::Bytes | Unit::BytesPerSecond => 1024.0,
            _ => 1000.0,
        }
    }

    /// `value` written for the screen; `decimals` fixes the digits after the point (after
    /// scaling), `None` means three significant digits. Infinite values are "∞" / "-∞"; NaN is the
    /// caller's "no data" and is written "NaN" here.
    pub fn format(self, value: f64, decimals: Option<u8>) -> Formatted {
        if value.is_nan() {
            return Formatted {
                number: "NaN".into(),
                unit: String::new(),
            };
        }
        let (scaled, unit) = self.scale(value);
        let number = if scaled.is_infinite() {
            if scaled > 0.0 { "∞" } else { "-∞" }.to_owned()
        } else {
            match decimals {
                Some(d) => format!("{scaled:.*}", usize::from(d.min(6))),
                None if self.whole_from_ten() && scaled.abs() >= 9.95 => format!("{scaled:.0}"),
                None if self.whole_from_ten() => format!("{scaled:.1}"),
                None if unit == "B" || unit == "B/s" => format!("{scaled:.0}"),
                None => significant3(scaled),
            }
        };
        // "-0" reads as a bug on a dashboard.
        let number = if number.starts_with('-') && number[1..].chars().all(|c| c == '0' || c == '.')
        {
            number[1..].to_owned()
        } else {
            number
        };
        Formatted { number, unit }
    }

    fn whole_from_ten(self) -> bool {
        matches!(
            self,
            Unit::Percent | Unit::Ratio | Unit::Celsius | Unit::Dbm
        )
    }

    /// The value in the unit step it is written in, and that step's text.
    fn scale(self, value: f64) -> (f64, String) {
        match self {
            Unit::None => prefixed(value, 1000.0, &SI, ""),
            Unit::Percent => (value, "%".into()),
            Unit::Ratio => (value * 100.0, "%".into()),
            Unit::Bytes => prefixed(value, 1024.0, &IEC, ""),
            Unit::BytesPerSecond => prefixed(value, 1024.0, &IEC, "/s"),
            Unit::BitsPerSecond => {
                let (v, p) = prefixed(value, 1000.0, &SI, "");
                (v, format!("{p}b/s"))
            }
            Unit::Seconds => duration(value),
            Unit::Celsius => (value, "°C".into()),
            Unit::Fps => (value, "fps".into()),
            Unit::Dbm => (value, "dBm".into()),
        }
    }
}

/// `value` divided by powers of `base` until it is below `base` also when rounded to three
/// significant digits (so 999.9 k is written 1.00 M), or the prefixes run out.
fn prefixed(value: f64, base: f64, prefixes: &[&str], suffix: &str) -> (f64, String) {
    let mut v = value;
    let mut i = 0;
    while i + 1 < prefixes.len() && (v.abs() >= base || round3(v.abs()) >= base) && v.is_finite() {
        v /= base;
        i += 1;
    }
    (v, format!("{}{suffix}", prefixes[i]))
}

/// A duration in seconds in the largest unit that keeps it at least 1.
fn duration(seconds: f64) -> (f64, String) {
    let a = seconds.abs();
    let (div, unit) = if a == 0.0 || !a.is_finite() {
        (1.0, "s")
    } else if round3(a * 1e6) < 1.0 {
        (1e-9, "ns")
    } else if round3(a * 1e3) < 1.0 {
        (1e-6, "µs")
    } else if round3(a) < 1.0 {
        (1e-3, "ms")
    } else if round3(a) < 60.0 {
        (1.0, "s")
    } else if round3(a / 60.0) < 60.0 {
        (60.0, "min")
    } else if round3(a / 3600.0) < 24.0 {
        (3600.0, "h")
    } else {
        (86400.0, "d")
    };
    (seconds / div, unit.to_owned())
}

/// `x` rounded to three significant digits.
fn round3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(2 - digits);
    (x * scale).round() / scale
}

/// Three significant digits, at most two decimals: "0.05", "1.50", "12.3", "512", "1010".
fn significant3(x: f64) -> String {
    let r = round3(x);
    let a = r.abs();
    if a >= 100.0 {
        format!("{r:.0}")
    } else if a >= 10.0 {
        format!("{r:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{r:.2}")
    } else {
        // Tiny plain numbers keep their significant digits.
        format!("{r:.2e}")
    }
}

/// A round number at least `x` (1, 2, 2.5, 5 times a power of ten, or of 1024 steps for IEC
/// units), for the top of automatic ranges. `x <= 0` gives 0.
pub fn nice_ceil(x: f64, base: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    // Pull IEC values into their step first, so tops read 1 MiB/s, 2 MiB/s, 5 MiB/s ...
    let mut step = 1.0;
    if base == 1024.0 {
        while x / step >= 1024.0 {
            step *= 1024.0;
        }
    }
    let v = x / step;
    let magnitude = 10f64.powf(v.log10().floor());
    let n = v / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|m| n <= *m * (1.0 + 1e-9))
        .unwrap_or(10.0);
    nice * magnitude * step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(unit: Unit, v: f64) -> String {
        unit.format(v, None).joined()
    }

    #[test]
    fn bytes_at_every_magnitude() {
        assert_eq!(f(Unit::Bytes, 0.0), "0 B");
        assert_eq!(f(Unit::Bytes, 512.0), "512 B");
        assert_eq!(f(Unit::Bytes, 1023.0), "1023 B");
        assert_eq!(f(Unit::Bytes, 1536.0), "1.50 KiB");
        assert_eq!(f(Unit::Bytes, 900.0 * 1024.0), "900 KiB");
        assert_eq!(f(Unit::Bytes, 5.25 * 1024.0 * 1024.0), "5.25 MiB");
        assert_eq!(f(Unit::Bytes, 15.6 * 1024f64.powi(3)), "15.6 GiB");
        assert_eq!(f(Unit::Bytes, 123.4 * 1024f64.powi(3)), "123 GiB");
        assert_eq!(f(Unit::Bytes, 2.0 * 1024f64.powi(4)), "2.00 TiB");
        // 1023.9 KiB rounds to 1020 KiB, not "1024 KiB" nor a step change mid-digit.
        assert_eq!(f(Unit::Bytes, 1023.9 * 1024.0), "1020 KiB");
        // 0.9999 MiB in KiB is 1024.0 -> rounds to 1020 -> still KiB.
        assert_eq!(f(Unit::Bytes, 1024.0 * 1024.0), "1.00 MiB");
        assert_eq!(
            f(Unit::BytesPerSecond, 12.34 * 1024.0 * 1024.0),
            "12.3 MiB/s"
        );
        assert_eq!(f(Unit::BytesPerSecond, 300.0), "300 B/s");
        assert_eq!(f(Unit::BytesPerSecond, -2048.0), "-2.00 KiB/s");
    }

    #[test]
    fn percent_degrees_and_ratio() {
        assert_eq!(f(Unit::Percent, 42.4), "42%");
        assert_eq!(f(Unit::Percent, 9.96), "10%");
        assert_eq!(f(Unit::Percent, 0.53), "0.5%");
        assert_eq!(f(Unit::Percent, 100.0), "100%");
        assert_eq!(f(Unit::Ratio, 0.256), "26%");
        assert_eq!(f(Unit::Celsius, 57.2), "57°C");
        assert_eq!(f(Unit::Celsius, -0.04), "0.0°C");
        assert_eq!(f(Unit::Dbm, -67.0), "-67 dBm");
        assert_eq!(Unit::Celsius.format(57.26, Some(1)).number, "57.3");
    }

    #[test]
    fn durations_counts_and_bits() {
        assert_eq!(f(Unit::Seconds, 0.0000125), "12.5 µs");
        assert_eq!(f(Unit::Seconds, 0.000000045), "45.0 ns");
        assert_eq!(f(Unit::Seconds, 0.0042), "4.20 ms");
        assert_eq!(f(Unit::Seconds, 0.9996), "1.00 s");
        assert_eq!(f(Unit::Seconds, 90.0), "1.50 min");
        assert_eq!(f(Unit::Seconds, 7200.0), "2.00 h");
        assert_eq!(f(Unit::Seconds, 3.0 * 86400.0), "3.00 d");
        assert_eq!(f(Unit::None, 0.52), "0.52");
        assert_eq!(f(Unit::None, 1234.0), "1.23k");
        assert_eq!(f(Unit::None, 999_999.0), "1.00M");
        assert_eq!(f(Unit::None, 0.004), "4.00e-3");
        assert_eq!(f(Unit::BitsPerSecond, 94_500_000.0), "94.5 Mb/s");
        assert_eq!(f(Unit::BitsPerSecond, 12.0), "12.0 b/s");
        assert_eq!(f(Unit::Fps, 29.94), "29.9 fps");
    }

    #[test]
    fn infinities_and_fixed_decimals() {
        assert_eq!(f(Unit::Percent, f64::INFINITY), "∞%");
        assert_eq!(Unit::Bytes.format(f64::NEG_INFINITY, None).number, "-∞");
        assert_eq!(Unit::Bytes.format(1536.0, Some(0)).joined(), "2 KiB");
        assert_eq!(Unit::None.format(-0.001, Some(1)).number, "0.0");
    }

    #[test]
    fn nice_tops() {
        assert_eq!(nice_ceil(0.0, 1000.0), 0.0);
        assert_eq!(nice_ceil(f64::NAN, 1000.0), 0.0);
        assert_eq!(nice_ceil(7.0, 1000.0), 10.0);
        assert_eq!(nice_ceil(1.0, 1000.0), 1.0);
        assert_eq!(nice_ceil(1.2, 1000.0), 2.0);
        assert_eq!(nice_ceil(2.2, 1000.0), 2.5);
        assert_eq!(nice_ceil(420.0, 1000.0), 500.0);
        let mib = 1024.0 * 1024.0;
        assert_eq!(nice_ceil(3.3 * mib, 1024.0), 5.0 * mib);
        assert_eq!(nice_ceil(900.0 * 1024.0, 1024.0), 1000.0 * 1024.0);
        assert_eq!(nice_ceil(1.5 * mib, 1024.0), 2.0 * mib);
    }
}
