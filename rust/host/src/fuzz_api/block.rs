// SPDX-License-Identifier: GPL-2.0

//! Target `block`: `BlockSet::restore` of an incoming `kho_block` chain and reading it.
//!
//! The reference ([`model_restore`]) follows `include/linux/kho/abi/block.h` (`u64 next,
//! u64 count`, entries from byte 16, `(PAGE_SIZE - 16) / entry_size` per block) and the
//! rules `BlockSet::restore` documents, with a set of seen blocks instead of Floyd's
//! algorithm: every block page aligned and present, count in `1..=per block`, no loop, at
//! most `KHO_MAX_BLOCKS` (10000) blocks, every block an order-0 block the previous kernel
//! preserved (read by the reference without claiming it). The fuzzer picks the head,
//! the entry size (8, 24, 32, 100, 4080) and a count to shrink to. The target checks the
//! verdict, the claimed pages, the set's accessors and that every entry read back is the
//! bytes at its offset; then shrinks and destroys the set and checks nothing stays claimed.

use std::collections::BTreeSet;
use std::vec::Vec;

use crate::pure::block::{BlockEntry, BlockSet};
use crate::pure::mem::PageMem;
use crate::sim::SimMem;

use super::input::{Image, Reader};

/// What the reference finds in a valid chain.
#[derive(Debug, Default)]
pub(crate) struct MBlocks {
    /// Block addresses in chain order.
    pub(crate) blocks: Vec<u64>,
    /// Raw bytes of every entry, in order.
    pub(crate) entries: Vec<Vec<u8>>,
}

/// Reference restore of the chain at `head` for entries of `size` bytes.
pub(crate) fn model_restore(mem: &SimMem, head: u64, size: usize) -> Option<MBlocks> {
    let ps = mem.geometry().page_size;
    let cap = (ps - 16) / size;
    let mut out = MBlocks::default();
    let mut seen = BTreeSet::new();
    let mut pa = head;
    while pa != 0 {
        if !pa.is_multiple_of(ps as u64) || !seen.insert(pa) || mem.incoming_order(pa) != Some(0) {
            return None;
        }
        // The simulator's own accessor: the reference reads without claiming.
        let bytes = mem.bytes(pa);
        let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8"));
        let count = word(1);
        if count == 0 || count > cap as u64 {
            return None;
        }
        for i in 0..count as usize {
            out.entries
                .push(bytes[16 + i * size..16 + (i + 1) * size].to_vec());
        }
        out.blocks.push(pa);
        if out.blocks.len() > 10_000 {
            return None;
        }
        pa = word(0);
    }
    Some(out)
}

/// Restores the chain at `head` for `E` and checks it against the reference; returns the
/// set and its entries if both accept.
pub(crate) fn restore_checked<E: BlockEntry>(
    mem: &mut SimMem,
    head: u64,
) -> Option<(BlockSet<E>, Vec<E>)> {
    let model = model_restore(mem, head, E::SIZE);
    let before = mem.incoming.clone();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let (set, model) = match (unsafe { BlockSet::<E>::restore(mem, head) }, model) {
        (Err(_), None) => return None,
        (Ok(_), None) => panic!("block restore accepted a chain the reference rejects"),
        (Err(e), Some(_)) => panic!("block restore rejected a valid chain: {e}"),
        (Ok(s), Some(m)) => (s, m),
    };
    let claimed: BTreeSet<u64> = before.difference(&mem.incoming).copied().collect();
    assert_eq!(
        claimed,
        model.blocks.iter().copied().collect::<BTreeSet<_>>()
    );
    let cap = (mem.geometry().page_size - 16) / E::SIZE;
    assert!(set.is_incoming());
    assert_eq!(set.count_per_block(), cap);
    assert_eq!(set.nblocks(), model.blocks.len());
    assert_eq!(set.is_empty(), model.blocks.is_empty());
    assert_eq!(set.capacity(), model.blocks.len() * cap);
    assert_eq!(set.head_pa(), model.blocks.first().copied().unwrap_or(0));
    assert_eq!(set.written(mem), model.entries.len());
    assert!(set.validate_outgoing(mem).is_ok());
    let mut got = Vec::new();
    let mut raw = Vec::new();
    {
        let mut it = set.iter();
        while let Some(e) = it.read_entry(mem) {
            let mut b = std::vec![0u8; E::SIZE];
            e.encode(&mut b);
            raw.push(b);
            got.push(e);
            assert!(got.len() <= model.entries.len(), "read past the last entry");
        }
    }
    assert_eq!(raw, model.entries, "entries differ from the blocks' bytes");
    Some((set, got))
}

fn run_typed<E: BlockEntry>(img: &mut Image, head: u64, shrink: usize) -> bool {
    let restored = restore_checked::<E>(&mut img.mem, head);
    let ok = restored.is_some();
    if let Some((mut set, _)) = restored {
        let n = set.nblocks();
        let cap = set.count_per_block();
        set.shrink(&mut img.mem, shrink);
        assert_eq!(
            set.nblocks(),
            n.min(shrink.div_ceil(cap)),
            "shrink({shrink})"
        );
        set.destroy(&mut img.mem);
        assert!(set.is_empty() && set.head_pa() == 0);
    }
    img.check_released();
    ok
}

/// The `block` target; returns whether the chain was restored.
pub(crate) fn run(data: &[u8]) -> bool {
    let mut r = Reader::new(data);
    let mut img = Image::build(&mut r);
    let head = img.value(&mut r);
    let kind = r.u8();
    let shrink = usize::from(r.u16());
    img.apply_writes(&mut r);
    match kind % 5 {
        0 => run_typed::<u64>(&mut img, head, shrink),
        1 => run_typed::<[u8; 24]>(&mut img, head, shrink),
        2 => run_typed::<[u8; 32]>(&mut img, head, shrink),
        3 => run_typed::<[u8; 100]>(&mut img, head, shrink),
        _ => run_typed::<[u8; 4080]>(&mut img, head, shrink),
    }
}
