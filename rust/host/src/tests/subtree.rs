// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::subtree`: round trip, per-component compat errors, malformed
//! blobs, and `dtc` decoding the exact blob the module registers.

use std::format;
use std::process::Command;
use std::string::ToString;

use proptest::prelude::*;

use crate::pure::subtree::{
    read, read_with, write, SubtreeCompat, SubtreeError, SubtreeInfo, COMPAT,
};
use crate::pure::vmalloc::KhoVmalloc;

fn sample() -> SubtreeInfo {
    SubtreeInfo {
        generation: 1,
        seed: 0x1234_5678_9abc_def0,
        radix_root: 0x1_2345_6000,
        radix_keys: 77,
        vmalloc: KhoVmalloc {
            first: 0x2_0000_0000,
            total_pages: 16384,
            flags: 1,
            order: 0,
        },
        vmalloc_bytes: 64 << 20,
        block_head: 0x3_0000_1000,
        block_entry_size: 32,
        block_count: 100_000,
    }
}

fn blob(info: &SubtreeInfo, c: &SubtreeCompat<'_>) -> std::vec::Vec<u8> {
    let mut buf = std::vec![0u8; 4096];
    let n = write(&mut buf, info, c).expect("write");
    buf.truncate(n);
    buf
}

#[test]
fn round_trip_fits_one_page() {
    let b = blob(&sample(), &COMPAT);
    assert!(b.len() <= 4096);
    assert_eq!(read(&b).expect("read"), sample());
}

#[test]
fn values_are_native_endian_u64() {
    let b = blob(&sample(), &COMPAT);
    let needle = 0x1_2345_6000u64.to_ne_bytes();
    assert!(b.windows(8).any(|w| w == needle));
    assert!(b.windows(16).any(|w| w == sample().vmalloc.to_bytes()));
}

/// The message names the component and both versions.
#[test]
fn wrong_component_version_is_named() {
    let bad = SubtreeCompat {
        root: "kho-rs-v1;block-v1;radix-v1;vmalloc-v2",
        vmalloc: "vmalloc-v2",
        ..COMPAT
    };
    let b = blob(&sample(), &bad);
    let e = read(&b).unwrap_err();
    assert!(matches!(e, SubtreeError::Compat(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("vmalloc") && msg.contains("v2") && msg.contains("v1"),
        "{msg}"
    );
    assert_eq!(e.to_errno(), -71);
}

/// A child whose own string differs while the root composite is right is caught too.
#[test]
fn child_string_is_checked() {
    let bad = SubtreeCompat {
        block: "block-v9",
        ..COMPAT
    };
    let b = blob(&sample(), &bad);
    let msg = read(&b).unwrap_err().to_string();
    assert!(msg.contains("block"), "{msg}");
    // Read against matching expectations it is accepted: the check is per component.
    assert!(read_with(&b, &bad).is_ok());
}

#[test]
fn missing_component_and_truncation() {
    let bad = SubtreeCompat {
        root: "kho-rs-v1;block-v1;vmalloc-v1",
        ..COMPAT
    };
    let msg = read(&blob(&sample(), &bad)).unwrap_err().to_string();
    assert!(msg.contains("radix"), "{msg}");
    let b = blob(&sample(), &COMPAT);
    for len in 0..b.len() {
        assert!(read(&b[..len]).is_err(), "truncated to {len} accepted");
    }
}

proptest! {
    #[test]
    fn corrupted_blobs_never_panic(pos in 0usize..600, byte in any::<u8>()) {
        let mut b = blob(&sample(), &COMPAT);
        if pos < b.len() {
            b[pos] = byte;
        }
        let _ = read(&b);
    }

    #[test]
    fn any_values_round_trip(r in any::<u64>(), k in any::<u64>(), h in any::<u64>(), g in any::<u64>()) {
        let info = SubtreeInfo { radix_root: r, radix_keys: k, block_head: h, generation: g, ..sample() };
        prop_assert_eq!(read(&blob(&info, &COMPAT)).unwrap(), info);
    }
}

/// `dtc -I dtb -O dts` decodes the blob the module registers without a warning.
#[test]
fn dtc_decodes_without_warnings() {
    let b = blob(&sample(), &COMPAT);
    let path = std::env::temp_dir().join(format!("kho-rs-subtree-{}.dtb", std::process::id()));
    std::fs::write(&path, &b).unwrap();
    let out = Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts", "-o", "-"])
        .arg(&path)
        .output()
        .expect("dtc not found: run scripts/setup.sh (Debian package device-tree-compiler)");
    let _ = std::fs::remove_file(&path);
    let stderr = std::string::String::from_utf8_lossy(&out.stderr);
    let stdout = std::string::String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "dtc failed: {stderr}");
    assert!(stderr.is_empty(), "dtc warned: {stderr}");
    for s in [
        "kho-rs-v1;block-v1;radix-v1;vmalloc-v1",
        "radix {",
        "vmalloc {",
        "block {",
        "entry-size",
    ] {
        assert!(stdout.contains(s), "missing {s} in:\n{stdout}");
    }
}
