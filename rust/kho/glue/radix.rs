// SPDX-License-Identifier: GPL-2.0

//! Safe wrapper of the exported C radix tree (`kho_radix_*`).
//!
//! C header: [`include/linux/kho_radix_tree.h`](srctree/include/linux/kho_radix_tree.h)
//!
//! [`CRadixTree`] owns a `struct kho_radix_tree` handle allocated by the C shim. A tree made
//! with [`CRadixTree::new`] owns its pages and destroys them on drop; a tree made with
//! [`CRadixTree::adopt`] works on pages owned by someone else (e.g. a tree built by the pure
//! Rust [`crate::pure::radix::RadixTree`]) and only frees its handle. Used by the
//! differential KUnit suites and the benchmarks to compare the Rust tree with C.
//!
//! The interface is the same on both supported kernels; underneath, each kernel's own
//! exported API is called (chosen in `Kbuild`, `cfg(kho_rs_radix_key_api)`):
//!
//! - Linux 7.3: `kho_radix_add_key()`, `kho_radix_del_key()`, `kho_radix_walk_tree()` with
//!   leaf and node callbacks, `kho_radix_init_tree()` / `kho_radix_destroy_tree()`.
//! - Linux 7.2: `kho_radix_add_page(pfn, order)` and `kho_radix_del_page(pfn, order)`, the
//!   key decoded here with the pure core's codec; `kho_radix_walk_tree()` calls back once
//!   per key with `(phys, order)` as decoded by C, encoded here into the key, so a walk also
//!   cross-checks C's decoder against the pure core's encoder. 7.2's walk has no node
//!   callback: [`CRadixTree::walk`] fails with `-EOPNOTSUPP` there (see
//!   [`CRadixTree::WALK_VISITS_NODES`]); [`CRadixTree::walk_keys`] works on both.

use core::ptr::NonNull;

#[cfg(not(kho_rs_radix_key_api))]
use kernel::ffi::c_uint;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::ffi;
#[cfg(not(kho_rs_radix_key_api))]
use super::kho::{core_err, errno};
#[cfg(not(kho_rs_radix_key_api))]
use super::mem::GEOMETRY;
#[cfg(not(kho_rs_radix_key_api))]
use crate::pure::radix::{decode_key, encode_key};
use kernel::error::to_result;

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
    tree: NonNull<c_void>,
    /// Whether dropping this object destroys the tree's pages.
    owned: bool,
}

/// The closures of one walk, reached through the C `data` pointer.
struct WalkCtx<L, N> {
    /// Called for every key.
    leaf: L,
    /// Called for every node page, if given (always `None` on 7.2, which has no node
    /// callback).
    #[cfg_attr(not(kho_rs_radix_key_api), allow(dead_code))]
    node: Option<N>,
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

/// `leaf` callback of the 7.3 walk.
///
/// # Safety
///
/// `data` must point to a live `WalkCtx<L, N>` that nothing else accesses during the call.
#[cfg(kho_rs_radix_key_api)]
unsafe extern "C" fn leaf_trampoline<L, N>(key: c_ulong, data: *mut c_void) -> c_int
where
    L: FnMut(u64) -> Result,
{
    // SAFETY: by the function's safety requirements `data` is an exclusive `WalkCtx<L, N>`.
    let ctx = unsafe { &mut *data.cast::<WalkCtx<L, N>>() };
    let r = (ctx.leaf)(key as u64);
    ctx.ret(r)
}

/// Type of the C `node` callback (Linux 7.3).
#[cfg(kho_rs_radix_key_api)]
type NodeFn = unsafe extern "C" fn(phys: u64, data: *mut c_void) -> c_int;

/// `node` callback of the 7.3 walk (passed only when the walk has a node closure).
///
/// # Safety
///
/// `data` must point to a live `WalkCtx<L, N>` that nothing else accesses during the call.
#[cfg(kho_rs_radix_key_api)]
unsafe extern "C" fn node_trampoline<L, N>(phys: u64, data: *mut c_void) -> c_int
where
    N: FnMut(u64) -> Result,
{
    // SAFETY: by the function's safety requirements `data` is an exclusive `WalkCtx<L, N>`.
    let ctx = unsafe { &mut *data.cast::<WalkCtx<L, N>>() };
    let r = ctx.node.as_mut().map_or(Ok(()), |node| node(phys));
    ctx.ret(r)
}

/// Per-key callback of the 7.2 walk: encodes C's `(phys, order)` into the key for `leaf`.
///
/// A pair the pure core cannot encode (C decoded a key differently) aborts the walk.
///
/// # Safety
///
/// `data` must point to a live `WalkCtx<L, N>` that nothing else accesses during the call.
#[cfg(not(kho_rs_radix_key_api))]
unsafe extern "C" fn page_trampoline<L, N>(phys: u64, order: c_uint, data: *mut c_void) -> c_int
where
    L: FnMut(u64) -> Result,
{
    // SAFETY: by the function's safety requirements `data` is an exclusive `WalkCtx<L, N>`.
    let ctx = unsafe { &mut *data.cast::<WalkCtx<L, N>>() };
    let r = match encode_key(&GEOMETRY, phys, order) {
        Ok(key) => (ctx.leaf)(key),
        Err(e) => Err(core_err("C radix walk: (phys, order) from C", e)),
    };
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

    /// Whether [`CRadixTree::walk`] reports node pages: true on Linux 7.3, false on 7.2,
    /// whose `kho_radix_walk_tree()` has no node callback.
    pub(crate) const WALK_VISITS_NODES: bool = cfg!(kho_rs_radix_key_api);

    /// Adds `key` (7.3: `kho_radix_add_key()`; 7.2: `kho_radix_add_page()` of the decoded
    /// key); `-ERANGE` for a key wider than the key width, `-ENOMEM` if a node cannot be
    /// allocated.
    pub(crate) fn add_key(&mut self, key: u64) -> Result {
        #[cfg(kho_rs_radix_key_api)]
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant); C locks it.
        let ret = unsafe { ffi::kho_rs_c_radix_add_key(self.tree.as_ptr(), key as c_ulong) };
        #[cfg(not(kho_rs_radix_key_api))]
        let ret = {
            // 7.2's C encoder only sees valid (pfn, order) pairs: bad keys stop here.
            let (pa, order) = decode_key(&GEOMETRY, key).map_err(|e| core_err("C radix add", e))?;
            // SAFETY: `self.tree` is a live handle of a valid tree (type invariant); C locks
            // it. `order` is below `64 - PAGE_SHIFT`, as C's encoder requires.
            unsafe {
                ffi::kho_rs_c_radix_add_page(
                    self.tree.as_ptr(),
                    (pa >> GEOMETRY.page_shift) as c_ulong,
                    order,
                )
            }
        };
        to_result(ret)
    }

