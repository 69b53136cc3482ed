// SPDX-License-Identifier: GPL-2.0

//! Safe wrapper of the exported C radix tree (`kho_radix_*`, Linux 7.3).
//!
//! C header: [`include/linux/kho_radix_tree.h`](srctree/include/linux/kho_radix_tree.h)
//!
//! [`CRadixTree`] owns a `struct kho_radix_tree` handle allocated by the C shim. A tree made
//! with [`CRadixTree::new`] owns its pages and destroys them on drop; a tree made with
//! [`CRadixTree::adopt`] works on pages owned by someone else (e.g. a tree built by the pure
//! Rust [`crate::pure::radix::RadixTree`]) and only frees its handle. Used by the
//! differential KUnit suites and the benchmarks to compare the Rust tree with C.

use core::ptr::NonNull;

use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::ffi;
use super::kho::to_result;

// Keys cross the FFI as `unsigned long`, 64 bits wide on every kernel KHO supports; the
// `as` conversions between `u64` and `c_ulong` below are lossless.
const _: () = assert!(core::mem::size_of::<c_ulong>() == core::mem::size_of::<u64>());

/// A C radix tree (`struct kho_radix_tree` plus its pages).
///
/// # Invariants
///
/// `tree` points to a handle returned by `kho_rs_c_radix_new()` and not freed yet, whose
/// root is a valid radix tree page. If `owned`, every page of the tree was allocated by the
/// C tree functions and belongs to this object; otherwise the pages belong to someone else
/// who keeps them alive (and does not change them) for the lifetime of this object.
pub(crate) struct CRadixTree {
    /// The C handle.
    tree: NonNull<c_void>,
    /// Whether dropping this object destroys the tree's pages.
    owned: bool,
}

/// The closures of one [`CRadixTree::walk`], reached through the C `data` pointer.
struct WalkCtx<L, N> {
    /// Called for every key.
    leaf: L,
    /// Called for every node page.
    node: N,
    /// The error that aborted the walk, if any.
    err: Option<Error>,
}

impl<L, N> WalkCtx<L, N> {
    /// Records the outcome of a callback and turns it into the C return value.
    fn ret(&mut self, r: Result) -> c_int {
        match r {
            Ok(()) => 0,
            Err(e) => {
                self.err = Some(e);
                // A negative errno, never 0, so the C walk stops.
                e.to_errno()
            }
        }
    }
}

/// `leaf` callback of [`CRadixTree::walk`].
///
/// # Safety
///
/// `data` must point to a live `WalkCtx<L, N>` that nothing else accesses during the call.
unsafe extern "C" fn leaf_trampoline<L, N>(key: c_ulong, data: *mut c_void) -> c_int
where
    L: FnMut(u64) -> Result,
    N: FnMut(u64) -> Result,
{
    // SAFETY: by the function's safety requirements `data` is an exclusive `WalkCtx<L, N>`.
    let ctx = unsafe { &mut *data.cast::<WalkCtx<L, N>>() };
    let r = (ctx.leaf)(key as u64);
    ctx.ret(r)
}

/// `node` callback of [`CRadixTree::walk`].
///
/// # Safety
///
/// `data` must point to a live `WalkCtx<L, N>` that nothing else accesses during the call.
unsafe extern "C" fn node_trampoline<L, N>(phys: u64, data: *mut c_void) -> c_int
where
    L: FnMut(u64) -> Result,
    N: FnMut(u64) -> Result,
{
    // SAFETY: by the function's safety requirements `data` is an exclusive `WalkCtx<L, N>`.
    let ctx = unsafe { &mut *data.cast::<WalkCtx<L, N>>() };
    let r = (ctx.node)(phys);
    ctx.ret(r)
}

