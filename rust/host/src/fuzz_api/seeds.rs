// SPDX-License-Identifier: GPL-2.0

//! The seed corpus: a few valid and a few typically damaged inputs per target.
//!
//! Valid structures are made by the outgoing (writer) side of the pure core in a fresh
//! simulated memory and dumped into the image format of [`super::input`], so the fuzzer
//! starts from inputs that reach the end of every decoder.

use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;
use zerocopy::IntoBytes;

use crate::pure::block::BlockSet;
use crate::pure::compat::KHO_RS_COMPATIBLE;
use crate::pure::fdt::FdtWriter;
use crate::pure::geometry::{Geometry, G16K, G4K, G64K};
use crate::pure::mem::PageMem;
use crate::pure::radix::{encode_key, RadixTree};
use crate::pure::seal::Seal;
use crate::pure::subtree::{self, SubtreeCompat, SubtreeInfo, COMPAT};
use crate::pure::vmalloc::{self as vm, KhoVmalloc, KHO_VMALLOC_ALLOC};
use crate::sim::SimMem;

use super::input::{ImageWriter, PageState, MAX_STRUCT_PAGES};
use super::Seed;

const GEOS: [(u8, Geometry); 3] = [(0, G4K), (1, G16K), (2, G64K)];

struct Out(Vec<Seed>);

impl Out {
    fn add(&mut self, target: &'static str, name: impl Into<String>, data: Vec<u8>) {
        self.0.push(Seed {
            target,
            name: name.into(),
            data,
        });
    }
}

/// A memory laid out as image pages `0..total` (every page allocated in order).
struct Dump {
    base: u64,
    ps: u64,
    total: usize,
}

impl Dump {
    fn of(mem: &SimMem) -> Self {
        let pages = mem.live_pages();
        let base = *pages.first().expect("empty memory");
        let ps = mem.geometry().page_size as u64;
        let total = pages.len();
        for (i, pa) in pages.iter().enumerate() {
            assert_eq!(*pa, base + i as u64 * ps, "seed memory not contiguous");
        }
        Self { base, ps, total }
    }

    fn idx(&self, pa: u64) -> u16 {
        ((pa - self.base) / self.ps) as u16
    }

    fn as_ref(&self, w: u64) -> Option<u16> {
        (w >= self.base
            && (w - self.base).is_multiple_of(self.ps)
            && (w - self.base) / self.ps < 0xffff)
            .then(|| self.idx(w))
    }

    /// Header with every page preserved: the first `data` pages as data pages in blocks of
    /// `2^order` pages, the others as structure pages (order 0), `overrides` changing the
    /// state of structure pages (indexed from the first one).
    fn header(
        &self,
        geo_index: u8,
        overrides: &[(usize, PageState)],
        data: usize,
        order: u8,
    ) -> ImageWriter {
        let n = self.total - data;
        assert!((1..=MAX_STRUCT_PAGES).contains(&n), "{n} structure pages");
        let mut states = vec![PageState::Preserved; n];
        for &(i, s) in overrides {
            states[i] = s;
        }
        ImageWriter::new(geo_index, &states, data as u16, order)
    }

    /// Write records for every non-zero word (runs of page references compressed).
    fn records(&self, mem: &SimMem, w: &mut ImageWriter) {
        for i in 0..self.total {
            let pa = self.base + i as u64 * self.ps;
            let words = mem.page(pa).expect("page");
            let mut j = 0;
            while j < words.len() {
                let v = words[j];
                if let Some(first) = self.as_ref(v) {
                    let mut len = 1;
                    while let Some(next) = words.get(j + len).and_then(|&x| self.as_ref(x)) {
                        if next != first + len as u16 {
                            break;
                        }
                        len += 1;
                    }
                    if len >= 3 {
                        w.run(i as u16, j as u16, len as u16, first, 1);
                    } else {
                        w.link(i as u16, j as u16, first);
                        len = 1;
                    }
                    j += len;
                    continue;
                }
                if v != 0 {
                    if v < 256 {
                        w.u8(0).u16(i as u16).u16(j as u16).small(v as u8);
                    } else {
                        w.word(i as u16, j as u16, v);
                    }
                }
                j += 1;
            }
        }
    }
}

