// SPDX-License-Identifier: GPL-2.0

//! Flattened device tree (FDT, version 17) writer and validating reader.
//!
//! Modules cannot call libfdt (no exports), so KHO data that is an FDT is written and read
//! here. The format is the one of the Devicetree Specification, chapter 5: a 40-byte header,
//! the memory reservation map, the structure block (big-endian tokens `FDT_BEGIN_NODE`,
//! `FDT_PROP`, `FDT_END_NODE`, `FDT_NOP`, `FDT_END`) and the strings block (property names).
//! Header fields and tokens are big-endian; KHO stores physical addresses and sizes as 8 raw
//! **native-endian** bytes ([`FdtWriter::property_u64_ne`], [`Node::prop_u64_ne`]).
//!
//! [`FdtWriter`] writes into a caller-provided buffer (property names deduplicated, libfdt's
//! sequential-write layout). [`Fdt::parse`] validates the whole blob once (header, block
//! bounds, every token, every name); after that, lookups cannot fail on structure. No
//! function panics on malformed input.

use super::error::{errno, Error, Result};

/// `FDT_MAGIC`.
pub(crate) const FDT_MAGIC: u32 = 0xd00d_feed;
/// Version written by [`FdtWriter`].
pub(crate) const FDT_VERSION: u32 = 17;
/// `last_comp_version` written by [`FdtWriter`].
pub(crate) const FDT_LAST_COMP_VERSION: u32 = 16;
/// Oldest version [`Fdt::parse`] accepts.
pub(crate) const FDT_MIN_VERSION: u32 = 16;
/// Size of a version 17 header.
pub(crate) const FDT_HEADER_SIZE: usize = 40;
/// Size of a version 16 header (no `size_dt_struct`).
const FDT_V16_HEADER_SIZE: usize = 36;
/// Size of one memory reservation map entry (`address`, `size`, both big-endian u64).
const RSV_ENTRY_SIZE: usize = 16;
/// Deepest node nesting accepted (the root is at depth 1).
pub(crate) const FDT_MAX_DEPTH: usize = 16;

/// Token: start of a node, followed by its NUL-terminated name.
const FDT_BEGIN_NODE: u32 = 1;
/// Token: end of a node.
const FDT_END_NODE: u32 = 2;
/// Token: property (`len`, `nameoff`, value).
const FDT_PROP: u32 = 3;
/// Token: no operation.
const FDT_NOP: u32 = 4;
/// Token: end of the structure block.
const FDT_END: u32 = 9;

/// Rounds `n` up to a multiple of 4 (`None` on overflow).
fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|n| n & !3)
}

