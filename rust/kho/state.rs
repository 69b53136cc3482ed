// SPDX-License-Identifier: GPL-2.0

//! The library's safe API: folios, a vmalloc area and typed entries carried across kexec
//! as one named KHO subtree.
//!
//! A driver builds an [`Outgoing`] state in the first kernel, hands it the memory it wants
//! to keep ([`Folio`]s, one [`VmallocArea`]) and the entries that describe it (any
//! `T: FromBytes + IntoBytes + Immutable + KnownLayout`), and publishes it. The next
//! kernel finds it by name with [`Restored::retrieve`] and gets owned objects back.
//!
//! Every value owns what it names, and dropping it undoes what it did: a [`Folio`] frees
//! its pages, an unpublished or published [`Outgoing`] unpreserves and frees everything
//! it holds (and removes its subtree), a [`Restored`] frees what it claimed. No function
//! here takes a physical address or a pointer, and nothing from the previous kernel is
//! referenced before it is claimed: the subtree's blob, every radix node, folio, vmalloc
//! chunk and block is checked against KHO's preservation mark and claimed first.
//!
//! A published state is sealed: its blob records crc32c digests of its values and of every
//! metadata page. The next kernel compares them, reading copies of the pages (checked
//! against KHO's mark, not claimed), before it claims anything: a damaged state is rejected
//! whole, and a damaged pointer cannot take a page from another KHO user.
//!
//! The state is kho-rs's subtree format (`Documentation/kho-rs-abi.rst`): the folios are
//! the keys of a radix-v1 tree, the area a vmalloc-v1 descriptor, the entries a block-v1
//! set, the digests a seal-v1 node, under the compatibility string
//! `kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1`.
//!
//! # Examples
//!
//! ```ignore
//! use kho::{Folio, Outgoing, Restored, VmallocArea};
//!
//! #[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
//! #[repr(C)]
//! struct Config { magic: u64, count: u64 }
//!
//! // First kernel.
//! let mut out = Outgoing::<Config>::new(c"my-driver")?;
//! let mut folio = Folio::new(2)?;
//! folio.as_mut_slice()[0] = 0x5a;
//! out.add_folio(folio)?;
//! out.set_vmalloc(VmallocArea::new(1 << 20)?)?;
//! out.push(Config { magic: 1, count: 1 })?;
//! let published = out.publish(1)?; // keep it until kexec; dropping it unpublishes
//!
//! // Next kernel.
//! if let Some(state) = Restored::<Config>::retrieve(c"my-driver")? {
//!     assert_eq!(state.folios()[0].as_slice()[0], 0x5a);
//! }
//! ```

use kernel::prelude::*;
use kernel::str::CString;

use crate::glue::kho::{core_err, errno, require_enabled};
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::glue::seal;
use crate::glue::subtree::{IncomingBlob, OutgoingBlob};
use crate::glue::vmalloc::{self as gv, RestoredVmalloc};
use crate::pure::block::{BlockEntry, BlockSet};
use crate::pure::mem::PageMem;
use crate::pure::radix::{decode_key, encode_key, RadixTree, RadixVisitor};
use crate::pure::seal::Parts;
use crate::pure::subtree::{self, Footprint, SubtreeInfo};
use crate::pure::vmalloc::{chunk_pages as vmalloc_chunk_pages, KhoVmalloc};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub use crate::glue::vmalloc::VmallocArea;

/// What a state's entries can be: any plain-old-data type that zerocopy can turn into bytes
/// and back (derive `FromBytes, IntoBytes, Immutable, KnownLayout` on a `#[repr(C)]`
/// struct without padding), of at most `PAGE_SIZE - 16` bytes (a build error otherwise).
/// An entry is written to the next kernel as its bytes.
pub trait Entry: FromBytes + IntoBytes + Immutable + KnownLayout {}

impl<T: FromBytes + IntoBytes + Immutable + KnownLayout> Entry for T {}

/// Largest folio order the library preserves and restores: `MAX_PAGE_ORDER`.
pub const MAX_FOLIO_ORDER: u32 = GEOMETRY.max_page_order as u32;