/// A plausible subtree description (generation 3), shared with the host tests.
pub(crate) fn sample_info() -> SubtreeInfo {
    SubtreeInfo {
        generation: 3,
        seed: 0x1234_5678_9abc_def0,
        radix_root: 0x1_2345_6000,
        radix_keys: 77,
        vmalloc: KhoVmalloc {
            first: 0x2_0000_0000,
            total_pages: 16384,
            flags: 1,
            order: 0,
        },
        vmalloc_bytes: 64 << 20,
        block_head: 0x3_0000_1000,
        block_entry_size: 32,
        block_count: 100_000,
        seal: Seal {
            root: 0x1111_2222,
            radix: 0x3333_4444,
            vmalloc: 0x5555_6666,
            block: 0xffff_ffff,
        },
        preserved_pages: 17_654,
    }
}

fn subtree_blob(c: &SubtreeCompat<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = subtree::write(&mut buf, &sample_info(), c).expect("subtree write");
    buf.truncate(n);
    buf
}

/// A blob shaped like the KHO root FDT, written by `FdtWriter`.
fn kho_root_blob() -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = FdtWriter::new(&mut buf).expect("writer");
    let r: crate::pure::error::Result<()> = (|| {
        w.begin_node("")?;
        w.property_str("compatible", "kho-v4;radix-v1;vmalloc-v1")?;
        w.property_u64_ne("preserved-memory-map", 0x1_0000_0000)?;
        w.begin_node("kexec-metadata")?;
        w.property("compatible", b"a-v1\0b-v2\0")?;
        w.property_u32_be("cells", 2)?;
        w.end_node()?;
        w.begin_node("LUO")?;
        w.property_str("compatible", "luo-v5;block-v1")?;
        w.begin_node("inner")?;
        w.property("empty", b"")?;
        w.end_node()?;
        w.end_node()?;
        w.end_node()
    })();
    r.expect("write kho root");
    let n = w.finish().expect("finish");
    buf.truncate(n);
    buf
}

