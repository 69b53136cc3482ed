// SPDX-License-Identifier: GPL-2.0

//! vmalloc exchange across kexec: Rust and C, each writing for the other.
//!
//! With `vmx_mib=S`, the first kernel preserves, for each size in [`sizes`] up to `S` MiB,
//! four areas filled from the seed: one preserved by Rust for Rust to restore, one by C
//! (`kho_preserve_vmalloc()`) for C, one by Rust for C (`kho_restore_vmalloc()` must accept
//! a Rust-written descriptor) and one by C for Rust. Their descriptors go into a second
//! subtree, `kho-rs-vmx` (compatible `kho-rs-vmx-v1;vmalloc-v1`). The next kernel restores
//! all four, times the Rust and C restores of the same size side by side (the restore
//! half of the vmalloc benchmark, which needs two boots), and checks every byte.

use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};
use zerocopy::IntoBytes;

use crate::glue::kho::{core_err, elapsed_us};
use crate::glue::subtree::{numbered_name, IncomingBlob, OutgoingBlob};
use crate::glue::vmalloc;
use crate::pure::compat::{self, kho_compat};
use crate::pure::error::Error as CoreError;
use crate::pure::fdt::{Fdt, FdtWriter};
use crate::pure::vmalloc::KhoVmalloc;

/// Name of the subtree.
const NAME: &CStr = c"kho-rs-vmx";
/// Its compatible string: its own base plus the one structure it carries.
const COMPAT: &str = kho_compat!("kho-rs-vmx-v1"; compat::VMALLOC_COMPAT);
/// Area sizes in MiB (those not above the `vmx_mib` parameter are used).
const SIZES: [u64; 3] = [1, 16, 256];
/// The four areas of one size: (property name, written by Rust, read by Rust).
const KINDS: [(&str, bool, bool); 4] = [
    ("rust-rust", true, true),
    ("c-c", false, false),
    ("rust-c", true, false),
    ("c-rust", false, true),
];

/// The sizes used for `max_mib`.
fn sizes(max_mib: u32) -> impl Iterator<Item = u64> {
    SIZES.into_iter().filter(move |&s| s <= u64::from(max_mib))
}

/// Byte `i` of area `k` of size `mib`.
fn byte(seed: u64, mib: u64, k: usize, i: usize) -> u8 {
    let x = seed ^ (mib << 40) ^ ((k as u64) << 32) ^ (i as u64 >> 3);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (8 * (i & 7))) as u8
}

/// One preserved area and who preserved it.
struct Area {
    /// Keeps the preserved memory allocated until the preservation is cancelled.
    _area: vmalloc::VmallocArea,
    desc: KhoVmalloc,
    by_rust: bool,
}

/// The preserved areas and the published blob; `Drop` undoes everything.
pub(crate) struct VmxOut {
    /// The published subtree (dropped first, see `Drop`).
    blob: Option<OutgoingBlob>,
    areas: KVec<Area>,
}

