// SPDX-License-Identifier: GPL-2.0

//! vmalloc areas owned by the module, their preservation ("vmalloc-v1") and restore.
//!
//! C header: [`include/linux/vmalloc.h`](srctree/include/linux/vmalloc.h)
//!
//! `find_vm_area()` and the vmalloc internals are not exported (`mm/vmalloc.c`), so
//! the module preserves only areas it allocated itself ([`VmallocArea`]: `vmalloc()`,
//! preserved in order 0, or `vmalloc_huge()`, preserved in 2 MiB blocks where it has them).
//! An area records its page list once at allocation (with `vmalloc_to_page()`), as
//! `vmalloc()` fills `vm->pages[]`, and the pure core ([`crate::pure::vmalloc`]) writes the
//! descriptor from it. In the next kernel [`restore`] claims each chunk's blocks with one
//! C call (the mark check, then `kho_restore_pages()`) that fills the page array which
//! `vmap(VM_MAP | VM_MAP_PUT_PAGES)` takes over.
//!
//! The `c_*` items wrap the exported C implementation (`kho_preserve_vmalloc()` and
//! friends) for the interoperability tests and benchmarks.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::ffi::{c_ulong, c_void};
use kernel::prelude::*;

use super::ffi;
use super::kho::core_err;
use super::mem::{KernelMem, VmapPages, GEOMETRY};

use crate::pure::vmalloc::{
    self as core_vm, KhoVmalloc, VmallocStats, KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP,
};

/// Size of a page in bytes.
const PAGE_SIZE: usize = GEOMETRY.page_size;

/// Page order of the blocks of a huge area (`PMD_SIZE`: 2 MiB with 4 KiB pages).
pub(crate) const HUGE_ORDER: u16 = {
    let order = bindings::PMD_SHIFT - bindings::PAGE_SHIFT;
    assert!(order <= bindings::MAX_PAGE_ORDER);
    order as u16
};

/// A vmalloc area owned by the module, zero-filled at allocation, `vfree()`d on drop.
///
/// # Invariants
///
/// `ptr` is the start of a live `vmalloc()` (or, if `huge`, `vmalloc_huge()`) area of
/// `pages.len() * PAGE_SIZE` bytes (at least one page) owned by this value; every page is
/// mapped and initialized, and `pages[i]` is the physical address of page `i` (vmalloc
/// pages do not move). A huge area's size is a multiple of `PAGE_SIZE << HUGE_ORDER`.
pub struct VmallocArea {
    ptr: NonNull<u8>,
    /// The area's own page list, looked up once at allocation, as `vm->pages[]` is
    /// filled by `vmalloc()`: preserving reads it instead of walking the page tables.
    pages: KVVec<u64>,
    huge: bool,
}

// SAFETY: a `VmallocArea` owns its area exclusively (type invariant), and `vfree()` may be
// called from any task in process context, so the area may be dropped on another thread.
unsafe impl Send for VmallocArea {}
// SAFETY: the methods taking `&self` only read the area (`as_slice`) or look up its pages'
// physical addresses; every write needs `&mut self` (`as_mut_slice`) or an `unsafe` use of
// `as_ptr`, so shared references on several threads only read.
unsafe impl Sync for VmallocArea {}

impl VmallocArea {
    /// Allocates an area of at least `size` bytes (rounded up to whole pages), zeroed.
    pub(crate) fn new(size: usize) -> Result<Self> {
        Self::alloc(size, false)
    }

    /// Allocates a zeroed area of `size` bytes with `vmalloc_huge()`: made of blocks of
    /// `2^HUGE_ORDER` pages mapped with PMDs where the page allocator has them, else of
    /// order-0 pages. `size` must be a non-zero multiple of `PAGE_SIZE << HUGE_ORDER`.
    pub(crate) fn new_huge(size: usize) -> Result<Self> {
        if size % (PAGE_SIZE << HUGE_ORDER) != 0 {
            pr_err!(
                "vmalloc: a huge area is whole {} KiB blocks, not {} bytes\n",
                (PAGE_SIZE << HUGE_ORDER) >> 10,
                size
            );
            return Err(EINVAL);
        }
        Self::alloc(size, true)
    }

