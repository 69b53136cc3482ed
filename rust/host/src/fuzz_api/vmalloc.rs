// SPDX-License-Identifier: GPL-2.0

//! Target `vmalloc`: the `struct kho_vmalloc` descriptor codec and `validate`,
//! `for_each_entry` and `restore` of its chunk chain.
//!
//! The reference ([`model_validate`], [`model_restore`]) follows the layout of
//! `include/linux/kho/abi/kexec_handover.h` (chunk = `next` + `(PAGE_SIZE - 8) / 8`
//! addresses) and the rules `pure::vmalloc::validate` documents, walking the chain with a
//! set of seen chunks instead of Floyd's algorithm: `first` non-zero and aligned, no unknown
//! flag, `order <= MAX_PAGE_ORDER` (10/11/13 for 4K/16K/64K), `total_pages` a non-zero
//! multiple of `2^order`, no loop, at most `entries / N + 1` chunks, entries packed before a
//! 0 terminator, only the last chunk not full, every block aligned with all its pages present,
//! entries x `2^order == total_pages`. Restoring also needs every chunk to be an order-0
//! block and every listed block a block of order `order` that the previous kernel
//! preserved, each claimed once. `validate` and `for_each_entry` are for this kernel's own
//! descriptors: they run on a copy of the memory in which every page is owned. The target
//! checks that the code agrees on every verdict,
//! on the stats and entry list, that `restore` hands over exactly the pages of the area in
//! order and claims exactly the chunks and blocks, and that a failure (including a page
//! list too small for the area, sized by the fuzzer) leaves nothing claimed.

use std::collections::BTreeSet;
use std::vec::Vec;
use zerocopy::IntoBytes;

use crate::pure::mem::PageMem;
use crate::pure::vmalloc::{for_each_entry, restore, validate, KhoVmalloc};
use crate::sim::{SimMem, SimPages};

use super::input::{owned_copy, Image, Reader};

/// What the reference finds in a valid chain.
#[derive(Debug)]
pub(crate) struct MVm {
    /// Chunk addresses in chain order.
    pub(crate) chunks: Vec<u64>,
    /// Block addresses in area order.
    pub(crate) entries: Vec<u64>,
    /// Every order-0 page of the area, in order.
    pub(crate) pages: Vec<u64>,
}

/// `MAX_PAGE_ORDER` per page shift.
fn max_page_order(page_shift: u32) -> u16 {
    match page_shift {
        12 => 10,
        14 => 11,
        _ => 13,
    }
}

/// Reference `validate` (read-only; does not look at preservation).
pub(crate) fn model_validate(mem: &SimMem, d: &KhoVmalloc) -> Option<MVm> {
    let shift = mem.geometry().page_shift;
    let ps = 1u64 << shift;
    let per = (ps as usize - 8) / 8;
    if d.first == 0
        || !d.first.is_multiple_of(ps)
        || d.flags & !3 != 0
        || d.order > max_page_order(shift)
    {
        return None;
    }
    let nr = 1u64 << d.order;
    let total = u64::from(d.total_pages);
    if total == 0 || total % nr != 0 {
        return None;
    }
    let expected = total / nr;
    let mut chunks = Vec::new();
    let mut seen = BTreeSet::new();
    let mut chunk = d.first;
    loop {
        if chunk == 0 || !chunk.is_multiple_of(ps) || !seen.insert(chunk) {
            return None;
        }
        let page = mem.page(chunk)?;
        chunks.push(chunk);
        if chunks.len() as u64 > expected / per as u64 + 1 {
            return None;
        }
        if page[0] == 0 {
            break;
        }
        chunk = page[0];
    }
    let mut entries = Vec::new();
    let mut pages = Vec::new();
    for (n, &c) in chunks.iter().enumerate() {
        let list = &mem.page(c)?[1..=per];
        let used = list.iter().take_while(|&&pa| pa != 0).count();
        if list[used..].iter().any(|&pa| pa != 0) || (used < per && n + 1 < chunks.len()) {
            return None;
        }
        for &pa in &list[..used] {
            if pa % (ps << d.order) != 0 {
                return None;
            }
            for k in 0..nr {
                let p = pa.checked_add(k * ps)?;
                mem.page(p)?;
                pages.push(p);
            }
            entries.push(pa);
        }
    }
    if entries.len() as u64 != expected {
        return None;
    }
    Some(MVm {
        chunks,
        entries,
        pages,
    })
}

