// SPDX-License-Identifier: GPL-2.0

//! vmalloc exchange across kexec: Rust and C, each writing for the other.
//!
//! With `vmx_mib=S`, the first kernel preserves, for each size in [`SIZES`] up to `S` MiB
//! (plain areas, and `vmalloc_huge()` areas of 4 MiB in 2 MiB blocks), `vmx_rounds`
//! rounds (up to the size's most) of four areas filled from the seed: one preserved by Rust for Rust to restore,
//! one by C (`kho_preserve_vmalloc()`) for C, one by Rust for C (`kho_restore_vmalloc()`
//! must accept a Rust-written descriptor) and one by C for Rust; and one warm-up area,
//! preserved and restored by C. Their descriptors go into a second subtree, `kho-rs-vmx`
//! (compatible `kho-rs-vmx-v1;vmalloc-v1`). The next kernel restores all of them and
//! checks every byte.
//!
//! It also times each restore: the restore half of the vmalloc benchmark, which needs two
//! boots. Each descriptor can be restored only once, so both sides get the same
//! conditions instead of a second try:
//! - a size's warm-up area is restored first, untimed, so that no timed restore is the
//!   first of its size (the first one also allocates the page tables of its range of
//!   vmalloc space, which later areas of that size reuse);
//! - before every restore, the vmalloc areas freed lazily so far are purged
//!   (`vm_unmap_aliases()`), so that no restore pays for another's deferred work;
//! - the four restores of a round run in the order Rust, C, C, Rust, so that a drift in
//!   speed during the run cancels out.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::bench::{time_ns, Fixed};
use crate::glue::kho::core_err;
use crate::glue::subtree::{checked_root, numbered_name, IncomingBlob, OutgoingBlob};
use crate::glue::{c_vmalloc, vmalloc};
use crate::pure::compat::{self, kho_compat};
use crate::pure::error::Error as CoreError;
use crate::pure::fdt::FdtWriter;
use crate::pure::vmalloc::KhoVmalloc;

/// Name of the subtree.
const NAME: &CStr = c"kho-rs-vmx";
/// Its compatible string: its own base plus the one structure it carries.
const COMPAT: &str = kho_compat!("kho-rs-vmx-v1"; compat::VMALLOC_COMPAT);
/// Area sizes in MiB (those not above the `vmx_mib` parameter are used), the most rounds of
/// the four areas per size (the `vmx_rounds` parameter asks for up to that many: more
/// rounds make a steadier timing, where the areas are small enough), and whether the areas
/// are `vmalloc_huge()` areas, preserved in 2 MiB blocks by both writers.
const SIZES: [(u64, u64, bool); 4] = [
    (1, MAX_ROUNDS, false),
    (16, MAX_ROUNDS, false),
    (256, 1, false),
    (4, MAX_ROUNDS, true),
];

/// Most rounds of four areas per size (`vmx_rounds`).
pub(crate) const MAX_ROUNDS: u64 = 4;
/// The four areas of one round: (property name, written by Rust, read by Rust). Restored
/// in this order: Rust, C, C, Rust.
const KINDS: [(&str, bool, bool); 4] = [
    ("rust-rust", true, true),
    ("c-c", false, false),
    ("rust-c", true, false),
    ("c-rust", false, true),
];
/// The warm-up area of a size: (property name, written by Rust, read by Rust).
const WARM: (&str, bool, bool) = ("warm-up", false, false);
/// [`byte`]'s area number of the warm-up area (after those of [`KINDS`]).
const WARM_K: usize = KINDS.len();

/// One size's areas: a warm-up area, then `rounds` rounds of the four [`KINDS`].
#[derive(Clone, Copy)]
struct Group {
    /// Position in restore order.
    number: u64,
    /// Size of each area in MiB.
    mib: u64,
    /// Rounds of four areas.
    rounds: u64,
    /// Whether the areas are `vmalloc_huge()` areas.
    huge: bool,
}

