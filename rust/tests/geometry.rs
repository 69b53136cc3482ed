// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_geometry`: the page geometry the module computes (`GEOMETRY`, from
//! `PAGE_SHIFT` and `MAX_PAGE_ORDER`) against the constants of this kernel's KHO headers,
//! as the C compiler evaluates them (`enum kho_radix_consts` and `KHO_VMALLOC_SIZE` in
//! `include/linux/kho/abi/kexec_handover.h`).

use kernel::prelude::*;

#[kunit_tests(kho_rs_geometry)]
mod tests {
    use crate::glue::ffi;
    use crate::glue::mem::GEOMETRY;

    /// The value C has for `which` (`enum kho_rs_abi_const` of `rust/kho/glue/shim.h`).
    fn c(which: u32) -> u64 {
        // SAFETY: `kho_rs_c_abi_const()` only returns a constant.
        unsafe { ffi::kho_rs_c_abi_const(which) }
    }

    #[test]
    fn geometry_matches_c_headers() {
        // In the order of `enum kho_rs_abi_const`.
        let rust = [
            u64::from(GEOMETRY.page_shift),
            u64::from(GEOMETRY.key_width),
            u64::from(GEOMETRY.table_log2),
            u64::from(GEOMETRY.bitmap_log2),
            u64::from(GEOMETRY.depth),
            GEOMETRY.vmalloc_chunk_entries as u64,
            u64::from(GEOMETRY.max_page_order),
        ];
        for (which, want) in (0u32..).zip(rust) {
            assert_eq!(c(which), want);
        }
        // Past the last constant, C says it has none.
        assert_eq!(c(rust.len() as u32), u64::MAX);
    }
}
