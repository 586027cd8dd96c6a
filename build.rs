//! Link-time layout of the `ferrotel` release binary on x86_64 Linux, for idle memory.
//!
//! The code that runs from exec until the collector sits idle (parsing the config, building
//! every component, the runtime's timers) is about 1.5 MB of a 20 MB `.text`, but spread
//! over all of it; each page fault maps the kernel's 64 KB fault-around window, so start-up
//! left about 11 MB of code resident. Two linker options cut that (bench/README.md, "Idle
//! RSS: start-up code laid out together"):
//!
//! - `--symbol-ordering-file=src/startup.order`: the functions start-up runs, as profiled by
//!   bench/startup-order/generate.sh, are placed first in `.text`, together. Names missing
//!   from the binary being linked (another profile, changed code) are skipped silently, so a
//!   stale list only costs memory, never correctness.
//! - `-z pack-relative-relocs` (DT_RELR): the position-independent binary's 30,000 to 43,000
//!   relative relocations take 9 KB instead of 0.7 to 1 MB that the loader read at every
//!   start.
//!   Needs glibc 2.36 or later at run time, so only when the build machine's glibc has it
//!   (the image ships the build machine's glibc).
//!
//! Both need lld, rustc's default linker for this target since Rust 1.90 (the minimum
//! version). `FERROTEL_DEFAULT_LAYOUT=1` turns them off, as does choosing another linker
//! with `-C link-arg=-fuse-ld=...` or `-C linker-features=-lld` in RUSTFLAGS. Fuzz builds
//! (`--cfg fuzzing`, another compiler) do not link this binary and are left alone.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/startup.order");
    println!("cargo:rerun-if-env-changed=FERROTEL_DEFAULT_LAYOUT");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS");
    let other_linker =
        rustflags.contains("-fuse-ld=") || rustflags.contains("linker-features=-lld");
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || other_linker
        || env::var_os("FERROTEL_DEFAULT_LAYOUT").is_some_and(|v| v != "0")
        || env::var_os("CARGO_CFG_FUZZING").is_some()
    {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("src/startup.order");
    if let Ok(list) = fs::read_to_string(&order) {
        warn_if_other_compiler(&list);
        println!(
            "cargo:rustc-link-arg-bin=ferrotel=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=ferrotel=-Wl,--no-warn-symbol-ordering");
    }
    if var("HOST") == var("TARGET") && glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bin=ferrotel=-Wl,-z,pack-relative-relocs");
    }
}

/// Symbol names depend on the compiler version, so a list made with another rustc places
/// almost nothing: say so rather than ship a binary with about twice the idle memory unnoticed.
fn warn_if_other_compiler(list: &str) {
    let mut header = list.lines().take_while(|l| l.starts_with('#'));
    let Some(made_with) = header.find_map(|l| l.strip_prefix("# rustc ")) else {
        return;
    };
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-V").output() else {
        return;
    };
    let this = String::from_utf8_lossy(&out.stdout);
    let this = this.trim().strip_prefix("rustc ").unwrap_or_default();
    if this != made_with.trim() {
        println!(
            "cargo:warning=src/startup.order lists the symbols of rustc {}, this build uses rustc \
             {this}: start-up code will not be laid out together (idle RSS about 14 MB instead \
             of 6.5); regenerate it with bench/startup-order/generate.sh",
            made_with.trim()
        );
    }
}

/// The build machine's glibc version (`getconf GNU_LIBC_VERSION` prints `glibc 2.36`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}
