// SPDX-License-Identifier: GPL-2.0

//! KHO state and error conversion.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use kernel::prelude::*;

use super::ffi;
use crate::pure::error::Error as CoreError;

/// Returns true if Kexec HandOver is enabled in this kernel (`kho_is_enabled()`).
pub(crate) fn is_enabled() -> bool {
    // SAFETY: `kho_is_enabled()` only reads a boolean set during early boot.
    unsafe { ffi::kho_rs_kho_is_enabled() }
}

/// Returns true if this kernel was booted by kexec with a KHO handover (`is_kho_boot()`).
pub(crate) fn is_kho_boot() -> bool {
    // SAFETY: `is_kho_boot()` only reads state set during early boot.
    unsafe { ffi::kho_rs_is_kho_boot() }
}

/// Prints a `core::fmt::Display` value with the kernel's formatting macros.
///
/// `pr_*!` accept `kernel::fmt::Display` (kernel types) and forward `Debug`; the pure core
/// implements `core::fmt::Display`, so `{:?}` on this wrapper prints its `Display` text.
pub(crate) struct Show<T>(pub(crate) T);

impl<T: core::fmt::Display> core::fmt::Debug for Show<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

/// Converts an error of the pure core into a kernel [`Error`], printing its cause.
///
/// `ctx` names the operation (e.g. `"radix restore"`); the message names the cause and
/// the offending value, so every rejected input leaves one line in the kernel log.
pub(crate) fn core_err(ctx: &str, e: CoreError) -> Error {
    pr_err!("{}: {:?}\n", ctx, Show(e));
    Error::from_errno(e.to_errno())
}

/// Converts a C return code (0 or a negative errno) into a [`Result`].
pub(crate) fn to_result(ret: kernel::ffi::c_int) -> Result {
    if ret == 0 {
        Ok(())
    } else {
        Err(Error::from_errno(ret))
    }
}
