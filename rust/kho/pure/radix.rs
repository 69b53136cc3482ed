// SPDX-License-Identifier: GPL-2.0

//! Radix-tree tracker of preserved blocks (KHO "radix-v1").
//!
//! Reimplements `kho_radix_*` of `kernel/liveupdate/kexec_handover.c` (Linux 7.3) on top of
//! [`PageMem`], byte for byte: every node is one zeroed page; an intermediate node is a table
//! of `PAGE_SIZE / 8` native-endian `u64` physical addresses of its children (0 = empty);
//! a leaf (level 0) is a bitmap of `PAGE_SIZE * 8` bits stored as native `u64` words, bit `i`
//! in word `i / 64` at position `i % 64`. The root is level `depth - 1` and always present.
//!
//! A key is `(1 << (64 - shift)) | (pa >> shift)` with `shift = PAGE_SHIFT + order`
//! ([`encode_key`], [`decode_key`]). The tree is a set of keys: adding twice is a no-op.
//!
//! Beyond the C code this module offers range operations ([`RadixTree::add_range`],
//! [`RadixTree::del_range`]) that split a page range like `kho_preserve_pages()` and set or
//! clear leaf bits a whole word at a time, and a validating [`RadixTree::restore`] for trees
//! handed over by the previous kernel, whose bytes are untrusted.
//!
//! No function here recurses: walks use a fixed stack of `STACK_DEPTH` frames, enough for
//! the deepest geometry (6 levels for 4 KiB pages).

use zerocopy::{FromBytes, IntoBytes};

use super::error::{errno, Error, Result};
use super::geometry::Geometry;
use super::mem::PageMem;

/// Number of frames of the fixed walk stack; more than the deepest tree (6 levels).
const STACK_DEPTH: usize = 8;

/// Returns a mask of the `bits` lowest bits (all ones for 64 or more).
const fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Error for a node page that [`PageMem`] cannot access.
const fn no_page(pa: u64) -> Error {
    Error::new(errno::EFAULT, "radix: node page not accessible", pa)
}

/// Checks that `key` is a key [`encode_key`] can produce for `geo`.
///
/// A too-wide key is `-ERANGE`, like `kho_radix_add_key()`; so is key 1, whose block (order
/// `geo.max_order`) would span the whole 64-bit space. Key 0 is `-EINVAL`.
///
/// The valid keys are exactly `2..2^key_width`, so the check every add and del makes is one
/// comparison; which error a bad key gets is worked out out of line ([`key_error`]).
#[inline(always)]
fn check_key(geo: &Geometry, key: u64) -> Result {
    if key.wrapping_sub(2) < low_mask(geo.key_width).wrapping_sub(1) {
        Ok(())
    } else {
        Err(key_error(key))
    }
}

/// The error [`check_key`] returns for a key outside `2..2^key_width`.
#[cold]
#[inline(never)]
fn key_error(key: u64) -> Error {
    if key == 0 {
        return Error::inval("radix: key 0 is not a valid key", 0);
    }
    if key == 1 {
        return Error::new(
            errno::ERANGE,
            "radix: block size beyond the 64-bit address space",
            key,
        );
    }
    Error::new(errno::ERANGE, "radix: key wider than the key width", key)
}

/// Encodes the block of order `order` at physical address `pa` as a radix key.
///
/// `pa` must be aligned to `PAGE_SIZE << order` (`-EINVAL`) and `order` at most
/// `geo.max_order` (`-EINVAL`). Order `geo.max_order` itself is `-ERANGE`: its block would
/// span the whole 64-bit space and the C expression would shift by 64 (undefined), so the
/// largest usable order is `geo.max_order - 1`.
pub(crate) fn encode_key(geo: &Geometry, pa: u64, order: u32) -> Result<u64> {
    if order > geo.max_order {
        return Err(Error::inval("radix: order too large", u64::from(order)));
    }
    // `order <= 64 - page_shift`, so `shift <= 64`.
    let shift = geo.page_shift + order;
    if shift >= 64 {
        return Err(Error::new(
            errno::ERANGE,
            "radix: block size beyond the 64-bit address space",
            u64::from(order),
        ));
    }
    if pa & low_mask(shift) != 0 {
        return Err(Error::inval(
            "radix: address not aligned to the block size",
            pa,
        ));
    }
    let order_bit = 64 - shift;
    let key = (1u64 << order_bit) | (pa >> shift);
    check_key(geo, key)?;
    Ok(key)
}

/// Decodes a radix key into `(physical address, order)`.
///
/// Accepts exactly the keys [`encode_key`] produces: rejects 0 (`-EINVAL`), keys wider
/// than `geo.key_width` and key 1 (order `geo.max_order`) (`-ERANGE`). Never panics on
/// untrusted keys.
pub(crate) fn decode_key(geo: &Geometry, key: u64) -> Result<(u64, u32)> {
    check_key(geo, key)?;
    let order_bit = 63 - key.leading_zeros();
    // `order_bit <= key_width - 1 = 64 - page_shift` after `check_key`.
    let order = 64u32
        .checked_sub(geo.page_shift)
        .and_then(|v| v.checked_sub(order_bit))
        .ok_or(Error::new(
            errno::ERANGE,
            "radix: key wider than the key width",
            key,
        ))?;
    // The order bit falls off bit 63; the shift is below 64 as `order_bit >= 1`.
    let pa = key.checked_shl(geo.page_shift + order).unwrap_or(0);
    Ok((pa, order))
}

/// Callbacks of [`RadixTree::walk`], like `struct kho_radix_walk_cb`.
///
/// Both methods default to doing nothing. An error returned by either aborts the walk and is
/// returned by it.
pub(crate) trait RadixVisitor {
    /// Called for every node page in pre-order: `level` is 0 for a leaf, `depth - 1` for the
    /// root.
    fn node(&mut self, _pa: u64, _level: u32) -> Result {
        Ok(())
    }

    /// Called for every key of a leaf, in ascending order, after `node` of that leaf.
    fn key(&mut self, _key: u64) -> Result {
        Ok(())
    }
}

/// Counts of a tree validated by [`RadixTree::restore`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RadixStats {
    /// Intermediate node (table) pages, the root included.
    pub(crate) nodes: u64,
    /// Leaf (bitmap) pages.
    pub(crate) leaves: u64,
    /// Keys, i.e. set bits in all leaves.
    pub(crate) keys: u64,
}

