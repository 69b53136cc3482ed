// SPDX-License-Identifier: GPL-2.0

//! Targets `radix_key` (key codec) and `radix_restore` (adopting an incoming tree).
//!
//! References, written from the wire format in `pure::radix`'s documentation and the
//! numbers of `include/linux/kho/abi/kexec_handover.h` (depth 6/5/4 for 4K/16K/64K pages):
//!
//! * [`model_decode`]: the order is found by trying each order bit position in turn; the
//!   address is the bits below it shifted back. [`model_encode`] computes in `u128`.
//! * [`model_restore`]: a recursive walk of the fuzzer's pages that claims each page once,
//!   requires every table entry to be a page-aligned page preserved as an order-0 block and
//!   not seen before, every
//!   child's key range to start below `2^key_width`, and no key 0 or 1 in the first leaf;
//!   it lists the pages in pre-order and the keys in ascending order.
//!
//! `radix_restore` checks that `RadixTree::restore` accepts exactly the trees the reference
//! accepts and claims exactly its pages; that stats, `walk` (pages and keys, in order),
//! `contains` and `decode_key` of every key agree; then edits the restored tree (`del`,
//! `add`, `preserve_nodes`/`unpreserve_nodes`), destroys it and checks that every claimed or
//! allocated page is freed and nothing else is touched. On rejection nothing may stay
//! claimed.

use std::collections::BTreeSet;
use std::vec::Vec;

use crate::pure::error::{errno, Result};
use crate::pure::geometry::Geometry;
use crate::pure::mem::PageMem;
use crate::pure::radix::{decode_key, encode_key, RadixTree, RadixVisitor};
use crate::sim::SimMem;

use super::input::{Image, Reader};

/// Tree depth per page shift, from the C header (not from `Geometry`).
fn depth(page_shift: u32) -> u32 {
    match page_shift {
        12 => 6,
        14 => 5,
        _ => 4,
    }
}

/// Reference key decoder: `(pa, order)` or `None` for an invalid key.
pub(crate) fn model_decode(page_shift: u32, key: u64) -> Option<(u64, u32)> {
    // Order `o` puts its marker bit at `64 - page_shift - o`; bit 0 (key 1) is not valid.
    (0..64 - page_shift).find_map(|order| {
        let bit = 64 - page_shift - order;
        (key >> bit == 1).then(|| ((key & ((1u64 << bit) - 1)) << (page_shift + order), order))
    })
}

/// Reference key encoder: `None` when the order is too large or `pa` is misaligned.
pub(crate) fn model_encode(page_shift: u32, pa: u64, order: u32) -> Option<u64> {
    let shift = page_shift + order;
    if shift >= 64 || u128::from(pa) % (1u128 << shift) != 0 {
        return None;
    }
    let key = (1u128 << (64 - shift)) | (u128::from(pa) >> shift);
    u64::try_from(key).ok()
}

/// The `radix_key` target; returns whether the key decoded.
pub(crate) fn run_key(data: &[u8]) -> bool {
    let mut r = Reader::new(data);
    let geo: Geometry = r.geometry();
    let ps = geo.page_shift;
    let key = r.u64();
    let pa = r.u64();
    let order = u32::from(r.u8());

    let decoded = decode_key(&geo, key).is_ok();
    match (decode_key(&geo, key), model_decode(ps, key)) {
        (Ok(got), Some(want)) => {
            assert_eq!(got, want, "decode_key({key:#x})");
            assert_eq!(encode_key(&geo, got.0, got.1), Ok(key), "re-encode");
        }
        (Err(e), None) => {
            let want = if key == 0 {
                errno::EINVAL
            } else {
                errno::ERANGE
            };
            assert_eq!(e.errno, want, "decode_key({key:#x}): {e}");
        }
        (got, want) => panic!("decode_key({key:#x}) = {got:?}, reference {want:?}"),
    }

    for (pa, order) in [(pa, order), (pa, order % (64 - ps)), (pa << ps, order & 7)] {
        match (encode_key(&geo, pa, order), model_encode(ps, pa, order)) {
            (Ok(got), Some(want)) => {
                assert_eq!(got, want, "encode_key({pa:#x}, {order})");
                assert_eq!(decode_key(&geo, got), Ok((pa, order)), "decode(encode)");
            }
            (Err(e), None) => {
                // Order max_order (block = the whole address space) is -ERANGE whatever the
                // address; a larger order or a misaligned address is -EINVAL.
                let want = if order == 64 - ps {
                    errno::ERANGE
                } else {
                    errno::EINVAL
                };
                assert_eq!(e.errno, want, "encode_key({pa:#x}, {order}): {e}");
            }
            (got, want) => panic!("encode_key({pa:#x}, {order}) = {got:?}, reference {want:?}"),
        }
    }
    decoded
}

/// What the reference finds in a valid incoming tree.
#[derive(Debug, Default)]
pub(crate) struct MRadix {
    /// Every page in pre-order with its level.
    pub(crate) pages: Vec<(u64, u32)>,
    /// Every key, ascending.
    pub(crate) keys: Vec<u64>,
}

struct Walk<'a> {
    mem: &'a SimMem,
    ps: u64,
    key_width: u32,
    table_log2: u32,
    bitmap_log2: u32,
    seen: BTreeSet<u64>,
    out: MRadix,
}

