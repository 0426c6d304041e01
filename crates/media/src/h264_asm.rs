//! Which of OpenH264's hand-written kernels this build carries (`build.rs` explains why it
//! matters). On x86 the encoder is linked with its SSE2..SSE4.2 assembly: this module refers to
//! one of those kernels, so a build without them does not link. AVX2 kernels exist upstream but
//! `openh264-sys2` does not build them (it defines no `HAVE_AVX2`).

/// The assembly OpenH264 was built with, for the start-up log and `/metrics`.
pub fn assembly() -> &'static str {
    imp::assembly()
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
mod imp {
    // Declaring (never calling) a kernel from OpenH264's `satd_sad.asm`, only to take its
    // address: the link then needs the assembled object. Nothing is called through it.
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn WelsSampleSad16x16_sse2();
    }

    pub fn assembly() -> &'static str {
        let kernel = std::hint::black_box(WelsSampleSad16x16_sse2 as *const ());
        if kernel.is_null() {
            "none"
        } else {
            "x86 SSE2..SSE4.2"
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    pub fn assembly() -> &'static str {
        "AArch64 NEON"
    }
}

#[cfg(target_arch = "arm")]
mod imp {
    pub fn assembly() -> &'static str {
        "ARM NEON"
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm"
)))]
mod imp {
    pub fn assembly() -> &'static str {
        "none"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn this_build_carries_the_x86_kernels() {
        assert_eq!(super::assembly(), "x86 SSE2..SSE4.2");
    }
}
