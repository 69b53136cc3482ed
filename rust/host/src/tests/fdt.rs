// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::fdt`.

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::pure::compat::{BLOCK_COMPAT, KHO_RS_COMPATIBLE, RADIX_COMPAT, VMALLOC_COMPAT};
use crate::pure::error::{errno, Result};
use crate::pure::fdt::{Fdt, FdtWriter, Node, FDT_MAGIC, FDT_MAX_DEPTH};

// ------------------------------------------------------------------ helpers

fn be32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[i * 4..i * 4 + 4].try_into().unwrap())
}

fn set_be32(b: &mut [u8], i: usize, v: u32) {
    b[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
}

/// Writes a tree with `f` into a 64 KiB buffer and returns the blob.
fn write_with(f: impl FnOnce(&mut FdtWriter<'_>) -> Result) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let mut w = FdtWriter::new(&mut buf).unwrap();
    f(&mut w).unwrap();
    let n = w.finish().unwrap();
    buf.truncate(n);
    buf
}

/// The tree KHO-rs publishes (root + radix/vmalloc/block subnodes).
fn kho_rs_tree(w: &mut FdtWriter<'_>) -> Result {
    w.begin_node("")?;
    w.property_str("compatible", KHO_RS_COMPATIBLE)?;
    w.begin_node("radix")?;
    w.property_str("compatible", RADIX_COMPAT)?;
    w.property_u64_ne("root", 0x1_2345_6000)?;
    w.end_node()?;
    w.begin_node("vmalloc")?;
    w.property_str("compatible", VMALLOC_COMPAT)?;
    w.property("descriptor", &[0x11; 16])?;
    w.end_node()?;
    w.begin_node("block")?;
    w.property_str("compatible", BLOCK_COMPAT)?;
    w.property_u64_ne("head", 0x2_0000_0000)?;
    w.property_u64_ne("entry-size", 24)?;
    w.property_u64_ne("count", 3)?;
    w.end_node()?;
    w.end_node()
}

/// A small valid tree used by the malformation tests.
fn sample() -> Vec<u8> {
    write_with(|w| {
        w.begin_node("")?;
        w.property_str("compatible", "kho-v4")?;
        w.property_u64_ne("preserved-memory-map", 0x1000)?;
        w.begin_node("kexec-metadata")?;
        w.property_u64_ne("preserved-data", 0x2000)?;
        w.property_u64_ne("blob-size", 73)?;
        w.begin_node("inner")?;
        w.property("empty", &[])?;
        w.end_node()?;
        w.end_node()?;
        w.begin_node("LUO")?;
        w.property_u64_ne("preserved-data", 0x3000)?;
        w.end_node()?;
        w.end_node()
    })
}

fn tok(t: u32) -> Vec<u8> {
    t.to_be_bytes().to_vec()
}

fn begin(name: &[u8]) -> Vec<u8> {
    let mut v = tok(1);
    v.extend_from_slice(name);
    v.push(0);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

fn prop(len: u32, nameoff: u32, value: &[u8]) -> Vec<u8> {
    let mut v = tok(3);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&nameoff.to_be_bytes());
    v.extend_from_slice(value);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

const END_NODE: u32 = 2;
const NOP: u32 = 4;
const END: u32 = 9;

/// Assembles a version 17 blob from a raw structure block and strings block.
fn assemble(parts: &[Vec<u8>], strings: &[u8]) -> Vec<u8> {
    let st: Vec<u8> = parts.concat();
    let mut b = vec![0u8; 56];
    b.extend_from_slice(&st);
    let off_strings = b.len();
    b.extend_from_slice(strings);
    let h = [
        FDT_MAGIC,
        b.len() as u32,
        56,
        off_strings as u32,
        40,
        17,
        16,
        0,
        strings.len() as u32,
        st.len() as u32,
    ];
    for (i, v) in h.iter().enumerate() {
        set_be32(&mut b, i, *v);
    }
    b
}

fn parse_err(blob: &[u8]) -> (&'static str, u64) {
    match Fdt::parse(blob) {
        Ok(_) => panic!("accepted a malformed blob"),
        Err(e) => {
            assert!(e.what.starts_with("fdt: "), "{}", e.what);
            (e.what, e.value)
        }
    }
}

fn what(blob: &[u8]) -> &'static str {
    parse_err(blob).0
}

/// Visits everything reachable from `node` (used to prove lookups never panic).
fn walk(node: Node<'_>, depth: usize) -> usize {
    assert!(depth <= FDT_MAX_DEPTH);
    let mut n = 1;
    for p in node.properties() {
        let _ = node.prop_u64_ne(p.name);
        let _ = node.prop_str(p.name);
        let _ = node.prop_u32_be(p.name);
        assert!(node.property(p.name).is_some());
    }
    let _ = node.is_compatible("kho-v4");
    for c in node.subnodes() {
        assert!(node.subnode(c.name()).is_some());
        n += walk(c, depth + 1);
    }
    n
}

// ------------------------------------------------------------------ round trips

#[test]
fn header_layout() {
    let b = sample();
    assert_eq!(be32_at(&b, 0), 0xd00d_feed);
    assert_eq!(be32_at(&b, 1) as usize, b.len());
    assert_eq!(be32_at(&b, 2), 56); // off_dt_struct
    assert_eq!(be32_at(&b, 4), 40); // off_mem_rsvmap
    assert_eq!(be32_at(&b, 5), 17);
    assert_eq!(be32_at(&b, 6), 16);
    assert_eq!(be32_at(&b, 7), 0);
    let (off_st, size_st) = (be32_at(&b, 2) as usize, be32_at(&b, 9) as usize);
    let (off_str, size_str) = (be32_at(&b, 3) as usize, be32_at(&b, 8) as usize);
    assert_eq!(off_st + size_st, off_str);
    assert_eq!(off_str + size_str, b.len());
    assert!(b[40..56].iter().all(|&x| x == 0));
    // Root BEGIN_NODE with empty name, FDT_END last.
    assert_eq!(&b[56..64], &[0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(&b[off_str - 4..off_str], &[0, 0, 0, 9]);
    // Deduplicated names: each once.
    let strings = &b[off_str..];
    let mut names: Vec<&[u8]> = strings
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    assert_eq!(n, 5); // compatible, preserved-memory-map, preserved-data, blob-size, empty
}

#[test]
fn round_trip_nested() {
    let b = sample();
    let fdt = Fdt::parse(&b).unwrap();
    assert_eq!(fdt.total_size(), b.len());
    assert_eq!(fdt.version(), 17);
    assert_eq!(fdt.mem_rsv_count(), 0);
    let root = fdt.root();
    assert_eq!(root.name(), "");
    assert_eq!(root.prop_str("compatible"), Ok("kho-v4"));
    assert!(root.is_compatible("kho-v4"));
    assert!(!root.is_compatible("kho-v3"));
    assert!(!root.is_compatible("kho"));
    assert_eq!(root.prop_u64_ne("preserved-memory-map"), Ok(0x1000));
    let names: Vec<_> = root.subnodes().map(|n| n.name()).collect();
    assert_eq!(names, ["kexec-metadata", "LUO"]);
    let meta = root.subnode("kexec-metadata").unwrap();
    assert_eq!(meta.prop_u64_ne("preserved-data"), Ok(0x2000));
    assert_eq!(meta.prop_u64_ne("blob-size"), Ok(73));
    let props: Vec<_> = meta.properties().map(|p| p.name).collect();
    assert_eq!(props, ["preserved-data", "blob-size"]);
    let inner = meta.subnode("inner").unwrap();
    assert_eq!(inner.property("empty"), Some(&[][..]));
    assert_eq!(inner.subnodes().count(), 0);
    assert_eq!(
        fdt.root()
            .subnode("LUO")
            .unwrap()
            .prop_u64_ne("preserved-data"),
        Ok(0x3000)
    );
    assert!(root.subnode("nope").is_none());
    assert!(root.property("nope").is_none());
    // Paths.
    assert_eq!(fdt.find("/").unwrap().name(), "");
    assert_eq!(fdt.find("/kexec-metadata/inner").unwrap().name(), "inner");
    assert_eq!(fdt.find("/LUO/").unwrap().name(), "LUO");
    assert!(fdt.find("/LUO/inner").is_none());
    assert!(fdt.find("kexec-metadata").is_none());
    assert_eq!(walk(root, 1), 4);
}

#[test]
fn typed_getters() {
    let b = write_with(|w| {
        w.begin_node("")?;
        w.property_u64_ne("ne", 0x0102_0304_0506_0708)?;
        w.property_u32_be("cell", 0x1234_5678)?;
        w.property("seven", &[1; 7])?;
        w.property("strlist", b"a\0b\0")?;
        w.property("nonul", b"abc")?;
        w.property("utf8", b"\xff\0")?;
        w.property("empty", b"")?;
        w.property_str("s", "hello")?;
        w.end_node()
    });
    let fdt = Fdt::parse(&b).unwrap();
    let r = fdt.root();
    assert_eq!(r.prop_u64_ne("ne"), Ok(0x0102_0304_0506_0708));
    // Native-endian raw bytes, not a big-endian cell.
    assert_eq!(
        r.property("ne").unwrap(),
        &0x0102_0304_0506_0708u64.to_ne_bytes()
    );
    assert_eq!(r.property("cell").unwrap(), &[0x12, 0x34, 0x56, 0x78]);
    assert_eq!(r.prop_u32_be("cell"), Ok(0x1234_5678));
    let e = r.prop_u64_ne("seven").unwrap_err();
    assert_eq!(
        (e.errno, e.what, e.value),
        (errno::EINVAL, "fdt: u64 property is not 8 bytes", 7)
    );
    let e = r.prop_u64_ne("missing").unwrap_err();
    assert_eq!((e.errno, e.what), (errno::ENOENT, "fdt: property missing"));
    assert_eq!(
        r.prop_u32_be("ne").unwrap_err().what,
        "fdt: u32 property is not 4 bytes"
    );
    assert_eq!(r.prop_str("s"), Ok("hello"));
    for (name, what) in [
        ("strlist", "fdt: string property has an inner NUL"),
        ("nonul", "fdt: string property not NUL-terminated"),
        ("utf8", "fdt: string property not valid UTF-8"),
        ("empty", "fdt: string property is empty"),
    ] {
        assert_eq!(r.prop_str(name).unwrap_err().what, what, "{name}");
    }
    let r2 = Fdt::parse(&b).unwrap().root();
    assert_eq!(r2.property("strlist"), Some(&b"a\0b\0"[..]));
    // is_compatible on a string list.
    let b = write_with(|w| {
        w.begin_node("")?;
        w.property("compatible", b"foo\0kho-v4\0")?;
        w.end_node()
    });
    let fdt = Fdt::parse(&b).unwrap();
    assert!(fdt.root().is_compatible("kho-v4"));
    assert!(fdt.root().is_compatible("foo"));
    assert!(!fdt.root().is_compatible("fo"));
}

#[test]
fn many_properties_share_names() {
    let names = ["a", "bb", "compatible", "reg", "x-y-z"];
    let b = write_with(|w| {
        w.begin_node("")?;
        for i in 0..60 {
            w.begin_node(&format!("n{i}"))?;
            for (j, name) in names.iter().enumerate() {
                w.property(name, &vec![i as u8; (i + j) % 13])?;
            }
            w.end_node()?;
        }
        w.end_node()
    });
    // Strings block holds each name once.
    let size_strings = be32_at(&b, 8) as usize;
    assert_eq!(
        size_strings,
        names.iter().map(|n| n.len() + 1).sum::<usize>()
    );
    let fdt = Fdt::parse(&b).unwrap();
    let mut count = 0;
    for (i, node) in fdt.root().subnodes().enumerate() {
        assert_eq!(node.name(), format!("n{i}"));
        for (j, p) in node.properties().enumerate() {
            assert_eq!(p.name, names[j]);
            assert_eq!(p.value, &vec![i as u8; (i + j) % 13][..]);
        }
        count += 1;
    }
    assert_eq!(count, 60);
}

#[test]
fn nops_are_skipped() {
    let st = vec![
        tok(NOP),
        begin(b""),
        tok(NOP),
        prop(4, 0, &[1, 2, 3, 4]),
        tok(NOP),
        begin(b"c"),
        tok(NOP),
        tok(END_NODE),
        tok(NOP),
        tok(END_NODE),
        tok(NOP),
        tok(END),
    ];
    let b = assemble(&st, b"p\0");
    let fdt = Fdt::parse(&b).unwrap();
    assert_eq!(fdt.root().property("p"), Some(&[1, 2, 3, 4][..]));
    assert_eq!(
        fdt.root().subnodes().map(|n| n.name()).collect::<Vec<_>>(),
        ["c"]
    );
}

#[test]
fn version_16_and_reservations_accepted() {
    // Version 16: no size_dt_struct; FDT_END need not be last.
    let mut b = sample();
    set_be32(&mut b, 5, 16);
    set_be32(&mut b, 9, 0xdead_beef);
    let fdt = Fdt::parse(&b).unwrap();
    assert_eq!(fdt.version(), 16);
    assert_eq!(walk(fdt.root(), 1), 4);
    // Larger blob than totalsize: trailing bytes ignored.
    let mut b = sample();
    let n = b.len();
    b.extend_from_slice(&[0xff; 32]);
    assert_eq!(Fdt::parse(&b).unwrap().total_size(), n);
    // One memory reservation entry before the terminator.
    let st = vec![begin(b""), tok(END_NODE), tok(END)];
    let mut b = assemble(&st, b"");
    let mut rsv = vec![0u8; 16];
    rsv[..8].copy_from_slice(&0x1000u64.to_be_bytes());
    rsv[8..].copy_from_slice(&0x2000u64.to_be_bytes());
    b.splice(40..40, rsv);
    let total = b.len() as u32;
    set_be32(&mut b, 1, total);
    set_be32(&mut b, 2, 72);
    let off_strings = be32_at(&b, 3) + 16;
    set_be32(&mut b, 3, off_strings);
    assert_eq!(Fdt::parse(&b).unwrap().mem_rsv_count(), 1);
}

// ------------------------------------------------------------------ malformations

#[test]
fn rejects_bad_header() {
    let good = sample();
    assert!(Fdt::parse(&good).is_ok());

    let mut b = good.clone();
    set_be32(&mut b, 0, 0xedfe0dd0);
    assert_eq!(parse_err(&b), ("fdt: bad magic", 0xedfe0dd0));

    let mut b = good.clone();
    set_be32(&mut b, 5, 15);
    let e = Fdt::parse(&b).unwrap_err();
    assert_eq!(
        (e.errno, e.what, e.value),
        (errno::EPROTO, "fdt: version too old", 15)
    );

    let mut b = good.clone();
    set_be32(&mut b, 6, 18);
    assert_eq!(what(&b), "fdt: last_comp_version too new");

    let mut b = good.clone();
    set_be32(&mut b, 1, good.len() as u32 + 1);
    assert_eq!(
        parse_err(&b),
        ("fdt: totalsize larger than blob", good.len() as u64 + 1)
    );

    let mut b = good.clone();
    set_be32(&mut b, 1, 39);
    assert_eq!(what(&b), "fdt: totalsize smaller than header");

    assert_eq!(what(&good[..20]), "fdt: blob shorter than header");
}

#[test]
fn rejects_truncation_at_every_length() {
    let good = sample();
    for n in 0..good.len() {
        assert!(Fdt::parse(&good[..n]).is_err(), "len {n}");
        // Also with totalsize claiming the truncated length.
        if n >= 8 {
            let mut b = good[..n].to_vec();
            set_be32(&mut b, 1, n as u32);
            assert!(Fdt::parse(&b).is_err(), "totalsize {n}");
        }
    }
}

#[test]
fn rejects_bad_offsets() {
    let good = sample();
    let len = good.len() as u32;
    let cases: &[(usize, u32, &str)] = &[
        (2, (len + 3) & !3, "fdt: structure block outside blob"),
        (2, 0, "fdt: structure block outside blob"), // overlaps the header
        (2, 20, "fdt: structure block outside blob"),
        (2, 58, "fdt: structure block misaligned"),
        (9, len, "fdt: structure block outside blob"),
        (9, u32::MAX, "fdt: structure block outside blob"),
        (3, len, "fdt: strings block outside blob"),
        (3, 8, "fdt: strings block outside blob"),
        (8, u32::MAX, "fdt: strings block outside blob"),
        (4, 44, "fdt: memory reservation map misaligned"),
        (4, 16, "fdt: memory reservation map outside blob"),
        (4, len + 8, "fdt: memory reservation map outside blob"),
        (4, len & !7, "fdt: memory reservation map not terminated"),
    ];
    for &(field, value, msg) in cases {
        let mut b = good.clone();
        set_be32(&mut b, field, value);
        assert_eq!(what(&b), msg, "field {field} = {value}");
    }
    // Strings size shrunk so that a nameoff falls outside.
    let mut b = good.clone();
    set_be32(&mut b, 8, 4);
    assert_eq!(what(&b), "fdt: nameoff outside strings block");
    // Reservation map with non-zero entries up to the end of the blob.
    let mut b = good.clone();
    set_be32(&mut b, 4, 56); // points into the structure block (non-zero words)
    let e = what(&b);
    assert!(e == "fdt: memory reservation map not terminated", "{e}");
}

/// A malformed structure block: tokens, strings block, expected error.
type Case = (Vec<Vec<u8>>, &'static [u8], &'static str);

#[test]
fn rejects_bad_structure() {
    let ok = |st: Vec<Vec<u8>>, strings: &[u8]| Fdt::parse(&assemble(&st, strings)).map(|_| ());
    // Baseline.
    assert!(ok(
        vec![begin(b""), prop(1, 0, b"x"), tok(END_NODE), tok(END)],
        b"p\0"
    )
    .is_ok());

    let cases: Vec<Case> = vec![
        // Unterminated node name (runs to the end of the structure block).
        (
            vec![begin(b""), tok(1), b"abcd".to_vec()],
            b"",
            "fdt: node name not NUL-terminated",
        ),
        // Bad nameoff.
        (
            vec![begin(b""), prop(0, 9, b""), tok(END_NODE), tok(END)],
            b"p\0",
            "fdt: nameoff outside strings block",
        ),
        // Property name not NUL-terminated inside the strings block.
        (
            vec![begin(b""), prop(0, 0, b""), tok(END_NODE), tok(END)],
            b"pq",
            "fdt: property name not NUL-terminated",
        ),
        (
            vec![begin(b""), prop(0, 1, b""), tok(END_NODE), tok(END)],
            b"p\0",
            "fdt: empty property name",
        ),
        (
            vec![begin(b""), prop(0, 0, b""), tok(END_NODE), tok(END)],
            b"\xff\0",
            "fdt: property name not valid UTF-8",
        ),
        // Property length past the end of the structure block.
        (
            vec![begin(b""), prop(100, 0, b"abcd"), tok(END_NODE), tok(END)],
            b"p\0",
            "fdt: property length past end",
        ),
        (
            vec![begin(b""), prop(u32::MAX, 0, b""), tok(END_NODE), tok(END)],
            b"p\0",
            "fdt: property length past end",
        ),
        // Header of a property cut off.
        (
            vec![begin(b""), tok(3), tok(0)],
            b"p\0",
            "fdt: property header truncated",
        ),
        // Unbalanced nesting.
        (
            vec![begin(b""), tok(END)],
            b"",
            "fdt: FDT_END inside a node",
        ),
        (
            vec![begin(b""), tok(END_NODE), tok(END_NODE), tok(END)],
            b"",
            "fdt: FDT_END_NODE outside a node",
        ),
        // Missing FDT_END.
        (vec![begin(b""), tok(END_NODE)], b"", "fdt: missing FDT_END"),
        (vec![], b"", "fdt: missing FDT_END"),
        // Token cut in the middle.
        (
            vec![begin(b""), tok(END_NODE), vec![0, 0]],
            b"",
            "fdt: token truncated",
        ),
        // Data after FDT_END.
        (
            vec![begin(b""), tok(END_NODE), tok(END), tok(NOP)],
            b"",
            "fdt: data after FDT_END",
        ),
        // No root / two roots / root with a name.
        (vec![tok(END)], b"", "fdt: no root node"),
        (
            vec![
                begin(b""),
                tok(END_NODE),
                begin(b""),
                tok(END_NODE),
                tok(END),
            ],
            b"",
            "fdt: more than one root node",
        ),
        (
            vec![begin(b"r"), tok(END_NODE), tok(END)],
            b"",
            "fdt: root node name not empty",
        ),
        // Property rules.
        (
            vec![prop(0, 0, b""), tok(END)],
            b"p\0",
            "fdt: property outside a node",
        ),
        (
            vec![
                begin(b""),
                begin(b"c"),
                tok(END_NODE),
                prop(0, 0, b""),
                tok(END_NODE),
                tok(END),
            ],
            b"p\0",
            "fdt: property after subnode",
        ),
        // Node names.
        (
            vec![
                begin(b""),
                begin(b""),
                tok(END_NODE),
                tok(END_NODE),
                tok(END),
            ],
            b"",
            "fdt: empty node name",
        ),
        (
            vec![
                begin(b""),
                begin(b"a/b"),
                tok(END_NODE),
                tok(END_NODE),
                tok(END),
            ],
            b"",
            "fdt: '/' in node name",
        ),
        (
            vec![
                begin(b""),
                begin(b"\xfe"),
                tok(END_NODE),
                tok(END_NODE),
                tok(END),
            ],
            b"",
            "fdt: node name not valid UTF-8",
        ),
        // Unknown token.
        (
            vec![begin(b""), tok(7), tok(END_NODE), tok(END)],
            b"",
            "fdt: unknown token",
        ),
    ];
    for (st, strings, msg) in cases {
        let e = ok(st.clone(), strings).unwrap_err();
        assert_eq!(e.what, msg, "{st:?}");
        assert_eq!(e.errno, errno::EINVAL);
    }
}

#[test]
fn nesting_depth_bound() {
    let nested = |levels: usize| {
        let mut st = vec![begin(b"")];
        for _ in 1..levels {
            st.push(begin(b"n"));
        }
        for _ in 0..levels {
            st.push(tok(END_NODE));
        }
        st.push(tok(END));
        assemble(&st, b"")
    };
    let b = nested(FDT_MAX_DEPTH);
    let fdt = Fdt::parse(&b).unwrap();
    let path = "/n".repeat(FDT_MAX_DEPTH - 1);
    assert!(fdt.find(&path).is_some());
    assert_eq!(
        what(&nested(FDT_MAX_DEPTH + 1)),
        "fdt: nodes nested too deeply"
    );
    assert_eq!(what(&nested(1000)), "fdt: nodes nested too deeply");
}

// ------------------------------------------------------------------ writer errors

#[test]
fn writer_misuse() {
    let mut buf = vec![0u8; 4096];
    let mut w = FdtWriter::new(&mut buf).unwrap();
    assert_eq!(
        w.property("p", b"").unwrap_err().what,
        "fdt: property outside a node"
    );
    assert_eq!(
        w.end_node().unwrap_err().what,
        "fdt: end_node without begin_node"
    );
    assert_eq!(
        w.begin_node("x").unwrap_err().what,
        "fdt: root node name must be empty"
    );
    w.begin_node("").unwrap();
    assert_eq!(w.begin_node("").unwrap_err().what, "fdt: empty node name");
    assert_eq!(
        w.begin_node("a/b").unwrap_err().what,
        "fdt: invalid character in node name"
    );
    assert_eq!(
        w.property("", b"").unwrap_err().what,
        "fdt: empty property name"
    );
    assert_eq!(
        w.property("a\0b", b"").unwrap_err().what,
        "fdt: NUL in property name"
    );
    assert_eq!(
        w.property_str("s", "a\0").unwrap_err().what,
        "fdt: NUL inside string property"
    );
    w.property("p", b"1").unwrap();
    let e = w.property("p", b"2").unwrap_err();
    assert_eq!(
        (e.errno, e.what),
        (errno::EEXIST, "fdt: duplicate property name")
    );
    w.begin_node("c").unwrap();
    w.property("p", b"child may reuse the name").unwrap();
    w.end_node().unwrap();
    assert_eq!(
        w.property("q", b"").unwrap_err().what,
        "fdt: property after subnode"
    );
    let e = w.begin_node("c").unwrap_err();
    assert_eq!(
        (e.errno, e.what),
        (errno::EEXIST, "fdt: duplicate node name")
    );
    w.begin_node("d").unwrap();
    // Same name at another level is fine.
    w.begin_node("c").unwrap();
    w.end_node().unwrap();
    w.end_node().unwrap();
    assert_eq!(w.depth(), 1);
    w.end_node().unwrap();
    assert_eq!(w.begin_node("").unwrap_err().what, "fdt: second root node");
    let n = w.finish().unwrap();
    let fdt = Fdt::parse(&buf[..n]).unwrap();
    assert_eq!(fdt.root().property("p"), Some(&b"1"[..]));
    assert!(fdt.find("/d/c").is_some());

    // Unbalanced at finish / no root.
    let mut buf = vec![0u8; 4096];
    let mut w = FdtWriter::new(&mut buf).unwrap();
    w.begin_node("").unwrap();
    w.begin_node("a").unwrap();
    let e = w.finish().unwrap_err();
    assert_eq!((e.what, e.value), ("fdt: unbalanced nodes at finish", 2));
    let w = FdtWriter::new(&mut buf).unwrap();
    assert_eq!(w.finish().unwrap_err().what, "fdt: no root node");

    // Depth bound.
    let mut w = FdtWriter::new(&mut buf).unwrap();
    w.begin_node("").unwrap();
    for _ in 1..FDT_MAX_DEPTH {
        w.begin_node("n").unwrap();
    }
    assert_eq!(
        w.begin_node("n").unwrap_err().what,
        "fdt: nodes nested too deeply"
    );
}

#[test]
fn writer_enospc_at_every_size() {
    let full = write_with(kho_rs_tree);
    let need = full.len();
    for size in 0..need + 8 {
        let mut buf = vec![0xa5u8; size];
        let r = FdtWriter::new(&mut buf).and_then(|mut w| {
            kho_rs_tree(&mut w)?;
            w.finish()
        });
        if size < need {
            let e = r.unwrap_err();
            assert_eq!(e.errno, errno::ENOSPC, "size {size}: {e:?}");
            assert_eq!(e.what, "fdt: buffer too small");
        } else {
            assert_eq!(r, Ok(need), "size {size}");
            assert_eq!(&buf[..need], &full[..]);
        }
    }
}

#[test]
fn writer_usable_after_enospc() {
    let mut buf = vec![0u8; 200];
    let mut w = FdtWriter::new(&mut buf).unwrap();
    w.begin_node("").unwrap();
    assert_eq!(
        w.property("big", &[0; 300]).unwrap_err().errno,
        errno::ENOSPC
    );
    // A new long name that does not fit must not leave a stray string behind.
    let long = "n".repeat(120);
    assert_eq!(
        w.property(&long, &[0; 16]).unwrap_err().errno,
        errno::ENOSPC
    );
    w.property("small", &[1]).unwrap();
    w.end_node().unwrap();
    let n = w.finish().unwrap();
    assert_eq!(be32_at(&buf, 8), 6); // only "small\0"
    let fdt = Fdt::parse(&buf[..n]).unwrap();
    assert_eq!(fdt.root().property("small"), Some(&[1][..]));
    assert_eq!(fdt.root().properties().count(), 1);
}

// ------------------------------------------------------------------ property tests

/// A random tree for round trips.
#[derive(Clone, Debug)]
struct TNode {
    name: String,
    props: Vec<(String, Vec<u8>)>,
    children: Vec<TNode>,
}

fn tnode(depth: u32) -> BoxedStrategy<TNode> {
    let props = proptest::collection::btree_map(
        "[a-z][a-z0-9,-]{0,6}",
        proptest::collection::vec(any::<u8>(), 0..20),
        0..5,
    )
    .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    if depth == 0 {
        return ("[a-z][a-z0-9-]{0,8}", props)
            .prop_map(|(name, props)| TNode {
                name,
                props,
                children: vec![],
            })
            .boxed();
    }
    (
        "[a-z][a-z0-9-]{0,8}",
        props,
        proptest::collection::btree_map("[a-z]{1,4}", tnode(depth - 1), 0..4),
    )
        .prop_map(|(name, props, kids)| TNode {
            name,
            props,
            children: kids
                .into_iter()
                .map(|(n, mut c)| {
                    c.name = n;
                    c
                })
                .collect(),
        })
        .boxed()
}

fn write_tnode(w: &mut FdtWriter<'_>, t: &TNode, root: bool) -> Result {
    w.begin_node(if root { "" } else { &t.name })?;
    for (k, v) in &t.props {
        w.property(k, v)?;
    }
    for c in &t.children {
        write_tnode(w, c, false)?;
    }
    w.end_node()
}

fn check_tnode(n: Node<'_>, t: &TNode) -> std::result::Result<(), TestCaseError> {
    let props: Vec<(String, Vec<u8>)> = n
        .properties()
        .map(|p| (p.name.to_string(), p.value.to_vec()))
        .collect();
    prop_assert_eq!(&props, &t.props);
    for (k, v) in &t.props {
        prop_assert_eq!(n.property(k), Some(&v[..]));
    }
    let kids: Vec<Node<'_>> = n.subnodes().collect();
    prop_assert_eq!(kids.len(), t.children.len());
    for (k, c) in kids.into_iter().zip(&t.children) {
        prop_assert_eq!(k.name(), c.name.as_str());
        prop_assert!(n.subnode(&c.name).is_some());
        check_tnode(k, c)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_trees_round_trip(t in tnode(3)) {
        let b = write_with(|w| write_tnode(w, &t, true));
        let fdt = Fdt::parse(&b).unwrap();
        check_tnode(fdt.root(), &t)?;
    }

    #[test]
    fn mutated_blobs_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = write_with(kho_rs_tree);
        for (i, v) in &edits {
            let at = i.index(b.len());
            b[at] = *v;
        }
        if let Ok(fdt) = Fdt::parse(&b) {
            walk(fdt.root(), 1);
            let _ = fdt.find("/radix");
        }
        let n = cut.index(b.len() + 1);
        if let Ok(fdt) = Fdt::parse(&b[..n]) {
            walk(fdt.root(), 1);
        }
    }

    #[test]
    fn random_bytes_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..256)) {
        // Make the header plausible so that the structure checks are reached.
        if b.len() >= 40 {
            let len = b.len() as u32;
            set_be32(&mut b, 0, FDT_MAGIC);
            set_be32(&mut b, 1, len);
            set_be32(&mut b, 5, 17);
            set_be32(&mut b, 6, 16);
        }
        if let Ok(fdt) = Fdt::parse(&b) {
            walk(fdt.root(), 1);
        }
    }
}

// ------------------------------------------------------------------ dtc

/// Runs `dtc -I dtb -O dts` on `blob`; returns (stdout, stderr) and asserts success.
fn dtc(tag: &str, blob: &[u8]) -> (String, String) {
    let path = std::env::temp_dir().join(format!("kho-rs-fdt-{}-{tag}.dtb", std::process::id()));
    std::fs::write(&path, blob).unwrap();
    let out = std::process::Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts", "-o", "-"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            panic!("cannot run dtc ({e}): install it with scripts/setup.sh (device-tree-compiler)")
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dtc failed: {stderr}");
    (stdout, stderr)
}

#[test]
fn dtc_accepts_kho_root_shape() {
    let b = write_with(|w| {
        w.begin_node("")?;
        w.property_str("compatible", "kho-v4")?;
        w.property_u64_ne("preserved-memory-map", 0x1_0000_0000)?;
        w.begin_node("kexec-metadata")?;
        w.property_u64_ne("preserved-data", 0x1234_5000)?;
        w.property_u64_ne("blob-size", 73)?;
        w.end_node()?;
        w.begin_node("kho-rs")?;
        w.property_u64_ne("preserved-data", 0x1234_6000)?;
        w.property_u64_ne("blob-size", 4096)?;
        w.end_node()?;
        w.end_node()
    });
    let (out, err) = dtc("root", &b);
    assert!(err.is_empty(), "dtc warnings: {err}");
    assert!(out.contains("compatible = \"kho-v4\";"), "{out}");
    assert!(out.contains("kexec-metadata {"), "{out}");
    assert!(out.contains("kho-rs {"), "{out}");
    assert!(out.contains("blob-size"), "{out}");
}

#[test]
fn dtc_accepts_kho_rs_subtree() {
    let b = write_with(kho_rs_tree);
    let (out, err) = dtc("subtree", &b);
    assert!(err.is_empty(), "dtc warnings: {err}");
    assert!(
        out.contains("compatible = \"kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1\";"),
        "{out}"
    );
    for needle in [
        "radix {",
        "compatible = \"radix-v1\";",
        "vmalloc {",
        "compatible = \"vmalloc-v1\";",
        "descriptor = ",
        "block {",
        "compatible = \"block-v1\";",
        "head = ",
        "entry-size = ",
        "count = ",
        "root = ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in {out}");
    }
    // The parser agrees.
    let fdt = Fdt::parse(&b).unwrap();
    assert!(fdt.root().is_compatible(KHO_RS_COMPATIBLE));
    assert_eq!(
        fdt.find("/radix").unwrap().prop_u64_ne("root"),
        Ok(0x1_2345_6000)
    );
    assert_eq!(
        fdt.find("/block").unwrap().prop_u64_ne("entry-size"),
        Ok(24)
    );
    assert_eq!(
        fdt.find("/vmalloc").unwrap().property("descriptor"),
        Some(&[0x11; 16][..])
    );
}