/// How the pages of a [`Folio`] are given back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Allocated in this kernel as one block: `__free_pages(order)`.
    Allocated,
    /// Claimed from the previous kernel: `kho_restore_pages()` made them order-0 pages,
    /// freed one by one.
    Claimed,
}

/// A naturally aligned block of `2^order` pages owned by the module.
///
/// # Invariants
///
/// `pa` is the physical address of `2^order` contiguous pages, `order <=`
/// [`MAX_FOLIO_ORDER`], owned by this value alone (allocated, or claimed from the previous
/// kernel, as `origin` says) and not preserved while it is a `Folio` outside an
/// [`Outgoing`]; dropping it frees them.
pub struct Folio {
    pa: u64,
    order: u32,
    origin: Origin,
}

impl Folio {
    /// Allocates a zeroed block of `2^order` pages.
    pub fn new(order: u32) -> Result<Self> {
        if order > MAX_FOLIO_ORDER {
            pr_err!("folio: order {} is above {}\n", order, MAX_FOLIO_ORDER);
            return Err(EINVAL);
        }
        let mut mem = KernelMem::new();
        let pa = mem.alloc_pages(order).map_err(|e| core_err("folio", e))?;
        // INVARIANT: just allocated as one block of `order`, owned by nobody else.
        let mut folio = Self {
            pa,
            order,
            origin: Origin::Allocated,
        };
        folio.as_mut_slice().fill(0);
        Ok(folio)
    }

    /// The folio's order: it is `2^order` pages long.
    pub fn order(&self) -> u32 {
        self.order
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        GEOMETRY.page_size << self.order
    }

    /// Always false: a folio has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The folio's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the pages are owned by `self` (type invariant) and `&self` excludes
        // writers for the slice's life.
        let words = unsafe { KernelMem::owned_words(self.pa, 1 << self.order) };
        words.map_or(&[], |w| zerocopy::IntoBytes::as_bytes(w))
    }

    /// The folio's bytes, for writing.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the pages are owned by `self` (type invariant) and `&mut self` makes the
        // borrow unique for the slice's life.
        let words = unsafe { KernelMem::owned_words_mut(self.pa, 1 << self.order) };
        words.map_or(&mut [], |w| zerocopy::IntoBytes::as_mut_bytes(w))
    }
}

impl Drop for Folio {
    fn drop(&mut self) {
        let mut mem = KernelMem::new();
        match self.origin {
            // SAFETY: allocated as one block of `order` and owned by `self` (type
            // invariant), not preserved, referenced by nothing else.
            Origin::Allocated => unsafe { mem.free_pages(self.pa, self.order) },
            Origin::Claimed => {
                for i in 0..1u64 << self.order {
                    // SAFETY: claimed as order-0 pages and owned by `self` (type
                    // invariant); each page freed once.
                    unsafe { mem.free(self.pa + i * GEOMETRY.page_size as u64) };
                }
            }
        }
    }
}

/// A state being built in this kernel, published with [`Outgoing::publish`].
///
/// # Invariants
///
/// Every folio in `folios` is preserved and its key is in `tree`; `vdesc` is the published
/// Rust preservation of `area`; `blocks` holds no block until publication. Dropping it
/// unpreserves and frees everything.
pub struct Outgoing<T: Entry> {
    name: CString,
    tree: Option<RadixTree>,
    nodes_preserved: bool,
    folios: KVec<Folio>,
    area: Option<VmallocArea>,
    vdesc: Option<KhoVmalloc>,
    entries: KVVec<T>,
    blocks: BlockSet<T>,
    blob: Option<OutgoingBlob>,
}

// SAFETY: the only methods of `Outgoing` and `Published` that take `&self` read the name
// and the folios (`Folio::as_slice`, a read of pages nobody writes through `&self`); the
// block set (not `Sync`, see `BlockSet`) is reached only through `&mut self` and `Drop`.
unsafe impl<T: Entry> Sync for Outgoing<T> {}

impl<T: Entry> Outgoing<T> {
    /// Starts a state to publish as the KHO subtree `name`.
    ///
    /// Fails with `-EOPNOTSUPP` if KHO is disabled (nothing could be preserved).
    pub fn new(name: &CStr) -> Result<Self> {
        require_enabled("kho state")?;
        Ok(Self {
            name: CString::try_from_fmt(fmt!("{}", name.to_str().map_err(|_| EINVAL)?))?,
            tree: None,
            nodes_preserved: false,
            folios: KVec::new(),
            area: None,
            vdesc: None,
            entries: KVVec::new(),
            blocks: BlockSet::new(GEOMETRY),
            blob: None,
        })
    }