/// Assembles a blob by hand: version 16 or 17, reservation entries, NOPs, shared strings.
fn hand_blob(version: u32) -> Vec<u8> {
    let strings = b"compatible\0reg\0";
    let mut st = Vec::new();
    let tok = |st: &mut Vec<u8>, t: u32| st.extend_from_slice(&t.to_be_bytes());
    tok(&mut st, 4);
    tok(&mut st, 1);
    st.extend_from_slice(&[0, 0, 0, 0]);
    tok(&mut st, 3);
    st.extend_from_slice(&5u32.to_be_bytes());
    st.extend_from_slice(&0u32.to_be_bytes());
    st.extend_from_slice(b"x-v1\0\0\0\0");
    tok(&mut st, 1);
    st.extend_from_slice(b"node@1\0\0");
    tok(&mut st, 4);
    tok(&mut st, 3);
    st.extend_from_slice(&8u32.to_be_bytes());
    st.extend_from_slice(&11u32.to_be_bytes());
    st.extend_from_slice(&0x1000u64.to_be_bytes());
    tok(&mut st, 2);
    tok(&mut st, 2);
    tok(&mut st, 9);
    let header = if version >= 17 { 40 } else { 36 };
    let rsv_off = 40usize; // 8-aligned either way
    let rsv: [(u64, u64); 2] = [(0x8000_0000, 0x1000), (0, 0)];
    let st_off = rsv_off + 16 * rsv.len();
    let str_off = st_off + st.len();
    let total = str_off + strings.len();
    let mut b = vec![0u8; total];
    let hdr = [
        0xd00d_feed,
        total as u32,
        st_off as u32,
        str_off as u32,
        rsv_off as u32,
        version,
        16,
        0,
        strings.len() as u32,
        st.len() as u32,
    ];
    for (i, v) in hdr.iter().enumerate().take(header / 4) {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    for (i, (a, s)) in rsv.iter().enumerate() {
        b[rsv_off + 16 * i..rsv_off + 16 * i + 8].copy_from_slice(&a.to_be_bytes());
        b[rsv_off + 16 * i + 8..rsv_off + 16 * i + 16].copy_from_slice(&s.to_be_bytes());
    }
    b[st_off..str_off].copy_from_slice(&st);
    b[str_off..].copy_from_slice(strings);
    b
}

fn fdt_seeds(o: &mut Out) {
    o.add("fdt", "subtree", subtree_blob(&COMPAT));
    o.add("fdt", "kho-root", kho_root_blob());
    o.add("fdt", "hand-v17", hand_blob(17));
    o.add("fdt", "hand-v16", hand_blob(16));
    let mut t = kho_root_blob();
    t.truncate(t.len() - 9);
    o.add("fdt", "truncated", t);
}

fn subtree_seeds(o: &mut Out) {
    o.add("subtree", "valid", subtree_blob(&COMPAT));
    let v2 = SubtreeCompat {
        root: "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v2",
        vmalloc: "vmalloc-v2",
        ..COMPAT
    };
    o.add("subtree", "vmalloc-v2", subtree_blob(&v2));
    let child = SubtreeCompat {
        block: "block-v9",
        ..COMPAT
    };
    o.add("subtree", "child-block-v9", subtree_blob(&child));
    let missing = SubtreeCompat {
        root: "kho-rs-v1;block-v1;seal-v1;vmalloc-v1",
        ..COMPAT
    };
    o.add("subtree", "root-missing-radix", subtree_blob(&missing));
}

fn compat_seeds(o: &mut Out) {
    let pairs: [(&str, &str, &str); 7] = [
        ("same", KHO_RS_COMPATIBLE, KHO_RS_COMPATIBLE),
        (
            "version",
            KHO_RS_COMPATIBLE,
            "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v2",
        ),
        ("missing", "kho-v4;radix-v1;vmalloc-v1", "kho-v4;radix-v1"),
        ("base", "luo-v5;block-v1", "memfd-v2;vmalloc-v1"),
        ("unexpected", "luo-v5", "luo-v5;block-v1;zz-v3"),
        ("malformed", "a-v01;b-v1", "x-v4294967296"),
        ("order-dup", "base-v1;b-v1;a-v1", "base-v1;a-v1;a-v2;"),
    ];
    for (name, a, b) in pairs {
        o.add("compat", name, format!("{a}\0{b}").into_bytes());
    }
}

fn radix_key_seeds(o: &mut Out) {
    for (gi, geo) in GEOS {
        for (name, pa, order) in [
            ("order0", 0x1_2345_0000u64, 0u32),
            ("order9", 0x8000_0000, 9),
        ] {
            let key = encode_key(&geo, pa, order).expect("key");
            let mut d = vec![gi];
            d.extend_from_slice(&key.to_le_bytes());
            d.extend_from_slice(&pa.to_le_bytes());
            d.push(order as u8);
            o.add("radix_key", format!("{name}-{}k", geo.page_size >> 10), d);
        }
    }
    let mut d = vec![0u8];
    d.extend_from_slice(&1u64.to_le_bytes());
    d.extend_from_slice(&u64::MAX.to_le_bytes());
    d.push(52);
    o.add("radix_key", "edge", d);
}

fn radix_restore_seeds(o: &mut Out) {
    for (gi, geo) in GEOS {
        let mut mem = SimMem::new(geo);
        let mut tree = RadixTree::new(&mut mem).expect("radix");
        let ps = geo.page_size as u64;
        // Keys in one leaf, in other leaves and of other orders.
        let keys = [
            (0x1_0000_0000u64, 0),
            (0x1_0000_0000 + 5 * ps, 0),
            (0x1_0000_0000 + 64 * ps, 0),
            (0x40_0000_0000, 3),
            (0x2_0000_0000, 10),
            // Key 2 (the largest order at address 0) sits next to the invalid keys 0 and 1.
            (0, geo.max_order - 1),
        ];
        for (pa, order) in keys {
            tree.add(&mut mem, encode_key(&geo, pa, order).expect("key"))
                .expect("add");
        }
        let dump = Dump::of(&mem);
        let size = geo.page_size >> 10;
        for (name, ops, overrides) in [
            ("tree", 0u8, vec![]),
            ("tree-edit", 7, vec![]),
            ("tree-stray-node", 0, vec![(2usize, PageState::Stray)]),
            (
                "tree-absent-leaf",
                1,
                vec![(dump.total - 1, PageState::Absent)],
            ),
        ] {
            let mut w = dump.header(gi, &overrides, 0, 0);
            w.page_ref(dump.idx(tree.root()))
                .u8(ops)
                .u64(encode_key(&geo, 0x3_0000_0000, 1).expect("key"));
            dump.records(&mem, &mut w);
            o.add("radix_restore", format!("{name}-{size}k"), w.out);
        }
    }
}

/// Data pages of `blocks` blocks of `2^order` pages, the first eight tagged in word 1.
fn vm_data(mem: &mut SimMem, blocks: usize, order: u16) -> Vec<u64> {
    let ps = mem.geometry().page_size as u64;
    (0..blocks)
        .map(|b| {
            let pa = mem.alloc_zeroed().expect("alloc");
            assert_eq!(pa % (ps << order), 0, "seed data not aligned");
            for k in 1..1u64 << order {
                assert_eq!(mem.alloc_zeroed().expect("alloc"), pa + k * ps);
            }
            if b < 8 {
                mem.page_mut(pa).expect("page")[1] = 0x1000 + b as u64;
            }
            pa
        })
        .collect()
}

fn vmalloc_seeds(o: &mut Out) {
    let cases: [(u8, Geometry, usize, u16, u16, &str); 7] = [
        (0, G4K, 3, 0, 0, "small"),
        (0, G4K, 4, 2, 0, "order2"),
        (0, G4K, 512, 0, 0, "two-chunks"),
        (0, G4K, 511, 0, 0, "empty-last-chunk"),
        (0, G4K, 620, 0, 0, "two-chunks-auto-total"),
        (1, G16K, 5, 1, 3, "sink-fails"),
        (2, G64K, 2, 0, 0, "small"),
    ];
    for (gi, geo, blocks, order, fail_at, name) in cases {
        let mut mem = SimMem::new(geo);
        let data = vm_data(&mut mem, blocks, order);
        let total = (blocks as u32) << order;
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let desc = unsafe {
            vm::preserve(
                &mut mem,
                data.iter().copied(),
                total,
                order,
                KHO_VMALLOC_ALLOC,
            )
        }
        .expect("vmalloc preserve");
        let dump = Dump::of(&mem);
        let data_pages = blocks << order;
        let mut w = dump.header(gi, &[], data_pages, order as u8);
        w.u8(if name.contains("auto") { 2 } else { 0 })
            .page_ref(dump.idx(desc.first))
            .u32(desc.total_pages)
            .u8(desc.flags as u8)
            .u8(desc.order as u8)
            .u16(fail_at)
            .u8(0)
            .u8(255);
        dump.records(&mem, &mut w);
        o.add("vmalloc", format!("{name}-{}k", geo.page_size >> 10), w.out);
        if name == "small" && gi == 0 {
            // The same chain through the raw 16-byte descriptor.
            let mut w = dump.header(gi, &[], data_pages, order as u8);
            w.u8(1);
            w.out.extend_from_slice(desc.as_bytes());
            w.u16(0).u8(0).u8(255);
            dump.records(&mem, &mut w);
            o.add("vmalloc", "raw-descriptor-4k", w.out);
        }
    }
}

fn block_seeds(o: &mut Out) {
    for (gi, geo) in GEOS {
        let size = geo.page_size >> 10;
        // 100-byte entries across three blocks; only every 16th is non-zero (small seeds).
        let mut mem = SimMem::new(geo);
        let mut set = BlockSet::<[u8; 100]>::new(geo);
        let n = 2 * set.count_per_block() + 3;
        set.grow(&mut mem, n).expect("grow");
        {
            let mut it = set.iter();
            for i in 0..n {
                let mut e = [0u8; 100];
                if i % 16 == 0 {
                    e[0] = i as u8 | 1;
                }
                it.write(&mut mem, &e).expect("write");
            }
        }
        let dump = Dump::of(&mem);
        for (name, shrink) in [("e100", 0xffffu16), ("e100-shrink", 5)] {
            let mut w = dump.header(gi, &[], 0, 0);
            w.page_ref(dump.idx(set.head_pa())).u8(3).u16(shrink);
            dump.records(&mem, &mut w);
            o.add("block", format!("{name}-{size}k"), w.out);
        }
        // u64 entries, two blocks.
        let mut mem = SimMem::new(geo);
        let mut set = BlockSet::<u64>::new(geo);
        let n = set.count_per_block() + 2;
        set.grow(&mut mem, n).expect("grow");
        {
            let mut it = set.iter();
            for i in 0..n as u64 {
                it.write(&mut mem, &(if i % 64 == 0 { i + 1 } else { 0 }))
                    .expect("write");
            }
        }
        let dump = Dump::of(&mem);
        let mut w = dump.header(gi, &[], 0, 0);
        w.page_ref(dump.idx(set.head_pa())).u8(0).u16(1);
        dump.records(&mem, &mut w);
        o.add("block", format!("u64-{size}k"), w.out);
    }
}

/// Image target input: parameters, then damage ops.
fn image_input(
    gi: u8,
    seed: u64,
    folios: u8,
    vm_order: u8,
    vm_blocks: u16,
    filler: u16,
    damage: &[u8],
) -> Vec<u8> {
    let mut d = vec![gi];
    d.extend_from_slice(&seed.to_le_bytes());
    d.push(folios);
    d.push(vm_order);
    d.extend_from_slice(&vm_blocks.to_le_bytes());
    d.extend_from_slice(&filler.to_le_bytes());
    d.extend_from_slice(damage);
    d
}

fn image_seeds(o: &mut Out) {
    o.add("image", "clean-4k", image_input(0, 1, 12, 0, 40, 100, &[]));
    o.add(
        "image",
        "clean-4k-two-chunks",
        image_input(0, 2, 4, 0, 600, 0, &[]),
    );
    o.add("image", "clean-16k", image_input(1, 3, 16, 1, 20, 300, &[]));
    o.add("image", "clean-64k", image_input(2, 4, 8, 2, 4, 10, &[]));
    // The selftest's six corrupted-input cases, as damage ops.
    let blob_byte = |off: u16, b: u8| {
        let mut v = vec![0u8];
        v.extend_from_slice(&off.to_le_bytes());
        v.push(b);
        v
    };
    // Every blob has the same layout: turn the root's "vmalloc-v1" into "vmalloc-v2".
    let blob = subtree_blob(&COMPAT);
    let at = blob
        .windows(11)
        .position(|w| w == b"vmalloc-v1\0")
        .expect("vmalloc-v1 in the blob")
        + 9;
    o.add(
        "image",
        "compat-version",
        image_input(0, 5, 6, 0, 8, 20, &blob_byte(at as u16, b'2')),
    );
    o.add(
        "image",
        "truncated-blob",
        image_input(0, 6, 6, 0, 8, 20, &[1, 0x80, 0]),
    );
    // op 7: page word = page reference; kinds 0 node, 1 folio, 2 chunk, 3 vmalloc, 4 block.
    o.add(
        "image",
        "block-loop",
        image_input(0, 7, 6, 0, 8, 200, &[7, 4, 1, 0, 0, 0, 4, 0, 0, 0]),
    );
    o.add(
        "image",
        "vmalloc-loop",
        image_input(0, 8, 6, 0, 8, 20, &[7, 2, 0, 0, 0, 0, 2, 0, 0, 0]),
    );
    o.add(
        "image",
        "unpreserved-root",
        image_input(0, 9, 6, 0, 8, 20, &[5, 0, 0, 0]),
    );
    // op 3: block 0 word 1 (count) = raw 4096.
    let mut count = vec![3u8, 4, 0, 0, 1, 0, 2];
    count.extend_from_slice(&4096u64.to_le_bytes());
    o.add(
        "image",
        "count-over-capacity",
        image_input(0, 10, 6, 0, 8, 20, &count),
    );
    // op 4: one data byte of a folio changed (restores, with mismatches).
    o.add(
        "image",
        "folio-byte",
        image_input(0, 11, 6, 0, 8, 20, &[4, 1, 2, 0, 8, 0, 0x5a]),
    );
}

pub(crate) fn all() -> Vec<Seed> {
    let mut o = Out(Vec::new());
    fdt_seeds(&mut o);
    subtree_seeds(&mut o);
    compat_seeds(&mut o);
    radix_key_seeds(&mut o);
    radix_restore_seeds(&mut o);
    vmalloc_seeds(&mut o);
    block_seeds(&mut o);
    image_seeds(&mut o);
    o.0
}
