// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_geometry`: this kernel's page geometry matches the C headers.

use kernel::prelude::*;

#[kunit_tests(kho_rs_geometry)]
mod tests {
    use crate::glue::mem::GEOMETRY;
    use crate::pure::geometry::{G16K, G4K, G64K};

    #[test]
    fn this_kernel_geometry() {
        assert_eq!(GEOMETRY.page_size, kernel::page::PAGE_SIZE);
        let expected = match kernel::page::PAGE_SHIFT {
            12 => G4K,
            14 => G16K,
            _ => G64K,
        };
        assert_eq!(GEOMETRY, expected);
    }

    #[test]
    fn depth_per_page_size() {
        assert_eq!(G4K.depth, 6);
        assert_eq!(G16K.depth, 5);
        assert_eq!(G64K.depth, 4);
    }
}