impl VmxOut {
    /// Preserves the areas for sizes up to `max_mib` and publishes `kho-rs-vmx`.
    pub(crate) fn create(seed: u64, max_mib: u32) -> Result<Self> {
        let mut s = Self {
            blob: None,
            areas: KVec::new(),
        };
        for mib in sizes(max_mib) {
            for (k, &(_, by_rust, _)) in KINDS.iter().enumerate() {
                let mut area = vmalloc::VmallocArea::new((mib as usize) << 20)?;
                for (i, b) in area.as_mut_slice().iter_mut().enumerate() {
                    *b = byte(seed, mib, k, i);
                }
                let desc = if by_rust {
                    vmalloc::preserve(&area)?.publish()
                } else {
                    vmalloc::c_preserve(&area)?.publish()
                };
                s.areas.push(
                    Area {
                        _area: area,
                        desc,
                        by_rust,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        s.publish(seed, max_mib)?;
        pr_info!(
            "vmx: preserved {} areas (Rust and C writers) up to {} MiB\n",
            s.areas.len(),
            max_mib
        );
        Ok(s)
    }

    fn publish(&mut self, seed: u64, max_mib: u32) -> Result {
        let areas = &self.areas;
        self.blob = Some(OutgoingBlob::publish(NAME, |buf| {
            let mut w = FdtWriter::new(buf)?;
            w.begin_node("")?;
            w.property_str("compatible", COMPAT)?;
            w.property_u64_ne("seed", seed)?;
            let mut it = areas.iter();
            for mib in sizes(max_mib) {
                let name = numbered_name('s', mib)?;
                w.begin_node(
                    name.to_str()
                        .map_err(|_| CoreError::inval("FDT node name", 0))?,
                )?;
                w.property_u64_ne("mib", mib)?;
                for &(prop, _, _) in KINDS.iter() {
                    let a = it
                        .next()
                        .ok_or(crate::pure::error::Error::inval("vmx", 0))?;
                    w.property(prop, a.desc.as_bytes())?;
                }
                w.end_node()?;
            }
            w.end_node()?;
            w.finish()
        })?);
        Ok(())
    }
}

impl Drop for VmxOut {
    fn drop(&mut self) {
        // The subtree goes first, so the next kernel never sees a half-torn state.
        self.blob = None;
        for a in self.areas.iter() {
            if a.by_rust {
                // SAFETY: published by `vmalloc::preserve` in this kernel, area still alive.
                unsafe { vmalloc::unpreserve_published(&a.desc) };
            } else {
                // SAFETY: published by `vmalloc::c_preserve` in this kernel, area still alive.
                unsafe { vmalloc::c_unpreserve_published(&a.desc) };
            }
        }
    }
}

/// Next kernel: restores and checks every area of `kho-rs-vmx`; `Ok(false)` if absent.
pub(crate) fn restore_and_verify() -> Result<bool> {
    let Some(blob) = IncomingBlob::retrieve(NAME)? else {
        return Ok(false);
    };
    check_all(blob.bytes()).map(|()| true)
}

fn check_all(blob: &[u8]) -> Result {
    let fdt = Fdt::parse(blob).map_err(|e| core_err("vmx blob", e))?;
    let root = fdt.root();
    let found = root
        .prop_str("compatible")
        .map_err(|e| core_err("vmx", e))?;
    compat::check_against(COMPAT, found).map_err(|m| {
        pr_err!("vmx: {}\n", m);
        Error::from_errno(m.to_errno())
    })?;
    let seed = root.prop_u64_ne("seed").map_err(|e| core_err("vmx", e))?;
    let mut bad_total = 0u64;
    for node in root.subnodes() {
        let mib = node.prop_u64_ne("mib").map_err(|e| core_err("vmx", e))?;
        let mut times = [0u64; 4];
        for (k, &(prop, _, by_rust)) in KINDS.iter().enumerate() {
            let raw = node.property(prop).ok_or(EINVAL)?;
            let desc = KhoVmalloc::from_bytes(raw).map_err(|e| core_err("vmx", e))?;
            let t = Instant::<Monotonic>::now();
            let bad = if by_rust {
                let a = vmalloc::restore(&desc)?;
                times[k] = elapsed_us(&t);
                count_bad(a.as_slice(), seed, mib, k)
            } else {
                let a = vmalloc::c_restore(&desc)?;
                times[k] = elapsed_us(&t);
                count_bad(a.as_slice(), seed, mib, k)
            };
            if bad != 0 {
                pr_err!("vmx: {} MiB {}: {} bytes differ\n", mib, prop, bad);
            }
            bad_total += bad;
        }
        let (r, c) = (times[0], times[1]);
        let ratio = r.saturating_mul(1000) / c.max(1);
        pr_info!(
            "bench: vmalloc restore {} MiB: rust {} us, c {} us, rust/c {}.{:03}\n",
            mib,
            r,
            c,
            ratio / 1000,
            ratio % 1000
        );
        pr_info!(
            "vmx: {} MiB: C restored the Rust-written descriptor in {} us, Rust restored the C-written one in {} us\n",
            mib,
            times[2],
            times[3]
        );
    }
    if bad_total != 0 {
        return Err(EIO);
    }
    pr_info!("vmx: PASS: every area restored by the other implementation, every byte verified\n");
    Ok(())
}

fn count_bad(data: &[u8], seed: u64, mib: u64, k: usize) -> u64 {
    let mut bad = 0u64;
    if data.len() as u64 != mib << 20 {
        bad += 1;
    }
    for (i, b) in data.iter().enumerate() {
        if *b != byte(seed, mib, k, i) {
            bad += 1;
        }
    }
    bad
}
