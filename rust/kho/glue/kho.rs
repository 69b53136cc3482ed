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

/// Logs the KHO state at module load (`loaded: KHO enabled, KHO boot`), and warns if this
/// is a test-only build that writes a hypothetical next format version (`KHO_RS_NEXT`).
pub(crate) fn log_loaded() {
    use crate::pure::subtree as st;
    pr_info!(
        "loaded: KHO {}, {}\n",
        if is_enabled() { "enabled" } else { "disabled" },
        if is_kho_boot() {
            "KHO boot"
        } else {
            "cold boot"
        }
    );
    if st::NEXT_VERSION_BUILD {
        pr_warn!(
            "test-only build (KHO_RS_NEXT): writes {}, reads radix v{}-v{}, vmalloc v{}-v{}, block v{}-v{}\n",
            st::COMPAT.root,
            st::RADIX.oldest,
            st::RADIX.newest,
            st::VMALLOC.oldest,
            st::VMALLOC.newest,
            st::BLOCK.oldest,
            st::BLOCK.newest
        );
    }
}

/// Fails with `-EOPNOTSUPP`, and says why naming `what` (the parameter or object that
/// would preserve memory), if KHO is disabled: `kho=off`, or scratch memory that could
/// not be reserved at boot. KHO's preserve calls WARN in that state, so every preserve
/// path checks this first.
pub(crate) fn require_enabled(what: &str) -> Result {
    if is_enabled() {
        return Ok(());
    }
    pr_err!(
        "{}: KHO is disabled (boot with kho=on, and check the log for 'KHO: '): nothing preserved\n",
        what
    );
    Err(errno(kernel::bindings::EOPNOTSUPP))
}

/// The value of a module parameter: `value()` returns it in Linux 7.3 and a reference to it
/// in 7.2; both implement `Borrow<T>`.
pub(crate) fn param<T: Copy>(v: impl core::borrow::Borrow<T>) -> T {
    *v.borrow()
}

/// Implements [`kernel::fmt::Display`], which the `pr_*!` macros take, for types of the
/// pure core by forwarding to their `core::fmt::Display`: the pure core builds on the host
/// too, where the kernel crate does not exist.
macro_rules! kernel_display {
    ($($ty:ty),* $(,)?) => {
        $(
            impl kernel::fmt::Display for $ty {
                fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
                    core::fmt::Display::fmt(self, f)
                }
            }
        )*
    };
}

kernel_display!(
    CoreError,
    crate::pure::compat::Mismatch<'_>,
    crate::pure::subtree::SubtreeError<'_>,
    crate::pure::subtree::Footprint,
);

// The block-set model exists only in KUnit builds, like the suites that print its findings.
#[cfg(CONFIG_KUNIT = "y")]
kernel_display!(crate::pure::block::model::Mismatch);

// The pure core's errnos (it cannot see the bindings: it also builds on the host) are the
// kernel's.
const _: () = {
    use crate::pure::error::errno as core;
    use kernel::bindings as k;
    let pairs = [
        (core::ENOENT, k::ENOENT),
        (core::E2BIG, k::E2BIG),
        (core::ENOMEM, k::ENOMEM),
        (core::EFAULT, k::EFAULT),
        (core::EEXIST, k::EEXIST),
        (core::EINVAL, k::EINVAL),
        (core::ENOSPC, k::ENOSPC),
        (core::ERANGE, k::ERANGE),
        (core::ELOOP, k::ELOOP),
        (core::EPROTO, k::EPROTO),
        (core::EOVERFLOW, k::EOVERFLOW),
        (core::EOPNOTSUPP, k::EOPNOTSUPP),
    ];
    let mut i = 0;
    while i < pairs.len() {
        assert!(pairs[i].0 as u32 == pairs[i].1);
        i += 1;
    }
};

/// Converts an error of the pure core into a kernel [`Error`], printing its cause.
///
/// `ctx` names the operation (e.g. `"radix restore"`); the message names the cause and
/// the offending value, so every rejected input leaves one line in the kernel log.
pub(crate) fn core_err(ctx: &str, e: CoreError) -> Error {
    pr_err!("{}: {}\n", ctx, e);
    Error::from_errno(e.to_errno())
}

/// Microseconds since `t`, rounded up (the kernel's [`kernel::time::Delta`] conversion).
pub(crate) fn elapsed_us(t: &kernel::time::Instant<kernel::time::Monotonic>) -> u64 {
    u64::try_from(t.elapsed().as_micros_ceil()).unwrap_or(0)
}

/// A kernel [`Error`] from a positive errno constant of `kernel::bindings`.
///
/// For the errnos that `kernel::error::code` has in Linux 7.3 but not in 7.2 (`ELOOP`,
/// `EPROTO`, `EOPNOTSUPP`): the bindings have every errno on both kernels.
pub(crate) fn errno(e: u32) -> Error {
    Error::from_errno(-(e as kernel::ffi::c_int))
}

