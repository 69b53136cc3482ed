// SPDX-License-Identifier: GPL-2.0

//! Target `subtree`: `subtree::read` (FDT, per-component compatibility, every value).
//!
//! The reference ([`model_read`]) reads the blob with the FDT reference of [`super::fdt`]
//! and checks compatibility with the reference of [`super::compat`], in the order the ABI
//! (`Documentation/kho-rs-abi.rst`) gives: root `compatible`, then the `radix`, `vmalloc`,
//! `block` and `seal` nodes' own strings, then the values, each of exactly 8 native-endian
//! bytes (the descriptor 16; `preserved-pages` is optional; a seal digest must fit in 32
//! bits). The target checks that `read` accepts
//! exactly what the reference accepts, classifies a rejection the same way (malformed vs
//! incompatible), and on success returns the values the bytes hold.

use crate::pure::seal::Seal;
use crate::pure::subtree::{read, SubtreeError, SubtreeInfo, COMPAT};
use crate::pure::vmalloc::KhoVmalloc;

use super::compat::{model_check_against, MVerdict};
use super::fdt::{model_parse, MNode};

/// Why the reference rejects a blob.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MReject {
    /// Not an FDT, a node or property missing or of the wrong length.
    Format,
    /// A compatibility string differs (or is not a valid composite).
    Compat,
}

fn u64_prop(n: &MNode, name: &str) -> Result<u64, MReject> {
    let v = n.prop(name).ok_or(MReject::Format)?;
    Ok(u64::from_ne_bytes(
        v.try_into().map_err(|_| MReject::Format)?,
    ))
}

fn str_prop<'a>(n: &'a MNode, name: &str) -> Result<&'a str, MReject> {
    match n.prop(name).and_then(|v| v.split_last()) {
        Some((0, text)) if !text.contains(&0) => {
            core::str::from_utf8(text).map_err(|_| MReject::Format)
        }
        _ => Err(MReject::Format),
    }
}

fn compat_ok(expected: &str, found: &str) -> Result<(), MReject> {
    match model_check_against(expected, found) {
        MVerdict::Ok => Ok(()),
        _ => Err(MReject::Compat),
    }
}

fn component<'a>(root: &'a MNode, name: &str, expected: &str) -> Result<&'a MNode, MReject> {
    let node = root.child(name).ok_or(MReject::Format)?;
    compat_ok(expected, str_prop(node, "compatible")?)?;
    Ok(node)
}

/// Reference reader of the subtree blob.
pub(crate) fn model_read(blob: &[u8]) -> Result<SubtreeInfo, MReject> {
    let fdt = model_parse(blob).ok_or(MReject::Format)?;
    let root = &fdt.root;
    compat_ok(COMPAT.root, str_prop(root, "compatible")?)?;
    let radix = component(root, "radix", COMPAT.radix)?;
    let vmalloc = component(root, "vmalloc", COMPAT.vmalloc)?;
    let block = component(root, "block", COMPAT.block)?;
    let seal = component(root, "seal", COMPAT.seal)?;
    let digest = |name: &str| -> Result<u32, MReject> {
        u32::try_from(u64_prop(seal, name)?).map_err(|_| MReject::Format)
    };
    let desc: [u8; 16] = vmalloc
        .prop("descriptor")
        .ok_or(MReject::Format)?
        .try_into()
        .map_err(|_| MReject::Format)?;
    let word = |o: usize| u64::from_ne_bytes(desc[o..o + 8].try_into().expect("8 bytes"));
    // A generation counts kexecs from 1 and is carried on with +1 (ABI): 0 and u64::MAX
    // are malformed.
    let generation = u64_prop(root, "generation")?;
    if generation == 0 || generation == u64::MAX {
        return Err(MReject::Format);
    }
    Ok(SubtreeInfo {
        generation,
        seed: u64_prop(root, "seed")?,
        // Optional (ABI): absent reads as 0, present must be 8 bytes.
        preserved_pages: match root.prop("preserved-pages") {
            Some(_) => u64_prop(root, "preserved-pages")?,
            None => 0,
        },
        radix_root: u64_prop(radix, "root")?,
        radix_keys: u64_prop(radix, "keys")?,
        vmalloc: KhoVmalloc {
            first: word(0),
            // +8 u32 total_pages, +12 u16 flags, +14 u16 order, in native byte order.
            total_pages: u32::from_ne_bytes(desc[8..12].try_into().expect("4 bytes")),
            flags: u16::from_ne_bytes([desc[12], desc[13]]),
            order: u16::from_ne_bytes([desc[14], desc[15]]),
        },
        vmalloc_bytes: u64_prop(vmalloc, "bytes")?,
        block_head: u64_prop(block, "head")?,
        block_entry_size: u64_prop(block, "entry-size")?,
        block_count: u64_prop(block, "count")?,
        seal: Seal {
            root: digest("root")?,
            radix: digest("radix")?,
            vmalloc: digest("vmalloc")?,
            block: digest("block")?,
        },
    })
}

/// Checks `read` on `blob` against the reference; returns what both accepted.
pub(crate) fn check(blob: &[u8]) -> Option<SubtreeInfo> {
    match (read(blob), model_read(blob)) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want, "subtree values differ from the blob's bytes");
            Some(got)
        }
        (Err(e), Err(why)) => {
            let kind = match e {
                SubtreeError::Format(_) => MReject::Format,
                SubtreeError::Compat(_) => MReject::Compat,
            };
            assert_eq!(kind, why, "rejected for another reason: {e}");
            assert!(e.to_errno() < 0);
            None
        }
        (Ok(got), Err(why)) => {
            panic!("read accepted a blob the reference rejects ({why:?}): {got:?}")
        }
        (Err(e), Ok(_)) => panic!("read rejected a valid blob: {e}"),
    }
}

/// The `subtree` target; returns whether the blob was accepted.
pub(crate) fn run(data: &[u8]) -> bool {
    check(data).is_some()
}
