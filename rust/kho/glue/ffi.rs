// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shim (`rust/kho/glue/shim.c`, prototypes in `rust/kho/glue/shim.h`).
//!
//! The kernel crate has no bindings for KHO (`linux/kexec_handover.h` is not part of
//! `rust/bindings/bindings_helper.h`) nor for the inline helpers `page_to_phys`,
//! `phys_to_virt`, `PAGE_KERNEL`, so the module carries a small C shim and this is the only
//! place that declares C functions. Every declaration must match `shim.h` exactly; the shim
//! itself is compiled against the real kernel headers, so the C compiler checks the other
//! half of each call.

use core::marker::{PhantomData, PhantomPinned};

use kernel::ffi::{
    c_char,
    c_int,
    c_uint,
    c_ulong,
    c_void, //
};

/// `struct page`, only ever handled by pointer (an opaque type: `bindings::page` has a
/// zero-sized member that makes it FFI-unsafe as a pointee).
#[repr(C)]
pub(crate) struct Page {
    _opaque: [u8; 0],
    _not_send_sync_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

extern "C" {
    pub(crate) fn kho_rs_kho_is_enabled() -> bool;
    pub(crate) fn kho_rs_is_kho_boot() -> bool;

    pub(crate) fn kho_rs_alloc_zeroed_page() -> u64;
    pub(crate) fn kho_rs_free_page(phys: u64);
    pub(crate) fn kho_rs_alloc_pages(order: c_uint) -> u64;
    pub(crate) fn kho_rs_free_pages(phys: u64, order: c_uint);
    pub(crate) fn kho_rs_phys_to_virt(phys: u64) -> *mut c_void;
    pub(crate) fn kho_rs_direct_map_offset() -> c_ulong;

    pub(crate) fn kho_rs_preserve_pages(phys: u64, nr_pages: c_ulong) -> c_int;
    pub(crate) fn kho_rs_unpreserve_pages(phys: u64, nr_pages: c_ulong);
    pub(crate) fn kho_rs_preserve_blocks(
        phys: *const u64,
        n: c_ulong,
        nr_pages: c_ulong,
        done: *mut c_ulong,
    ) -> c_int;
    pub(crate) fn kho_rs_unpreserve_blocks(phys: *const u64, n: c_ulong, nr_pages: c_ulong);
    pub(crate) fn kho_rs_claim_pages(phys: u64, nr_pages: c_ulong) -> c_int;
    pub(crate) fn kho_rs_claim_blocks_pages(
        phys: *const u64,
        n: c_ulong,
        order: c_uint,
        pages: *mut *mut Page,
        claimed: *mut c_ulong,
    ) -> c_int;
    pub(crate) fn kho_rs_page_private(phys: u64) -> u64;
    pub(crate) fn kho_rs_peek_page(phys: u64, buf: *mut c_void) -> c_int;
    pub(crate) fn kho_rs_crc32c(crc: u32, p: *const c_void, len: usize) -> u32;

    pub(crate) fn kho_rs_add_subtree(name: *const c_char, blob: *mut c_void, size: usize) -> c_int;
    pub(crate) fn kho_rs_remove_subtree(blob: *mut c_void);
    pub(crate) fn kho_rs_retrieve_subtree(
        name: *const c_char,
        phys: *mut u64,
        size: *mut usize,
    ) -> c_int;

    pub(crate) fn kho_rs_vmalloc(size: c_ulong, huge: bool) -> *mut c_void;
    pub(crate) fn kho_rs_vfree(addr: *const c_void);
    pub(crate) fn kho_rs_vmalloc_to_phys(addr: *const c_void) -> u64;
    pub(crate) fn kho_rs_vmalloc_phys(
        addr: *const c_void,
        first: c_ulong,
        n: c_ulong,
        out: *mut u64,
    ) -> c_ulong;
    pub(crate) fn kho_rs_vmap_put_pages(pages: *mut *mut Page, nr_pages: c_uint) -> *mut c_void;
    pub(crate) fn kho_rs_free_page_array(pages: *const *mut Page, n: c_ulong);
    pub(crate) fn kho_rs_vm_unmap_aliases();
    pub(crate) fn kho_rs_c_preserve_vmalloc(ptr: *mut c_void, desc: *mut c_void) -> c_int;
    pub(crate) fn kho_rs_c_unpreserve_vmalloc(desc: *mut c_void);
    pub(crate) fn kho_rs_c_restore_vmalloc(desc: *const c_void) -> *mut c_void;

    pub(crate) fn kho_rs_c_abi_const(which: c_uint) -> u64;
    pub(crate) fn kho_rs_kho_out_fdt_phys() -> u64;
    pub(crate) fn kho_rs_subtree_registered(name: *const kernel::ffi::c_char) -> bool;
    pub(crate) fn kho_rs_fail_nth_set(n: c_uint) -> c_int;
    pub(crate) fn kho_rs_fail_nth_get() -> c_uint;

    pub(crate) fn kho_rs_c_radix_new(root_phys: u64) -> *mut c_void;
    pub(crate) fn kho_rs_c_radix_free(tree: *mut c_void, destroy: bool);
    pub(crate) fn kho_rs_c_radix_root(tree: *mut c_void) -> u64;
}

// The C radix tree API differs between the supported kernels; Kbuild sets
// `kho_rs_radix_key_api` (and `KHO_RS_RADIX_KEY_API` for shim.h) for Linux 7.3.

// Linux 7.3: `kho_radix_add_key()`, `kho_radix_del_key()`, walk with leaf and node callbacks.
#[cfg(kho_rs_radix_key_api)]
extern "C" {
    pub(crate) fn kho_rs_c_radix_add_key(tree: *mut c_void, key: c_ulong) -> c_int;
    pub(crate) fn kho_rs_c_radix_del_key(tree: *mut c_void, key: c_ulong);
    pub(crate) fn kho_rs_c_radix_walk(
        tree: *mut c_void,
        leaf: Option<unsafe extern "C" fn(key: c_ulong, data: *mut c_void) -> c_int>,
        node: Option<unsafe extern "C" fn(phys: u64, data: *mut c_void) -> c_int>,
        data: *mut c_void,
    ) -> c_int;
}

// Linux 7.2: `kho_radix_add_page()`, `kho_radix_del_page()`, walk with a `(phys, order)`
// callback per key and no node callback.
#[cfg(not(kho_rs_radix_key_api))]
extern "C" {
    pub(crate) fn kho_rs_c_radix_add_page(tree: *mut c_void, pfn: c_ulong, order: c_uint) -> c_int;
    pub(crate) fn kho_rs_c_radix_del_page(tree: *mut c_void, pfn: c_ulong, order: c_uint);
    pub(crate) fn kho_rs_c_radix_walk_pages(
        tree: *mut c_void,
        f: Option<unsafe extern "C" fn(phys: u64, order: c_uint, data: *mut c_void) -> c_int>,
        data: *mut c_void,
    ) -> c_int;
}

// The block-v1 oracle (`rust/kho/glue/block_oracle.c`, prototypes in `block_oracle.h`):
// upstream's `kho_block.c` compiled into the module.
extern "C" {
    pub(crate) fn kho_rs_oracle_available() -> bool;
    pub(crate) fn kho_rs_oracle_source() -> *const c_char;

    pub(crate) fn kho_rs_oracle_new(entry_size: usize) -> *mut c_void;
    pub(crate) fn kho_rs_oracle_free(set: *mut c_void);

    pub(crate) fn kho_rs_oracle_grow(set: *mut c_void, count: u64) -> c_int;
    pub(crate) fn kho_rs_oracle_shrink(set: *mut c_void, count: u64);
    pub(crate) fn kho_rs_oracle_destroy(set: *mut c_void);
    pub(crate) fn kho_rs_oracle_clear(set: *mut c_void);
    pub(crate) fn kho_rs_oracle_restore(set: *mut c_void, head_pa: u64) -> c_int;

    pub(crate) fn kho_rs_oracle_head_pa(set: *mut c_void) -> u64;
    pub(crate) fn kho_rs_oracle_nblocks(set: *mut c_void) -> kernel::ffi::c_long;
    pub(crate) fn kho_rs_oracle_count_per_block(set: *mut c_void) -> u64;
    pub(crate) fn kho_rs_oracle_incoming(set: *mut c_void) -> bool;

    pub(crate) fn kho_rs_oracle_it_init(set: *mut c_void);
    pub(crate) fn kho_rs_oracle_it_reserve_entry(
        set: *mut c_void,
        src: *const c_void,
        len: usize,
    ) -> u64;
    pub(crate) fn kho_rs_oracle_it_read_entry(
        set: *mut c_void,
        dst: *mut c_void,
        len: usize,
    ) -> u64;
    pub(crate) fn kho_rs_oracle_bench_write(
        set: *mut c_void,
        src: *const c_void,
        n: usize,
    ) -> usize;
    pub(crate) fn kho_rs_oracle_bench_read(set: *mut c_void, dst: *mut c_void, n: usize) -> usize;
    pub(crate) fn kho_rs_oracle_it_prev(set: *mut c_void, dst: *mut c_void, len: usize) -> u64;

    pub(crate) fn kho_rs_oracle_ledger_open(buf: *mut u64, cap: usize);
    pub(crate) fn kho_rs_oracle_ledger_close() -> usize;

    pub(crate) fn kho_rs_oracle_live_sets() -> kernel::ffi::c_long;
    pub(crate) fn kho_rs_oracle_live_pages() -> kernel::ffi::c_long;
    pub(crate) fn kho_rs_oracle_restored_freed() -> kernel::ffi::c_long;
}
