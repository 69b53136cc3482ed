// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::subtree`: round trip, per-component compat errors, malformed
//! blobs, and `dtc` decoding the exact blob the module registers.

use std::format;
use std::process::Command;
use std::string::ToString;
use zerocopy::IntoBytes;

use proptest::prelude::*;

use crate::pure::compat::Mismatch;
use crate::pure::subtree::{
    read, read_granular, read_with, write, Accept, Footprint, SubtreeCompat, SubtreeError,
    SubtreeInfo, Verdict, Version, ACCEPT, COMPAT,
};

fn sample() -> SubtreeInfo {
    SubtreeInfo {
        generation: 1,
        ..crate::fuzz_api::seeds::sample_info()
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
    assert!(b.windows(16).any(|w| w == sample().vmalloc.as_bytes()));
}

/// `preserved-pages` is optional: a blob without it (here: its name changed in the strings
/// block, to one of the same length) reads as 0, the other values unchanged.
#[test]
fn preserved_pages_is_optional() {
    let b = blob(&sample(), &COMPAT);
    let needle = b"preserved-pages\0";
    let at = b
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("name in the strings block");
    let mut renamed = b.clone();
    renamed[at + needle.len() - 2] = b'z';
    assert_eq!(read(&b).expect("read").preserved_pages, 17_654);
    let got = read(&renamed).expect("read without preserved-pages");
    assert_eq!(
        got,
        SubtreeInfo {
            preserved_pages: 0,
            ..sample()
        }
    );
}

/// The message names the component and both versions.
#[test]
fn wrong_component_version_is_named() {
    let bad = SubtreeCompat {
        root: "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v2",
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
    let e = read(&b).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("block"), "{msg}");
    // Root and node disagree: malformed, whatever versions the reader accepts.
    let lenient = Accept {
        block: Version {
            oldest: 1,
            newest: 9,
            ..ACCEPT.block
        },
        ..ACCEPT
    };
    assert!(read_granular(&b, &lenient).is_err());
}

/// A blob written with the given component versions (root and node strings agree).
fn versioned(radix: &'static str, vmalloc: &'static str, block: &'static str) -> std::vec::Vec<u8> {
    let root = std::format!("kho-rs-v1;{block};{radix};seal-v1;{vmalloc}").leak();
    blob(
        &sample(),
        &SubtreeCompat {
            root,
            radix,
            vmalloc,
            block,
            seal: "seal-v1",
        },
    )
}

/// A reader of `vmalloc` v1 and v2 (the hypothetical next version).
fn two_version_reader() -> Accept {
    Accept {
        vmalloc: Version {
            oldest: 1,
            newest: 2,
            compat: "vmalloc-v2",
            ..ACCEPT.vmalloc
        },
        ..ACCEPT
    }
}

/// Exactly the component of an unread version is refused, by name; the others are parsed.
#[test]
fn unread_version_refuses_only_that_component() {
    let b = versioned("radix-v1", "vmalloc-v2", "block-v1");
    let inc = read_granular(&b, &ACCEPT).expect("structure is fine");
    assert_eq!(inc.radix, Verdict::Restore(1));
    assert_eq!(inc.block, Verdict::Restore(1));
    assert_eq!(
        inc.vmalloc,
        Verdict::Refuse(Mismatch::VersionMismatch {
            name: "vmalloc",
            expected: 1,
            found: 2
        })
    );
    // Nothing of the refused component was read; the others carry the blob's values.
    assert_eq!(inc.info.vmalloc_bytes, 0);
    assert_eq!(inc.info.vmalloc.first, 0);
    assert_eq!(inc.info.radix_root, 0x1_2345_6000);
    assert_eq!(inc.info.block_count, 100_000);
    let e = read(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "incompatible subtree: component 'vmalloc' has version v2, expected v1"
    );
}

/// A reader of two versions restores from either, and names its range when refusing.
#[test]
fn two_version_reader_restores_either() {
    let two = two_version_reader();
    for v in ["vmalloc-v1", "vmalloc-v2"] {
        let b = versioned("radix-v1", v, "block-v1");
        assert_eq!(read_with(&b, &two).expect(v), sample(), "{v}");
    }
    let b = versioned("radix-v1", "vmalloc-v3", "block-v1");
    let e = read_with(&b, &two).unwrap_err();
    assert_eq!(
        e.to_string(),
        "incompatible subtree: component 'vmalloc' has version v3, this module reads v1 to v2"
    );
    assert_eq!(e.to_errno(), -71);
}

/// An unknown extra component or another base fails the whole blob.
#[test]
fn extra_component_or_base_fails_whole_blob() {
    for (root, says) in [
        (
            "kho-rs-v1;block-v1;extra-v1;radix-v1;seal-v1;vmalloc-v1",
            "unexpected component 'extra'",
        ),
        (
            "kho-rs-v2;block-v1;radix-v1;vmalloc-v1",
            "base is 'kho-rs-v2'",
        ),
    ] {
        let b = blob(&sample(), &SubtreeCompat { root, ..COMPAT });
        let e = read_granular(&b, &ACCEPT).unwrap_err().to_string();
        assert!(e.contains(says), "{root}: {e}");
    }
}

/// The default build writes and reads v1 of every component.
#[test]
fn default_build_is_v1() {
    assert_eq!(
        COMPAT.root,
        "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1"
    );
    for v in [ACCEPT.radix, ACCEPT.vmalloc, ACCEPT.block] {
        assert_eq!((v.oldest, v.newest), (1, 1), "{}", v.name);
    }
}

#[test]
fn missing_component_and_truncation() {
    let bad = SubtreeCompat {
        root: "kho-rs-v1;block-v1;seal-v1;vmalloc-v1",
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
    fn any_values_round_trip(r in any::<u64>(), k in any::<u64>(), h in any::<u64>(), g in 1..u64::MAX) {
        let info = SubtreeInfo { radix_root: r, radix_keys: k, block_head: h, generation: g, ..sample() };
        prop_assert_eq!(read(&blob(&info, &COMPAT)).unwrap(), info);
    }
}

/// A generation that no kho-rs kernel writes (0, or u64::MAX, which cannot be carried on
/// as MAX + 1) is rejected, naming the value.
#[test]
fn generation_out_of_range_is_rejected() {
    for g in [0, u64::MAX] {
        let b = blob(
            &SubtreeInfo {
                generation: g,
                ..sample()
            },
            &COMPAT,
        );
        match read(&b) {
            Err(SubtreeError::Format(e)) => {
                assert_eq!(e.to_errno(), -34);
                assert_eq!(e.value, g);
                assert_eq!(e.what, "subtree: generation out of range");
            }
            other => panic!("generation {g:#x}: {other:?}"),
        }
    }
    let b = blob(
        &SubtreeInfo {
            generation: u64::MAX - 1,
            ..sample()
        },
        &COMPAT,
    );
    assert_eq!(read(&b).unwrap().generation, u64::MAX - 1);
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
        "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1",
        "radix {",
        "vmalloc {",
        "block {",
        "entry-size",
    ] {
        assert!(stdout.contains(s), "missing {s} in:\n{stdout}");
    }
}

/// The metadata report's arithmetic (the figures of a 1 GiB workload, by hand).
#[test]
fn footprint_counts_and_share() {
    let f = Footprint {
        radix_nodes: 7,
        vmalloc_chunks: 514,
        blocks: 783,
        blob: 1,
        data_bytes: 1 << 30,
    };
    assert_eq!(f.pages(), 1305);
    assert_eq!(f.bytes(4096), 5_345_280);
    // 5_345_280 * 10^6 / 2^30 = 4978.2..., rounded up.
    assert_eq!(f.ppm(4096), 4979);
    assert_eq!(Footprint::default().ppm(4096), 0);
    // 1305 metadata pages and 2^30 / 4096 = 262144 data pages.
    assert_eq!(f.preserved_pages(4096), 263_449);
    assert_eq!(
        f.to_string(),
        "1305 pages (radix nodes 7, vmalloc chunks 514, blocks 783, blob 1)"
    );
}
