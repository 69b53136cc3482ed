// SPDX-License-Identifier: GPL-2.0

//! The block-v1 oracle: upstream's `kernel/liveupdate/kho_block.c`, compiled into the module
//! (`rust/kho/glue/block_oracle.c`), behind a safe interface. The KUnit suite `kho_rs_block_c` uses
//! it within one boot, the `blockx` exchange (`crate::blockx`) across a real kexec.
//!
//! C source: [`kernel/liveupdate/kho_block.c`](srctree/kernel/liveupdate/kho_block.c)
//!
//! [`CBlockSet`] owns one C `struct kho_block_set` with its iterator. An outgoing set grows
//! with real preserved pages (`kho_alloc_preserve()`) and releases them on drop. An incoming
//! set comes from [`Ledger::restore`] or [`CBlockSet::restore_kho`]. In the boot that
//! preserved the pages KHO cannot restore them, so while a [`Ledger`] is open the C code's
//! `kho_restore_free()` is recorded instead of run and the pages stay with their writer (see
//! `block_oracle.h`). After a kexec, [`CBlockSet::restore_kho`] restores for real: C's
//! `kho_restore_free()` takes each block from KHO and frees it when the set releases it.
//!
//! Entries cross the interface by copy; the iterator methods return the physical address of
//! the slot, as C's pointer converted with `__pa()`.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use kernel::error::to_result;
use kernel::ffi::{c_char, c_void};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

use super::ffi;

/// The path of `kho_block.c` that Kbuild compiled (or looked for, if it is missing).
pub(crate) fn source() -> &'static CStr {
    // SAFETY: `kho_rs_oracle_source()` returns a string literal of the C object file.
    let p: *const c_char = unsafe { ffi::kho_rs_oracle_source() };
    // SAFETY: `p` is a NUL-terminated string literal, valid for the module's lifetime.
    unsafe { CStr::from_char_ptr(p) }
}

/// `Ok` if the oracle was compiled from upstream's file, else `ENOENT` and one log line
/// naming the file that was missing when the module was built.
pub(crate) fn available() -> Result {
    // SAFETY: no arguments; returns a constant.
    if unsafe { ffi::kho_rs_oracle_available() } {
        return Ok(());
    }
    pr_err!(
        "block oracle: {} was not found when kho_rs_test.ko was built (no kho_block.c in the kernel source tree); the C block-v1 oracle is missing\n",
        source().to_str().unwrap_or("kernel/liveupdate/kho_block.c")
    );
    Err(ENOENT)
}

/// Blocks of incoming sets released with the real `kho_restore_free()` (restored from KHO and
/// freed) since the module was loaded.
pub(crate) fn restored_freed() -> isize {
    // SAFETY: reads a counter.
    unsafe { ffi::kho_rs_oracle_restored_freed() }
}

/// Number of live [`CBlockSet`] handles and of pages the oracle allocated and preserved but
/// has not freed yet: `(sets, pages)`.
pub(crate) fn live() -> (isize, isize) {
    // SAFETY: both read a counter.
    unsafe {
        (
            ffi::kho_rs_oracle_live_sets(),
            ffi::kho_rs_oracle_live_pages(),
        )
    }
}

/// A C block set (`struct kho_block_set`) with one iterator over it.
///
/// # Invariants
///
/// `set` is a handle returned by `kho_rs_oracle_new()` and not freed yet. If the set is
/// incoming, either it was restored while a [`Ledger`] was open, and that ledger stays open
/// until the set is dropped (the [`Incoming`] wrapper borrows it), or `kho` is true: it was
/// restored by [`CBlockSet::restore_kho`] without a ledger, and it counts in [`ORACLE_STATE`],
/// so no ledger can be opened until it is dropped.
pub(crate) struct CBlockSet {
    set: NonNull<c_void>,
    /// The entry size the set was created with.
    entry_size: usize,
    /// Restored from KHO for real (counts in [`ORACLE_STATE`]).
    kho: bool,
}

// SAFETY: a `CBlockSet` owns its C set exclusively (type invariant), and the C set has no
// thread affinity: `kho_block_set_*()` take no lock and touch only the set and its blocks.
unsafe impl Send for CBlockSet {}
// SAFETY: the methods taking `&self` only read fields of the C set (`head_pa`, `nblocks`,
// `count_per_block`, `incoming`); every call that changes the set or its iterator takes
// `&mut self`.
unsafe impl Sync for CBlockSet {}