    /// Preserves `folio` for the next kernel and keeps it in the state. On failure the
    /// folio is freed and the state is as before.
    pub fn add_folio(&mut self, folio: Folio) -> Result {
        let mut mem = KernelMem::new();
        if self.tree.is_none() {
            self.tree = Some(RadixTree::new(&mut mem).map_err(|e| core_err("radix", e))?);
        }
        let key = encode_key(&GEOMETRY, folio.pa, folio.order).map_err(|e| core_err("radix", e))?;
        self.folios.reserve(1, GFP_KERNEL)?;
        // SAFETY: the folio's pages are owned by `folio` (its invariant), which this state
        // keeps until it unpreserves them.
        unsafe { mem.preserve(folio.pa, 1 << folio.order) }
            .map_err(|e| core_err("folio preserve", e))?;
        let added = match self.tree.as_mut() {
            Some(tree) => tree.add(&mut mem, key),
            None => Ok(()),
        };
        if let Err(e) = added {
            // SAFETY: preserved just above with the same range.
            unsafe { mem.unpreserve(folio.pa, 1 << folio.order) };
            return Err(core_err("radix add", e));
        }
        // Room was reserved above.
        self.folios.push(folio, GFP_KERNEL)?;
        Ok(())
    }

    /// Preserves `area` (vmalloc-v1) and keeps it in the state; one area per state
    /// (`-EBUSY` for a second). On failure the area is freed.
    pub fn set_vmalloc(&mut self, area: VmallocArea) -> Result {
        if self.area.is_some() {
            return Err(EBUSY);
        }
        let desc = gv::preserve(&area)?.publish();
        self.vdesc = Some(desc);
        self.area = Some(area);
        Ok(())
    }

    /// Appends `entry` to the state's entries (block-v1, written at publication).
    pub fn push(&mut self, entry: T) -> Result {
        self.entries.push(entry, GFP_KERNEL)?;
        Ok(())
    }

    /// Writes the entries, preserves the radix tree and registers the subtree with
    /// `generation` (at least 1; the next kernel reads it back). The state stays
    /// published until the returned value is dropped.
    pub fn publish(mut self, generation: u64) -> Result<Published<T>> {
        let mut mem = KernelMem::new();
        if generation == 0 || generation == u64::MAX {
            pr_err!("kho state: generation {} is out of range\n", generation);
            return Err(EINVAL);
        }
        let mut info = SubtreeInfo {
            generation,
            ..SubtreeInfo::default()
        };
        // What the state keeps preserved, counted as the workload counts it: the data,
        // the metadata pages and the blob.
        let mut footprint = Footprint {
            blob: 1,
            ..Footprint::default()
        };
        if let Some(tree) = self.tree.as_ref() {
            footprint.radix_nodes = tree
                .preserve_nodes(&mut mem)
                .map_err(|e| core_err("radix preserve", e))?;
            self.nodes_preserved = true;
            info.radix_root = tree.root();
            info.radix_keys = self.folios.len() as u64;
        }
        if !self.entries.is_empty() {
            self.blocks
                .grow(&mut mem, self.entries.len())
                .map_err(|e| core_err("block grow", e))?;
            if self.blocks.iter().write_slice(&mut mem, &self.entries) != self.entries.len() {
                return Err(ENOSPC);
            }
            self.blocks.trim(&mut mem);
            self.blocks
                .validate_outgoing(&mem)
                .map_err(|e| core_err("block publish", e))?;
        }
        info.block_head = self.blocks.head_pa();
        info.block_entry_size = T::SIZE as u64;
        info.block_count = self.entries.len() as u64;
        if let (Some(desc), Some(area)) = (self.vdesc, self.area.as_ref()) {
            info.vmalloc = desc;
            info.vmalloc_bytes = area.len() as u64;
            footprint.vmalloc_chunks = vmalloc_chunk_pages(&GEOMETRY, &desc);
        }
        footprint.blocks = self.blocks.nblocks() as u64;
        footprint.data_bytes =
            info.vmalloc_bytes + self.folios.iter().map(|f| f.len() as u64).sum::<u64>();
        info.preserved_pages = footprint.preserved_pages(GEOMETRY.page_size);
        // SAFETY: every page reachable from `info` is this state's own (its radix tree,
        // its vmalloc area's chunks, its blocks), complete and not written any more.
        info.seal = unsafe { seal::seal_outgoing(&mem, &info) }?;
        self.blob = Some(OutgoingBlob::publish(&self.name, |buf| {
            subtree::write(buf, &info, &subtree::COMPAT)
        })?);
        Ok(Published(self))
    }
}