impl RadixStats {
    /// Total number of pages of the tree.
    pub(crate) const fn pages(&self) -> u64 {
        self.nodes + self.leaves
    }
}

/// One table on the walk stack.
#[derive(Clone, Copy, Default)]
struct Frame {
    pa: u64,
    /// Level of the table (>= 1).
    level: u32,
    /// Next slot to look at.
    next: usize,
    /// Key bits contributed by the slots above and including this table's own slot.
    prefix: u64,
}

/// One step of a [`Cursor`].
#[derive(Clone, Copy)]
enum Step {
    /// A page is entered (pre-order); tables are pushed, leaves are not.
    Node {
        /// Physical address of the page.
        pa: u64,
        /// Level of the page (0 = leaf).
        level: u32,
        /// Key bits of every key below this page.
        prefix: u64,
    },
    /// A table is left after all its children (post-order).
    Leave {
        /// Physical address of the table.
        pa: u64,
    },
    /// The walk is over.
    End,
}

/// Iterative depth-first walk of the pages of a tree, without recursion or allocation.
///
/// The cursor reads only tables it has yielded; its caller may validate (or free) a yielded
/// page before the next step. Depth is bounded by the geometry, so a malformed tree cannot
/// make the cursor run deeper than [`STACK_DEPTH`].
struct Cursor {
    geo: Geometry,
    /// The stack of tables being walked; `frames[..sp]` are live.
    frames: [Frame; STACK_DEPTH],
    /// Number of live frames.
    sp: usize,
    /// Root page, yielded by the first step.
    root: Option<u64>,
}

impl Cursor {
    /// Creates a cursor for the tree rooted at `root`.
    fn new(geo: Geometry, root: u64) -> Self {
        Self {
            geo,
            frames: [Frame::default(); STACK_DEPTH],
            sp: 0,
            root: Some(root),
        }
    }

    /// Pushes a table on the stack.
    fn push(&mut self, frame: Frame) -> Result {
        let slot = self.frames.get_mut(self.sp).ok_or(Error::new(
            errno::ELOOP,
            "radix: tree deeper than the walk stack",
            frame.pa,
        ))?;
        *slot = frame;
        self.sp += 1;
        Ok(())
    }

    /// The live frames, bottom (root) first.
    fn live(&self) -> &[Frame] {
        self.frames.get(..self.sp).unwrap_or(&[])
    }

    /// Advances to the next event.
    ///
    /// # Safety
    ///
    /// Every table page the cursor has yielded and not left yet must be owned by the caller
    /// (this step reads the top one).
    unsafe fn step<M: PageMem + ?Sized>(&mut self, mem: &M) -> Result<Step> {
        if let Some(root) = self.root.take() {
            let level = self.geo.root_level();
            self.push(Frame {
                pa: root,
                level,
                next: 0,
                prefix: 0,
            })?;
            return Ok(Step::Node {
                pa: root,
                level,
                prefix: 0,
            });
        }
        let Some(top) = self.sp.checked_sub(1) else {
            return Ok(Step::End);
        };
        let Some(frame) = self.frames.get(top).copied() else {
            return Ok(Step::End);
        };
        // SAFETY: `frame.pa` is a table the cursor yielded and has not left; the caller owns
        // it (this function's safety requirement).
        let page = unsafe { mem.page(frame.pa) }.ok_or(no_page(frame.pa))?;
        let limit = page.len().min(self.geo.table_entries());
        let found = page
            .get(frame.next..limit)
            .unwrap_or(&[])
            .iter()
            .position(|&e| e != 0)
            .and_then(|off| {
                let idx = frame.next + off;
                page.get(idx).map(|&child| (idx, child))
            });
        let Some((idx, child)) = found else {
            self.sp = top;
            return Ok(Step::Leave { pa: frame.pa });
        };
        if let Some(f) = self.frames.get_mut(top) {
            f.next = idx + 1;
        }
        // `idx < 2^table_log2` and the highest level shift plus `table_log2` is below 64.
        let shift = self.geo.level_shift(frame.level);
        let prefix = frame.prefix | (idx as u64).checked_shl(shift).unwrap_or(0);
        let level = frame.level - 1;
        if level > 0 {
            self.push(Frame {
                pa: child,
                level,
                next: 0,
                prefix,
            })?;
        }
        Ok(Step::Node {
            pa: child,
            level,
            prefix,
        })
    }
}

/// Words of a leaf bitmap tested for zero at once by [`visit_leaf`].
const LEAF_RUN: usize = 8;

/// Calls `visitor.key` for every set bit of the leaf bitmap `leaf`, in ascending order;
/// `prefix` holds the key bits above the leaf.
///
/// A sparse leaf is mostly zero words: each run of [`LEAF_RUN`] words is loaded once, OR-ed
/// and tested with one branch, and the keys of a non-empty run are taken from the words
/// already loaded (no second load; under TCG a load costs several ALU operations). The leaf
/// is viewed as whole runs (every page is a multiple of [`LEAF_RUN`] words).
///
/// Out of line, so that the walk's hot loop is a small function of its own and does not
/// move with whatever it would be inlined into: under TCG (QEMU chains translated blocks
/// directly only within one guest page) the same code inlined into the module's init,
/// with the loop straddling a page boundary, walked 10^4 random keys at 0.93-1.14x C
/// instead of 0.49-0.59x.
#[inline(never)]
fn visit_leaf<V: RadixVisitor + ?Sized>(leaf: &[u64], prefix: u64, visitor: &mut V) -> Result {
    let Ok(runs) = <[[u64; LEAF_RUN]]>::ref_from_bytes(leaf.as_bytes()) else {
        return leaf
            .iter()
            .enumerate()
            .try_for_each(|(i, &w)| visit_word(w, i, prefix, visitor));
    };
    for (ri, run) in runs.iter().enumerate() {
        let [a, b, c, d, e, f, g, h] = *run;
        if a | b | c | d | e | f | g | h == 0 {
            continue;
        }
        let base = ri * LEAF_RUN;
        visit_word(a, base, prefix, visitor)?;
        visit_word(b, base + 1, prefix, visitor)?;
        visit_word(c, base + 2, prefix, visitor)?;
        visit_word(d, base + 3, prefix, visitor)?;
        visit_word(e, base + 4, prefix, visitor)?;
        visit_word(f, base + 5, prefix, visitor)?;
        visit_word(g, base + 6, prefix, visitor)?;
        visit_word(h, base + 7, prefix, visitor)?;
    }
    Ok(())
}