/// Reads a big-endian u32 at `off` of `b`.
fn be32(b: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let bytes: [u8; 4] = b.get(off..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Reads a big-endian u64 at `off` of `b`.
fn be64(b: &[u8], off: usize) -> Option<u64> {
    let end = off.checked_add(8)?;
    let bytes: [u8; 8] = b.get(off..end)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The NUL-terminated string starting at `off` of `b` (without the NUL).
fn cstr_at(b: &[u8], off: usize) -> Option<&[u8]> {
    let tail = b.get(off..)?;
    let nul = tail.iter().position(|&c| c == 0)?;
    tail.get(..nul)
}

/// Error shorthand: `-EINVAL` with a cause and value.
fn inval(what: &'static str, value: usize) -> Error {
    Error::inval(what, value as u64)
}

// ------------------------------------------------------------------------------- writer

/// Writes an FDT into a caller-provided buffer without allocating.
///
/// Call [`begin_node`](Self::begin_node)`("")` for the root, then properties and subnodes
/// (properties of a node before its subnodes), [`end_node`](Self::end_node) for each node,
/// and [`finish`](Self::finish). The structure block grows up from the start of the buffer
/// and the strings grow down from its end; `finish` moves the strings behind the structure
/// block. Running out of space is `-ENOSPC`; the writer stays usable (nothing is written by
/// a failed call).
pub(crate) struct FdtWriter<'a> {
    buf: &'a mut [u8],
    /// Usable size of `buf` (capped to what a u32 offset can address).
    end: usize,
    /// End of the structure block written so far.
    pos: usize,
    /// Start of the strings (they occupy `strings_low..end`, newest first).
    strings_low: usize,
    /// Current nesting depth (0 outside the root).
    depth: usize,
    root_started: bool,
    /// Bit `d` set: the node at depth `d` already has a subnode (no more properties).
    closed: u32,
    /// `body[d]`: offset of the first token inside the open node at depth `d`.
    body: [usize; FDT_MAX_DEPTH + 1],
}

impl<'a> FdtWriter<'a> {
    /// Starts an FDT in `buf` (header and empty memory reservation map are reserved).
    pub(crate) fn new(buf: &'a mut [u8]) -> Result<Self> {
        let end = buf.len().min(u32::MAX as usize);
        let start = FDT_HEADER_SIZE + RSV_ENTRY_SIZE;
        // Room for the header, the terminating reservation entry and FDT_END.
        if end < start + 4 {
            return Err(Error::new(
                errno::ENOSPC,
                "fdt: buffer too small",
                end as u64,
            ));
        }
        if let Some(head) = buf.get_mut(..start) {
            head.fill(0);
        }
        Ok(Self {
            buf,
            end,
            pos: start,
            strings_low: end,
            depth: 0,
            root_started: false,
            closed: 0,
            body: [0; FDT_MAX_DEPTH + 1],
        })
    }

    /// Appends `parts` to the structure block, zero-padded to 4 bytes, keeping `reserve`
    /// bytes free before the strings; fails with ENOSPC without writing anything.
    fn put(&mut self, parts: &[&[u8]], reserve: usize) -> Result {
        let len = parts_len(parts).ok_or(enospc(self.pos))?;
        let padded = align4(len).ok_or(enospc(self.pos))?;
        let new_pos = self.pos.checked_add(padded).ok_or(enospc(self.pos))?;
        if new_pos
            .checked_add(reserve)
            .is_none_or(|e| e > self.strings_low)
        {
            return Err(enospc(new_pos));
        }
        let dst = self.buf.get_mut(self.pos..new_pos).ok_or(enospc(new_pos))?;
        let mut bytes = parts.iter().flat_map(|p| p.iter());
        for d in dst.iter_mut() {
            *d = bytes.next().copied().unwrap_or(0);
        }
        self.pos = new_pos;
        Ok(())
    }

    /// Finds or adds property name `name`; returns its distance from the buffer end.
    fn string(&mut self, name: &[u8]) -> Result<usize> {
        // Existing entries: walk the NUL-terminated strings in `strings_low..end`.
        let mut off = self.strings_low;
        while off < self.end {
            let s = self
                .buf
                .get(..self.end)
                .and_then(|b| cstr_at(b, off))
                .ok_or(inval("fdt: writer strings corrupted", off))?;
            if s == name {
                return Ok(self.end - off);
            }
            off = off.saturating_add(s.len() + 1);
        }
        let need = name.len().checked_add(1).ok_or(enospc(self.pos))?;
        let low = self.strings_low.checked_sub(need).ok_or(enospc(self.pos))?;
        if low < self.pos.saturating_add(4) {
            return Err(enospc(self.pos));
        }
        let dst = self.buf.get_mut(low..self.strings_low).ok_or(enospc(low))?;
        for (d, s) in dst.iter_mut().zip(name.iter().chain(&[0])) {
            *d = *s;
        }
        self.strings_low = low;
        Ok(self.end - low)
    }

    /// Begins a node; the first call must be the root, whose name is `""`.
    ///
    /// Other names must be non-empty without NUL or `'/'`. Nesting is limited to
    /// [`FDT_MAX_DEPTH`].
    pub(crate) fn begin_node(&mut self, name: &str) -> Result {
        if self.depth == 0 {
            if self.root_started {
                return Err(inval("fdt: second root node", 0));
            }
            if !name.is_empty() {
                return Err(inval("fdt: root node name must be empty", name.len()));
            }
        } else {
            if name.is_empty() {
                return Err(inval("fdt: empty node name", self.depth));
            }
            if let Some(i) = name.bytes().position(|b| b == 0 || b == b'/') {
                return Err(inval("fdt: invalid character in node name", i));
            }
        }
        if self.depth >= FDT_MAX_DEPTH {
            return Err(inval("fdt: nodes nested too deeply", self.depth + 1));
        }
        if self.depth > 0 && self.has_child(name.as_bytes())? {
            return Err(Error::new(
                errno::EEXIST,
                "fdt: duplicate node name",
                name.len() as u64,
            ));
        }
        self.put(&[&FDT_BEGIN_NODE.to_be_bytes(), name.as_bytes(), &[0]], 4)?;
        self.closed |= 1 << self.depth;
        self.depth += 1;
        self.closed &= !(1 << self.depth);
        if let Some(b) = self.body.get_mut(self.depth) {
            *b = self.pos;
        }
        self.root_started = true;
        Ok(())
    }

    /// Ends the current node.
    pub(crate) fn end_node(&mut self) -> Result {
        if self.depth == 0 {
            return Err(inval("fdt: end_node without begin_node", 0));
        }
        self.put(&[&FDT_END_NODE.to_be_bytes()], 4)?;
        self.depth -= 1;
        Ok(())
    }

    /// Adds a property with raw `value` to the current node.
    pub(crate) fn property(&mut self, name: &str, value: &[u8]) -> Result {
        self.property_parts(name, &[value])
    }

    /// Adds a string property: `s` followed by a NUL.
    pub(crate) fn property_str(&mut self, name: &str, s: &str) -> Result {
        if let Some(i) = s.bytes().position(|b| b == 0) {
            return Err(inval("fdt: NUL inside string property", i));
        }
        self.property_parts(name, &[s.as_bytes(), &[0]])
    }

    /// Adds a property of 8 raw native-endian bytes (how KHO stores addresses and sizes).
    pub(crate) fn property_u64_ne(&mut self, name: &str, v: u64) -> Result {
        self.property(name, &v.to_ne_bytes())
    }

    /// Adds a property of one big-endian 32-bit cell.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn property_u32_be(&mut self, name: &str, v: u32) -> Result {
        self.property(name, &v.to_be_bytes())
    }

    /// Adds a property whose value is the concatenation of `parts` (at most 2).
    fn property_parts(&mut self, name: &str, parts: &[&[u8]]) -> Result {
        if parts.len() > 2 {
            return Err(inval("fdt: too many value parts", parts.len()));
        }
        if self.depth == 0 {
            return Err(inval("fdt: property outside a node", 0));
        }
        if self.closed & (1 << self.depth) != 0 {
            return Err(inval("fdt: property after subnode", self.depth));
        }
        if name.is_empty() {
            return Err(inval("fdt: empty property name", 0));
        }
        if let Some(i) = name.bytes().position(|b| b == 0) {
            return Err(inval("fdt: NUL in property name", i));
        }
        let value_len = parts_len(parts).ok_or(enospc(self.pos))?;
        let len = u32::try_from(value_len).map_err(|_| enospc(value_len))?;
        // Check the space for the token first so that a failure adds no string.
        let total = value_len
            .checked_add(12)
            .and_then(align4)
            .and_then(|n| n.checked_add(self.pos))
            .ok_or(enospc(self.pos))?;
        if total.saturating_add(4) > self.strings_low {
            return Err(enospc(total));
        }
        if self.has_property(name.as_bytes())? {
            return Err(Error::new(
                errno::EEXIST,
                "fdt: duplicate property name",
                name.len() as u64,
            ));
        }
        let saved_low = self.strings_low;
        let dist = self.string(name.as_bytes())?;
        // The nameoff is a distance from the end until `finish` fixes it up.
        let dist = u32::try_from(dist).map_err(|_| enospc(dist))?;
        let (tag, len, dist) = (
            FDT_PROP.to_be_bytes(),
            len.to_be_bytes(),
            dist.to_be_bytes(),
        );
        let part = |i: usize| parts.get(i).copied().unwrap_or_default();
        let r = self.put(&[&tag, &len, &dist, part(0), part(1)], 4);
        if r.is_err() {
            self.strings_low = saved_low;
        }
        r
    }

    /// The structure written so far and the body offset of the current node.
    fn current(&self) -> Result<(&[u8], usize)> {
        let st = self
            .buf
            .get(..self.pos)
            .ok_or(inval("fdt: writer structure corrupted", self.pos))?;
        let body = self.body.get(self.depth).copied().unwrap_or(self.pos);
        Ok((st, body))
    }

    /// Whether the current node already has a direct subnode called `name`.
    fn has_child(&self, name: &[u8]) -> Result<bool> {
        let (st, mut off) = self.current()?;
        let mut depth = 0usize;
        while off < st.len() {
            let (tok, next) = read_token(st, off)?;
            match tok {
                Token::Begin(n) => {
                    if depth == 0 && n == name {
                        return Ok(true);
                    }
                    depth += 1;
                }
                Token::EndNode => depth = depth.saturating_sub(1),
                _ => {}
            }
            off = next;
        }
        Ok(false)
    }

    /// Whether the current node already has property `name`.
    fn has_property(&self, name: &[u8]) -> Result<bool> {
        let (st, mut off) = self.current()?;
        let strings = self.buf.get(..self.end).unwrap_or_default();
        while off < st.len() {
            let (tok, next) = read_token(st, off)?;
            if let Token::Prop { nameoff, .. } = tok {
                // Until `finish`, `nameoff` is the distance of the name from the end.
                let at = self.end.saturating_sub(nameoff as usize);
                if cstr_at(strings, at) == Some(name) {
                    return Ok(true);
                }
            }
            off = next;
        }
        Ok(false)
    }

    /// Nesting depth (0 outside the root).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Completes the FDT: `FDT_END`, strings block, header. Returns `totalsize`.
    ///
    /// Fails if no root was written or a node is still open.
    pub(crate) fn finish(mut self) -> Result<usize> {
        if !self.root_started {
            return Err(inval("fdt: no root node", 0));
        }
        if self.depth != 0 {
            return Err(inval("fdt: unbalanced nodes at finish", self.depth));
        }
        self.put(&[&FDT_END.to_be_bytes()], 0)?;
        let off_struct = FDT_HEADER_SIZE + RSV_ENTRY_SIZE;
        let size_struct = self.pos - off_struct;
        let size_strings = self.end - self.strings_low;
        self.fix_nameoffs(off_struct, size_strings)?;
        // Move the strings right behind the structure block.
        let off_strings = self.pos;
        self.buf
            .get_mut(..self.end)
            .ok_or(inval("fdt: writer strings corrupted", self.end))?
            .copy_within(self.strings_low..self.end, off_strings);
        let total = off_strings + size_strings;
        let header = [
            FDT_MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            FDT_HEADER_SIZE as u32,
            FDT_VERSION,
            FDT_LAST_COMP_VERSION,
            0,
            size_strings as u32,
            size_struct as u32,
        ];
        for (i, v) in header.iter().enumerate() {
            if let Some(d) = self.buf.get_mut(i * 4..i * 4 + 4) {
                d.copy_from_slice(&v.to_be_bytes());
            }
        }
        Ok(total)
    }

    /// Rewrites every `nameoff` (distance from the end) as an offset in the strings block.
    fn fix_nameoffs(&mut self, off_struct: usize, size_strings: usize) -> Result {
        let bad = |off| inval("fdt: writer structure corrupted", off);
        let mut off = off_struct;
        loop {
            let st = self.buf.get(..self.pos).ok_or(bad(off))?;
            let (tok, next) = read_token(st, off)?;
            match tok {
                Token::Prop { .. } => {
                    let at = off + 8;
                    let dist = be32(st, at).ok_or(bad(at))? as usize;
                    let nameoff = size_strings.checked_sub(dist).ok_or(bad(at))? as u32;
                    self.buf
                        .get_mut(at..at + 4)
                        .ok_or(bad(at))?
                        .copy_from_slice(&nameoff.to_be_bytes());
                }
                Token::End => return Ok(()),
                _ => {}
            }
            off = next;
        }
    }
}

/// Total length of `parts` (`None` on overflow).
fn parts_len(parts: &[&[u8]]) -> Option<usize> {
    parts.iter().try_fold(0usize, |n, p| n.checked_add(p.len()))
}

/// `-ENOSPC` for the writer.
fn enospc(value: usize) -> Error {
    Error::new(errno::ENOSPC, "fdt: buffer too small", value as u64)
}

// ------------------------------------------------------------------------------- tokens

/// One structure block token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    /// `FDT_BEGIN_NODE` with the node name (without NUL).
    Begin(&'a [u8]),
    /// `FDT_END_NODE`.
    EndNode,
    /// `FDT_PROP`.
    Prop {
        /// Offset of the name in the strings block.
        nameoff: u32,
        /// The value.
        value: &'a [u8],
    },
    /// `FDT_NOP`.
    Nop,
    /// `FDT_END`.
    End,
}

/// Reads the token at `off` of the structure block `st`; returns it and the next offset.
///
/// Checks alignment, that the name or value and its padding lie inside `st`.
fn read_token(st: &[u8], off: usize) -> Result<(Token<'_>, usize)> {
    if !off.is_multiple_of(4) {
        return Err(inval("fdt: misaligned token", off));
    }
    if off >= st.len() {
        return Err(inval("fdt: missing FDT_END", off));
    }
    let tag = be32(st, off).ok_or(inval("fdt: token truncated", off))?;
    let body = off + 4;
    match tag {
        FDT_BEGIN_NODE => {
            let name = cstr_at(st, body).ok_or(inval("fdt: node name not NUL-terminated", off))?;
            let next =
                align4(body + name.len() + 1).ok_or(inval("fdt: node name too long", off))?;
            if next > st.len() {
                return Err(inval("fdt: node name padding past end", off));
            }
            Ok((Token::Begin(name), next))
        }
        FDT_END_NODE => Ok((Token::EndNode, body)),
        FDT_PROP => {
            let len = be32(st, body).ok_or(inval("fdt: property header truncated", off))?;
            let nameoff = be32(st, body + 4).ok_or(inval("fdt: property header truncated", off))?;
            let start = body + 8;
            let end = start
                .checked_add(len as usize)
                .ok_or(inval("fdt: property length past end", len as usize))?;
            let value = st
                .get(start..end)
                .ok_or(inval("fdt: property length past end", len as usize))?;
            let next = align4(end).ok_or(inval("fdt: property length past end", len as usize))?;
            if next > st.len() {
                return Err(inval("fdt: property padding past end", off));
            }
            Ok((Token::Prop { nameoff, value }, next))
        }
        FDT_NOP => Ok((Token::Nop, body)),
        FDT_END => Ok((Token::End, body)),
        _ => Err(inval("fdt: unknown token", tag as usize)),
    }
}

/// The property name at `nameoff` of the strings block, checked.
fn prop_name(strings: &[u8], nameoff: u32) -> Result<&str> {
    let off = nameoff as usize;
    if off >= strings.len() {
        return Err(inval("fdt: nameoff outside strings block", off));
    }
    let name = cstr_at(strings, off).ok_or(inval("fdt: property name not NUL-terminated", off))?;
    if name.is_empty() {
        return Err(inval("fdt: empty property name", off));
    }
    core::str::from_utf8(name).map_err(|_| inval("fdt: property name not valid UTF-8", off))
}

// ------------------------------------------------------------------------------- reader

/// A validated FDT.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fdt<'a> {
    /// The blob, cut to `totalsize`.
    #[cfg(any(test, feature = "fuzz"))]
    blob: &'a [u8],
    /// The structure block.
    st: &'a [u8],
    strings: &'a [u8],
    /// Offset of the root's `FDT_BEGIN_NODE` in `st`.
    root: usize,
    /// The header's `version`.
    #[cfg(any(test, feature = "fuzz"))]
    version: u32,
    /// Number of memory reservation entries (without the terminator).
    #[cfg(any(test, feature = "fuzz"))]
    rsv_count: usize,
}