impl CBlockSet {
    /// A new empty outgoing set for entries of `entry_size` bytes (`kho_block_set_init()`).
    ///
    /// `EINVAL` for sizes 0 and above `PAGE_SIZE - 16` (which C would WARN about), `ENOENT`
    /// if the oracle is missing.
    pub(crate) fn new(entry_size: usize) -> Result<Self> {
        available()?;
        // SAFETY: no preconditions; returns NULL on a bad size or allocation failure.
        let p = unsafe { ffi::kho_rs_oracle_new(entry_size) };
        // INVARIANT: `p` is a fresh handle.
        NonNull::new(p)
            .map(|set| Self {
                set,
                entry_size,
                kho: false,
            })
            .ok_or(EINVAL)
    }

    /// After a kexec: `kho_block_set_restore()` of the chain at `head_pa`, which the previous
    /// kernel preserved, into a new set for entries of `entry_size` bytes; dropping the set
    /// restores and frees its blocks (`kho_restore_free()`).
    ///
    /// On failure returns a negative errno: C's, or, before C runs, `-EPERM` if this is not a
    /// KHO boot, `-EBUSY` while a [`Ledger`] is open, or the shim's check that every block of
    /// the chain is a preserved, unclaimed page (C would WARN on any other).
    ///
    /// # Safety
    ///
    /// `head_pa` must come from the caller's own state of the previous kernel: the shim's
    /// check proves that each block was preserved by someone, not by whom, and C reads
    /// every block it reaches.
    pub(crate) unsafe fn restore_kho(
        entry_size: usize,
        head_pa: u64,
    ) -> core::result::Result<Self, i32> {
        let mut set = Self::new(entry_size).map_err(|e| e.to_errno())?;
        // Count the set before C can release anything, so no ledger opens meanwhile.
        loop {
            let v = ORACLE_STATE.load(Relaxed);
            if v < 0 {
                return Err(EBUSY.to_errno());
            }
            if ORACLE_STATE.cmpxchg(v, v + 1, Relaxed).is_ok() {
                break;
            }
        }
        set.kho = true;
        // SAFETY: `set.set` is a live fresh handle and no ledger is open (`ORACLE_STATE` is
        // positive), so blocks C releases go to the real `kho_restore_free()`; the wrapper
        // refuses chains with a block KHO did not preserve before C reads or releases it,
        // and the chain is the caller's own (this function's contract).
        let err = unsafe { ffi::kho_rs_oracle_restore(set.raw(), head_pa) };
        if err != 0 {
            return Err(err);
        }
        // INVARIANT: restored without a ledger, counted in `ORACLE_STATE` until dropped.
        Ok(set)
    }

    /// The raw handle for the C calls.
    fn raw(&self) -> *mut c_void {
        self.set.as_ptr()
    }

    /// The entry size of the set.
    pub(crate) fn entry_size(&self) -> usize {
        self.entry_size
    }

    /// `kho_block_set_grow()`; `EINVAL` on an incoming set.
    pub(crate) fn grow(&mut self, count: u64) -> Result {
        // SAFETY: `self.set` is a live handle (type invariant).
        to_result(unsafe { ffi::kho_rs_oracle_grow(self.raw(), count) })
    }

