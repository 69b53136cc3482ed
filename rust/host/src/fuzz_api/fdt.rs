// SPDX-License-Identifier: GPL-2.0

//! Target `fdt`: [`Fdt::parse`] and the node API against a reference parser.
//!
//! The reference ([`model_parse`]) is a separate recursive-descent reader of the
//! Devicetree Specification's format (chapter 5) with the limits `pure::fdt` documents
//! (version >= 16, `last_comp_version` <= 17, 8-aligned terminated reservation map, blocks
//! inside `totalsize`, nesting <= 16, properties before subnodes, exactly one root named "",
//! nothing after `FDT_END` in version 17). It builds an owned tree. The target checks:
//!
//! * the reader accepts exactly the blobs the reference accepts;
//! * on success the node API (names, properties in order, subnodes in order, `find`,
//!   `property`, `subnode`, the typed getters, `is_compatible`, header accessors) shows
//!   exactly the reference tree;
//! * a tree without duplicate names is written again with `FdtWriter`, and that blob reads
//!   back (with both readers) as the same tree.

use std::collections::BTreeSet;
use std::string::String;
use std::vec;
use std::vec::Vec;

use crate::pure::error::errno;
use crate::pure::fdt::{Fdt, FdtWriter, Node};

/// A node of the reference tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MNode {
    pub(crate) name: String,
    pub(crate) props: Vec<(String, Vec<u8>)>,
    pub(crate) children: Vec<MNode>,
}

impl MNode {
    /// First property called `name` (libfdt semantics).
    pub(crate) fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// First child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&MNode> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// A blob the reference accepted.
#[derive(Debug)]
pub(crate) struct MFdt {
    pub(crate) version: u32,
    pub(crate) total: usize,
    pub(crate) rsv: usize,
    pub(crate) root: MNode,
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn round4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Token reader of the reference; skips `FDT_NOP`.
struct Toks<'a> {
    st: &'a [u8],
    strings: &'a [u8],
    pos: usize,
}

enum Tok {
    Begin(String),
    EndNode,
    Prop(String, Vec<u8>),
    End,
}

impl Toks<'_> {
    fn next(&mut self) -> Option<Tok> {
        loop {
            let tag = be32(self.st, self.pos)?;
            let body = self.pos + 4;
            match tag {
                1 => {
                    let rest = self.st.get(body..)?;
                    let len = rest.iter().position(|&b| b == 0)?;
                    let next = round4(body + len + 1);
                    if next > self.st.len() {
                        return None;
                    }
                    let name = String::from_utf8(rest[..len].to_vec()).ok()?;
                    self.pos = next;
                    return Some(Tok::Begin(name));
                }
                2 => {
                    self.pos = body;
                    return Some(Tok::EndNode);
                }
                3 => {
                    let len = be32(self.st, body)? as usize;
                    let nameoff = be32(self.st, body + 4)? as usize;
                    let value = self.st.get(body + 8..body + 8 + len)?.to_vec();
                    let next = round4(body + 8 + len);
                    if next > self.st.len() {
                        return None;
                    }
                    let tail = self.strings.get(nameoff..)?;
                    let nlen = tail.iter().position(|&b| b == 0)?;
                    if nlen == 0 {
                        return None;
                    }
                    let name = String::from_utf8(tail[..nlen].to_vec()).ok()?;
                    self.pos = next;
                    return Some(Tok::Prop(name, value));
                }
                4 => self.pos = body,
                9 => {
                    self.pos = body;
                    return Some(Tok::End);
                }
                _ => return None,
            }
        }
    }

    /// The rest of a node after its `FDT_BEGIN_NODE`; `depth` is the node's (root = 1).
    fn node(&mut self, name: String, depth: usize) -> Option<MNode> {
        if depth > 16 {
            return None;
        }
        let mut node = MNode {
            name,
            props: Vec::new(),
            children: Vec::new(),
        };
        loop {
            match self.next()? {
                Tok::Prop(n, v) => {
                    if !node.children.is_empty() {
                        return None;
                    }
                    node.props.push((n, v));
                }
                Tok::Begin(n) => {
                    if n.is_empty() || n.contains('/') {
                        return None;
                    }
                    let child = self.node(n, depth + 1)?;
                    node.children.push(child);
                }
                Tok::EndNode => return Some(node),
                Tok::End => return None,
            }
        }
    }
}