/// Header field `i` (u32 index) of `blob`.
fn header_field(blob: &[u8], i: usize) -> u32 {
    be32(blob, i * 4).unwrap_or(0)
}

/// Checks that `[off, off + size)` lies in `[header, total)`; returns the end.
fn block(
    off: u32,
    size: u32,
    header: usize,
    total: usize,
    what: &'static str,
) -> Result<(usize, usize)> {
    let (off, size) = (off as usize, size as usize);
    let end = off.checked_add(size).ok_or(inval(what, off))?;
    if off < header || end > total {
        return Err(inval(what, off));
    }
    Ok((off, end))
}

impl<'a> Fdt<'a> {
    /// Validates `blob` completely and returns the tree.
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Self> {
        if blob.len() < FDT_V16_HEADER_SIZE {
            return Err(inval("fdt: blob shorter than header", blob.len()));
        }
        let magic = header_field(blob, 0);
        if magic != FDT_MAGIC {
            return Err(inval("fdt: bad magic", magic as usize));
        }
        let version = header_field(blob, 5);
        if version < FDT_MIN_VERSION {
            return Err(Error::new(
                errno::EPROTO,
                "fdt: version too old",
                u64::from(version),
            ));
        }
        let last_comp = header_field(blob, 6);
        if last_comp > FDT_VERSION {
            return Err(Error::new(
                errno::EPROTO,
                "fdt: last_comp_version too new",
                u64::from(last_comp),
            ));
        }
        let header = if version >= 17 {
            FDT_HEADER_SIZE
        } else {
            FDT_V16_HEADER_SIZE
        };
        if blob.len() < header {
            return Err(inval("fdt: blob shorter than header", blob.len()));
        }
        let total = header_field(blob, 1) as usize;
        if total > blob.len() {
            return Err(inval("fdt: totalsize larger than blob", total));
        }
        if total < header {
            return Err(inval("fdt: totalsize smaller than header", total));
        }
        let blob = blob.get(..total).unwrap_or(blob);

        // Memory reservation map: 8-aligned, terminated by a zero entry inside the blob.
        let rsv = header_field(blob, 4) as usize;
        if rsv < header || rsv > total {
            return Err(inval("fdt: memory reservation map outside blob", rsv));
        }
        if !rsv.is_multiple_of(8) {
            return Err(inval("fdt: memory reservation map misaligned", rsv));
        }
        let mut at = rsv;
        loop {
            let (addr, size) = match (be64(blob, at), be64(blob, at + 8)) {
                (Some(a), Some(s)) => (a, s),
                _ => return Err(inval("fdt: memory reservation map not terminated", at)),
            };
            if addr == 0 && size == 0 {
                break;
            }
            at += RSV_ENTRY_SIZE;
        }

        // Strings block.
        let (str_off, str_end) = block(
            header_field(blob, 3),
            header_field(blob, 8),
            header,
            total,
            "fdt: strings block outside blob",
        )?;
        let strings = blob
            .get(str_off..str_end)
            .ok_or(inval("fdt: strings block outside blob", str_off))?;

        // Structure block; version 16 has no size: it ends at the blob end and FDT_END
        // need not be last.
        let st_off = header_field(blob, 2);
        if !st_off.is_multiple_of(4) {
            return Err(inval("fdt: structure block misaligned", st_off as usize));
        }
        let exact = version >= 17;
        let st_size = if exact {
            header_field(blob, 9)
        } else {
            (total as u32).saturating_sub(st_off)
        };
        let (st_off, st_end) = block(
            st_off,
            st_size,
            header,
            total,
            "fdt: structure block outside blob",
        )?;
        let st = blob
            .get(st_off..st_end)
            .ok_or(inval("fdt: structure block outside blob", st_off))?;

        let root = check_structure(st, strings, exact)?;
        Ok(Self {
            #[cfg(any(test, feature = "fuzz"))]
            blob,
            st,
            strings,
            root,
            #[cfg(any(test, feature = "fuzz"))]
            version,
            #[cfg(any(test, feature = "fuzz"))]
            rsv_count: (at - rsv) / RSV_ENTRY_SIZE,
        })
    }