/// Reference `restore`: valid, every chunk an order-0 block and every listed block a block
/// of order `order` preserved by the previous kernel, no page claimed twice, and the page
/// list (which holds at most `fail_at` pages) takes every page.
pub(crate) fn model_restore(mem: &SimMem, d: &KhoVmalloc, fail_at: Option<usize>) -> Option<MVm> {
    let m = model_validate(mem, d)?;
    let order = u32::from(d.order);
    let blocks = m
        .chunks
        .iter()
        .map(|&c| (c, 0))
        .chain(m.entries.iter().map(|&b| (b, order)));
    let mut claimed = BTreeSet::new();
    for (head, order) in blocks {
        if mem.incoming_order(head) != Some(order) {
            return None;
        }
        let ps = mem.geometry().page_size as u64;
        for k in 0..1u64 << order {
            if !claimed.insert(head + k * ps) {
                return None;
            }
        }
    }
    if fail_at.is_some_and(|f| f < m.pages.len()) {
        return None;
    }
    Some(m)
}

/// Restores `d` and checks it against the reference; returns the area's pages (owned by
/// the caller) if both accept.
pub(crate) fn restore_checked(
    mem: &mut SimMem,
    d: &KhoVmalloc,
    fail_at: Option<usize>,
) -> Option<Vec<u64>> {
    let valid = model_validate(mem, d);
    let view = owned_copy(mem);
    // SAFETY: every page of `view` is owned (nothing in it is incoming) and nothing changes
    // it while `validate` runs.
    match (unsafe { validate(&view, d) }, &valid) {
        (Ok(s), Some(m)) => {
            assert_eq!((s.chunks, s.entries), (m.chunks.len(), m.entries.len()));
        }
        (Err(_), None) => {}
        (got, want) => panic!("vmalloc validate = {got:?}, reference {want:?}"),
    }
    let mut listed = Vec::new();
    // SAFETY: as for `validate` above.
    let each = unsafe { for_each_entry(&view, d, |pa| listed.push(pa)) };
    assert_eq!(each.is_ok(), valid.is_some());
    if let Some(m) = &valid {
        assert_eq!(listed, m.entries, "for_each_entry order");
    }

    let model = model_restore(mem, d, fail_at);
    let before = mem.incoming.clone();
    let mut got = SimPages {
        pas: Vec::new(),
        limit: fail_at,
    };
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    match (unsafe { restore(mem, d, &mut got) }, model) {
        (Ok(s), Some(m)) => {
            assert_eq!((s.chunks, s.entries), (m.chunks.len(), m.entries.len()));
            assert_eq!(got.pas, m.pages, "restored pages differ from the area's");
            let claimed: BTreeSet<u64> = before.difference(&mem.incoming).copied().collect();
            let want: BTreeSet<u64> = m.chunks.iter().chain(&m.pages).copied().collect();
            assert_eq!(claimed, want, "claimed pages differ from chunks + area");
            for &c in &m.chunks {
                assert!(
                    mem.page(c).is_none(),
                    "chunk {c:#x} not freed after restore"
                );
            }
            Some(got.pas)
        }
        (Err(_), None) => None,
        (Ok(_), None) => panic!("vmalloc restore accepted what the reference rejects"),
        (Err(e), Some(_)) => panic!("vmalloc restore rejected a valid area: {e}"),
    }
}

