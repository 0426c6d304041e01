//! Refuses to build the H.264 encoder without OpenH264's x86 assembly. `openh264-sys2` assembles
//! its kernels with `nasm` if it finds it when its build script first runs, and otherwise builds
//! silently without them, 2.3x slower; cargo does not rerun that script when nasm appears later.
//! This script stops the build with the fix when nasm is missing; `src/h264_asm.rs` links
//! against one of the assembled kernels, so a build whose OpenH264 was cached without them fails
//! to link instead of running slowly (`docs/media.md`, "OpenH264's assembly").

fn main() {
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=NASM");
    println!("cargo:rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let h264 = std::env::var_os("CARGO_FEATURE_H264").is_some();
    if !h264 || !matches!(arch.as_str(), "x86_64" | "x86") {
        return;
    }
    let nasm = std::env::var("NASM").unwrap_or_else(|_| "nasm".into());
    let found = std::process::Command::new(&nasm)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        panic!(
            "\n\npixelwire-media: `{nasm}` was not found. Without it OpenH264 builds without its x86 \
             assembly and encodes 2.3x slower.\nInstall it (Debian: `apt-get install nasm`, or run \
             scripts/setup.sh), then `cargo clean -p openh264-sys2` and build again.\n\n"
        );
    }
}