    fn alloc(size: usize, huge: bool) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        let nr_pages = size.div_ceil(PAGE_SIZE);
        // The descriptor counts pages in a u32.
        if u32::try_from(nr_pages).is_err() {
            return Err(E2BIG);
        }
        let bytes = nr_pages * PAGE_SIZE;
        let mut pages = KVVec::<u64>::with_capacity(nr_pages, GFP_KERNEL)?;
        // SAFETY: `vmalloc()` and `vmalloc_huge()` have no preconditions; `bytes` fits in
        // `unsigned long`.
        let raw = unsafe { ffi::kho_rs_vmalloc(bytes as c_ulong, huge) };
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or(ENOMEM)?;
        // SAFETY: `ptr` is a fresh, writable mapping of `bytes` bytes owned by us.
        unsafe { core::ptr::write_bytes(ptr.as_ptr(), 0, bytes) };
        // SAFETY: `pages` has room for `nr_pages` u64 values; the area at `ptr` is live and
        // has `nr_pages` pages, each looked up with `vmalloc_to_page()` in one C call.
        let filled = unsafe {
            ffi::kho_rs_vmalloc_phys(
                ptr.as_ptr().cast(),
                0,
                nr_pages as c_ulong,
                pages.as_mut_ptr(),
            )
        } as usize;
        if filled != nr_pages {
            pr_err!("vmalloc: page {} of a new area is not mapped\n", filled);
            // SAFETY: the area is ours and not used afterwards.
            unsafe { ffi::kho_rs_vfree(ptr.as_ptr().cast()) };
            return Err(EFAULT);
        }
        // SAFETY: C initialized the first `filled == nr_pages <= capacity` elements.
        unsafe { pages.inc_len(filled) };
        // INVARIANT: a live area of `nr_pages` pages, all initialized above, with their
        // physical addresses in `pages`; a huge one is whole blocks (checked by `new_huge`).
        Ok(Self { ptr, pages, huge })
    }

    /// Whether the area was allocated with `vmalloc_huge()`.
    pub(crate) fn is_huge(&self) -> bool {
        self.huge
    }

    /// Number of order-0 pages of the area.
    pub(crate) fn nr_pages(&self) -> usize {
        self.pages.len()
    }

    /// Size of the area in bytes (`nr_pages * PAGE_SIZE`).
    pub(crate) fn len(&self) -> usize {
        self.nr_pages() * PAGE_SIZE
    }

    /// Physical address of every page of the area, in order (recorded at allocation).
    pub(crate) fn pages(&self) -> &[u64] {
        &self.pages
    }

    /// Start address of the area (for the C functions taking a vmalloc pointer).
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// The bytes of the area.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: by the type invariant, `len()` initialized bytes are mapped at `ptr` and
        // owned by `self`; the shared borrow of `self` excludes writers.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len()) }
    }

    /// The bytes of the area, writable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; the unique borrow of `self` excludes any other access.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len()) }
    }

    /// Physical address of page `i` looked up now in the page tables (`vmalloc_to_page()`),
    /// `None` if `i` is out of range: for tests, independently of [`VmallocArea::pages`].
    pub(crate) fn page_phys(&self, i: usize) -> Option<u64> {
        if i >= self.nr_pages() {
            return None;
        }
        // SAFETY: `i < nr_pages`, so the address is inside the live area (type invariant);
        // `vmalloc_to_page()` only walks the kernel page tables.
        let pa =
            unsafe { ffi::kho_rs_vmalloc_to_phys(self.ptr.as_ptr().add(i * PAGE_SIZE).cast()) };
        (pa != 0).then_some(pa)
    }
}

impl Drop for VmallocArea {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the area is live and ours; it is not used afterwards.
        unsafe { ffi::kho_rs_vfree(self.ptr.as_ptr().cast()) }
    }
}

/// Creates the page accessor used for descriptors and chunks.
fn kernel_mem() -> KernelMem {
    KernelMem::new()
}

/// A vmalloc area preserved for the next kernel by the Rust implementation.
///
/// Dropping it without [`PreservedVmalloc::publish`] unpreserves everything (data pages
/// and chunks) and frees the chunks, so an error path never leaves anything preserved.
///
/// # Invariants
///
/// `desc` was returned by [`core_vm::preserve`] for the pages of `area` and has not been
/// unpreserved; its chunk pages are owned by this value.
pub(crate) struct PreservedVmalloc<'a> {
    /// Ties the preservation to the area: the area cannot be freed while preserved.
    _area: PhantomData<&'a VmallocArea>,
    desc: KhoVmalloc,
}

