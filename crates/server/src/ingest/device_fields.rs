//! What a device may call itself: ids, names, types and capabilities as devices send them
//! (seed 002's register body, `X-Device-Id` headers, `deviceId` form fields), refused unless they
//! are short and printable. They are stored in the registry, shown on the page and written to
//! logs, so a newline, a NUL or ten thousand characters must never get that far.

/// Longest device id, bytes.
pub const MAX_ID_BYTES: usize = 64;
/// Longest device name or type, characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most capabilities a device may list.
pub const MAX_CAPABILITIES: usize = 16;

/// Why a field was refused (the text goes back to the device).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A device id that is empty, too long or not printable ASCII.
    #[error(
        "deviceId must be 1..=64 printable ASCII characters (letters, digits, punctuation, inner spaces)"
    )]
    Id,
    /// A name, type or capability that is too long or holds control characters.
    #[error("{0} must be at most 64 characters without control characters")]
    Text(&'static str),
    /// Too many capabilities.
    #[error("capabilities lists at most 16 entries")]
    TooManyCapabilities,
}

/// A device id as sent, trimmed; refused unless 1..=64 bytes of printable ASCII.
pub fn device_id(raw: &str) -> Result<&str, FieldError> {
    let id = raw.trim();
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| (0x20..=0x7E).contains(&b));
    ok.then_some(id).ok_or(FieldError::Id)
}

/// A display name, type or capability: at most 64 characters, no control characters.
pub fn text<'a>(what: &'static str, raw: &'a str) -> Result<&'a str, FieldError> {
    let t = raw.trim();
    let ok = t.chars().count() <= MAX_NAME_CHARS && !t.chars().any(char::is_control);
    ok.then_some(t).ok_or(FieldError::Text(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ids_pass_and_forged_ones_do_not() {
        assert_eq!(device_id(" ESP32-CAM-001 "), Ok("ESP32-CAM-001"));
        assert_eq!(device_id("cam 1:a_b.c"), Ok("cam 1:a_b.c"));
        for bad in [
            "",
            "   ",
            "a\nERROR pixelwire::server: FORGED LINE",
            "nul\0id",
            "tab\tid",
            "caf\u{e9}",
            &"x".repeat(65),
            &"x".repeat(10_000),
        ] {
            assert_eq!(device_id(bad), Err(FieldError::Id), "{bad:?}");
        }
        assert_eq!(device_id(&"x".repeat(64)).map(str::len), Ok(64));
    }

    #[test]
    fn names_may_be_unicode_but_not_control_characters() {
        assert_eq!(text("deviceName", "Caméra #1"), Ok("Caméra #1"));
        assert!(text("deviceName", "two\nlines").is_err());
        assert!(text("deviceType", &"é".repeat(65)).is_err());
        assert_eq!(
            text("deviceName", "x\u{7}").unwrap_err().to_string(),
            "deviceName must be at most 64 characters without control characters"
        );
    }
}