/// Calls `visitor.key` for every set bit of `word`, the leaf's word number `index`.
#[inline(always)]
fn visit_word<V: RadixVisitor + ?Sized>(
    word: u64,
    index: usize,
    prefix: u64,
    visitor: &mut V,
) -> Result {
    let mut w = word;
    while w != 0 {
        let bit = w.trailing_zeros();
        w &= w - 1;
        visitor.key(prefix | ((index as u64) << 6) | u64::from(bit))?;
    }
    Ok(())
}

/// Stops at the first error of the walk (an inaccessible page) and returns it.
///
/// # Safety
///
/// The first `n` pages of the pre-order walk of the tree at `root` must be owned by the
/// caller.
unsafe fn for_first_pages<M: PageMem + ?Sized>(
    mem: &mut M,
    root: u64,
    n: u64,
    mut f: impl FnMut(&mut M, u64),
) -> Result {
    let mut cur = Cursor::new(*mem.geometry(), root);
    let mut seen = 0u64;
    while seen < n {
        // SAFETY: the walk stops after the `n`-th page, so every table it reads is among the
        // first `n` pages, which the caller owns.
        match unsafe { cur.step(mem) }? {
            Step::Node { pa, .. } => {
                seen += 1;
                f(mem, pa);
            }
            Step::Leave { .. } => {}
            Step::End => break,
        }
    }
    Ok(())
}

/// Frees the first `n` pages of the tree at `root` in pre-order, children before parents.
///
/// With `n == u64::MAX` this frees the whole tree. The first `n` pages of a pre-order walk
/// are closed under "parent of", so the pages still on the stack when the limit is reached
/// are all among them and are freed last. A walk error (an inaccessible table) ends the walk
/// early; that table is skipped and the tables below it on the stack are still freed.
///
/// # Safety
///
/// The first `n` pages of the pre-order walk of the tree at `root` must be owned by the
/// caller, not preserved, and not referenced elsewhere.
unsafe fn free_first_pages<M: PageMem + ?Sized>(mem: &mut M, root: u64, n: u64) {
    let mut cur = Cursor::new(*mem.geometry(), root);
    let mut seen = 0u64;
    while seen < n {
        // SAFETY: as in `for_first_pages`; a table is freed only after it is left, so the
        // step never reads a freed page.
        match unsafe { cur.step(mem) } {
            Ok(Step::Node { pa, level, .. }) => {
                seen += 1;
                if level == 0 {
                    // SAFETY: one of the first `n` pages (owned, unpreserved, unreferenced
                    // by the caller's requirement); leaves are freed once, when yielded.
                    unsafe { mem.free(pa) };
                }
            }
            // SAFETY: as above; a table is freed once, when it is left.
            Ok(Step::Leave { pa }) => unsafe { mem.free(pa) },
            Ok(Step::End) => return,
            Err(_) => {
                // The top table is not a page of `mem`: leave it alone.
                cur.sp = cur.sp.saturating_sub(1);
                break;
            }
        }
    }
    for f in cur.live().iter().rev() {
        // SAFETY: the tables still on the stack were yielded among the first `n` pages and
        // not left, so they are owned and not freed yet.
        unsafe { mem.free(f.pa) };
    }
}

/// Reads slot `idx` of the table at `pa`.
///
/// # Safety
///
/// `pa` must be a page owned by the caller.
unsafe fn read_slot<M: PageMem + ?Sized>(mem: &M, pa: u64, idx: usize) -> Result<u64> {
    // SAFETY: the caller owns `pa`.
    unsafe { mem.page(pa) }
        .and_then(|p| p.get(idx))
        .copied()
        .ok_or(no_page(pa))
}

/// Writes slot `idx` of the table at `pa`.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not borrowed elsewhere.
unsafe fn write_slot<M: PageMem + ?Sized>(mem: &mut M, pa: u64, idx: usize, val: u64) -> Result {
    // SAFETY: the caller owns `pa` exclusively.
    let slot = unsafe { mem.page_mut(pa) }
        .and_then(|p| p.get_mut(idx))
        .ok_or(no_page(pa))?;
    *slot = val;
    Ok(())
}

/// Sets (or clears) bits `lo..=hi` of the leaf at `pa`, a word at a time.
///
/// Returns how many bits changed.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not borrowed elsewhere.
unsafe fn leaf_update<M: PageMem + ?Sized>(
    mem: &mut M,
    pa: u64,
    lo: usize,
    hi: usize,
    set: bool,
) -> Result<u64> {
    // SAFETY: the caller owns `pa` exclusively.
    let page = unsafe { mem.page_mut(pa) }.ok_or(no_page(pa))?;
    let (first, last) = (lo / 64, hi / 64);
    let words = page.get_mut(first..=last).ok_or(no_page(pa))?;
    let mut changed = 0u64;
    for (i, word) in words.iter_mut().enumerate() {
        let w = first + i;
        let lo_b = if w == first { lo % 64 } else { 0 };
        let hi_b = if w == last { hi % 64 } else { 63 };
        let mask = (u64::MAX >> (63 - hi_b)) & (u64::MAX << lo_b);
        if set {
            changed += u64::from((mask & !*word).count_ones());
            *word |= mask;
        } else {
            changed += u64::from((mask & *word).count_ones());
            *word &= !mask;
        }
    }
    Ok(changed)
}

/// Sets (or clears) bit `bit` of the leaf at `pa`: one word read, changed and written, like
/// C's `__set_bit()` / `__clear_bit()`.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not borrowed elsewhere.
#[inline(always)]
unsafe fn leaf_bit<M: PageMem + ?Sized>(mem: &mut M, pa: u64, bit: usize, set: bool) -> Result {
    // SAFETY: the caller owns `pa` exclusively.
    let word = unsafe { mem.page_mut(pa) }
        .and_then(|p| p.get_mut(bit / 64))
        .ok_or(no_page(pa))?;
    let mask = 1u64 << (bit % 64);
    if set {
        *word |= mask;
    } else {
        *word &= !mask;
    }
    Ok(())
}

/// Frees the pages `pages`, last first.
///
/// # Safety
///
/// Every page must be owned by the caller, not preserved and not referenced elsewhere.
unsafe fn free_pages_of<M: PageMem + ?Sized>(mem: &mut M, pages: &[u64]) {
    for &pa in pages.iter().rev() {
        // SAFETY: the caller's requirement; each page is freed once.
        unsafe { mem.free(pa) };
    }
}