impl<T: Entry> Drop for Outgoing<T> {
    fn drop(&mut self) {
        let mut mem = KernelMem::new();
        // The subtree first, so the next kernel never sees a half-torn state.
        self.blob = None;
        self.blocks.destroy(&mut mem);
        if let Some(desc) = self.vdesc.take() {
            // SAFETY: published by `gv::preserve` for `self.area` (type invariant), which
            // is still allocated; unpreserved once.
            unsafe { gv::unpreserve_published(&desc) };
        }
        self.area = None;
        if let Some(tree) = self.tree.take() {
            if self.nodes_preserved {
                tree.unpreserve_nodes(&mut mem);
            }
            tree.destroy(&mut mem);
        }
        for folio in self.folios.drain_all() {
            // SAFETY: preserved by `add_folio` with this range (type invariant).
            unsafe { mem.unpreserve(folio.pa, 1 << folio.order) };
            drop(folio);
        }
    }
}

/// A published state: its subtree is registered, and everything it names stays preserved
/// for the next kernel until this value is dropped (which undoes it all).
pub struct Published<T: Entry>(Outgoing<T>);

impl<T: Entry> Published<T> {
    /// The subtree's name.
    pub fn name(&self) -> &CStr {
        &self.0.name
    }

    /// The folios it keeps preserved.
    pub fn folios(&self) -> &[Folio] {
        &self.0.folios
    }
}

/// Collects the keys of a radix tree during a walk (also the workload's restore).
pub(crate) struct Keys(pub(crate) KVec<u64>);

impl RadixVisitor for Keys {
    fn key(&mut self, key: u64) -> crate::pure::error::Result {
        self.0
            .push(key, GFP_KERNEL)
            .map_err(|_| crate::pure::error::Error::nomem("radix key list"))
    }
}

/// A state restored from the previous kernel: everything it named, claimed and owned.
pub struct Restored<T: Entry> {
    generation: u64,
    folios: KVec<Folio>,
    area: Option<RestoredVmalloc>,
    entries: KVVec<T>,
}