    /// The blob (cut to `totalsize`).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn as_bytes(&self) -> &'a [u8] {
        self.blob
    }

    /// `totalsize`.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn total_size(&self) -> usize {
        self.blob.len()
    }

    /// `version` of the header.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn version(&self) -> u32 {
        self.version
    }

    /// Number of memory reservation entries (the terminator not counted).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn mem_rsv_count(&self) -> usize {
        self.rsv_count
    }

    /// The root node.
    pub(crate) fn root(&self) -> Node<'a> {
        // Validated by `parse`; the fallback (an empty node) cannot happen.
        Node::at(self.st, self.strings, self.root).unwrap_or(Node {
            st: self.st,
            strings: self.strings,
            body: self.st.len(),
            name: "",
        })
    }

    /// Looks up a node by absolute path (`"/"` is the root, `"/a/b"` a grandchild).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn find(&self, path: &str) -> Option<Node<'a>> {
        let rest = path.strip_prefix('/')?;
        let mut node = self.root();
        for name in rest.split('/').filter(|s| !s.is_empty()) {
            node = node.subnode(name)?;
        }
        Some(node)
    }
}

/// One full pass over the structure block; returns the offset of the root node.
fn check_structure(st: &[u8], strings: &[u8], exact: bool) -> Result<usize> {
    let mut off = 0;
    let mut depth = 0usize;
    let mut root = None;
    // Bit `d`: the node at depth `d` already had a subnode.
    let mut closed = 0u32;
    loop {
        let (tok, next) = read_token(st, off)?;
        match tok {
            Token::Begin(name) => {
                if depth == 0 {
                    if root.is_some() {
                        return Err(inval("fdt: more than one root node", off));
                    }
                    if !name.is_empty() {
                        return Err(inval("fdt: root node name not empty", off));
                    }
                    root = Some(off);
                } else {
                    if name.is_empty() {
                        return Err(inval("fdt: empty node name", off));
                    }
                    if name.contains(&b'/') {
                        return Err(inval("fdt: '/' in node name", off));
                    }
                    if core::str::from_utf8(name).is_err() {
                        return Err(inval("fdt: node name not valid UTF-8", off));
                    }
                }
                closed |= 1 << depth;
                depth += 1;
                if depth > FDT_MAX_DEPTH {
                    return Err(inval("fdt: nodes nested too deeply", off));
                }
                closed &= !(1 << depth);
            }
            Token::EndNode => {
                if depth == 0 {
                    return Err(inval("fdt: FDT_END_NODE outside a node", off));
                }
                depth -= 1;
            }
            Token::Prop { nameoff, .. } => {
                if depth == 0 {
                    return Err(inval("fdt: property outside a node", off));
                }
                if closed & (1 << depth) != 0 {
                    return Err(inval("fdt: property after subnode", off));
                }
                prop_name(strings, nameoff)?;
            }
            Token::Nop => {}
            Token::End => {
                if depth != 0 {
                    return Err(inval("fdt: FDT_END inside a node", off));
                }
                let root = root.ok_or(inval("fdt: no root node", off))?;
                if exact && next != st.len() {
                    return Err(inval("fdt: data after FDT_END", next));
                }
                return Ok(root);
            }
        }
        off = next;
    }
}