/// The error of a del whose key has an empty slot on its path.
#[cold]
#[inline(never)]
fn missing_node(key: u64) -> Error {
    Error::new(
        errno::ENOENT,
        "radix: missing node on the path of the key",
        key,
    )
}

/// Where [`RadixTree::descend`] or [`RadixTree::find`] stopped.
#[derive(Clone, Copy)]
enum Descent {
    /// The page looked for (the leaf holding the key, or the table of the level asked for).
    Found(u64),
    /// The key's slot in the table at `table`, of level `level`, is empty.
    Missing {
        /// Physical address of the table.
        table: u64,
        /// Level of the table (>= 1).
        level: u32,
    },
}

/// A run of consecutive blocks of one order, i.e. one contiguous key interval.
#[derive(Clone, Copy)]
struct Run {
    /// PFN of the first block.
    pfn: u64,
    /// Order of every block of the run.
    order: u32,
    /// Number of blocks.
    count: u64,
}

/// Splits `[pfn, pfn + left)` into maximal naturally aligned blocks like
/// `kho_preserve_pages()` and yields them merged into runs of equal order.
///
/// The block orders first rise, then stay at the cap, then fall, so there are at most about
/// `2 * max_order + 1` runs however long the range is.
#[derive(Clone)]
struct Runs {
    /// Next PFN to split.
    pfn: u64,
    /// Pages left.
    left: u64,
    max_order: u32,
}

impl Runs {
    /// Order and number of the blocks the next split step takes (`left` must be non-zero).
    fn step(&self) -> (u32, u64) {
        let ctz = self.pfn.trailing_zeros();
        let lg = 63 - self.left.leading_zeros();
        let order = ctz.min(lg).min(self.max_order);
        if order == self.max_order {
            (order, self.left >> order)
        } else {
            (order, 1)
        }
    }

    /// Consumes `count` blocks of `order` (they fit in `left` by construction).
    fn advance(&mut self, order: u32, count: u64) {
        let pages = count << order;
        self.pfn = self.pfn.wrapping_add(pages);
        self.left = self.left.saturating_sub(pages);
    }
}

impl Iterator for Runs {
    type Item = Run;

    fn next(&mut self) -> Option<Run> {
        if self.left == 0 {
            return None;
        }
        let pfn = self.pfn;
        let (order, mut count) = self.step();
        self.advance(order, count);
        while self.left != 0 {
            let (o, c) = self.step();
            if o != order {
                break;
            }
            self.advance(o, c);
            count += c;
        }
        Some(Run { pfn, order, count })
    }
}

/// The page range `[pa, pa + nr_pages * PAGE_SIZE)` of [`RadixTree::add_range`] and
/// [`RadixTree::del_range`], split into blocks of order at most `max_order`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageRange {
    /// Physical address of the first page; must be page aligned.
    pub(crate) pa: u64,
    /// Number of pages (0: no blocks).
    pub(crate) nr_pages: u64,
    /// Largest block order, clamped to `geo.max_order - 1`, the largest encodable order.
    pub(crate) max_order: u32,
}

impl PageRange {
    /// The range of `nr_pages` pages from `pa`, in blocks of order at most `max_order`.
    pub(crate) const fn new(pa: u64, nr_pages: u64, max_order: u32) -> Self {
        Self {
            pa,
            nr_pages,
            max_order,
        }
    }

    /// Checks the range (page-aligned start, inside the 64-bit space) and returns the
    /// inclusive key interval of each run of its blocks, in order.
    fn intervals<'g>(
        self,
        geo: &'g Geometry,
    ) -> Result<impl Iterator<Item = Result<(u64, u64)>> + Clone + 'g> {
        let pa = self.pa;
        if !geo.is_page_aligned(pa) {
            return Err(Error::inval("radix: range start not page aligned", pa));
        }
        let pfn = pa >> geo.page_shift;
        let limit = 1u64 << (64 - geo.page_shift);
        if !matches!(pfn.checked_add(self.nr_pages), Some(end) if end <= limit) {
            return Err(Error::new(
                errno::ERANGE,
                "radix: range beyond the physical address space",
                self.nr_pages,
            ));
        }
        let runs = Runs {
            pfn,
            left: self.nr_pages,
            max_order: self.max_order.min(geo.max_order.saturating_sub(1)),
        };
        Ok(runs.map(move |run| run_keys(geo, &run)))
    }
}

/// The inclusive key interval of a run.
fn run_keys(geo: &Geometry, run: &Run) -> Result<(u64, u64)> {
    let pa = run.pfn.checked_shl(geo.page_shift).unwrap_or(0);
    let lo = encode_key(geo, pa, run.order)?;
    let hi = run
        .count
        .checked_sub(1)
        .and_then(|c| lo.checked_add(c))
        .ok_or(Error::new(
            errno::ERANGE,
            "radix: range beyond the physical address space",
            run.count,
        ))?;
    check_key(geo, hi)?;
    Ok((lo, hi))
}

/// Pops a page from the free list threaded through word 0 of its pages, zeroing the link.
///
/// # Safety
///
/// Every page of the list at `pool` must be owned by the caller and not borrowed elsewhere.
unsafe fn pool_pop<M: PageMem + ?Sized>(mem: &mut M, pool: &mut u64) -> Result<u64> {
    let pa = *pool;
    if pa == 0 {
        return Err(Error::nomem("radix: node pool exhausted"));
    }
    // SAFETY: `pa` heads the list, whose pages the caller owns.
    let link = unsafe { mem.page_mut(pa) }
        .and_then(|p| p.first_mut())
        .ok_or(no_page(pa))?;
    *pool = *link;
    *link = 0;
    Ok(pa)
}

/// Frees every page of a free list threaded through word 0.
///
/// # Safety
///
/// Every page of the list at `pool` must be owned by the caller, not preserved and not
/// referenced elsewhere.
unsafe fn pool_free<M: PageMem + ?Sized>(mem: &mut M, mut pool: u64) {
    while pool != 0 {
        let pa = pool;
        // SAFETY: `pa` is on the list (owned by the caller), read before it is freed.
        pool = unsafe { mem.page(pa) }
            .and_then(|p| p.first())
            .copied()
            .unwrap_or(0);
        // SAFETY: as above; each page of the list is freed once.
        unsafe { mem.free(pa) };
    }
}

