// SPDX-License-Identifier: GPL-2.0

//! The seal of a published state (`seal-v1`): crc32c digests of everything the state's
//! metadata holds, recorded in the blob and compared in the next kernel *before anything
//! is claimed*.
//!
//! KHO hands the next kernel the preserved pages as they are. Damage to them (a stray
//! write, a bit flip, a bug) is found by the restore's validation at the latest, but that
//! validation claims pages as it goes: a damaged pointer that happens to name another KHO
//! user's preserved page would take that page from its owner. The seal closes that gap:
//! the next kernel reads the metadata pages *without claiming them* (a copy, after checking
//! KHO's preservation mark) and compares their digests first. A mismatch rejects the whole
//! state with nothing claimed.
//!
//! One digest per component, so that the per-component versioning of the RFC keeps
//! working (a component whose version this build does not read is neither restored nor
//! checked):
//!
//! * `root`: the root's values `generation`, `seed` and `preserved-pages`;
//! * `radix`: `root` and `keys`, then every table and leaf page of the tree in depth-first
//!   pre-order, slots in ascending order;
//! * `vmalloc`: the 16 bytes of `struct kho_vmalloc` and `bytes`, then every chunk page in
//!   chain order;
//! * `block`: `head`, `entry-size` and `count`, then every block page in chain order.
//!
//! Values are hashed as 8 native-endian bytes each, pages whole. Each digest is the
//! standard CRC-32C (Castagnoli; `crc32c("123456789") == 0xe3069283`): initial value
//! `!0`, final complement. The CRC itself is the kernel's `crc32c()` ([`SealSource`]); this
//! module only decides what is hashed, in which order.
//!
//! # Bounded walks
//!
//! The walks follow pointers read from untrusted pages, so each is bounded by what an
//! honest state of the blob's counts can have, and simply stops hashing there: at most
//! `1 + keys * (depth - 1)` radix pages (each key adds at most one page per level below
//! the root), the chunk count of [`super::vmalloc::chunk_pages`], and
//! `min(count, KHO_MAX_BLOCKS)` blocks (a published block is never empty). An honest
//! state fits within these bounds, so every page of it is hashed, and damage to any of its
//! bytes changes a digest: a damaged pointer is itself inside a hashed page. A chain with
//! a loop (which the restore's validation rejects later) is hashed up to the bound on both
//! sides, the same way.

use zerocopy::IntoBytes;

use super::block::KHO_MAX_BLOCKS;
use super::error::{errno, Error, Result};
use super::geometry::Geometry;
use super::subtree::SubtreeInfo;
use super::vmalloc::{chunk_pages, KhoVmalloc};

/// The digests of a sealed state: the `seal` node of the blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seal {
    /// The root's values.
    pub(crate) root: u32,
    /// The radix tree's values and pages.
    pub(crate) radix: u32,
    /// The vmalloc descriptor, size and chunk pages.
    pub(crate) vmalloc: u32,
    /// The block set's values and pages.
    pub(crate) block: u32,
}

/// Which components a check covers (those the restore will use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parts {
    /// Check the radix tree.
    pub(crate) radix: bool,
    /// Check the vmalloc chunks.
    pub(crate) vmalloc: bool,
    /// Check the block set.
    pub(crate) block: bool,
}

impl Parts {
    /// Every component.
    pub(crate) const ALL: Self = Self {
        radix: true,
        vmalloc: true,
        block: true,
    };
}

/// Where the seal reads pages from, and the CRC it uses.
///
/// In the first kernel the pages are the state's own ([`PageMem`](super::mem::PageMem)
/// pages it owns); in the next kernel they belong to the previous kernel and are only
/// *copied*, after KHO's mark says they were preserved as order-0 pages and not claimed yet
/// (nothing is claimed, no reference to them is made).
pub(crate) trait SealSource {
    /// Copies the page at `pa` into `out` (exactly one page of words), or fails with an
    /// error (not page aligned, not preserved, claimed already, not RAM).
    fn copy_page(&mut self, pa: u64, out: &mut [u64]) -> Result;

    /// The kernel's `crc32c(crc, bytes)`: the raw CRC-32C update, without the initial or
    /// final complement.
    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32;
}

/// Words of scratch memory the walks need for `geo`: one page per tree level (the tables
/// on the way down, and a leaf).
pub(crate) const fn scratch_words(geo: &Geometry) -> usize {
    geo.depth as usize * geo.page_words
}