/// Preserves `area` with the Rust implementation (`kho_preserve_vmalloc()` semantics).
///
/// `total_pages = area.nr_pages()`. A plain area is flags `KHO_VMALLOC_ALLOC`, order 0. A
/// huge area adds `KHO_VMALLOC_HUGE_VMAP` (its `VM_ALLOW_HUGE_VMAP`) and is preserved in
/// blocks of [`HUGE_ORDER`] if its pages are such blocks (physically contiguous and
/// aligned, [`core_vm::made_of_blocks`]), as C preserves it with the order `vmalloc_huge()`
/// mapped it with; else with order 0. On error nothing stays preserved and the cause is
/// printed.
pub(crate) fn preserve(area: &VmallocArea) -> Result<PreservedVmalloc<'_>> {
    let total = u32::try_from(area.nr_pages()).map_err(|_| E2BIG)?;
    let mut mem = kernel_mem();
    let list = area.pages();
    let (order, flags) = match area.is_huge() {
        false => (0, KHO_VMALLOC_ALLOC),
        true if core_vm::made_of_blocks(&GEOMETRY, list, HUGE_ORDER) => {
            (HUGE_ORDER, KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP)
        }
        true => (0, KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP),
    };
    let heads = list.iter().step_by(1 << order).copied();
    // SAFETY: `heads` are the blocks of `area`, which the returned value borrows: the area stays allocated while it is preserved, and `publish` hands that duty to the caller.
    let desc = unsafe { core_vm::preserve(&mut mem, heads, total, order, flags) }
        .map_err(|e| core_err("vmalloc preserve", e))?;
    // INVARIANT: `desc` was just produced for `area` by the core.
    Ok(PreservedVmalloc {
        _area: PhantomData,
        desc,
    })
}

impl<'a> PreservedVmalloc<'a> {
    /// The descriptor (`struct kho_vmalloc`) to store in the module's KHO data.
    pub(crate) fn desc(&self) -> &KhoVmalloc {
        &self.desc
    }

    /// Unpreserves now (same as dropping).
    pub(crate) fn unpreserve(self) {
        drop(self)
    }

    /// Keeps everything preserved for the next kernel and returns the descriptor.
    ///
    /// The area must then stay allocated until kexec (e.g. keep the [`VmallocArea`] in the
    /// module state); to cancel, call [`unpreserve_published`] with the descriptor.
    pub(crate) fn publish(self) -> KhoVmalloc {
        let desc = self.desc;
        core::mem::forget(self);
        desc
    }
}

impl Drop for PreservedVmalloc<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the descriptor came from `core_vm::preserve` and is
        // still preserved; its chunks are owned by `self`.
        unsafe { core_vm::unpreserve(&mut kernel_mem(), &self.desc) };
    }
}

/// Unpreserves a descriptor returned by [`PreservedVmalloc::publish`] and frees its chunks.
///
/// # Safety
///
/// `desc` must come from [`PreservedVmalloc::publish`] in this kernel and must not have been
/// unpreserved yet: its chunk pages are freed.
pub(crate) unsafe fn unpreserve_published(desc: &KhoVmalloc) {
    // SAFETY: a published, not yet unpreserved descriptor of this kernel (requirement).
    unsafe { core_vm::unpreserve(&mut kernel_mem(), desc) };
}

/// An area restored from the previous kernel, mapped with `vmap()`; `vfree()`d on drop.
///
/// # Invariants
///
/// `ptr` is the start of a live `vmap(VM_MAP | VM_MAP_PUT_PAGES)` area of `nr_pages` pages
/// that owns its pages and page array; nothing else maps or frees it.
pub(crate) struct RestoredVmalloc {
    ptr: NonNull<u8>,
    nr_pages: usize,
}

impl RestoredVmalloc {
    /// The restored bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: by the type invariant `nr_pages` pages are mapped at `ptr`; they hold the
        // previous kernel's data (initialized memory) and are owned by `self`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.nr_pages * PAGE_SIZE) }
    }
}

impl Drop for RestoredVmalloc {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the area is live and ours; `vfree()` also drops the
        // page references and the page array (`VM_MAP_PUT_PAGES`).
        unsafe { ffi::kho_rs_vfree(self.ptr.as_ptr().cast()) }
    }
}

/// Most entries [`restore`] allocates for its page list before the chain is read: the
/// pages of a 1 GiB area (2 MiB of list).
const RESTORE_PREALLOC_PAGES: usize = (1 << 30) / PAGE_SIZE;