/// A node of a validated [`Fdt`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<'a> {
    /// The structure block.
    st: &'a [u8],
    strings: &'a [u8],
    /// Offset of the first token after the node's name.
    body: usize,
    name: &'a str,
}

impl<'a> Node<'a> {
    /// The node whose `FDT_BEGIN_NODE` token is at `off`.
    fn at(st: &'a [u8], strings: &'a [u8], off: usize) -> Option<Self> {
        let (tok, body) = read_token(st, off).ok()?;
        match tok {
            Token::Begin(name) => Some(Self {
                st,
                strings,
                body,
                name: core::str::from_utf8(name).ok()?,
            }),
            _ => None,
        }
    }

    /// The node name (`""` for the root).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn name(&self) -> &'a str {
        self.name
    }

    /// Iterator over the properties.
    pub(crate) fn properties(&self) -> Properties<'a> {
        Properties {
            st: self.st,
            strings: self.strings,
            off: Some(self.body),
        }
    }

    /// The value of property `name`.
    pub(crate) fn property(&self, name: &str) -> Option<&'a [u8]> {
        self.properties().find(|p| p.name == name).map(|p| p.value)
    }

    /// Iterator over the direct subnodes.
    pub(crate) fn subnodes(&self) -> Subnodes<'a> {
        Subnodes {
            st: self.st,
            strings: self.strings,
            off: Some(self.body),
        }
    }

    /// The direct subnode called `name`.
    pub(crate) fn subnode(&self, name: &str) -> Option<Node<'a>> {
        self.subnodes().find(|n| n.name == name)
    }

    /// Property `name` as 8 raw native-endian bytes.
    ///
    /// `-ENOENT` if absent, `-EINVAL` if its length is not exactly 8.
    pub(crate) fn prop_u64_ne(&self, name: &str) -> Result<u64> {
        let v = self.required(name)?;
        let bytes: [u8; 8] = v
            .try_into()
            .map_err(|_| inval("fdt: u64 property is not 8 bytes", v.len()))?;
        Ok(u64::from_ne_bytes(bytes))
    }

    /// Property `name` as one big-endian 32-bit cell (length exactly 4).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn prop_u32_be(&self, name: &str) -> Result<u32> {
        let v = self.required(name)?;
        let bytes: [u8; 4] = v
            .try_into()
            .map_err(|_| inval("fdt: u32 property is not 4 bytes", v.len()))?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// Property `name` as a single string: one NUL, at the end, and valid UTF-8.
    pub(crate) fn prop_str(&self, name: &str) -> Result<&'a str> {
        let v = self.required(name)?;
        let (last, text) = v
            .split_last()
            .ok_or(inval("fdt: string property is empty", 0))?;
        if *last != 0 {
            return Err(inval("fdt: string property not NUL-terminated", v.len()));
        }
        if let Some(i) = text.iter().position(|&b| b == 0) {
            return Err(inval("fdt: string property has an inner NUL", i));
        }
        core::str::from_utf8(text)
            .map_err(|e| inval("fdt: string property not valid UTF-8", e.valid_up_to()))
    }

    /// Whether the `compatible` string list contains exactly `compat` (like
    /// `fdt_node_check_compatible`).
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn is_compatible(&self, compat: &str) -> bool {
        match self.property("compatible").and_then(|v| v.split_last()) {
            Some((0, list)) => list.split(|&b| b == 0).any(|s| s == compat.as_bytes()),
            _ => false,
        }
    }

    /// The value of `name` or `-ENOENT`.
    fn required(&self, name: &str) -> Result<&'a [u8]> {
        self.property(name)
            .ok_or(Error::new(errno::ENOENT, "fdt: property missing", 0))
    }
}