    /// `kho_block_set_shrink()`; resets the iterator (it may point to a freed block).
    pub(crate) fn shrink(&mut self, count: u64) {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_shrink(self.raw(), count) }
    }

    /// `kho_block_set_destroy()`; resets the iterator.
    pub(crate) fn destroy(&mut self) {
        // SAFETY: `self.set` is a live handle; an incoming set's ledger is open (invariant).
        unsafe { ffi::kho_rs_oracle_destroy(self.raw()) }
    }

    /// `kho_block_set_clear()`.
    pub(crate) fn clear(&mut self) {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_clear(self.raw()) }
    }

    /// `kho_block_set_head_pa()`.
    pub(crate) fn head_pa(&self) -> u64 {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_head_pa(self.raw()) }
    }

    /// `bs->nblocks`.
    pub(crate) fn nblocks(&self) -> usize {
        // SAFETY: `self.set` is a live handle (type invariant).
        let n = unsafe { ffi::kho_rs_oracle_nblocks(self.raw()) };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// `bs->count_per_block`.
    pub(crate) fn count_per_block(&self) -> u64 {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_count_per_block(self.raw()) }
    }

    /// `bs->incoming`.
    pub(crate) fn is_incoming(&self) -> bool {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_incoming(self.raw()) }
    }

    /// `kho_block_set_it_init()`: the iterator back to the first slot of the first block.
    pub(crate) fn it_init(&mut self) {
        // SAFETY: `self.set` is a live handle (type invariant).
        unsafe { ffi::kho_rs_oracle_it_init(self.raw()) }
    }

    /// `kho_block_set_it_reserve_entry()`, then copies `entry` (if any) into the slot.
    ///
    /// Returns the slot's physical address, `None` where C returns NULL. At most
    /// `entry_size` bytes of `entry` are copied.
    pub(crate) fn reserve_entry(&mut self, entry: Option<&[u8]>) -> Option<u64> {
        let (src, len) = entry.map_or((ptr::null(), 0), |e| (e.as_ptr().cast(), e.len()));
        // SAFETY: `self.set` is a live handle; C reads at most `len` bytes from `src`, which
        // is NULL or a live slice of `len` bytes.
        let pa = unsafe { ffi::kho_rs_oracle_it_reserve_entry(self.raw(), src, len) };
        (pa != 0).then_some(pa)
    }

    /// `kho_block_set_it_read_entry()`, then copies the entry into `out` (if any).
    ///
    /// Returns the slot's physical address, `None` where C returns NULL. At most
    /// `min(out.len(), entry_size)` bytes are written.
    pub(crate) fn read_entry(&mut self, out: Option<&mut [u8]>) -> Option<u64> {
        let (dst, len) = out.map_or((ptr::null_mut(), 0), |o| (o.as_mut_ptr().cast(), o.len()));
        // SAFETY: `self.set` is a live handle; C writes at most `len` bytes to `dst`, which
        // is NULL or an exclusively borrowed slice of `len` bytes.
        let pa = unsafe { ffi::kho_rs_oracle_it_read_entry(self.raw(), dst, len) };
        (pa != 0).then_some(pa)
    }

    /// C's benchmark loop: from the first slot, writes the entries of `src` (back to back,
    /// `entry_size` bytes each, a partial last one ignored) with C's own iterator, one copy
    /// per entry. Returns how many it wrote.
    pub(crate) fn bench_write(&mut self, src: &[u8]) -> usize {
        let n = src.len() / self.entry_size.max(1);
        // SAFETY: `self.set` is a live handle (type invariant); C reads at most
        // `n * entry_size <= src.len()` bytes from `src`.
        unsafe { ffi::kho_rs_oracle_bench_write(self.raw(), src.as_ptr().cast(), n) }
    }

    /// C's benchmark loop: from the first slot, reads entries into `dst` (back to back,
    /// `entry_size` bytes each) with C's own iterator, one copy per entry, until `dst` is
    /// full or the set ends. Returns how many it read.
    pub(crate) fn bench_read(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len() / self.entry_size.max(1);
        // SAFETY: `self.set` is a live handle (type invariant); C writes at most
        // `n * entry_size <= dst.len()` bytes to `dst`, which is exclusively borrowed.
        unsafe { ffi::kho_rs_oracle_bench_read(self.raw(), dst.as_mut_ptr().cast(), n) }
    }

    /// `kho_block_set_it_prev()`, then copies the entry into `out` (if any), as
    /// [`CBlockSet::read_entry`].
    pub(crate) fn prev(&mut self, out: Option<&mut [u8]>) -> Option<u64> {
        let (dst, len) = out.map_or((ptr::null_mut(), 0), |o| (o.as_mut_ptr().cast(), o.len()));
        // SAFETY: as in `read_entry`.
        let pa = unsafe { ffi::kho_rs_oracle_it_prev(self.raw(), dst, len) };
        (pa != 0).then_some(pa)
    }
}

impl Drop for CBlockSet {
    fn drop(&mut self) {
        // SAFETY: `self.set` is a live handle, freed only here. An incoming set restored under
        // a ledger still has it open, so its blocks are recorded, not restored; one restored
        // from KHO has no ledger open (type invariant), so its blocks are restored and freed.
        unsafe { ffi::kho_rs_oracle_free(self.raw()) }
        if self.kho {
            ORACLE_STATE.add(-1, Relaxed);
        }
    }
}

/// `-1` while a [`Ledger`] is open (there is one C ledger), else the number of live sets
/// restored by [`CBlockSet::restore_kho`]. The two exclude each other: a ledger would record
/// the blocks such a set releases instead of freeing them.
static ORACLE_STATE: Atomic<i32> = Atomic::new(0);

/// An open ledger: while it lives, C's `kho_restore_free()` records block addresses here
/// instead of restoring pages, so the C reader can run on pages preserved in this boot.
///
/// # Invariants
///
/// The C ledger is open with `buf` (length `buf.len()`) as its storage, and no other
/// [`Ledger`] exists.
pub(crate) struct Ledger {
    /// Storage of the records, handed to C.
    buf: KVVec<u64>,
    /// Whether [`Ledger::close`] already closed the C ledger.
    closed: bool,
}

