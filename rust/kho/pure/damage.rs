// SPDX-License-Identifier: GPL-2.0

//! Random damage of the module's published state, for the kexec stress test.
//!
//! The first kernel publishes its workload, then flips a few bytes chosen here: a structure
//! is picked uniformly among those that have at least one page (so each structure is hit
//! about equally often, however many pages it has), then one of its pages uniformly, then
//! a byte of that page uniformly (for the blob: a byte of its registered size). The byte
//! is XORed with a non-zero value, so it always changes, and no byte is hit twice in one
//! plan, so a second XOR can never undo the first. Everything depends on the seed only.
//!
//! The choice is pure; the kernel glue lists the pages and applies the [`Hit`]s.

use super::rng::{splitmix64, XorShift};

/// The structures whose pages can be damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Structure {
    /// The FDT blob registered with `kho_add_subtree()` (its registered size only).
    Blob,
    /// An intermediate (table) page of the radix tree, the root included.
    RadixNode,
    /// A leaf (bitmap) page of the radix tree.
    RadixLeaf,
    /// A vmalloc chunk page (`struct kho_vmalloc_chunk`: `next` and `phys[]`).
    VmallocChunk,
    /// A block of the block set (`next`, `count`, entries).
    Block,
}

/// Number of [`Structure`]s.
pub(crate) const NR_STRUCTURES: usize = 5;

impl Structure {
    /// Every structure, in the order of [`Layout::pages`].
    pub(crate) const ALL: [Structure; NR_STRUCTURES] = [
        Structure::Blob,
        Structure::RadixNode,
        Structure::RadixLeaf,
        Structure::VmallocChunk,
        Structure::Block,
    ];

    /// Index in [`Structure::ALL`] and [`Layout::pages`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Structure::Blob => 0,
            Structure::RadixNode => 1,
            Structure::RadixLeaf => 2,
            Structure::VmallocChunk => 3,
            Structure::Block => 4,
        }
    }

    /// Name printed in the damage lines and the stress test's report.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Structure::Blob => "blob-subtree",
            Structure::RadixNode => "radix-node",
            Structure::RadixLeaf => "radix-leaf",
            Structure::VmallocChunk => "vmalloc-chunk",
            Structure::Block => "block",
        }
    }
}

/// How many pages each structure has, and how many bytes can be hit in each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Pages per structure, indexed by [`Structure::index`] (the blob counts as one page).
    pub(crate) pages: [usize; NR_STRUCTURES],
    /// Registered size of the blob in bytes (0: the blob cannot be hit).
    pub(crate) blob_len: usize,
    /// Size of every other page in bytes.
    pub(crate) page_size: usize,
}

impl Layout {
    /// Bytes of one page of `s` that may be hit (0 if `s` has no page).
    pub(crate) const fn bytes_per_page(&self, s: Structure) -> usize {
        if self.pages[s.index()] == 0 {
            return 0;
        }
        match s {
            Structure::Blob => self.blob_len,
            _ => self.page_size,
        }
    }
}

/// One damaged byte: `page` is the index of the page in its structure's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The structure hit.
    pub(crate) structure: Structure,
    /// Index of the page among the structure's pages.
    pub(crate) page: usize,
    /// Byte offset in the page.
    pub(crate) offset: usize,
    /// Non-zero value XORed into the byte.
    pub(crate) xor: u8,
}

impl Hit {
    /// A placeholder to initialise arrays with.
    pub(crate) const NONE: Hit = Hit {
        structure: Structure::Blob,
        page: 0,
        offset: 0,
        xor: 1,
    };
}

/// Most bytes one plan damages.
pub(crate) const MAX_HITS: usize = 16;

/// The generator of the damage for `seed` (the seed is mixed first, so that consecutive
/// seeds give unrelated plans).
pub(crate) fn rng(seed: u64) -> XorShift {
    XorShift::new(splitmix64(seed ^ 0x6461_6d61_6765))
}

/// Picks one byte to damage, or `None` if no structure has a byte.
pub(crate) fn pick(rng: &mut XorShift, layout: &Layout) -> Option<Hit> {
    let hittable = Structure::ALL
        .iter()
        .filter(|&&s| layout.bytes_per_page(s) != 0)
        .count();
    let nth = rng.below(hittable);
    let structure = *Structure::ALL
        .iter()
        .filter(|&&s| layout.bytes_per_page(s) != 0)
        .nth(nth)?;
    let page = rng.below(layout.pages[structure.index()]);
    let offset = rng.below(layout.bytes_per_page(structure));
    // 1..=255: the byte always changes.
    let xor = 1 + rng.below(255) as u8;
    Some(Hit {
        structure,
        page,
        offset,
        xor,
    })
}

/// Fills `out` with up to `n` distinct hits (no byte twice) for `seed`; returns how many.
///
/// `n` is clamped to `out.len()` and to [`MAX_HITS`]; fewer hits are returned only if the
/// layout has fewer distinct bytes than asked for (or none at all).
pub(crate) fn plan(seed: u64, n: usize, layout: &Layout, out: &mut [Hit]) -> usize {
    let want = n.min(out.len()).min(MAX_HITS);
    let mut rng = rng(seed);
    let mut got = 0usize;
    // Each try has a fair chance of a new byte unless the layout is tiny; bounded anyway.
    let mut tries = want.saturating_mul(64);
    while got < want && tries > 0 {
        tries -= 1;
        let Some(h) = pick(&mut rng, layout) else {
            break;
        };
        let dup = out
            .iter()
            .take(got)
            .any(|o| o.structure == h.structure && o.page == h.page && o.offset == h.offset);
        if dup {
            continue;
        }
        if let Some(slot) = out.get_mut(got) {
            *slot = h;
            got += 1;
        }
    }
    got
}
