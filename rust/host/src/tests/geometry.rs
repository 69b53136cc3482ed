// SPDX-License-Identifier: GPL-2.0

//! Geometry tests: the values of the C headers for all three page sizes.

use crate::pure::geometry::{Geometry, G16K, G4K, G64K};

#[test]
fn depth_counts_the_order_bit() {
    for (g, depth) in [(G4K, 6), (G16K, 5), (G64K, 4)] {
        assert_eq!(g.depth, depth);
        // The formula without the order bit ("+1" missing) must differ for 16K pages.
        let broken = (64 - g.page_shift - g.bitmap_log2).div_ceil(g.table_log2) + 1;
        if g.page_shift == 14 {
            assert_ne!(broken, g.depth);
        }
        // The root level covers the highest key bit, the level below does not.
        let top = g.key_width - 1;
        assert!(g.level_shift(g.root_level()) <= top);
        assert!(g.level_shift(g.root_level()) + g.table_log2 > top);
    }
}

#[test]
fn per_level_index_extraction() {
    let g = G4K;
    // L1 uses bits 15..23, L5 bits 51..59 (`kho_radix_get_table_index()`, kernel/liveupdate/kexec_handover.c).
    assert_eq!(g.level_shift(1), 15);
    assert_eq!(g.level_shift(5), 51);
    let key = (0x1abu64 << 15) | (0x3 << 51) | 0x7fff;
    assert_eq!(g.table_index(key, 1), 0x1ab);
    assert_eq!(g.table_index(key, 5), 0x3);
    assert_eq!(g.leaf_bit(key), 0x7fff);
}

#[test]
fn only_supported_shifts() {
    assert!(Geometry::for_shift(13).is_none());
    assert_eq!(Geometry::for_shift(16), Some(G64K));
    assert_eq!(G64K.table_entries(), 8192);
    assert_eq!(G16K.leaf_bits(), 131072);
}
