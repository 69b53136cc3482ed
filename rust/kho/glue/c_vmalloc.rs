// SPDX-License-Identifier: GPL-2.0

//! The exported C vmalloc preservation (`kho_preserve_vmalloc()`,
//! `kho_restore_vmalloc()`), as the reference of the interoperability tests and the
//! benchmarks. Test module only.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::to_result;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

use super::ffi;
use super::vmalloc::VmallocArea;
use crate::pure::vmalloc::KhoVmalloc;

/// A vmalloc area preserved by the exported C implementation (`kho_preserve_vmalloc()`),
/// for interoperability tests and benchmarks; `kho_unpreserve_vmalloc()` on drop.
///
/// # Invariants
///
/// `desc` was filled by a successful `kho_preserve_vmalloc()` of `area` and has not been
/// unpreserved.
pub(crate) struct CPreservedVmalloc<'a> {
    /// Ties the preservation to the area: the area cannot be freed while preserved.
    _area: PhantomData<&'a VmallocArea>,
    desc: KhoVmalloc,
}

/// Preserves `area` with the C implementation.
pub(crate) fn c_preserve(area: &VmallocArea) -> Result<CPreservedVmalloc<'_>> {
    let mut desc = KhoVmalloc::default();
    // SAFETY: `area` is a live vmalloc area; `desc` is a `struct kho_vmalloc` (same layout,
    // asserted in the core and in shim.c) that C fills.
    let ret =
        unsafe { ffi::kho_rs_c_preserve_vmalloc(area.as_ptr(), (&raw mut desc).cast::<c_void>()) };
    to_result(ret)?;
    // INVARIANT: C preserved `area` into `desc`.
    Ok(CPreservedVmalloc {
        _area: PhantomData,
        desc,
    })
}

impl<'a> CPreservedVmalloc<'a> {
    /// The descriptor C wrote.
    pub(crate) fn desc(&self) -> &KhoVmalloc {
        &self.desc
    }
}

impl CPreservedVmalloc<'_> {
    /// Keeps the C preservation for the next kernel and returns its descriptor.
    ///
    /// The caller must keep the area allocated until kexec, or cancel with
    /// [`c_unpreserve_published`].
    pub(crate) fn publish(self) -> KhoVmalloc {
        let desc = self.desc;
        core::mem::forget(self);
        desc
    }
}

/// Cancels a C preservation returned by [`CPreservedVmalloc::publish`].
///
/// # Safety
///
/// `desc` must come from [`CPreservedVmalloc::publish`] in this kernel and not have been
/// unpreserved yet; its area must still be allocated.
pub(crate) unsafe fn c_unpreserve_published(desc: &KhoVmalloc) {
    let mut d = *desc;
    // SAFETY: by the requirements above `d` describes a live C preservation.
    unsafe { ffi::kho_rs_c_unpreserve_vmalloc((&raw mut d).cast::<c_void>()) }
}

/// An area restored by the C implementation (`kho_restore_vmalloc()`); `vfree()`d on drop.
///
/// # Invariants
///
/// `ptr` is a live `VM_ALLOC` area of `len` bytes returned by `kho_restore_vmalloc()`.
pub(crate) struct CRestoredVmalloc {
    ptr: NonNull<u8>,
    len: usize,
}

/// Restores `desc` with the C implementation (`kho_restore_vmalloc()`).
///
/// Used to check that C accepts what Rust wrote, and to compare restore speed.
///
/// # Safety
///
/// `desc` must describe a vmalloc preservation that the previous kernel made (with C or
/// Rust) for the caller, whose chunks and pages nobody in this kernel has claimed, and
/// which has not been damaged since. C validates little: `kho_restore_vmalloc()` reads
/// `first` and every chunk page through the direct map *before* it restores (claims)
/// anything, and trusts the chunk links and counts it finds there.
pub(crate) unsafe fn c_restore(desc: &KhoVmalloc) -> Result<CRestoredVmalloc> {
    let d = *desc;
    // SAFETY: `d` is a `struct kho_vmalloc` (same layout) that names an intact preservation
    // the caller owns (this function's contract), so C reads only its own chunk pages.
    let raw = unsafe { ffi::kho_rs_c_restore_vmalloc((&raw const d).cast::<c_void>()) };
    let ptr = NonNull::new(raw.cast::<u8>()).ok_or_else(|| {
        pr_err!("vmalloc: kho_restore_vmalloc (C) rejected the descriptor\n");
        EINVAL
    })?;
    // INVARIANT: C returned a live area of `total_pages` pages.
    Ok(CRestoredVmalloc {
        ptr,
        len: d.total_pages as usize * PAGE_SIZE,
    })
}

impl CRestoredVmalloc {
    /// The restored bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: by the type invariant `len` bytes are mapped at `ptr` and owned by `self`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for CRestoredVmalloc {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the area is live and freed only here.
        unsafe { ffi::kho_rs_vfree(self.ptr.as_ptr().cast::<c_void>()) }
    }
}

impl Drop for CPreservedVmalloc<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `desc` is a live C preservation, unpreserved once.
        unsafe { ffi::kho_rs_c_unpreserve_vmalloc((&raw mut self.desc).cast::<c_void>()) }
    }
}