/// A KHO radix tree of keys ("radix-v1").
///
/// # Invariants
///
/// `root` is the physical address of the root table page of a tree whose pages all belong
/// to this tree (allocated by [`RadixTree::new`] and the operations, or restored by
/// [`RadixTree::restore`]), each reachable through exactly one slot, with depth
/// `geometry.depth`. The holder of the tree owns those pages in the sense of [`PageMem`]
/// (they are what the tree's `unsafe` page accesses rely on). The pages are reached only
/// through the [`PageMem`] passed to each operation, which must be the memory the tree
/// lives in.
///
/// `leaf` and `table` are pages of this tree or empty ([`Shortcut::NONE`]): `leaf.pa` is the
/// leaf holding the keys `k` with `k >> bitmap_log2 == leaf.prefix`, `table.pa` the level-1
/// table of the keys with `k >> level_shift(2) == table.prefix`. No operation unlinks or frees
/// a node while the tree lives, so a shortcut stays right once it is taken.
#[derive(Debug)]
pub(crate) struct RadixTree {
    /// Physical address of the root page.
    root: u64,
    /// The leaf of the last key added or deleted.
    leaf: Shortcut,
    /// The level-1 table (the one that links leaves) of the last key added or deleted.
    table: Shortcut,
}

/// Two trees are the same tree if they have the same root; their shortcuts do not matter.
impl PartialEq for RadixTree {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
    }
}

impl Eq for RadixTree {}

/// A node below the root remembered with the key bits that lead to it (see [`RadixTree`]).
///
/// Consecutive keys mostly share their path: contiguous pages share a leaf, and every
/// order-0 key below 64 GiB (4 KiB pages) shares one level-1 table. With the shortcuts an
/// add or del descends one level, or none, instead of `depth - 1`.
#[derive(Clone, Copy, Debug)]
struct Shortcut {
    /// Key bits above the node's subtree; [`u64::MAX`] (above every key) when empty.
    prefix: u64,
    /// Physical address of the node.
    pa: u64,
}

impl Shortcut {
    /// No node remembered.
    const NONE: Self = Self {
        prefix: u64::MAX,
        pa: 0,
    };
}

impl RadixTree {
    /// Creates an empty tree: allocates a zeroed root page.
    pub(crate) fn new<M: PageMem + ?Sized>(mem: &mut M) -> Result<Self> {
        Ok(Self::with_root(mem.alloc_zeroed()?))
    }

    /// Adopts the tree whose root page is at `root` without checking it.
    ///
    /// Incoming trees must go through [`RadixTree::restore`].
    ///
    /// # Safety
    ///
    /// `root` must be the root of a tree that satisfies the type invariants, built in this
    /// kernel (e.g. a root address kept by its owner), whose pages the caller owns and hands
    /// to the returned tree; or, for a tree that is only read (`contains`, `walk`), whose
    /// pages stay allocated and unmodified while the returned tree is used.
    pub(crate) const unsafe fn from_root(root: u64) -> Self {
        // INVARIANT: upheld by the caller, as required above.
        Self::with_root(root)
    }

    /// The tree at `root`, with no shortcut taken yet.
    const fn with_root(root: u64) -> Self {
        Self {
            root,
            leaf: Shortcut::NONE,
            table: Shortcut::NONE,
        }
    }

    /// Physical address of the root page (the handle stored for the next kernel).
    pub(crate) const fn root(&self) -> u64 {
        self.root
    }

    /// Adds `key`, like `kho_radix_add_key()`.
    ///
    /// Allocates missing nodes on the way down; if an allocation fails, every page allocated
    /// by this call is freed and the tree is left as it was. Adding a key already present
    /// succeeds without change.
    ///
    /// The common case, every node of the path present, is a short descent (see
    /// [`RadixTree::find`]) and one bit set; growing the tree and the errors are out of line
    /// ([`RadixTree::grow`]). That fast path is a few dozen instructions, so it is always
    /// inlined: in a caller's loop over keys the shortcuts then stay in registers and no
    /// call, frame or returned `Result` in memory is left per key.
    #[inline(always)]
    pub(crate) fn add<M: PageMem + ?Sized>(&mut self, mem: &mut M, key: u64) -> Result {
        let geo = *mem.geometry();
        check_key(&geo, key)?;
        let leaf = match self.find(mem, &geo, key)? {
            Descent::Found(leaf) => leaf,
            Descent::Missing { table, level } => {
                let leaf = self.grow(mem, &geo, key, table, level)?;
                // INVARIANT: `leaf` is now linked on the path of `key`.
                self.leaf = Shortcut {
                    prefix: key >> geo.bitmap_log2,
                    pa: leaf,
                };
                leaf
            }
        };
        // SAFETY: `leaf` is a leaf of the tree (type invariant), found or just linked.
        unsafe { leaf_bit(mem, leaf, geo.leaf_bit(key), true) }
    }

    /// Finds the leaf of `key` for an add or del, through the shortcuts, and takes them.
    ///
    /// The leaf shortcut answers at once; else the level-1 table shortcut leaves one slot to
    /// read; else the descent starts at the root ([`RadixTree::descend`]).
    #[inline(always)]
    fn find<M: PageMem + ?Sized>(&mut self, mem: &M, geo: &Geometry, key: u64) -> Result<Descent> {
        let leaf_prefix = key >> geo.bitmap_log2;
        if leaf_prefix == self.leaf.prefix {
            return Ok(Descent::Found(self.leaf.pa));
        }
        let table_prefix = key.checked_shr(geo.level_shift(2)).unwrap_or(0);
        let table = if table_prefix == self.table.prefix {
            self.table.pa
        } else {
            match self.descend(mem, geo, key, 2)? {
                Descent::Found(table) => {
                    // INVARIANT: `table` is the level-1 table on the path of `key`.
                    self.table = Shortcut {
                        prefix: table_prefix,
                        pa: table,
                    };
                    table
                }
                missing => return Ok(missing),
            }
        };
        // SAFETY: `table` is a level-1 table of the tree (type invariant).
        let leaf = unsafe { read_slot(mem, table, geo.table_index(key, 1)) }?;
        if leaf == 0 {
            return Ok(Descent::Missing { table, level: 1 });
        }
        // INVARIANT: `leaf` is the leaf on the path of `key`.
        self.leaf = Shortcut {
            prefix: leaf_prefix,
            pa: leaf,
        };
        Ok(Descent::Found(leaf))
    }