/// The reference reader: `Some` tree exactly when the blob is valid.
pub(crate) fn model_parse(blob: &[u8]) -> Option<MFdt> {
    let h = |i: usize| be32(blob, 4 * i);
    if h(0)? != 0xd00d_feed {
        return None;
    }
    let version = h(5)?;
    if version < 16 || h(6)? > 17 {
        return None;
    }
    let hsize = if version >= 17 { 40 } else { 36 };
    if blob.len() < hsize {
        return None;
    }
    let total = h(1)? as usize;
    if total < hsize || total > blob.len() {
        return None;
    }
    let blob = &blob[..total];
    let h = |i: usize| be32(blob, 4 * i).unwrap_or(0) as usize;
    let rsv_off = h(4);
    if rsv_off < hsize || rsv_off % 8 != 0 {
        return None;
    }
    let mut rsv = 0;
    while blob
        .get(rsv_off + 16 * rsv..rsv_off + 16 * rsv + 16)?
        .iter()
        .any(|&b| b != 0)
    {
        rsv += 1;
    }
    let (str_off, str_size) = (h(3), h(8));
    if str_off < hsize || str_off + str_size > total {
        return None;
    }
    let st_off = h(2);
    if st_off % 4 != 0 || st_off < hsize || st_off > total {
        return None;
    }
    let st_size = if version >= 17 { h(9) } else { total - st_off };
    if st_off + st_size > total {
        return None;
    }
    let mut toks = Toks {
        st: &blob[st_off..st_off + st_size],
        strings: &blob[str_off..str_off + str_size],
        pos: 0,
    };
    let root = match toks.next()? {
        Tok::Begin(n) if n.is_empty() => toks.node(n, 1)?,
        _ => return None,
    };
    match toks.next()? {
        Tok::End => {}
        _ => return None,
    }
    if version >= 17 && toks.pos != st_size {
        return None;
    }
    Some(MFdt {
        version,
        total,
        rsv,
        root,
    })
}

/// The tree the code under test shows through the node API.
pub(crate) fn code_tree(n: &Node<'_>) -> MNode {
    MNode {
        name: n.name().into(),
        props: n
            .properties()
            .map(|p| (p.name.into(), p.value.to_vec()))
            .collect(),
        children: n.subnodes().map(|c| code_tree(&c)).collect(),
    }
}

/// Reference `find`: absolute path, empty segments ignored, first match at each step.
fn model_find<'a>(root: &'a MNode, path: &str) -> Option<&'a MNode> {
    let rest = path.strip_prefix('/')?;
    let mut node = root;
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        node = node.child(seg)?;
    }
    Some(node)
}

/// Checks every lookup of node `n` against the reference node `m`.
fn check_lookups(n: &Node<'_>, m: &MNode) {
    let mut names: BTreeSet<&str> = m.props.iter().map(|(k, _)| k.as_str()).collect();
    names.insert("no-such-property");
    for name in names {
        let want = m.prop(name);
        assert_eq!(n.property(name), want, "property {name:?}");
        match want {
            None => {
                assert_eq!(n.prop_u64_ne(name).unwrap_err().errno, errno::ENOENT);
                assert_eq!(n.prop_u32_be(name).unwrap_err().errno, errno::ENOENT);
                assert_eq!(n.prop_str(name).unwrap_err().errno, errno::ENOENT);
            }
            Some(v) => {
                let u64_want = <[u8; 8]>::try_from(v).ok().map(u64::from_ne_bytes);
                assert_eq!(n.prop_u64_ne(name).ok(), u64_want, "prop_u64_ne {name:?}");
                let u32_want = <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
                assert_eq!(n.prop_u32_be(name).ok(), u32_want, "prop_u32_be {name:?}");
                let str_want = match v.split_last() {
                    Some((0, text)) if !text.contains(&0) => core::str::from_utf8(text).ok(),
                    _ => None,
                };
                assert_eq!(n.prop_str(name).ok(), str_want, "prop_str {name:?}");
            }
        }
    }
    // `compatible` as a NUL-separated list (fdt_node_check_compatible).
    let list: Vec<&[u8]> = match m.prop("compatible").and_then(|v| v.split_last()) {
        Some((0, body)) => body.split(|&b| b == 0).collect(),
        _ => Vec::new(),
    };
    for s in &list {
        if let Ok(s) = core::str::from_utf8(s) {
            assert!(n.is_compatible(s), "is_compatible({s:?})");
        }
    }
    let absent = "kho-rs-fuzz-absent";
    assert_eq!(
        n.is_compatible(absent),
        list.contains(&absent.as_bytes()),
        "is_compatible of an absent string"
    );
    let mut children: BTreeSet<&str> = m.children.iter().map(|c| c.name.as_str()).collect();
    children.insert("no-such-node");
    for name in children {
        assert_eq!(
            n.subnode(name).map(|c| code_tree(&c)).as_ref(),
            m.child(name),
            "subnode {name:?}"
        );
    }
}