impl Walk<'_> {
    fn visit(&mut self, pa: u64, level: u32, prefix: u128) -> Option<()> {
        if !pa.is_multiple_of(self.ps) || prefix >= 1u128 << self.key_width {
            return None;
        }
        let page = self.mem.page(pa)?;
        // An order-0 block of the previous kernel, not reached before.
        if self.mem.incoming_order(pa) != Some(0) || !self.seen.insert(pa) {
            return None;
        }
        self.out.pages.push((pa, level));
        if level > 0 {
            let shift = (level - 1) * self.table_log2 + self.bitmap_log2;
            for (i, &child) in page.iter().enumerate() {
                if child != 0 {
                    self.visit(child, level - 1, prefix | ((i as u128) << shift))?;
                }
            }
        } else {
            if prefix == 0 && page[0] & 3 != 0 {
                return None;
            }
            for (wi, &w) in page.iter().enumerate() {
                for b in 0..64 {
                    if w >> b & 1 == 1 {
                        self.out.keys.push((prefix + wi as u128 * 64 + b) as u64);
                    }
                }
            }
        }
        Some(())
    }
}

/// Reference restore of the tree at `root` in `mem` (read-only).
pub(crate) fn model_restore(mem: &SimMem, root: u64) -> Option<MRadix> {
    let shift = mem.geometry().page_shift;
    let ps = 1u64 << shift;
    if root == 0 {
        return None;
    }
    let mut w = Walk {
        mem,
        ps,
        key_width: 65 - shift,
        table_log2: shift - 3,
        bitmap_log2: shift + 3,
        seen: BTreeSet::new(),
        out: MRadix::default(),
    };
    w.visit(root, depth(shift) - 1, 0)?;
    Some(w.out)
}

/// Records a walk.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) pages: Vec<(u64, u32)>,
    pub(crate) keys: Vec<u64>,
}

impl RadixVisitor for Recorder {
    fn node(&mut self, pa: u64, level: u32) -> Result {
        self.pages.push((pa, level));
        Ok(())
    }

    fn key(&mut self, key: u64) -> Result {
        self.keys.push(key);
        Ok(())
    }
}

/// Restores the tree at `root` and checks it against the reference; returns the tree and
/// its keys if both accept. Claimed pages are checked against the reference's.
pub(crate) fn restore_checked(mem: &mut SimMem, root: u64) -> Option<(RadixTree, Vec<u64>)> {
    let before = mem.incoming.clone();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let (tree, stats, model) = match (model_restore(mem, root), unsafe {
        RadixTree::restore(mem, root)
    }) {
        (None, Err(_)) => return None,
        (None, Ok(_)) => panic!("radix restore accepted a tree the reference rejects"),
        (Some(_), Err(e)) => panic!("radix restore rejected a valid tree: {e}"),
        (Some(m), Ok((t, s))) => (t, s, m),
    };
    let claimed: BTreeSet<u64> = before.difference(&mem.incoming).copied().collect();
    let want: BTreeSet<u64> = model.pages.iter().map(|p| p.0).collect();
    assert_eq!(claimed, want, "claimed pages differ from the tree's pages");
    let nodes = model.pages.iter().filter(|p| p.1 > 0).count() as u64;
    assert_eq!(tree.root(), root);
    assert_eq!(
        (stats.nodes, stats.leaves, stats.keys),
        (
            nodes,
            model.pages.len() as u64 - nodes,
            model.keys.len() as u64
        )
    );
    let mut rec = Recorder::default();
    tree.walk(mem, &mut rec).expect("walk of a restored tree");
    assert_eq!(rec.pages, model.pages, "walk pages");
    assert_eq!(rec.keys, model.keys, "walk keys");
    let geo = *mem.geometry();
    for &k in &model.keys {
        let d = decode_key(&geo, k);
        assert_eq!(
            d.ok(),
            model_decode(geo.page_shift, k),
            "restored key {k:#x}"
        );
        assert!(d.is_ok(), "a restored tree holds an invalid key {k:#x}");
    }
    Some((tree, model.keys))
}

/// The `radix_restore` target; returns whether the tree was restored.
pub(crate) fn run_restore(data: &[u8]) -> bool {
    let mut r = Reader::new(data);
    let mut img = Image::build(&mut r);
    let root = img.value(&mut r);
    let ops = r.u8();
    let add_key = r.u64();
    img.apply_writes(&mut r);

    let restored = restore_checked(&mut img.mem, root);
    let ok = restored.is_some();
    if let Some((mut tree, keys)) = restored {
        let mem = &mut img.mem;
        let geo = *mem.geometry();
        for &k in keys.iter().take(64) {
            assert_eq!(tree.contains(mem, k), Ok(true));
            if let Some(n) = k.checked_add(1) {
                if model_decode(geo.page_shift, n).is_some() {
                    assert_eq!(tree.contains(mem, n), Ok(keys.binary_search(&n).is_ok()));
                }
            }
        }
        let mut left: BTreeSet<u64> = keys.iter().copied().collect();
        if ops & 1 != 0 {
            if let Some(&k) = keys.first() {
                tree.del(mem, k).expect("del of a present key");
                assert_eq!(tree.contains(mem, k), Ok(false));
                left.remove(&k);
            }
        }
        if ops & 2 != 0 {
            match (
                tree.add(mem, add_key),
                model_decode(geo.page_shift, add_key),
            ) {
                (Ok(()), Some(_)) => {
                    left.insert(add_key);
                }
                (Err(_), None) => {}
                (got, want) => panic!("add({add_key:#x}) = {got:?}, reference {want:?}"),
            }
        }
        let mut rec = Recorder::default();
        tree.walk(mem, &mut rec).expect("walk after edits");
        assert_eq!(rec.keys, left.iter().copied().collect::<Vec<_>>());
        if ops & 4 != 0 {
            tree.preserve_nodes(mem).expect("preserve_nodes");
            assert_eq!(mem.preserved.len(), rec.pages.len());
            tree.unpreserve_nodes(mem);
            assert!(mem.preserved.is_empty());
        }
        tree.destroy(mem);
    }
    img.check_released();
    ok
}