/// Most radix levels any geometry has (6 for 4 KiB pages), for the walk's slot cursors.
const MAX_LEVELS: usize = 8;

/// A running CRC-32C.
struct Crc(u32);

impl Crc {
    fn new() -> Self {
        Self(!0)
    }

    fn values<S: SealSource + ?Sized>(&mut self, src: &S, values: &[u64]) {
        self.0 = src.crc32c(self.0, values.as_bytes());
    }

    fn bytes<S: SealSource + ?Sized>(&mut self, src: &S, bytes: &[u8]) {
        self.0 = src.crc32c(self.0, bytes);
    }

    /// Copies the page at `pa` into `buf` and hashes it; `what` names the page in an error.
    fn page<S: SealSource + ?Sized>(
        &mut self,
        src: &mut S,
        pa: u64,
        buf: &mut [u64],
        what: &'static str,
    ) -> Result {
        src.copy_page(pa, buf)
            .map_err(|e| Error::new(e.errno, what, pa))?;
        self.0 = src.crc32c(self.0, buf.as_bytes());
        Ok(())
    }

    /// Copies and hashes the chain of pages from `first` (each starting with the address
    /// of the next, 0 ending it), at most `cap` pages, through `buf`.
    fn chain<S: SealSource + ?Sized>(
        &mut self,
        src: &mut S,
        first: u64,
        cap: u64,
        buf: &mut [u64],
        what: &'static str,
    ) -> Result {
        let mut pa = first;
        for _ in 0..cap {
            if pa == 0 {
                break;
            }
            self.page(src, pa, buf, what)?;
            pa = buf.first().copied().unwrap_or(0);
        }
        Ok(())
    }

    fn finish(self) -> u32 {
        !self.0
    }
}

/// One page of `scratch`: page `i` (0-based).
fn scratch_page(scratch: &mut [u64], words: usize, i: usize) -> Result<&mut [u64]> {
    i.checked_mul(words)
        .and_then(|start| scratch.get_mut(start..start.checked_add(words)?))
        .ok_or(Error::inval("seal: scratch memory too small", i as u64))
}

/// Digest of the root's values.
pub(crate) fn root_digest<S: SealSource + ?Sized>(src: &S, info: &SubtreeInfo) -> u32 {
    let mut crc = Crc::new();
    crc.values(src, &[info.generation, info.seed, info.preserved_pages]);
    crc.finish()
}

/// Digest of the radix tree `root` with `keys` keys: the two values, then its pages.
pub(crate) fn radix_digest<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    root: u64,
    keys: u64,
    scratch: &mut [u64],
) -> Result<u32> {
    let mut crc = Crc::new();
    crc.values(src, &[root, keys]);
    if root == 0 {
        return Ok(crc.finish());
    }
    const WHAT: &str = "seal: radix page not preserved or claimed already";
    let words = geo.page_words;
    let top = geo.root_level() as usize;
    if top >= MAX_LEVELS {
        return Err(Error::inval(
            "seal: radix tree deeper than the walk",
            top as u64,
        ));
    }
    // Pages an honest tree of `keys` keys can have: the root, plus at most one table per
    // level below it and one leaf for each key.
    let cap = keys
        .saturating_mul(u64::from(geo.depth.saturating_sub(1)))
        .saturating_add(1);
    let entries = geo.table_entries().min(words);
    crc.page(src, root, scratch_page(scratch, words, top)?, WHAT)?;
    let mut pages = 1u64;
    // `next[l]`: the next slot to look at in the table copied to scratch page `l`.
    let mut next = [0usize; MAX_LEVELS];
    let mut level = top;
    loop {
        let table = scratch_page(scratch, words, level)?;
        let from = next.get(level).copied().unwrap_or(entries);
        let found = table
            .get(from..entries)
            .unwrap_or(&[])
            .iter()
            .position(|&e| e != 0)
            .map(|off| from + off);
        let Some(slot) = found else {
            if level == top {
                break;
            }
            level += 1;
            continue;
        };
        let child = table.get(slot).copied().unwrap_or(0);
        if let Some(n) = next.get_mut(level) {
            *n = slot + 1;
        }
        if pages >= cap {
            // No honest tree of `keys` keys has more pages: stop hashing.
            break;
        }
        pages += 1;
        let below = level - 1;
        crc.page(src, child, scratch_page(scratch, words, below)?, WHAT)?;
        if below > 0 {
            if let Some(n) = next.get_mut(below) {
                *n = 0;
            }
            level = below;
        }
    }
    Ok(crc.finish())
}

