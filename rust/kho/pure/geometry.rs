// SPDX-License-Identifier: GPL-2.0

//! Page geometry of the KHO data structures for 4K, 16K and 64K pages.
//!
//! Mirrors `enum kho_radix_consts` of `include/linux/kho/abi/kexec_handover.h` (Linux 7.3)
//! and the per-page-size constants of the vmalloc chunk and serialization block layouts.
//! All values are computed by `const fn` from the page shift and checked at compile time
//! against the numbers of the C headers (see the `const` assertions at the bottom).

/// Everything page-size dependent, derived from `PAGE_SHIFT`.
///
/// # Invariants
///
/// `page_shift` is 12, 14 or 16 (the page sizes KHO supports on 64-bit kernels); every other
/// field is derived from it by [`Geometry::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// `PAGE_SHIFT`.
    pub(crate) page_shift: u32,
    /// `PAGE_SIZE` in bytes.
    pub(crate) page_size: usize,
    /// Number of `u64` words in a page.
    pub(crate) page_words: usize,
    /// `KHO_RADIX_KEY_WIDTH = 64 - PAGE_SHIFT + 1`: PFN bits plus the order bit.
    pub(crate) key_width: u32,
    /// `KHO_TABLE_SIZE_LOG2 = log2(PAGE_SIZE / 8)`: index bits per intermediate level.
    pub(crate) table_log2: u32,
    /// `KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3`: index bits of a leaf bitmap.
    pub(crate) bitmap_log2: u32,
    /// `KHO_TREE_MAX_DEPTH = ceil((key_width - bitmap_log2) / table_log2) + 1`.
    pub(crate) depth: u32,
    /// Largest order a key can encode (the order bit must stay at or above bit 0).
    pub(crate) max_order: u32,
    /// `KHO_VMALLOC_SIZE = (PAGE_SIZE - 8) / 8`: physical addresses per vmalloc chunk.
    pub(crate) vmalloc_chunk_entries: usize,
    /// `MAX_PAGE_ORDER`: the largest order of a page allocation, hence of a preserved
    /// vmalloc block. [`Geometry::new`] uses the arm64/x86 defaults for the page size; the
    /// kernel glue overrides it with the kernel's own value
    /// ([`Geometry::with_max_page_order`]).
    pub(crate) max_page_order: u16,
}

/// Integer ceiling division for `const` contexts.
const fn div_round_up(n: u32, d: u32) -> u32 {
    n.div_ceil(d)
}

impl Geometry {
    /// Computes the geometry for `page_shift`.
    ///
    /// Only 12, 14 and 16 are valid; in a `const` context any other value fails the build,
    /// at run time use [`Geometry::for_shift`].
    pub(crate) const fn new(page_shift: u32) -> Self {
        assert!(page_shift == 12 || page_shift == 14 || page_shift == 16);
        let page_size = 1usize << page_shift;
        let key_width = 64 - page_shift + 1;
        let table_log2 = page_shift - 3;
        let bitmap_log2 = page_shift + 3;
        Self {
            page_shift,
            page_size,
            page_words: page_size / 8,
            key_width,
            table_log2,
            bitmap_log2,
            depth: div_round_up(key_width - bitmap_log2, table_log2) + 1,
            // The order bit of order `o` is bit `64 - page_shift - o`; it must be >= 0.
            max_order: 64 - page_shift,
            vmalloc_chunk_entries: (page_size - 8) / 8,
            max_page_order: match page_shift {
                12 => 10,
                14 => 11,
                _ => 13,
            },
        }
    }

    /// The same geometry with `MAX_PAGE_ORDER` set to `order` (the kernel's value).
    pub(crate) const fn with_max_page_order(self, order: u16) -> Self {
        Self {
            max_page_order: order,
            ..self
        }
    }

    /// Returns the geometry for a supported page shift, or `None`.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) const fn for_shift(page_shift: u32) -> Option<Self> {
        match page_shift {
            12 | 14 | 16 => Some(Self::new(page_shift)),
            _ => None,
        }
    }

    /// Level of the root table (`depth - 1`); level 0 is the leaf bitmap.
    pub(crate) const fn root_level(&self) -> u32 {
        self.depth - 1
    }

    /// Lowest key bit consumed by intermediate `level` (>= 1).
    pub(crate) const fn level_shift(&self, level: u32) -> u32 {
        (level - 1) * self.table_log2 + self.bitmap_log2
    }

    /// Table index of `key` at intermediate `level` (>= 1).
    pub(crate) const fn table_index(&self, key: u64, level: u32) -> usize {
        let shift = self.level_shift(level);
        if shift >= 64 {
            return 0;
        }
        ((key >> shift) & ((1u64 << self.table_log2) - 1)) as usize
    }

    /// Bit index of `key` inside its leaf bitmap.
    pub(crate) const fn leaf_bit(&self, key: u64) -> usize {
        (key & ((1u64 << self.bitmap_log2) - 1)) as usize
    }

    /// Number of entries in an intermediate table (`PAGE_SIZE / 8`).
    pub(crate) const fn table_entries(&self) -> usize {
        1usize << self.table_log2
    }

    /// Number of bits in a leaf bitmap (`PAGE_SIZE * 8`).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) const fn leaf_bits(&self) -> usize {
        1usize << self.bitmap_log2
    }

    /// `PAGE_MASK`-style check that `pa` is page aligned.
    pub(crate) const fn is_page_aligned(&self, pa: u64) -> bool {
        pa & (self.page_size as u64 - 1) == 0
    }
}

/// Geometry of 4 KiB pages.
pub(crate) const G4K: Geometry = Geometry::new(12);
/// Geometry of 16 KiB pages.
pub(crate) const G16K: Geometry = Geometry::new(14);
/// Geometry of 64 KiB pages.
pub(crate) const G64K: Geometry = Geometry::new(16);

// The numbers of `enum kho_radix_consts` in `include/linux/kho/abi/kexec_handover.h`
// for each page size, worked out by hand. A formula that forgets the order bit gives
// depth 4 for 16K pages and fails here.
const _: () = {
    assert!(G4K.key_width == 53 && G16K.key_width == 51 && G64K.key_width == 49);
    assert!(G4K.table_log2 == 9 && G16K.table_log2 == 11 && G64K.table_log2 == 13);
    assert!(G4K.bitmap_log2 == 15 && G16K.bitmap_log2 == 17 && G64K.bitmap_log2 == 19);
    assert!(G4K.depth == 6 && G16K.depth == 5 && G64K.depth == 4);
    assert!(G4K.vmalloc_chunk_entries == 511);
    assert!(G16K.vmalloc_chunk_entries == 2047);
    assert!(G64K.vmalloc_chunk_entries == 8191);
    // The root level's shift must cover the whole key.
    assert!(G4K.level_shift(G4K.root_level()) + G4K.table_log2 >= G4K.key_width);
    assert!(G16K.level_shift(G16K.root_level()) + G16K.table_log2 >= G16K.key_width);
    assert!(G64K.level_shift(G64K.root_level()) + G64K.table_log2 >= G64K.key_width);
};