impl<T: Entry> Restored<T> {
    /// Finds the subtree `name` that the previous kernel published with
    /// [`Outgoing::publish`], validates it, claims everything it names and returns it;
    /// `Ok(None)` if there is no such subtree.
    ///
    /// The state's seal is checked first, on copies of its pages: a state that does not
    /// match it, or that is of a version this build does not read, is rejected with
    /// nothing claimed (`-EBADMSG` for a digest mismatch), and a later call rejects it the
    /// same way. Otherwise the state is consumed: it can be restored once, and a second
    /// call fails (its blob is claimed). Any later error (entries of another size, a state
    /// whose seal matched but whose structures do not validate) frees what was claimed so
    /// far and says why; what the state named and was not claimed stays reserved.
    pub fn retrieve(name: &CStr) -> Result<Option<Self>> {
        let Some(blob) = IncomingBlob::retrieve(name)? else {
            return Ok(None);
        };
        let inc = subtree::read_granular(blob.bytes(), &subtree::ACCEPT).map_err(|e| {
            pr_err!("kho state: {}\n", e);
            Error::from_errno(e.to_errno())
        })?;
        if let Some(m) = inc.first_refused() {
            pr_err!("kho state: {}\n", subtree::SubtreeError::Compat(m));
            return Err(errno(kernel::bindings::EPROTO));
        }
        let info = inc.info;
        // Nothing is claimed before the seal matches: a damaged state is rejected whole,
        // and pages its damaged pointers name stay with whoever preserved them.
        seal::check_incoming(&info, Parts::ALL)?
            .map_err(|e| core_err("kho state: rejected before any claim", e))?;
        blob.consume()?;
        drop(blob);
        if info.block_count != 0 && info.block_entry_size != T::SIZE as u64 {
            pr_err!(
                "kho state: entries are {} bytes, not {}\n",
                info.block_entry_size,
                T::SIZE
            );
            return Err(errno(kernel::bindings::EPROTO));
        }
        let mut mem = KernelMem::new();
        let mut state = Self {
            generation: info.generation,
            folios: KVec::new(),
            area: None,
            entries: KVVec::new(),
        };
        if info.block_head != 0 {
            // SAFETY: `block_head` comes from the subtree `name`, the caller's own state.
            let mut blocks = unsafe { BlockSet::<T>::restore(&mut mem, info.block_head) }
                .map_err(|e| core_err("kho state: block", e))?;
            let n = blocks.written(&mem);
            let read = state
                .entries
                .reserve(n, GFP_KERNEL)
                .map_err(Error::from)
                .map(|()| {
                    for _ in 0..n {
                        // Room was reserved above: cannot fail.
                        let _ = state.entries.push(T::new_zeroed(), GFP_KERNEL);
                    }
                    blocks.iter().read_slice(&mem, &mut state.entries)
                });
            blocks.destroy(&mut mem);
            state.entries.truncate(read?);
        }
        if state.entries.len() as u64 != info.block_count {
            pr_err!(
                "kho state: {} entries, the subtree says {}\n",
                state.entries.len(),
                info.block_count
            );
            return Err(EINVAL);
        }
        if info.radix_root != 0 {
            // SAFETY: `radix_root` comes from the subtree `name`, the caller's own state.
            let (tree, _) = unsafe { RadixTree::restore(&mut mem, info.radix_root) }
                .map_err(|e| core_err("kho state: radix", e))?;
            let mut keys = Keys(KVec::new());
            let walked = tree.walk(&mem, &mut keys);
            tree.destroy(&mut mem);
            walked.map_err(|e| core_err("kho state: radix walk", e))?;
            state.folios.reserve(keys.0.len(), GFP_KERNEL)?;
            for &key in keys.0.iter() {
                let (pa, order) =
                    decode_key(&GEOMETRY, key).map_err(|e| core_err("kho state: key", e))?;
                if order > MAX_FOLIO_ORDER {
                    pr_err!("kho state: folio {:#x} has order {}\n", pa, order);
                    return Err(EINVAL);
                }
                // SAFETY: the key comes from the radix tree of the subtree `name`, the
                // caller's own state; the claim checks KHO's mark of every block.
                unsafe { mem.claim(pa, 1 << order) }
                    .map_err(|e| core_err("kho state: folio", e))?;
                // INVARIANT: claimed just above as `2^order` order-0 pages.
                state.folios.push(
                    Folio {
                        pa,
                        order,
                        origin: Origin::Claimed,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        if info.radix_keys != state.folios.len() as u64 {
            pr_err!(
                "kho state: {} folios, the subtree says {}\n",
                state.folios.len(),
                info.radix_keys
            );
            return Err(EINVAL);
        }
        if info.vmalloc.total_pages != 0 {
            // SAFETY: the descriptor comes from the subtree `name`, the caller's own state.
            state.area = Some(unsafe { gv::restore(&info.vmalloc) }?);
        }
        Ok(Some(state))
    }
}

impl<T: Entry> Restored<T> {
    /// The generation the previous kernel published.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The folios, in address order.
    pub fn folios(&self) -> &[Folio] {
        &self.folios
    }

    /// Takes the folios out of the state (they stay owned, and free their pages on drop).
    pub fn take_folios(&mut self) -> KVec<Folio> {
        core::mem::take(&mut self.folios)
    }

    /// The restored vmalloc area's bytes, if the state had one.
    pub fn vmalloc(&self) -> Option<&[u8]> {
        self.area.as_ref().map(|a| a.as_slice())
    }

    /// The entries, in the order they were pushed.
    pub fn entries(&self) -> &[T] {
        &self.entries
    }
}
