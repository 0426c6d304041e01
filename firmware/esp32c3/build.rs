//! Build-time settings: a variable set in the environment wins; otherwise `config.env` (KEY=VALUE
//! lines, next to Cargo.toml, ignored by git) supplies it; otherwise the placeholder from
//! `.cargo/config.toml` stays. Also links esp-hal's scripts (done by `.cargo/config.toml`), warns
//! when the WiFi credentials are still placeholders, and sets `cfg(panel_ssd1306)` when `PANEL` is
//! `ssd1306`, which selects the monochrome OLED's glue (`src/display.rs`); the settings themselves
//! are checked by `src/config.rs`, which also checks that this cfg agrees with them.

use std::collections::HashMap;

/// The `[env]` placeholders of `.cargo/config.toml`: a variable with this value was not set by the
/// user.
const PLACEHOLDERS: &[(&str, &str)] = &[
    ("SSID", "pixelwire-ssid"),
    ("PASSWORD", "pixelwire-password"),
    ("SERVER", "192.168.1.10:8888"),
    ("DEVICE_ID", ""),
    ("PANEL", "ili9341"),
    ("ROTATION", ""),
    ("INVERT", ""),
    ("BGR", ""),
    ("MIRROR", ""),
    ("WIDTH", ""),
    ("HEIGHT", ""),
    ("OFFSET_X", ""),
    ("OFFSET_Y", ""),
    ("SPI_MHZ", ""),
    ("SPI_MODE", "0"),
];

fn read_config_env() -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string("config.env") else {
        return out;
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            println!(
                "cargo:warning=config.env line {}: expected KEY=VALUE",
                n + 1
            );
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.insert(k.trim().to_string(), v.to_string());
    }
    out
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(panel_ssd1306)");
    println!("cargo:rerun-if-changed=config.env");
    println!("cargo:rerun-if-changed=build.rs");
    let file = read_config_env();
    for key in file.keys() {
        if !PLACEHOLDERS.iter().any(|(k, _)| k == key) {
            println!("cargo:warning=config.env: unknown setting {key}");
        }
    }
    for (key, placeholder) in PLACEHOLDERS {
        println!("cargo:rerun-if-env-changed={key}");
        let env = std::env::var(key).unwrap_or_default();
        let value = if env != *placeholder {
            env
        } else if let Some(v) = file.get(*key) {
            v.clone()
        } else {
            env
        };
        // Always set, so the value the firmware sees is the one chosen here.
        println!("cargo:rustc-env={key}={value}");
        if *key == "PANEL" && value.eq_ignore_ascii_case("ssd1306") {
            println!("cargo::rustc-cfg=panel_ssd1306");
        }
        if (*key == "SSID" || *key == "PASSWORD") && value == *placeholder {
            println!(
                "cargo:warning={key} is the placeholder: set it in the environment or in \
                 config.env before flashing (docs/firmware.md)"
            );
        }
    }
}