// The pure core carries its own errno numbers (it does not depend on the kernel crate);
// they must be this kernel's.
const _: () = {
    use crate::pure::error::errno as pe;
    use kernel::bindings as b;
    assert!(pe::ENOENT as u32 == b::ENOENT && pe::E2BIG as u32 == b::E2BIG);
    assert!(pe::ENOMEM as u32 == b::ENOMEM && pe::EFAULT as u32 == b::EFAULT);
    assert!(pe::EEXIST as u32 == b::EEXIST && pe::EINVAL as u32 == b::EINVAL);
    assert!(pe::ENOSPC as u32 == b::ENOSPC && pe::ERANGE as u32 == b::ERANGE);
    assert!(pe::ELOOP as u32 == b::ELOOP && pe::EPROTO as u32 == b::EPROTO);
    assert!(pe::EOVERFLOW as u32 == b::EOVERFLOW && pe::EOPNOTSUPP as u32 == b::EOPNOTSUPP);
};

/// Read-only view of the outgoing KHO memory map (KHO's own radix tree), for tests.
///
/// KHO keeps the set of preserved blocks in a static radix tree whose root address is the
/// `preserved-memory-map` property of the outgoing root FDT. This reads that tree with the
/// pure core's radix reader, so a test can check exactly which blocks are preserved.
///
/// # Invariants
///
/// `tree` is the root of KHO's outgoing radix tree; it is only read, never modified.
pub(crate) struct OutMemoryMap {
    mem: super::mem::KernelMem,
    tree: crate::pure::radix::RadixTree,
}

impl OutMemoryMap {
    /// Finds KHO's outgoing memory map through the debugfs blob `kho/out/fdt`.
    ///
    /// `ENOENT` if debugfs or KHO debugfs is not available.
    pub(crate) fn get() -> Result<Self> {
        // SAFETY: looks up a debugfs file and reads a pointer from its inode; no arguments.
        let fdt_pa = unsafe { ffi::kho_rs_kho_out_fdt_phys() };
        if fdt_pa == 0 {
            pr_err!("kho/out/fdt not found in debugfs\n");
            return Err(ENOENT);
        }
        let mem = super::mem::KernelMem::new();
        let root = {
            use crate::pure::mem::PageMem;
            // SAFETY: the outgoing root FDT is a page KHO allocated at boot and keeps for
            // the kernel's lifetime; it is only read here.
            let bytes = unsafe { mem.bytes(fdt_pa) }.ok_or(EINVAL)?;
            let fdt =
                crate::pure::fdt::Fdt::parse(bytes).map_err(|e| core_err("kho out fdt", e))?;
            fdt.root()
                .prop_u64_ne("preserved-memory-map")
                .map_err(|e| core_err("kho out fdt", e))?
        };
        Ok(Self {
            mem,
            // INVARIANT: `root` is the tree root KHO itself wrote into its root FDT.
            // SAFETY: KHO's own tree, whose pages KHO keeps allocated; this type only reads
            // it (`contains`), never modifies or frees it.
            tree: unsafe { crate::pure::radix::RadixTree::from_root(root) },
        })
    }

    /// Whether the block of `2^order` pages at `pa` is preserved as one key.
    pub(crate) fn contains(&self, pa: u64, order: u32) -> Result<bool> {
        let key = crate::pure::radix::encode_key(&super::mem::GEOMETRY, pa, order)
            .map_err(|e| core_err("kho out map", e))?;
        self.tree
            .contains(&self.mem, key)
            .map_err(|e| core_err("kho out map", e))
    }
}

/// The current task's fault-injection counter (`/proc/self/fail-nth`), for the fault
/// sweeps of the test module: [`FailNth::arm`]`(n)` makes the `n`-th fault-injectable
/// allocation of this task from now on fail; [`FailNth::disarm`] stops it and says
/// whether the failure was injected. Dropping it disarms.
#[cfg(kho_rs_test)]
pub(crate) struct FailNth(());

#[cfg(kho_rs_test)]
impl FailNth {
    /// Arms the counter; `-EOPNOTSUPP` if the kernel has no `CONFIG_FAULT_INJECTION`.
    pub(crate) fn arm(n: u32) -> Result<Self> {
        // SAFETY: writes a field of the current task.
        kernel::error::to_result(unsafe { ffi::kho_rs_fail_nth_set(n) })?;
        Ok(Self(()))
    }

    /// Disarms the counter; returns whether the failure was injected (the counter had
    /// run down to 0).
    pub(crate) fn disarm(self) -> bool {
        // SAFETY: reads a field of the current task.
        let left = unsafe { ffi::kho_rs_fail_nth_get() };
        drop(self);
        left == 0
    }
}

#[cfg(kho_rs_test)]
impl Drop for FailNth {
    fn drop(&mut self) {
        // SAFETY: writes a field of the current task.
        unsafe { ffi::kho_rs_fail_nth_set(0) };
    }
}