    /// Walks from the root towards the leaf of `key`, reading the slots of levels
    /// `root_level` down to `last` (>= 1); returns the page that the slot of level `last`
    /// links (the leaf for `last == 1`), or the first empty slot.
    ///
    /// Always inlined: with a constant geometry (the kernel's) the loop unrolls into one
    /// load, one test and one direct-map translation per level with constant shifts, like
    /// C's loop over `KHO_TREE_MAX_DEPTH`.
    #[inline(always)]
    fn descend<M: PageMem + ?Sized>(
        &self,
        mem: &M,
        geo: &Geometry,
        key: u64,
        last: u32,
    ) -> Result<Descent> {
        let mut pa = self.root;
        let mut level = geo.root_level();
        while level >= last {
            // SAFETY: `pa` is the root or a linked child: a page of the tree (type
            // invariant).
            let child = unsafe { read_slot(mem, pa, geo.table_index(key, level)) }?;
            if child == 0 {
                return Ok(Descent::Missing { table: pa, level });
            }
            pa = child;
            level -= 1;
        }
        Ok(Descent::Found(pa))
    }

    /// Links the missing pages of the path of `key` below slot `table_index(key, level)` of
    /// the table at `table` (a page of the tree, that slot empty); returns the new leaf.
    ///
    /// The `level` new pages (tables down to the leaf) are allocated first, top down as C
    /// does, and linked into each other; only then is the top one linked into the tree, with
    /// one write. If an allocation fails, the pages allocated so far are freed and the tree
    /// is untouched.
    #[cold]
    #[inline(never)]
    fn grow<M: PageMem + ?Sized>(
        &mut self,
        mem: &mut M,
        geo: &Geometry,
        key: u64,
        table: u64,
        level: u32,
    ) -> Result<u64> {
        // `new[l]` is the new page of level `l`, for `l < level`.
        let mut new = [0u64; STACK_DEPTH];
        let n = level as usize;
        let Some(new) = new.get_mut(..n) else {
            return Err(Error::new(
                errno::ELOOP,
                "radix: tree deeper than the walk stack",
                key,
            ));
        };
        for l in (0..n).rev() {
            match mem.alloc_zeroed() {
                Ok(pa) => new[l] = pa,
                Err(e) => {
                    // SAFETY: allocated by this call above, not linked anywhere.
                    unsafe { free_pages_of(mem, new.get(l + 1..).unwrap_or(&[])) };
                    return Err(e);
                }
            }
        }
        let mut res = Ok(());
        for l in 1..n {
            // SAFETY: `new[l]` was allocated by this call and is not linked anywhere.
            res = unsafe { write_slot(mem, new[l], geo.table_index(key, l as u32), new[l - 1]) };
            if res.is_err() {
                break;
            }
        }
        if res.is_ok() {
            // SAFETY: `table` is a page of the tree (the caller's requirement).
            res = unsafe { write_slot(mem, table, geo.table_index(key, level), new[n - 1]) };
        }
        match res {
            Ok(()) => Ok(new[0]),
            Err(e) => {
                // SAFETY: allocated by this call; the tree does not link them (the last
                // write, the only one into the tree, failed or was not made).
                unsafe { free_pages_of(mem, new) };
                Err(e)
            }
        }
    }

    /// Removes `key`, like `kho_radix_del_key()`; never frees nodes.
    ///
    /// Removing a key that is absent from an existing leaf succeeds. An empty slot on the way
    /// down is `-ENOENT` (C warns there); a too-wide key is `-ERANGE` (C ignores it).
    ///
    /// Always inlined, like [`RadixTree::add`].
    #[inline(always)]
    pub(crate) fn del<M: PageMem + ?Sized>(&mut self, mem: &mut M, key: u64) -> Result {
        let geo = *mem.geometry();
        check_key(&geo, key)?;
        match self.find(mem, &geo, key)? {
            // SAFETY: `leaf` is a leaf of the tree (type invariant).
            Descent::Found(leaf) => unsafe { leaf_bit(mem, leaf, geo.leaf_bit(key), false) },
            Descent::Missing { .. } => Err(missing_node(key)),
        }
    }

    /// Returns whether `key` is in the tree.
    pub(crate) fn contains<M: PageMem + ?Sized>(&self, mem: &M, key: u64) -> Result<bool> {
        let geo = *mem.geometry();
        check_key(&geo, key)?;
        let Descent::Found(leaf) = self.descend(mem, &geo, key, 1)? else {
            return Ok(false);
        };
        let bit = geo.leaf_bit(key);
        // SAFETY: `leaf` is a leaf of the tree (type invariant).
        let word = unsafe { mem.page(leaf) }
            .and_then(|p| p.get(bit / 64))
            .copied()
            .ok_or(no_page(leaf))?;
        Ok(word & (1u64 << (bit % 64)) != 0)
    }

    /// Walks the tree like `kho_radix_walk_tree()`.
    ///
    /// Depth-first pre-order: `node` for every table (root first), children in ascending slot
    /// order; for a leaf `node(pa, 0)` then `key` for each set bit in ascending order. Keys
    /// therefore arrive in ascending numeric order. A visitor error aborts the walk.
    pub(crate) fn walk<M: PageMem + ?Sized, V: RadixVisitor + ?Sized>(
        &self,
        mem: &M,
        visitor: &mut V,
    ) -> Result {
        let mut cur = Cursor::new(*mem.geometry(), self.root);
        loop {
            // SAFETY: the cursor reads only tables of this tree (type invariant).
            match unsafe { cur.step(mem) }? {
                Step::Node { pa, level, prefix } => {
                    visitor.node(pa, level)?;
                    if level == 0 {
                        // SAFETY: `pa` is a leaf of this tree (type invariant).
                        let leaf = unsafe { mem.page(pa) }.ok_or(no_page(pa))?;
                        visit_leaf(leaf, prefix, visitor)?;
                    }
                }
                Step::Leave { .. } => {}
                Step::End => return Ok(()),
            }
        }
    }

    /// Frees every page of the tree, children before parents, the root last.
    ///
    /// The pages must not be preserved any more (see [`RadixTree::unpreserve_nodes`]).
    pub(crate) fn destroy<M: PageMem + ?Sized>(self, mem: &mut M) {
        // SAFETY: the tree owns all its pages (type invariant) and is consumed here; the
        // caller unpreserved them, as documented.
        unsafe { free_first_pages(mem, self.root, u64::MAX) };
    }