/// A property of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Property<'a> {
    /// The name.
    pub(crate) name: &'a str,
    /// The raw value.
    pub(crate) value: &'a [u8],
}

/// Iterator over the properties of a [`Node`].
#[derive(Clone, Debug)]
pub(crate) struct Properties<'a> {
    /// The structure block.
    st: &'a [u8],
    strings: &'a [u8],
    /// Next token, `None` when done.
    off: Option<usize>,
}

impl<'a> Iterator for Properties<'a> {
    type Item = Property<'a>;

    fn next(&mut self) -> Option<Property<'a>> {
        loop {
            let off = self.off.take()?;
            let (tok, next) = read_token(self.st, off).ok()?;
            match tok {
                Token::Nop => self.off = Some(next),
                Token::Prop { nameoff, value } => {
                    self.off = Some(next);
                    let name = prop_name(self.strings, nameoff).ok()?;
                    return Some(Property { name, value });
                }
                _ => return None,
            }
        }
    }
}

/// Iterator over the direct subnodes of a [`Node`].
#[derive(Clone, Debug)]
pub(crate) struct Subnodes<'a> {
    /// The structure block.
    st: &'a [u8],
    strings: &'a [u8],
    /// Next token at the parent's level, `None` when done.
    off: Option<usize>,
}

impl<'a> Subnodes<'a> {
    /// Offset after the `FDT_END_NODE` matching the node whose body starts at `body`.
    fn skip_subtree(&self, body: usize) -> Option<usize> {
        let mut depth = 1usize;
        let mut off = body;
        loop {
            let (tok, next) = read_token(self.st, off).ok()?;
            match tok {
                Token::Begin(_) => depth += 1,
                Token::EndNode => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(next);
                    }
                }
                Token::End => return None,
                _ => {}
            }
            off = next;
        }
    }
}

impl<'a> Iterator for Subnodes<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        loop {
            let off = self.off.take()?;
            let (tok, next) = read_token(self.st, off).ok()?;
            match tok {
                Token::Nop | Token::Prop { .. } => self.off = Some(next),
                Token::Begin(_) => {
                    let node = Node::at(self.st, self.strings, off)?;
                    self.off = self.skip_subtree(node.body);
                    return Some(node);
                }
                _ => return None,
            }
        }
    }
}