/// An incoming C set restored under a [`Ledger`], which it keeps open.
///
/// Gives shared access to the [`CBlockSet`] and forwards the reading methods, but never a
/// `&mut CBlockSet`, so the incoming set cannot be moved out and dropped after the ledger.
pub(crate) struct Incoming<'l> {
    set: CBlockSet,
    /// The ledger that must outlive the set.
    _ledger: PhantomData<&'l Ledger>,
}

impl core::ops::Deref for Incoming<'_> {
    type Target = CBlockSet;

    fn deref(&self) -> &CBlockSet {
        &self.set
    }
}

impl Incoming<'_> {
    /// [`CBlockSet::it_init`].
    pub(crate) fn it_init(&mut self) {
        self.set.it_init()
    }

    /// [`CBlockSet::read_entry`].
    pub(crate) fn read_entry(&mut self, out: Option<&mut [u8]>) -> Option<u64> {
        self.set.read_entry(out)
    }

    /// [`CBlockSet::prev`].
    pub(crate) fn prev(&mut self, out: Option<&mut [u8]>) -> Option<u64> {
        self.set.prev(out)
    }

    /// [`CBlockSet::shrink`]: the released blocks go to the ledger.
    pub(crate) fn shrink(&mut self, count: u64) {
        self.set.shrink(count)
    }

    /// [`CBlockSet::grow`]: always `EINVAL` (the wrapper refuses before C would WARN).
    pub(crate) fn grow(&mut self, count: u64) -> Result {
        self.set.grow(count)
    }
}

impl Ledger {
    /// Opens the ledger with room for `cap` records; `EBUSY` if one is open already.
    pub(crate) fn open(cap: usize) -> Result<Self> {
        available()?;
        let mut buf = KVVec::from_elem(0u64, cap, GFP_KERNEL)?;
        if ORACLE_STATE.cmpxchg(0, -1, Relaxed).is_err() {
            return Err(EBUSY);
        }
        // SAFETY: `buf` holds `buf.len()` initialised `u64`s and lives (unmoved on the heap)
        // until the ledger is closed in `close` or `drop`.
        unsafe { ffi::kho_rs_oracle_ledger_open(buf.as_mut_ptr(), buf.len()) };
        // INVARIANT: the C ledger is open on `buf`, and `ORACLE_STATE` was 0: no other ledger
        // and no set restored from KHO.
        Ok(Self { buf, closed: false })
    }

    /// `kho_block_set_restore()` of the chain at `head_pa` into a new C set for entries of
    /// `entry_size` bytes. On failure returns C's negative errno; the blocks C released on
    /// the way are in the ledger.
    ///
    /// # Safety
    ///
    /// `head_pa` must be 0 or head a chain of pages the caller owns (a test's own loaned
    /// pages): C reads every block it reaches, checking nothing but its header, and
    /// follows the `next` links as they are (only a ledger-recorded loop stops it).
    pub(crate) unsafe fn restore(
        &self,
        entry_size: usize,
        head_pa: u64,
    ) -> core::result::Result<Incoming<'_>, i32> {
        let set = CBlockSet::new(entry_size).map_err(|e| e.to_errno())?;
        // SAFETY: `set.set` is a live fresh handle and the ledger is open (type invariant),
        // so C's restore and any release of blocks are recorded, not run; the chain is in
        // pages the caller owns (this function's contract).
        let err = unsafe { ffi::kho_rs_oracle_restore(set.raw(), head_pa) };
        if err != 0 {
            return Err(err);
        }
        Ok(Incoming {
            set,
            _ledger: PhantomData,
        })
    }

    /// Closes the ledger and returns the records in order; `EOVERFLOW` if there were more
    /// than its capacity.
    pub(crate) fn close(mut self) -> Result<KVVec<u64>> {
        // SAFETY: the C ledger is open (type invariant); no incoming set borrows `self`.
        let n = unsafe { ffi::kho_rs_oracle_ledger_close() };
        self.closed = true;
        ORACLE_STATE.store(0, Relaxed);
        let mut buf = core::mem::take(&mut self.buf);
        if n > buf.len() {
            pr_err!("block oracle: ledger overflow: {} records\n", n);
            return Err(EOVERFLOW);
        }
        buf.truncate(n);
        Ok(buf)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if !self.closed {
            // SAFETY: the C ledger is open on `self.buf` (type invariant), which is freed only
            // after this call.
            unsafe { ffi::kho_rs_oracle_ledger_close() };
            ORACLE_STATE.store(0, Relaxed);
        }
    }
}