impl CRadixTree {
    /// Creates an empty tree with a freshly allocated root page (`kho_radix_init_tree(t,
    /// NULL)`); dropping it destroys every page of the tree.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: with a zero root the shim allocates the handle and a zeroed root page.
        let tree = unsafe { ffi::kho_rs_c_radix_new(0) };
        let tree = NonNull::new(tree).ok_or(ENOMEM)?;
        // INVARIANT: a fresh handle with a fresh root page owned by this object.
        Ok(Self { tree, owned: true })
    }

    /// Adopts the existing tree whose root page is at `root_phys`
    /// (`kho_radix_init_tree(t, phys_to_virt(root_phys))`); dropping it frees only the
    /// handle.
    ///
    /// # Safety
    ///
    /// `root_phys` must be the root page of a well-formed radix tree of this kernel's
    /// geometry (every non-zero table entry the physical address of a page of the tree)
    /// whose pages stay allocated for the lifetime of the returned object, and that nobody
    /// else modifies or frees meanwhile. Pages added through this handle join that tree and
    /// belong to its owner.
    pub(crate) unsafe fn adopt(root_phys: u64) -> Result<Self> {
        if root_phys == 0 {
            return Err(EINVAL);
        }
        // SAFETY: `root_phys` is a valid root page by the function's safety requirements;
        // the shim only stores its direct-map address in a new handle.
        let tree = unsafe { ffi::kho_rs_c_radix_new(root_phys) };
        let tree = NonNull::new(tree).ok_or(ENOMEM)?;
        // INVARIANT: the caller keeps the pages alive and unchanged (safety requirements).
        Ok(Self { tree, owned: false })
    }

    /// Physical address of the root page.
    pub(crate) fn root(&self) -> u64 {
        // SAFETY: `self.tree` is a live handle (type invariant).
        unsafe { ffi::kho_rs_c_radix_root(self.tree.as_ptr()) }
    }

    /// Adds `key` (`kho_radix_add_key()`); `-ERANGE` for a key wider than the key width,
    /// `-ENOMEM` if a node cannot be allocated.
    pub(crate) fn add_key(&mut self, key: u64) -> Result {
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant); C locks it.
        to_result(unsafe { ffi::kho_rs_c_radix_add_key(self.tree.as_ptr(), key as c_ulong) })
    }

    /// Removes `key` (`kho_radix_del_key()`); nodes are never freed.
    ///
    /// C ignores too-wide keys and `WARN`s (then returns) if a node on the path of `key` is
    /// missing, so callers should only delete keys whose path exists.
    pub(crate) fn del_key(&mut self, key: u64) {
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant); C locks it.
        unsafe { ffi::kho_rs_c_radix_del_key(self.tree.as_ptr(), key as c_ulong) }
    }

    /// Walks the tree with `kho_radix_walk_tree()`: `node(phys)` for every page in
    /// pre-order, `leaf(key)` for every key of a leaf (ascending) after that leaf's `node`.
    ///
    /// The first error returned by a closure aborts the walk and is returned. The tree lock
    /// is held during the walk: the closures must not use this tree (they cannot, as it is
    /// borrowed) nor another [`CRadixTree`] in a way that takes its lock.
    pub(crate) fn walk<L, N>(&self, leaf: L, node: N) -> Result
    where
        L: FnMut(u64) -> Result,
        N: FnMut(u64) -> Result,
    {
        let mut ctx = WalkCtx {
            leaf,
            node,
            err: None,
        };
        let data = core::ptr::from_mut(&mut ctx).cast::<c_void>();
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant). `data` points
        // to `ctx`, which outlives the call and is accessed only by the trampolines, one call
        // at a time, which are instantiated with the matching `L` and `N`.
        let ret = unsafe {
            ffi::kho_rs_c_radix_walk(
                self.tree.as_ptr(),
                Some(leaf_trampoline::<L, N>),
                Some(node_trampoline::<L, N>),
                data,
            )
        };
        if let Some(e) = ctx.err {
            return Err(e);
        }
        to_result(ret)
    }
}

impl Drop for CRadixTree {
    fn drop(&mut self) {
        // SAFETY: `self.tree` is a live handle (type invariant), freed only here; its pages
        // are destroyed only if this object owns them.
        unsafe { ffi::kho_rs_c_radix_free(self.tree.as_ptr(), self.owned) }
    }
}