    /// Removes `key` (7.3: `kho_radix_del_key()`; 7.2: `kho_radix_del_page()` of the decoded
    /// key); nodes are never freed.
    ///
    /// Too-wide keys are ignored (7.3 C; here on 7.2). C `WARN`s (then returns) if a node on
    /// the path of `key` is missing, so callers should only delete keys whose path exists.
    pub(crate) fn del_key(&mut self, key: u64) {
        #[cfg(kho_rs_radix_key_api)]
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant); C locks it.
        unsafe {
            ffi::kho_rs_c_radix_del_key(self.tree.as_ptr(), key as c_ulong)
        };
        #[cfg(not(kho_rs_radix_key_api))]
        if let Ok((pa, order)) = decode_key(&GEOMETRY, key) {
            // SAFETY: as in `add_key`.
            unsafe {
                ffi::kho_rs_c_radix_del_page(
                    self.tree.as_ptr(),
                    (pa >> GEOMETRY.page_shift) as c_ulong,
                    order,
                )
            }
        }
    }

    /// Walks the tree with `kho_radix_walk_tree()`: `node(phys)` for every page in
    /// pre-order, `leaf(key)` for every key of a leaf (ascending) after that leaf's `node`.
    ///
    /// Only on Linux 7.3 ([`CRadixTree::WALK_VISITS_NODES`]): on 7.2, which has no node
    /// callback, it calls neither closure and fails with `-EOPNOTSUPP`.
    ///
    /// The first error returned by a closure aborts the walk and is returned. The tree lock
    /// is held during the walk: the closures must not use this tree (they cannot, as it is
    /// borrowed) nor another [`CRadixTree`] in a way that takes its lock.
    pub(crate) fn walk<L, N>(&self, leaf: L, node: N) -> Result
    where
        L: FnMut(u64) -> Result,
        N: FnMut(u64) -> Result,
    {
        self.walk_inner(leaf, Some(node))
    }

    /// Walks the tree with `kho_radix_walk_tree()`, calling `leaf(key)` for every key in
    /// ascending order. Works on both kernels (on 7.2 the key is encoded from C's
    /// `(phys, order)`). Same rules as [`CRadixTree::walk`]; in addition, on 7.2 the closure
    /// must not walk another [`CRadixTree`] (one 7.2 walk at a time).
    pub(crate) fn walk_keys<L>(&self, leaf: L) -> Result
    where
        L: FnMut(u64) -> Result,
    {
        self.walk_inner(leaf, None::<fn(u64) -> Result>)
    }

    /// Body of [`CRadixTree::walk`] and [`CRadixTree::walk_keys`].
    fn walk_inner<L, N>(&self, leaf: L, node: Option<N>) -> Result
    where
        L: FnMut(u64) -> Result,
        N: FnMut(u64) -> Result,
    {
        #[cfg(not(kho_rs_radix_key_api))]
        if node.is_some() {
            return Err(errno(kernel::bindings::EOPNOTSUPP));
        }
        let mut ctx = WalkCtx {
            leaf,
            node,
            err: None,
        };
        #[cfg(kho_rs_radix_key_api)]
        let node_cb = ctx
            .node
            .is_some()
            .then_some(node_trampoline::<L, N> as NodeFn);
        let data = core::ptr::from_mut(&mut ctx).cast::<c_void>();
        #[cfg(kho_rs_radix_key_api)]
        // SAFETY: `self.tree` is a live handle of a valid tree (type invariant). `data` points
        // to `ctx`, which outlives the call and is accessed only by the trampolines, one call
        // at a time, which are instantiated with the matching `L` and `N`.
        let ret = unsafe {
            ffi::kho_rs_c_radix_walk(
                self.tree.as_ptr(),
                Some(leaf_trampoline::<L, N>),
                node_cb,
                data,
            )
        };
        #[cfg(not(kho_rs_radix_key_api))]
        // SAFETY: as above; the shim hands `data` unchanged to the trampoline, which is
        // instantiated with the matching `L` and `N`.
        let ret = unsafe {
            ffi::kho_rs_c_radix_walk_pages(self.tree.as_ptr(), Some(page_trampoline::<L, N>), data)
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