impl Group {
    /// The group's areas in restore order: `(round, area number, kind)`; the warm-up area
    /// has round 0 and area number [`WARM_K`].
    fn areas(self) -> impl Iterator<Item = (u64, usize, (&'static str, bool, bool))> {
        let rounds = (0..self.rounds).flat_map(|r| {
            KINDS
                .into_iter()
                .enumerate()
                .map(move |(k, kind)| (r, k, kind))
        });
        Iterator::chain(core::iter::once((0, WARM_K, WARM)), rounds)
    }
}

/// The groups for `max_mib` with up to `rounds` rounds each, in restore order.
fn groups(max_mib: u32, rounds: u64) -> impl Iterator<Item = Group> {
    SIZES
        .into_iter()
        .filter(move |&(s, _, _)| s <= u64::from(max_mib))
        .enumerate()
        .map(move |(g, (mib, most, huge))| Group {
            number: g as u64,
            mib,
            rounds: rounds.clamp(1, most),
            huge,
        })
}

/// Byte `i` of area `k` of round `round` of group `group`.
fn byte(seed: u64, group: u64, round: u64, k: usize, i: usize) -> u8 {
    let x = seed ^ (group << 48) ^ (round << 40) ^ ((k as u64) << 32) ^ (i as u64 >> 3);
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
    /// Preserves the areas for sizes up to `max_mib`, up to `rounds` rounds of four per
    /// size, and publishes `kho-rs-vmx`.
    pub(crate) fn create(seed: u64, max_mib: u32, rounds: u64) -> Result<Self> {
        let mut s = Self {
            blob: None,
            areas: KVec::new(),
        };
        for g in groups(max_mib, rounds) {
            for (round, k, (_, by_rust, _)) in g.areas() {
                let bytes = (g.mib as usize) << 20;
                let mut area = if g.huge {
                    vmalloc::VmallocArea::new_huge(bytes)?
                } else {
                    vmalloc::VmallocArea::new(bytes)?
                };
                for (i, b) in area.as_mut_slice().iter_mut().enumerate() {
                    *b = byte(seed, g.number, round, k, i);
                }
                let desc = if by_rust {
                    vmalloc::preserve(&area)?.publish()
                } else {
                    c_vmalloc::c_preserve(&area)?.publish()
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
        s.publish(seed, max_mib, rounds)?;
        pr_info!(
            "vmx: preserved {} areas (Rust and C writers) up to {} MiB\n",
            s.areas.len(),
            max_mib
        );
        Ok(s)
    }

    fn publish(&mut self, seed: u64, max_mib: u32, rounds: u64) -> Result {
        let areas = &self.areas;
        self.blob = Some(OutgoingBlob::publish(NAME, |buf| {
            let mut w = FdtWriter::new(buf)?;
            w.begin_node("")?;
            w.property_str("compatible", COMPAT)?;
            w.property_u64_ne("seed", seed)?;
            let mut it = areas.iter();
            for g in groups(max_mib, rounds) {
                let name = numbered_name('g', g.number)?;
                w.begin_node(
                    name.to_str()
                        .map_err(|_| CoreError::inval("FDT node name", 0))?,
                )?;
                w.property_u64_ne("group", g.number)?;
                w.property_u64_ne("mib", g.mib)?;
                w.property_u64_ne("huge", u64::from(g.huge))?;
                let warm = it.next().ok_or(CoreError::inval("vmx", 0))?;
                w.property(WARM.0, warm.desc.as_bytes())?;
                for round in 0..g.rounds {
                    let name = numbered_name('r', round)?;
                    w.begin_node(
                        name.to_str()
                            .map_err(|_| CoreError::inval("FDT node name", 0))?,
                    )?;
                    w.property_u64_ne("round", round)?;
                    for &(prop, _, _) in KINDS.iter() {
                        let a = it.next().ok_or(CoreError::inval("vmx", 0))?;
                        w.property(prop, a.desc.as_bytes())?;
                    }
                    w.end_node()?;
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
                // SAFETY: published by `c_vmalloc::c_preserve` in this kernel, area still alive.
                unsafe { c_vmalloc::c_unpreserve_published(&a.desc) };
            }
        }
    }
}

/// Next kernel: restores and checks every area of `kho-rs-vmx`; `Ok(false)` if absent.
pub(crate) fn restore_and_verify() -> Result<bool> {
    let Some(blob) = IncomingBlob::retrieve_consumed(NAME)? else {
        return Ok(false);
    };
    check_all(blob.bytes()).map(|()| true)
}

fn check_all(blob: &[u8]) -> Result {
    let (root, seed) = checked_root(blob, COMPAT, "vmx")?;
    let mut bad_total = 0u64;
    for node in root.subnodes() {
        let group = node.prop_u64_ne("group").map_err(|e| core_err("vmx", e))?;
        let mib = node.prop_u64_ne("mib").map_err(|e| core_err("vmx", e))?;
        let huge = node.prop_u64_ne("huge").map_err(|e| core_err("vmx", e))? != 0;
        let what = if huge { " huge" } else { "" };
        // Per side: the sum and the best of its restores; and the last round's crossed pair.
        let (mut rust, mut c) = (Times::default(), Times::default());
        let mut crossed = [0u64; 2];
        let warm = node.property(WARM.0).ok_or(EINVAL)?;
        let (_, bad) = restore_one(warm, WARM, seed, (group, 0, WARM_K), mib)?;
        bad_total += bad;
        for round_node in node.subnodes() {
            let round = round_node
                .prop_u64_ne("round")
                .map_err(|e| core_err("vmx", e))?;
            for (k, kind) in KINDS.into_iter().enumerate() {
                let raw = round_node.property(kind.0).ok_or(EINVAL)?;
                let (ns, bad) = restore_one(raw, kind, seed, (group, round, k), mib)?;
                bad_total += bad;
                let (_, by_rust, read_by_rust) = kind;
                if read_by_rust {
                    rust.add(ns);
                } else {
                    c.add(ns);
                }
                if by_rust != read_by_rust {
                    crossed[usize::from(read_by_rust)] = ns;
                }
            }
        }
        let us = |ns: u64| Fixed(ns, 1000, 1);
        pr_info!(
            "bench: vmalloc restore {} MiB{}: rust {} us, c {} us, rust/c {} ({} restores each, alternating rust c c rust; best: rust {} us, c {} us, rust/c {})\n",
            mib,
            what,
            us(rust.sum),
            us(c.sum),
            Fixed(rust.sum, c.sum, 3),
            rust.n,
            us(rust.best),
            us(c.best),
            Fixed(rust.best, c.best, 3)
        );
        pr_info!(
            "vmx: {} MiB{}: C restored the Rust-written descriptor in {} us, Rust restored the C-written one in {} us\n",
            mib,
            what,
            us(crossed[0]),
            us(crossed[1])
        );
    }
    if bad_total != 0 {
        return Err(EIO);
    }
    pr_info!("vmx: PASS: every area restored by the other implementation, every byte verified\n");
    Ok(())
}

/// Restores the area whose descriptor is `raw` with the reader of `kind` and checks every
/// byte against area `(group, round, k)`; returns the restore's time in ns and the bytes
/// that differ. Lazily freed vmalloc areas are purged first, untimed.
fn restore_one(
    raw: &[u8],
    (prop, _, read_by_rust): (&str, bool, bool),
    seed: u64,
    (group, round, k): (u64, u64, usize),
    mib: u64,
) -> Result<(u64, u64)> {
    let desc = KhoVmalloc::from_bytes(raw).map_err(|e| core_err("vmx", e))?;
    vmalloc::purge_lazy_areas();
    let (ns, bad) = if read_by_rust {
        // SAFETY: `raw` is a property of this module's own vmx subtree of the previous kernel, with a Rust preservation that nothing in this kernel has claimed.
        let (ns, a) = time_ns(|| unsafe { vmalloc::restore(&desc) });
        (ns, count_bad(a?.as_slice(), seed, (group, round, k), mib))
    } else {
        // SAFETY: `raw` is a property of this module's own vmx subtree, published by the
        // previous kernel with a C preservation (`read_by_rust` is false) that nothing in
        // this kernel has claimed (the vmx state is restored once, and never damaged on
        // purpose).
        let (ns, a) = time_ns(|| unsafe { c_vmalloc::c_restore(&desc) });
        (ns, count_bad(a?.as_slice(), seed, (group, round, k), mib))
    };
    if bad != 0 {
        pr_err!("vmx: {} MiB {}: {} bytes differ\n", mib, prop, bad);
    }
    Ok((ns, bad))
}

/// Restore times of one side.
#[derive(Default)]
struct Times {
    /// Restores timed.
    n: u64,
    /// Their total, in ns.
    sum: u64,
    /// The fastest, in ns.
    best: u64,
}

impl Times {
    fn add(&mut self, ns: u64) {
        self.best = if self.n == 0 { ns } else { self.best.min(ns) };
        self.n += 1;
        self.sum += ns;
    }
}

/// Bytes of a restored area that differ from what area `k` of `(group, round)` was
/// filled with (the length counts as one).
fn count_bad(data: &[u8], seed: u64, (group, round, k): (u64, u64, usize), mib: u64) -> u64 {
    let mut bad = 0u64;
    if data.len() as u64 != mib << 20 {
        bad += 1;
    }
    for (i, b) in data.iter().enumerate() {
        if *b != byte(seed, group, round, k, i) {
            bad += 1;
        }
    }
    bad
}
