// SPDX-License-Identifier: GPL-2.0

//! KHO subtrees owned by the module: a one-page blob published with `kho_add_subtree()`,
//! and the previous kernel's blob found with `kho_retrieve_subtree()`.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use kernel::prelude::*;
use kernel::str::CString;

use super::ffi;
use super::kho::{core_err, is_kho_boot};
use super::mem::{KernelMem, GEOMETRY};
use crate::pure::compat;
use crate::pure::error::{Error as CoreError, Result as CoreResult};
use crate::pure::fdt::{Fdt, Node};
use crate::pure::mem::PageMem;

/// A preserved page registered as the subtree `name`.
///
/// # Invariants
///
/// `pa` is a page allocated through `mem`, preserved, and registered with
/// `kho_add_subtree()` with `size` bytes; [`Drop`] removes the subtree, unpreserves and
/// frees the page.
pub(crate) struct OutgoingBlob {
    mem: KernelMem,
    pa: u64,
    size: usize,
}

impl OutgoingBlob {
    /// Allocates a zeroed page, lets `write` fill it, preserves it and registers it as
    /// `name`. `write` returns the size to register (normally what it wrote).
    ///
    /// On failure nothing stays allocated, preserved or registered.
    pub(crate) fn publish(
        name: &CStr,
        write: impl FnOnce(&mut [u8]) -> CoreResult<usize>,
    ) -> Result<Self> {
        let mut mem = KernelMem::new();
        let pa = mem
            .alloc_zeroed()
            .map_err(|e| core_err("subtree blob", e))?;
        // SAFETY: `pa` was just allocated by this function, nothing else uses it.
        let size = match unsafe { mem.bytes_mut(pa) }
            .ok_or(EINVAL)
            .and_then(|buf| write(buf).map_err(|e| core_err("subtree write", e)))
        {
            Ok(size) => size,
            Err(e) => {
                // SAFETY: allocated above, not preserved, not referenced.
                unsafe { mem.free(pa) };
                return Err(e);
            }
        };
        // SAFETY: allocated above; `self` keeps it until it unpreserves it.
        if let Err(e) = unsafe { mem.preserve(pa, 1) } {
            // SAFETY: allocated above, not preserved, not referenced.
            unsafe { mem.free(pa) };
            return Err(core_err("subtree blob preserve", e));
        }
        // SAFETY: `name` is NUL terminated and static; the blob is a preserved direct-map
        // page that stays allocated until `Drop` has removed the subtree.
        let ret = unsafe {
            ffi::kho_rs_add_subtree(name.as_char_ptr(), ffi::kho_rs_phys_to_virt(pa), size)
        };
        if ret != 0 {
            pr_err!("kho_add_subtree failed: {}\n", ret);
            // SAFETY: preserved just above.
            unsafe { mem.unpreserve(pa, 1) };
            // SAFETY: allocated above, unpreserved again, not registered.
            unsafe { mem.free(pa) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: allocated, preserved and registered above.
        Ok(Self { mem, pa, size })
    }

    /// Physical address of the blob page.
    pub(crate) fn pa(&self) -> u64 {
        self.pa
    }

    /// Size the blob was registered with.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

impl Drop for OutgoingBlob {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the blob is registered at this address.
        unsafe { ffi::kho_rs_remove_subtree(ffi::kho_rs_phys_to_virt(self.pa)) };
        // SAFETY: preserved by `publish` (type invariant), unpreserved once.
        unsafe { self.mem.unpreserve(self.pa, 1) };
        // SAFETY: owned by `self` (type invariant), unregistered and unpreserved above.
        unsafe { self.mem.free(self.pa) };
    }
}

/// The previous kernel's blob of a subtree, read as a copy: the page stays the previous
/// kernel's, unclaimed, until [`IncomingBlob::consume`]. A state whose seal does not match
/// is rejected before that, with nothing of it claimed.
///
/// # Invariants
///
/// `copy` holds the `size` bytes (at most one page) of the blob page `pa`, copied after
/// KHO's mark said the page was preserved by the previous kernel and not claimed.
pub(crate) struct IncomingBlob {
    pa: u64,
    size: usize,
    copy: KVec<u8>,
}

impl IncomingBlob {
    /// Finds subtree `name` of the previous kernel and copies its page, claiming nothing;
    /// `Ok(None)` if this is not a KHO boot or the previous kernel published no such
    /// subtree. A blob that was claimed already (its state consumed) is an error.
    pub(crate) fn retrieve(name: &CStr) -> Result<Option<Self>> {
        if !is_kho_boot() {
            return Ok(None);
        }
        let (mut pa, mut size) = (0u64, 0usize);
        // SAFETY: `name` is NUL terminated; both out-pointers are valid.
        let ret = unsafe { ffi::kho_rs_retrieve_subtree(name.as_char_ptr(), &mut pa, &mut size) };
        if ret == ENOENT.to_errno() {
            return Ok(None);
        }
        if ret != 0 {
            pr_err!("kho_retrieve_subtree failed: {}\n", ret);
            return Err(Error::from_errno(ret));
        }
        if size == 0 || size > GEOMETRY.page_size {
            pr_err!("subtree blob size {} is not within one page\n", size);
            return Err(EINVAL);
        }
        let mut copy = KVec::from_elem(0u8, GEOMETRY.page_size, GFP_KERNEL).map_err(|_| {
            pr_err!("restore blob: out of memory for the copy of the blob\n");
            ENOMEM
        })?;
        // SAFETY: `copy` is a writable buffer of one page; the shim copies the page only
        // if KHO's mark says it is an order-0 page preserved by the previous kernel and not
        // claimed, and claims nothing.
        let ret = unsafe { ffi::kho_rs_peek_page(pa, copy.as_mut_ptr().cast()) };
        if ret == ENOENT.to_errno() {
            pr_err!("restore blob: state already consumed (blob page {:#x} not preserved or claimed already)\n", pa);
            return Err(ENOENT);
        }
        if ret != 0 {
            pr_err!(
                "restore blob: blob page {:#x} cannot be read: {}\n",
                pa,
                ret
            );
            return Err(Error::from_errno(ret));
        }
        copy.truncate(size);
        // INVARIANT: copied above; size checked.
        Ok(Some(Self { pa, size, copy }))
    }

    /// [`IncomingBlob::retrieve`] and [`IncomingBlob::consume`] at once, for a subtree that
    /// carries no seal (the test exchanges and fixtures): the state is consumed as soon as
    /// it is found.
    #[cfg(kho_rs_test)]
    pub(crate) fn retrieve_consumed(name: &CStr) -> Result<Option<Self>> {
        let Some(blob) = Self::retrieve(name)? else {
            return Ok(None);
        };
        blob.consume()?;
        Ok(Some(blob))
    }

    /// The blob's `size` bytes (the copy).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.copy.get(..self.size).unwrap_or(&[])
    }

    /// Claims the blob page, which consumes the state: from here on a restore (and a second
    /// call of this) fails with "state already consumed". The page is freed at once (the
    /// copy stays).
    pub(crate) fn consume(&self) -> Result {
        let mut mem = KernelMem::new();
        // SAFETY: the blob of this module's own subtree, as KHO hands it over; the claim
        // checks KHO's mark first.
        unsafe { mem.claim(self.pa, 1) }.map_err(|e| {
            if e.errno == ENOENT.to_errno().abs() {
                pr_err!("restore blob: state already consumed (blob page {:#x} not preserved or claimed already)\n", self.pa);
                return Error::from_errno(-e.errno);
            }
            core_err("restore blob", e)
        })?;
        // SAFETY: claimed just above, owned here and referenced by nothing (the state is
        // read from the copy).
        unsafe { mem.free(self.pa) };
        Ok(())
    }
}

/// The FDT node name `<prefix><n>` (`s16`, `e4080`), formatted by the kernel.
///
/// Returned as an error of the pure core, for use inside the blob writers of
/// [`OutgoingBlob::publish`].
pub(crate) fn numbered_name(prefix: char, n: u64) -> CoreResult<CString> {
    CString::try_from_fmt(fmt!("{prefix}{n}")).map_err(|_| CoreError::nomem("FDT node name"))
}

/// The root node of an exchange subtree's blob (the `vmx` and `blockx` tests) and its
/// `seed`, once the blob parses as an FDT whose root `compatible` is `compat`.
///
/// Errors are logged prefixed with `what`; a compatibility mismatch is named.
pub(crate) fn checked_root<'a>(
    blob: &'a [u8],
    compat: &str,
    what: &str,
) -> Result<(Node<'a>, u64)> {
    let fdt = Fdt::parse(blob).map_err(|e| core_err(what, e))?;
    let root = fdt.root();
    let found = root.prop_str("compatible").map_err(|e| core_err(what, e))?;
    compat::check_against(compat, found).map_err(|m| {
        pr_err!("{}: {}\n", what, m);
        Error::from_errno(m.to_errno())
    })?;
    let seed = root.prop_u64_ne("seed").map_err(|e| core_err(what, e))?;
    Ok((root, seed))
}

/// Whether the outgoing subtree `name` is registered with KHO now, as KHO's debugfs shows
/// it (`kho/out/sub_fdts/<name>`). For tests (test module only).
#[cfg(kho_rs_test)]
pub(crate) fn outgoing_subtree_exists(name: &CStr) -> bool {
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the shim only
    // looks it up in debugfs.
    unsafe { ffi::kho_rs_subtree_registered(name.as_char_ptr()) }
}