/// Walks code and reference trees together, checking lookups and `find` at every node.
fn check_node(fdt: &Fdt<'_>, root: &MNode, n: &Node<'_>, m: &MNode, path: &str) {
    check_lookups(n, m);
    let found = fdt.find(if path.is_empty() { "/" } else { path });
    assert_eq!(
        found.map(|f| code_tree(&f)).as_ref(),
        model_find(root, if path.is_empty() { "/" } else { path }),
        "find({path:?})"
    );
    for (c, mc) in n.subnodes().zip(&m.children) {
        let p = std::format!("{path}/{}", mc.name);
        check_node(fdt, root, &c, mc, &p);
    }
}

/// Whether `m` can be written by `FdtWriter` (no duplicate names in any node).
fn writable(m: &MNode) -> bool {
    let props: BTreeSet<&str> = m.props.iter().map(|(n, _)| n.as_str()).collect();
    let kids: BTreeSet<&str> = m.children.iter().map(|c| c.name.as_str()).collect();
    props.len() == m.props.len()
        && kids.len() == m.children.len()
        && m.children.iter().all(writable)
}

fn write_node(w: &mut FdtWriter<'_>, m: &MNode) {
    w.begin_node(&m.name).expect("writer: begin_node");
    for (n, v) in &m.props {
        w.property(n, v).expect("writer: property");
    }
    for c in &m.children {
        write_node(w, c);
    }
    w.end_node().expect("writer: end_node");
}

/// Writes `m` as a blob.
pub(crate) fn write_tree(m: &MNode, room: usize) -> Vec<u8> {
    let mut buf = vec![0u8; room];
    let mut w = FdtWriter::new(&mut buf).expect("writer: new");
    write_node(&mut w, m);
    let n = w.finish().expect("writer: finish");
    buf.truncate(n);
    buf
}

/// The `fdt` target; returns whether the blob was accepted.
pub(crate) fn run(data: &[u8]) -> bool {
    let model = model_parse(data);
    let fdt = match (Fdt::parse(data), &model) {
        (Err(_), None) => return false,
        (Ok(_), None) => panic!("Fdt::parse accepted a blob the reference rejects"),
        (Err(e), Some(_)) => panic!("Fdt::parse rejected a valid blob: {e}"),
        (Ok(f), Some(_)) => f,
    };
    let model = model.expect("checked above");
    assert_eq!(fdt.version(), model.version);
    assert_eq!(fdt.total_size(), model.total);
    assert_eq!(fdt.as_bytes(), &data[..model.total]);
    assert_eq!(fdt.mem_rsv_count(), model.rsv);
    let root = fdt.root();
    assert_eq!(
        code_tree(&root),
        model.root,
        "tree differs from the reference"
    );
    check_node(&fdt, &model.root, &root, &model.root, "");
    assert!(fdt.find("").is_none() && fdt.find("no-slash").is_none());

    if writable(&model.root) {
        let blob = write_tree(&model.root, 2 * data.len() + 256);
        let again = Fdt::parse(&blob).expect("reader rejects the writer's blob");
        assert_eq!(
            code_tree(&again.root()),
            model.root,
            "re-encoded tree differs"
        );
        let m2 = model_parse(&blob).expect("reference rejects the writer's blob");
        assert_eq!(m2.root, model.root);
        assert_eq!((m2.version, m2.rsv, m2.total), (17, 0, blob.len()));
    }
    true
}