/// New kernel: validates an incoming descriptor, claims its pages and maps them.
///
/// Validation and restore are done by the pure core, chunk by chunk: check, claim, then
/// read (every chunk and block must have been preserved by the previous kernel and is
/// claimed once). Each chunk's blocks are claimed with one C call, which writes their
/// `struct page` pointers straight into the page array that `vmap(VM_MAP |
/// VM_MAP_PUT_PAGES)` then takes over, as `kho_restore_vmalloc()` fills its array. On any
/// failure nothing is leaked: the core frees what it restored, and if the mapping fails
/// every restored page is freed here. Unlike `kho_restore_vmalloc()` the area is `VM_MAP`
/// with 4K mappings (`kho_restore_vmalloc()` in `kernel/liveupdate/kexec_handover.c` maps
/// with the preserved order).
///
/// # Safety
///
/// `desc` must come from the caller's own state of the previous kernel, as for
/// [`core_vm::restore`].
pub(crate) unsafe fn restore(desc: &KhoVmalloc) -> Result<RestoredVmalloc> {
    let mut mem = kernel_mem();
    let total = desc.total_pages as usize;
    // `total_pages` comes from the previous kernel: it may size the page list only up to a
    // bound (a damaged value asked `kvmalloc()` for up to 32 GiB, and a size above INT_MAX
    // WARNs). Past the bound the list grows with the pages the chain really lists, each
    // claimed before it is added, so it never outgrows what the previous kernel preserved.
    let mut pages = VmapPages::with_capacity(total.min(RESTORE_PREALLOC_PAGES))?;
    // On failure the core has freed every page it put in `pages`; `pages` is only a list.
    // SAFETY: `desc` comes from the caller's own state (this function's contract).
    let stats = unsafe { core_vm::restore(&mut mem, desc, &mut pages) }
        .map_err(|e| core_err("vmalloc restore", e))?;
    if pages.len() != total {
        // Cannot happen after validation (entries * 2^order == total_pages); stay safe.
        let n = pages.len();
        // SAFETY: every page in `pages` was claimed by `core_vm::restore` for us.
        unsafe { pages.free_pages() };
        pr_err!("vmalloc restore: {} pages for total {}\n", n, total);
        return Err(EINVAL);
    }
    // SAFETY: as above; the list is not used otherwise.
    let ptr = unsafe { pages.vmap() }.map_err(|pages| {
        // SAFETY: as above; `vmap` failed, so the pages are still ours.
        unsafe { pages.free_pages() };
        pr_err!(
            "vmalloc restore: vmap of {} pages failed ({} chunks)\n",
            total,
            stats.chunks
        );
        ENOMEM
    })?;
    // INVARIANT: a fresh VM_MAP_PUT_PAGES area of `total` pages that owns them.
    Ok(RestoredVmalloc {
        ptr,
        nr_pages: total,
    })
}

/// Purges the vmalloc areas freed lazily so far (`vm_unmap_aliases()`): their address
/// ranges are unmapped and free again, and no deferred purge is left to run later (for
/// benchmarks, so that a timed restore does not pay for an earlier area's teardown).
pub(crate) fn purge_lazy_areas() {
    // SAFETY: `vm_unmap_aliases()` has no preconditions; it may sleep, as callers can.
    unsafe { ffi::kho_rs_vm_unmap_aliases() }
}

/// Reads an outgoing descriptor of this kernel without restoring: validates it and calls
/// `f` with every listed block address, in order (`validate` + `for_each_entry` of the core).
///
/// # Safety
///
/// `desc` must be an outgoing descriptor of this kernel (Rust- or C-written) that is not
/// unpreserved while this runs, so that its chunk pages stay allocated and unmodified.
pub(crate) unsafe fn read_entries(desc: &KhoVmalloc, f: impl FnMut(u64)) -> Result<VmallocStats> {
    // SAFETY: this function's own requirement.
    unsafe { core_vm::for_each_entry(&kernel_mem(), desc, f) }
        .map_err(|e| core_err("vmalloc read", e))
}

/// Validates an outgoing descriptor of this kernel without restoring anything.
///
/// # Safety
///
/// As for [`read_entries`].
pub(crate) unsafe fn validate(desc: &KhoVmalloc) -> Result<VmallocStats> {
    // SAFETY: this function's own requirement.
    unsafe { core_vm::validate(&kernel_mem(), desc) }.map_err(|e| core_err("vmalloc validate", e))
}