    /// Preserves every node page for the next kernel (`mem.preserve(pa, 1)`); returns how
    /// many there are.
    ///
    /// On failure the pages preserved by this call are unpreserved again.
    pub(crate) fn preserve_nodes<M: PageMem + ?Sized>(&self, mem: &mut M) -> Result<u64> {
        let mut cur = Cursor::new(*mem.geometry(), self.root);
        let mut done = 0u64;
        let res = loop {
            // SAFETY: the cursor reads only tables of this tree (type invariant).
            let pa = match unsafe { cur.step(mem) } {
                Ok(Step::Node { pa, .. }) => pa,
                Ok(Step::Leave { .. }) => continue,
                Ok(Step::End) => break Ok(done),
                Err(e) => break Err(e),
            };
            // SAFETY: a node page of this tree, owned by it (type invariant) until
            // `destroy`, which the caller runs only after `unpreserve_nodes`.
            if let Err(e) = unsafe { mem.preserve(pa, 1) } {
                break Err(e);
            }
            done += 1;
        };
        if res.is_err() {
            // The same walk reaches the same pages in the same order.
            // SAFETY: the pages of this tree are owned by it (type invariant), and the
            // first `done` of them were preserved by the loop above, which reached the same
            // pages: `unpreserve` undoes exactly that.
            let _ = unsafe { for_first_pages(mem, self.root, done, |m, pa| m.unpreserve(pa, 1)) };
        }
        res
    }

    /// Unpreserves every node page (undoes [`RadixTree::preserve_nodes`]).
    pub(crate) fn unpreserve_nodes<M: PageMem + ?Sized>(&self, mem: &mut M) {
        // SAFETY: the pages of this tree are owned by it (type invariant): nobody else
        // preserved them, so `unpreserve` can only undo the tree's own `preserve_nodes`.
        let _ = unsafe { for_first_pages(mem, self.root, u64::MAX, |m, pa| m.unpreserve(pa, 1)) };
    }

    /// Adds the blocks of `range`.
    ///
    /// The range is split into maximal naturally aligned blocks of order at most
    /// `range.max_order` (clamped to `geo.max_order - 1`, the largest encodable order) like
    /// `kho_preserve_pages()` (`order = min(ctz(pfn), ilog2(remaining), max_order)`) and
    /// one key is added per block; runs of blocks of one order set whole leaf words at once.
    /// Returns the number of keys that were not present before.
    ///
    /// All node pages the call needs are allocated before the tree is touched: if an
    /// allocation fails they are freed and the tree is unchanged.
    pub(crate) fn add_range<M: PageMem + ?Sized>(
        &mut self,
        mem: &mut M,
        range: PageRange,
    ) -> Result<u64> {
        let geo = *mem.geometry();
        let intervals = range.intervals(&geo)?;
        // Pass 1: count missing pages (exact per run, possibly too many across runs that
        // share a missing node; the surplus is freed at the end).
        let mut need = 0u64;
        for keys in intervals.clone() {
            let (lo, hi) = keys?;
            need = need.saturating_add(self.count_missing(mem, &geo, lo, hi)?);
        }
        // Pass 2: allocate them into a free list threaded through word 0.
        let mut pool = 0u64;
        for _ in 0..need {
            let new = match mem.alloc_zeroed() {
                Ok(p) => p,
                Err(e) => {
                    // SAFETY: the pool holds only pages this call allocated.
                    unsafe { pool_free(mem, pool) };
                    return Err(e);
                }
            };
            // SAFETY: `new` was just allocated by this call.
            match unsafe { mem.page_mut(new) }.and_then(|p| p.first_mut()) {
                Some(link) => *link = pool,
                None => {
                    // SAFETY: `new` and the pool were allocated by this call, unlinked.
                    unsafe {
                        mem.free(new);
                        pool_free(mem, pool);
                    }
                    return Err(no_page(new));
                }
            }
            pool = new;
        }
        // Pass 3: link and set bits; fails only if `mem` breaks its contract.
        let mut added = 0u64;
        let mut res = Ok(());
        for keys in intervals {
            res = keys.and_then(|(lo, hi)| {
                // SAFETY: the pool holds pages this call allocated and did not link yet.
                unsafe { self.update_interval(mem, &geo, lo, hi, Some(&mut pool)) }
                    .map(|n| added += n)
            });
            if res.is_err() {
                break;
            }
        }
        // SAFETY: what is left in the pool was allocated by this call and never linked.
        unsafe { pool_free(mem, pool) };
        res.map(|()| added)
    }

