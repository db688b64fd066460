//! A build note when OpenH264 will be built without its x86 assembly: the `openh264-sys2` build script assembles it
//! with `nasm` when the program is on PATH and silently falls back to plain C otherwise, which decodes H.264 much
//! more slowly (BENCHMARKS.md, "Decoder builds"). Nothing here changes the build; it only says what to install.
//! Checked when this crate is built from clean (not on every PATH change, which would rebuild the workspace).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OPENH264_NO_ASM");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !matches!(arch.as_str(), "x86_64" | "x86") || std::env::var_os("OPENH264_NO_ASM").is_some() {
        return;
    }
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join("nasm").is_file())
    });
    if !on_path {
        println!(
            "cargo:warning=`nasm` is not installed: OpenH264 is being built without its x86 assembly and decodes \
             H.264 more slowly. Recommended: install it (Debian: apt-get install nasm), then rebuild OpenH264 with \
             `cargo clean -p openh264-sys2 && cargo build --release` (see BENCHMARKS.md, \"Decoder builds\")."
        );
    }
}