/// Non-zero entry words in the first 64 distinct chunks from `first` (input shaping only).
fn listed_entries(mem: &SimMem, first: u64) -> u64 {
    let mut seen = BTreeSet::new();
    let mut n = 0u64;
    let mut c = first;
    while seen.len() < 64 && seen.insert(c) {
        let Some(page) = mem.page(c) else { break };
        n += page[1..].iter().filter(|&&w| w != 0).count() as u64;
        c = page[0];
    }
    n
}

/// Zeroes the entries of chunk number `n` (0-based, at most 64 hops from `first`) from slot
/// `at * N / 255` on (input shaping only).
fn cut(mem: &mut SimMem, first: u64, n: u8, at: u8) {
    let mut c = first;
    for _ in 0..n.min(64) {
        match mem.page(c) {
            Some(p) => c = p[0],
            None => return,
        }
    }
    if let Some(page) = mem.page_mut(c) {
        let per = page.len() - 1;
        let from = 1 + usize::from(at) * per / 255;
        page[from..].fill(0);
    }
}

/// The `vmalloc` target; returns whether the area was restored.
///
/// Input: image header, `u8 mode` (bit 0: raw 16-byte descriptor follows, else `value
/// first, u32 total_pages, u8 flags, u8 order`; bit 1: after the writes, cut a chunk and
/// replace total_pages by the chain's entry count times `2^order`), `u16 limit` (0: the
/// page list has no limit, else it holds at most `limit - 1` pages), `u8 cut chunk, u8 cut slot` (see [`cut`]), then
/// write records.
pub(crate) fn run(data: &[u8]) -> bool {
    let mut r = Reader::new(data);
    let mut img = Image::build(&mut r);
    let mode = r.u8();
    let mut desc = if mode & 1 != 0 {
        let raw = r.bytes(16);
        let parsed = KhoVmalloc::from_bytes(raw);
        if raw.len() != 16 {
            assert!(
                parsed.is_err(),
                "descriptor of {} bytes accepted",
                raw.len()
            );
            return false;
        }
        let d = parsed.expect("16 bytes always parse");
        assert_eq!(d.as_bytes(), raw, "descriptor re-encodes differently");
        assert_eq!(d.first.to_ne_bytes(), raw[0..8]);
        assert_eq!(d.total_pages.to_ne_bytes(), raw[8..12]);
        assert_eq!(d.flags.to_ne_bytes(), raw[12..14]);
        assert_eq!(d.order.to_ne_bytes(), raw[14..16]);
        d
    } else {
        KhoVmalloc {
            first: img.value(&mut r),
            total_pages: r.u32(),
            flags: u16::from(r.u8()),
            order: u16::from(r.u8()),
        }
    };
    let fail_at = match r.u16() {
        0 => None,
        n => Some(usize::from(n) - 1),
    };
    let (cut_chunk, cut_at) = (r.u8(), r.u8());
    img.apply_writes(&mut r);
    if mode & 2 != 0 {
        // Shape the chain with single bytes: cut chunk `cut_chunk` after `cut_at / 255` of
        // its slots (255: no cut), then make total_pages agree with the chain, so that one
        // changed byte gives a new valid, or subtly invalid, area rather than a mismatch.
        if cut_at != 255 {
            cut(&mut img.mem, desc.first, cut_chunk, cut_at);
        }
        desc.total_pages = (listed_entries(&img.mem, desc.first) << desc.order.min(16)) as u32;
        img.incoming = img.mem.incoming.clone();
        img.before = super::input::snapshot(&img.mem);
    }
    assert_eq!(KhoVmalloc::from_bytes(desc.as_bytes()), Ok(desc));

    let restored = restore_checked(&mut img.mem, &desc, fail_at);
    let ok = restored.is_some();
    for pa in restored.unwrap_or_default() {
        img.mem.free(pa);
    }
    img.check_released();
    ok
}