    /// Removes the blocks of `range`.
    ///
    /// Splits the range exactly like [`RadixTree::add_range`] and clears whole leaf words at
    /// once. Keys of missing subtrees are skipped. Never frees nodes. Returns the number of
    /// keys that were present and are now removed.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn del_range<M: PageMem + ?Sized>(
        &mut self,
        mem: &mut M,
        range: PageRange,
    ) -> Result<u64> {
        let mut removed = 0u64;
        let geo = *mem.geometry();
        for keys in range.intervals(&geo)? {
            let (lo, hi) = keys?;
            // SAFETY: no pool: only pages of this tree are touched.
            removed += unsafe { self.update_interval(mem, &geo, lo, hi, None) }?;
        }
        Ok(removed)
    }

    /// Counts the pages missing for the key interval `lo..=hi`.
    fn count_missing<M: PageMem + ?Sized>(
        &self,
        mem: &M,
        geo: &Geometry,
        lo: u64,
        hi: u64,
    ) -> Result<u64> {
        let mut need = 0u64;
        let mut k = lo;
        loop {
            let mut pa = self.root;
            let mut level = geo.root_level();
            let mut end = hi.min(k | low_mask(geo.bitmap_log2));
            while level >= 1 {
                // SAFETY: `pa` is the root or a linked child: a page of the tree.
                let child = unsafe { read_slot(mem, pa, geo.table_index(k, level)) }?;
                if child == 0 {
                    // The missing node at `level - 1` covers `2^level_shift(level)` keys.
                    end = hi.min(k | low_mask(geo.level_shift(level)));
                    for l in 1..=level {
                        let s = geo.level_shift(l);
                        need = need.saturating_add((end >> s) - (k >> s) + 1);
                    }
                    break;
                }
                pa = child;
                level -= 1;
            }
            if end >= hi {
                return Ok(need);
            }
            k = end + 1;
        }
    }

    /// Sets (with a page pool) or clears (without) the keys `lo..=hi`, leaf by leaf.
    ///
    /// Setting links pool pages into empty slots; clearing skips empty slots. Returns the
    /// number of bits changed.
    ///
    /// # Safety
    ///
    /// The pages of `pool` (if any) must be owned by the caller and unlinked.
    unsafe fn update_interval<M: PageMem + ?Sized>(
        &mut self,
        mem: &mut M,
        geo: &Geometry,
        lo: u64,
        hi: u64,
        mut pool: Option<&mut u64>,
    ) -> Result<u64> {
        let leaf_mask = low_mask(geo.bitmap_log2);
        let mut changed = 0u64;
        let mut k = lo;
        loop {
            let mut pa = self.root;
            let mut level = geo.root_level();
            let mut end = hi.min(k | leaf_mask);
            let mut missing = false;
            while level >= 1 {
                let idx = geo.table_index(k, level);
                // SAFETY: `pa` is the root, a linked child or a pool page just linked: a
                // page of the tree.
                let mut child = unsafe { read_slot(mem, pa, idx) }?;
                if child == 0 {
                    match pool.as_deref_mut() {
                        Some(pool) => {
                            // SAFETY: the pool pages are owned and unlinked (requirement);
                            // `pa` is a page of the tree.
                            child = unsafe { pool_pop(mem, pool) }?;
                            // SAFETY: as above.
                            unsafe { write_slot(mem, pa, idx, child) }?;
                        }
                        None => {
                            end = hi.min(k | low_mask(geo.level_shift(level)));
                            missing = true;
                            break;
                        }
                    }
                }
                pa = child;
                level -= 1;
            }
            if !missing {
                let lo_bit = (k & leaf_mask) as usize;
                let hi_bit = (end & leaf_mask) as usize;
                // SAFETY: `pa` is a leaf of the tree (linked or from the pool).
                changed += unsafe { leaf_update(mem, pa, lo_bit, hi_bit, pool.is_some()) }?;
            }
            if end >= hi {
                return Ok(changed);
            }
            k = end + 1;
        }
    }

    /// Adopts and validates a tree handed over by the previous kernel.
    ///
    /// Checks the whole tree before it is used, page by page: check, claim, then read. The
    /// root and every table entry must be page aligned and name an order-0 page the
    /// previous kernel preserved, which is claimed with `mem.claim(pa, 1)` before a byte of
    /// it is read; as a page can be claimed once only, a page reached twice (a loop back to
    /// the root, two slots sharing a child) is rejected. Depth is fixed by the geometry (leaves are
    /// never followed), root slots must stay within the key width and the invalid keys 0 and
    /// 1 must not be set.
    /// On error every page restored so far is freed and nothing stays claimed.
    ///
    /// # Safety
    ///
    /// `root` must come from the caller's own state of the previous kernel (a subtree it
    /// published): every page reached from it is claimed ([`PageMem::claim`]), which
    /// proves that someone preserved it, not who.
    pub(crate) unsafe fn restore<M: PageMem + ?Sized>(
        mem: &mut M,
        root: u64,
    ) -> Result<(RadixTree, RadixStats)> {
        let geo = *mem.geometry();
        if root == 0 {
            return Err(Error::inval("radix: root address is 0", 0));
        }
        if !geo.is_page_aligned(root) {
            return Err(Error::inval("radix: root not page aligned", root));
        }
        let mut stats = RadixStats::default();
        let mut cur = Cursor::new(geo, root);
        let res = loop {
            // SAFETY: every table the cursor yielded was claimed (`Self::claim`) before the
            // next step, or the loop ended; claimed pages are owned by this function.
            let step = match unsafe { cur.step(mem) } {
                Ok(s) => s,
                Err(e) => break Err(e),
            };
            match step {
                Step::Node { pa, level, prefix } => {
                    if let Err(e) = Self::claim(mem, &geo, pa, level, prefix, &mut stats) {
                        break Err(e);
                    }
                }
                Step::Leave { .. } => {}
                Step::End => break Ok(()),
            }
        };
        match res {
            // INVARIANT: every page of the tree was claimed exactly once, depth is bounded by
            // the cursor, so the tree owns all its pages.
            Ok(()) => Ok((RadixTree::with_root(root), stats)),
            Err(e) => {
                // SAFETY: the first `stats.pages()` pages of the walk are exactly the pages
                // claimed so far (claimed in walk order), owned, not preserved in this kernel.
                unsafe { free_first_pages(mem, root, stats.pages()) };
                Err(e)
            }
        }
    }

    /// Validates and claims one incoming page for [`RadixTree::restore`].
    ///
    /// Counts the page in `stats` as soon as it is claimed, so that the caller can free it.
    fn claim<M: PageMem + ?Sized>(
        mem: &mut M,
        geo: &Geometry,
        pa: u64,
        level: u32,
        prefix: u64,
        stats: &mut RadixStats,
    ) -> Result {
        if !geo.is_page_aligned(pa) {
            return Err(Error::inval("radix: table entry not page aligned", pa));
        }
        if prefix.checked_shr(geo.key_width).unwrap_or(0) != 0 {
            let slot = prefix
                .checked_shr(geo.level_shift(geo.root_level()))
                .unwrap_or(0);
            return Err(Error::new(
                errno::ERANGE,
                "radix: root slot beyond the key width",
                slot,
            ));
        }
        // SAFETY: `pa` is reached from `root`, which comes from the caller's own state (this function's contract).
        if let Err(e) = unsafe { mem.claim(pa, 1) } {
            return Err(Error::new(
                e.errno,
                "radix: node page not preserved or reached twice",
                pa,
            ));
        }
        if level > 0 {
            stats.nodes += 1;
            return Ok(());
        }
        stats.leaves += 1;
        // SAFETY: claimed just above, so owned by the caller of `restore`.
        let leaf = unsafe { mem.page(pa) }.ok_or(no_page(pa))?;
        // Keys 0 and 1 are not valid keys (see `check_key`).
        if prefix == 0 && leaf.first().is_some_and(|w| w & 0b11 != 0) {
            return Err(Error::inval("radix: key 0 or 1 set in a leaf", pa));
        }
        let keys: u64 = leaf.iter().map(|w| u64::from(w.count_ones())).sum();
        stats.keys += keys;
        Ok(())
    }
}