/// Digest of the vmalloc descriptor `desc` of an area of `bytes` bytes: the values, then
/// the chunk pages.
pub(crate) fn vmalloc_digest<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    desc: &KhoVmalloc,
    bytes: u64,
    scratch: &mut [u64],
) -> Result<u32> {
    let mut crc = Crc::new();
    crc.bytes(src, desc.as_bytes());
    crc.values(src, &[bytes]);
    // A chunk starts with the address of the next one.
    crc.chain(
        src,
        desc.first,
        chunk_pages(geo, desc),
        scratch_page(scratch, geo.page_words, 0)?,
        "seal: vmalloc chunk not preserved or claimed already",
    )?;
    Ok(crc.finish())
}

/// Digest of the block set at `head` with `count` entries of `entry_size` bytes: the
/// values, then the block pages.
pub(crate) fn block_digest<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    head: u64,
    entry_size: u64,
    count: u64,
    scratch: &mut [u64],
) -> Result<u32> {
    let mut crc = Crc::new();
    crc.values(src, &[head, entry_size, count]);
    // A block starts with the address of the next one (`struct kho_block`'s `next`).
    crc.chain(
        src,
        head,
        count.min(KHO_MAX_BLOCKS as u64),
        scratch_page(scratch, geo.page_words, 0)?,
        "seal: block not preserved or claimed already",
    )?;
    Ok(crc.finish())
}

/// The digests of the root's values and of the components in `parts` (0 for the
/// others), in that order; `scratch` has at least [`scratch_words`] words.
fn digests<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    info: &SubtreeInfo,
    parts: Parts,
    scratch: &mut [u64],
) -> Result<Seal> {
    let mut d = Seal {
        root: root_digest(src, info),
        ..Seal::default()
    };
    if parts.radix {
        d.radix = radix_digest(src, geo, info.radix_root, info.radix_keys, scratch)?;
    }
    if parts.vmalloc {
        d.vmalloc = vmalloc_digest(src, geo, &info.vmalloc, info.vmalloc_bytes, scratch)?;
    }
    if parts.block {
        let (head, size, count) = (info.block_head, info.block_entry_size, info.block_count);
        d.block = block_digest(src, geo, head, size, count, scratch)?;
    }
    Ok(d)
}

/// Seals the state `info` describes: every digest. In the first kernel, just before the
/// blob is written; `scratch` has at least [`scratch_words`] words.
pub(crate) fn seal<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    info: &SubtreeInfo,
    scratch: &mut [u64],
) -> Result<Seal> {
    digests(src, geo, info, Parts::ALL, scratch)
}

/// Checks an incoming state against the seal its blob carries (`info.seal`), for the
/// components in `parts` and the root's values. Reads pages only through `src` (copies,
/// nothing claimed).
///
/// A page that cannot be read (not preserved, claimed already) fails with the source's
/// errno; a digest that differs fails with `-EBADMSG`, naming the first component that
/// differs (root, radix, vmalloc, block), the value being the digest computed here.
pub(crate) fn check<S: SealSource + ?Sized>(
    src: &mut S,
    geo: &Geometry,
    info: &SubtreeInfo,
    parts: Parts,
    scratch: &mut [u64],
) -> Result {
    let got = digests(src, geo, info, parts, scratch)?;
    let want = &info.seal;
    [
        (
            true,
            got.root,
            want.root,
            "seal: the root's values do not match their digest",
        ),
        (
            parts.radix,
            got.radix,
            want.radix,
            "seal: the radix tree does not match its digest",
        ),
        (
            parts.vmalloc,
            got.vmalloc,
            want.vmalloc,
            "seal: the vmalloc chunks do not match their digest",
        ),
        (
            parts.block,
            got.block,
            want.block,
            "seal: the block set does not match its digest",
        ),
    ]
    .into_iter()
    .find(|&(checked, got, want, _)| checked && got != want)
    .map_or(Ok(()), |(_, got, _, what)| {
        Err(Error::new(errno::EBADMSG, what, got.into()))
    })
}
