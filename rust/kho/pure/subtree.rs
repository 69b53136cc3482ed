// SPDX-License-Identifier: GPL-2.0

//! The module's KHO subtree: an FDT blob registered with `kho_add_subtree()`.
//!
//! Layout (documented as an ABI in `Documentation/kho-rs-abi.rst`):
//!
//! ```text
//! / {
//!     compatible = "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1";
//!     generation = <u64>;            // 1 in the first kernel, +1 per re-preserve
//!     seed = <u64>;                  // workload seed
//!     radix {
//!         compatible = "radix-v1";
//!         root = <u64>;              // phys of the root table page
//!         keys = <u64>;              // number of keys (preserved folios)
//!     };
//!     vmalloc {
//!         compatible = "vmalloc-v1";
//!         descriptor = [16 bytes];   // struct kho_vmalloc, native endian
//!         bytes = <u64>;             // size of the area in bytes
//!     };
//!     block {
//!         compatible = "block-v1";
//!         head = <u64>;              // phys of the first block, 0 = empty
//!         entry-size = <u64>;        // bytes per entry
//!         count = <u64>;             // number of entries
//!     };
//!     seal {
//!         compatible = "seal-v1";
//!         root = <u64>;              // crc32c digests (see `seal`), one per
//!         radix = <u64>;             // component, zero-extended
//!         vmalloc = <u64>;
//!         block = <u64>;
//!     };
//! };
//! ```
//!
//! Every `<u64>` is 8 raw native-endian bytes, the way the KHO core stores physical
//! addresses in its own FDT (not big-endian cells). The reader checks the FDT structure,
//! then compatibility per component (root composite string and each child's own string),
//! then every value's length, before returning anything.

use core::fmt;
use zerocopy::IntoBytes;

use super::compat::{self, Mismatch};
use super::error::{Error, Result};
use super::fdt::{Fdt, FdtWriter, Node};
use super::seal::Seal;
use super::vmalloc::KhoVmalloc;

/// The name of the workload's subtree (`kho_add_subtree()`); further copies of it, which
/// the selftest's fault sweep publishes, add `-<n>`.
pub(crate) const SUBTREE_NAME: &str = "kho-rs";

/// Everything the subtree records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubtreeInfo {
    /// Preservation generation: 1 in the first kernel, +1 each time it is carried on.
    pub(crate) generation: u64,
    /// Seed the workload was generated from.
    pub(crate) seed: u64,
    /// Physical address of the radix tree's root page.
    pub(crate) radix_root: u64,
    /// Number of keys in the radix tree.
    pub(crate) radix_keys: u64,
    /// vmalloc descriptor.
    pub(crate) vmalloc: KhoVmalloc,
    /// Size of the vmalloc area in bytes.
    pub(crate) vmalloc_bytes: u64,
    /// Physical address of the first block of the block set.
    pub(crate) block_head: u64,
    /// Entry size of the block set.
    pub(crate) block_entry_size: u64,
    /// Number of entries in the block set.
    pub(crate) block_count: u64,
    /// Pages the state keeps preserved, order-k blocks counted as 2^k: the data, the
    /// metadata and the blob (root property `preserved-pages`, optional: 0 if absent). It
    /// is only reported (how much a rejected state leaves reserved) and compared with the
    /// pages a restore claims; nothing is reached through it.
    pub(crate) preserved_pages: u64,
    /// The digests of everything above and of every metadata page (the `seal` node).
    pub(crate) seal: Seal,
}

/// The published state's own pages (its metadata) against the data it preserves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Footprint {
    /// Radix tree table and leaf pages.
    pub(crate) radix_nodes: u64,
    /// vmalloc chunk pages.
    pub(crate) vmalloc_chunks: u64,
    /// Block pages (the records describing the data).
    pub(crate) blocks: u64,
    /// Blob pages (the FDT registered with KHO).
    pub(crate) blob: u64,
    /// Bytes of preserved data: folios and the vmalloc area.
    pub(crate) data_bytes: u64,
}

impl Footprint {
    /// Metadata pages in all.
    pub(crate) fn pages(&self) -> u64 {
        self.radix_nodes + self.vmalloc_chunks + self.blocks + self.blob
    }

    /// Pages preserved in all, order-k blocks counted as 2^k: the metadata and the data
    /// (`data_bytes` is a whole number of pages of `page_size` bytes).
    pub(crate) fn preserved_pages(&self, page_size: usize) -> u64 {
        self.pages() + self.data_bytes / page_size as u64
    }

    /// Metadata bytes with pages of `page_size` bytes.
    pub(crate) fn bytes(&self, page_size: usize) -> u64 {
        self.pages().saturating_mul(page_size as u64)
    }

    /// Metadata bytes per million bytes of data, rounded up (0.01 % is 100 ppm); 0 if
    /// there is no data.
    pub(crate) fn ppm(&self, page_size: usize) -> u64 {
        if self.data_bytes == 0 {
            return 0;
        }
        // No 128-bit division in the kernel; metadata bytes times 10^6 fit in u64 for any
        // real state, and the fallback only loses the rounding.
        let bytes = self.bytes(page_size);
        match bytes.checked_mul(1_000_000) {
            Some(m) => m.div_ceil(self.data_bytes),
            None => (bytes / self.data_bytes).saturating_mul(1_000_000),
        }
    }
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pages (radix nodes {}, vmalloc chunks {}, blocks {}, blob {})",
            self.pages(),
            self.radix_nodes,
            self.vmalloc_chunks,
            self.blocks,
            self.blob
        )
    }
}

/// Compatibility strings a blob is written with; tests write wrong ones on purpose.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SubtreeCompat<'a> {
    /// Root composite string.
    pub(crate) root: &'a str,
    /// `radix` node string.
    pub(crate) radix: &'a str,
    /// `vmalloc` node string.
    pub(crate) vmalloc: &'a str,
    /// `block` node string.
    pub(crate) block: &'a str,
    /// `seal` node string.
    pub(crate) seal: &'a str,
}

/// The versions of one data structure this build reads and writes.
///
/// Invariant: `1 <= oldest <= newest`, and `compat` is `"{name}-v{newest}"` (checked at
/// compile time for every constant below). A build writes `newest` and restores any version
/// in `oldest..=newest`: that is the per-data-structure version check the RFC review asked
/// for instead of one string compare, and what lets a newer kernel read an older one's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    /// Component name in the composite string (`radix`, `vmalloc`, `block`).
    pub(crate) name: &'static str,
    /// Oldest version this build restores.
    pub(crate) oldest: u32,
    /// Version this build writes, and the newest it restores.
    pub(crate) newest: u32,
    /// `name-v<newest>`, what this build writes.
    pub(crate) compat: &'static str,
}

impl Version {
    /// Whether this build restores version `v` of the component.
    pub(crate) const fn reads(&self, v: u32) -> bool {
        self.oldest <= v && v <= self.newest
    }

    /// The current version `v1` (`next == false`), or with the test-only build option
    /// `KHO_RS_NEXT=<name>` (`next == true`) a hypothetical `v2` that has the same layout:
    /// such a build writes `v2` and reads both `v1` and `v2`.
    const fn of(name: &'static str, next: bool, v1: &'static str, v2: &'static str) -> Self {
        let v = Self {
            name,
            oldest: 1,
            newest: if next { 2 } else { 1 },
            compat: if next { v2 } else { v1 },
        };
        assert!(
            v.valid(),
            "subtree: version constant does not match its string"
        );
        v
    }

    /// The invariant of the type.
    const fn valid(&self) -> bool {
        if self.oldest == 0 || self.oldest > self.newest {
            return false;
        }
        match compat::parse_component(self.compat.as_bytes(), 0) {
            Ok((len, v)) => {
                v == self.newest
                    && len == self.name.len()
                    && match self.compat.as_bytes().split_at_checked(len) {
                        Some((head, _)) => compat::eq_bytes(head, self.name.as_bytes()),
                        None => false,
                    }
            }
            Err(_) => false,
        }
    }
}

/// Version of the radix tree in this module's blob (`KHO_RS_NEXT=radix` writes v2).
pub(crate) const RADIX: Version = Version::of(
    "radix",
    cfg!(kho_rs_next_radix),
    compat::RADIX_COMPAT,
    "radix-v2",
);
/// Version of the vmalloc descriptor in this module's blob (`KHO_RS_NEXT=vmalloc` writes v2).
pub(crate) const VMALLOC: Version = Version::of(
    "vmalloc",
    cfg!(kho_rs_next_vmalloc),
    compat::VMALLOC_COMPAT,
    "vmalloc-v2",
);
/// Version of the block set in this module's blob (`KHO_RS_NEXT=block` writes v2).
pub(crate) const BLOCK: Version = Version::of(
    "block",
    cfg!(kho_rs_next_block),
    compat::BLOCK_COMPAT,
    "block-v2",
);

/// Version of the seal (the state's digests, [`super::seal`]). A seal of a version this
/// build does not read rejects the whole state: nothing could be checked before a claim.
pub(crate) const SEAL: Version = Version::of("seal", false, compat::SEAL_COMPAT, "seal-v2");

/// Whether this is a test-only build that writes a hypothetical next version of a component.
pub(crate) const NEXT_VERSION_BUILD: bool =
    RADIX.newest != 1 || VMALLOC.newest != 1 || BLOCK.newest != 1;

/// The strings this build of the module writes (the root lists every component).
pub(crate) const COMPAT: SubtreeCompat<'static> = SubtreeCompat {
    root: compat::kho_compat!(compat::KHO_RS_COMPAT_BASE; BLOCK.compat, RADIX.compat, SEAL.compat, VMALLOC.compat),
    radix: RADIX.compat,
    vmalloc: VMALLOC.compat,
    block: BLOCK.compat,
    seal: SEAL.compat,
};

/// What this build accepts on restore: the root's base and each component's versions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Accept {
    /// Base of the root composite (`kho-rs-v1`), compared as a whole.
    pub(crate) base: &'static str,
    /// Radix tree versions read.
    pub(crate) radix: Version,
    /// vmalloc versions read.
    pub(crate) vmalloc: Version,
    /// Block set versions read.
    pub(crate) block: Version,
    /// Seal versions read.
    pub(crate) seal: Version,
}

/// What this build of the module accepts.
pub(crate) const ACCEPT: Accept = Accept {
    base: compat::KHO_RS_COMPAT_BASE,
    radix: RADIX,
    vmalloc: VMALLOC,
    block: BLOCK,
    seal: SEAL,
};

/// One component's outcome of the version check on restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict<'a> {
    /// This build reads the version found; the component's values were parsed.
    Restore(u32),
    /// This build does not read the version found: nothing of the component was parsed,
    /// and nothing of it may be restored.
    Refuse(Mismatch<'a>),
}

impl Verdict<'_> {
    /// Whether the component is to be restored.
    pub(crate) fn restores(&self) -> bool {
        matches!(self, Verdict::Restore(_))
    }
}

/// An incoming blob checked component by component.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Incoming<'a> {
    /// The values; those of a refused component are zero.
    pub(crate) info: SubtreeInfo,
    /// Outcome for the radix tree.
    pub(crate) radix: Verdict<'a>,
    /// Outcome for the vmalloc area.
    pub(crate) vmalloc: Verdict<'a>,
    /// Outcome for the block set.
    pub(crate) block: Verdict<'a>,
}

impl<'a> Incoming<'a> {
    /// The first refused component's mismatch, if any (radix, vmalloc, block order).
    pub(crate) fn first_refused(&self) -> Option<Mismatch<'a>> {
        [self.radix, self.vmalloc, self.block]
            .into_iter()
            .find_map(|v| match v {
                Verdict::Refuse(m) => Some(m),
                Verdict::Restore(_) => None,
            })
    }
}

/// Why an incoming blob was rejected.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SubtreeError<'a> {
    /// The blob is not a valid FDT, or a node or property is missing or malformed.
    Format(Error),
    /// A compatibility string does not match (names the component).
    Compat(Mismatch<'a>),
}

impl SubtreeError<'_> {
    /// Negative errno for the kernel glue.
    pub(crate) fn to_errno(self) -> i32 {
        match self {
            Self::Format(e) => e.to_errno(),
            Self::Compat(m) => m.to_errno(),
        }
    }
}

impl fmt::Display for SubtreeError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "malformed subtree: {}", e),
            Self::Compat(m) => write!(f, "incompatible subtree: {}", m),
        }
    }
}

impl From<Error> for SubtreeError<'_> {
    fn from(e: Error) -> Self {
        Self::Format(e)
    }
}

/// Writes the subtree for `info` into `buf`, returns the blob size.
pub(crate) fn write(buf: &mut [u8], info: &SubtreeInfo, c: &SubtreeCompat<'_>) -> Result<usize> {
    let mut w = FdtWriter::new(buf)?;
    w.begin_node("")?;
    w.property_str("compatible", c.root)?;
    w.property_u64_ne("generation", info.generation)?;
    w.property_u64_ne("seed", info.seed)?;
    w.property_u64_ne("preserved-pages", info.preserved_pages)?;
    w.begin_node("radix")?;
    w.property_str("compatible", c.radix)?;
    w.property_u64_ne("root", info.radix_root)?;
    w.property_u64_ne("keys", info.radix_keys)?;
    w.end_node()?;
    w.begin_node("vmalloc")?;
    w.property_str("compatible", c.vmalloc)?;
    w.property("descriptor", info.vmalloc.as_bytes())?;
    w.property_u64_ne("bytes", info.vmalloc_bytes)?;
    w.end_node()?;
    w.begin_node("block")?;
    w.property_str("compatible", c.block)?;
    w.property_u64_ne("head", info.block_head)?;
    w.property_u64_ne("entry-size", info.block_entry_size)?;
    w.property_u64_ne("count", info.block_count)?;
    w.end_node()?;
    w.begin_node("seal")?;
    w.property_str("compatible", c.seal)?;
    w.property_u64_ne("root", info.seal.root.into())?;
    w.property_u64_ne("radix", info.seal.radix.into())?;
    w.property_u64_ne("vmalloc", info.seal.vmalloc.into())?;
    w.property_u64_ne("block", info.seal.block.into())?;
    w.end_node()?;
    w.end_node()?;
    w.finish()
}

/// Version of component `want` that the root composite `root_c` lists.
fn listed<'a>(
    root_c: &compat::Composite<'a>,
    want: &Version,
) -> core::result::Result<u32, SubtreeError<'a>> {
    root_c
        .get(want.name)
        .map(|c| c.version)
        .ok_or(SubtreeError::Compat(Mismatch::MissingComponent {
            name: want.name,
        }))
}

/// Finds component `want`'s node and checks its own string against the version `v` the
/// root lists: the node must carry the very `name-vN` of the root (a blob whose root and
/// node disagree is malformed, not another version).
fn component<'a>(
    root: &Node<'a>,
    want: &Version,
    v: u32,
) -> core::result::Result<Node<'a>, SubtreeError<'a>> {
    let node = root.subnode(want.name).ok_or(Error::new(
        super::error::errno::ENOENT,
        "subtree: component node missing",
        0,
    ))?;
    let found = node.prop_str("compatible")?;
    let own = compat::Component::parse(found)
        .map_err(|e| SubtreeError::Compat(Mismatch::Malformed(e)))?;
    if own.name != want.name || own.version != v {
        return Err(SubtreeError::Compat(Mismatch::VersionMismatch {
            name: want.name,
            expected: v,
            found: own.version,
        }));
    }
    Ok(node)
}

/// The verdict for a component of version `v` against the versions `want` this build reads.
fn verdict<'a>(want: &Version, v: u32) -> Verdict<'a> {
    if want.reads(v) {
        Verdict::Restore(v)
    } else if want.oldest == want.newest {
        Verdict::Refuse(Mismatch::VersionMismatch {
            name: want.name,
            expected: want.newest,
            found: v,
        })
    } else {
        Verdict::Refuse(Mismatch::VersionNotRead {
            name: want.name,
            found: v,
            oldest: want.oldest,
            newest: want.newest,
        })
    }
}

/// Parses an incoming blob and checks each component's version on its own.
///
/// The structure, the root's base and the set of components must be right (an error
/// otherwise). A component whose version this build does not read is *refused*: reported
/// in its [`Verdict`], its properties not parsed (their layout is that of a version this
/// build does not know), its values left zero. The other components are parsed and checked.
pub(crate) fn read_granular<'a>(
    blob: &'a [u8],
    accept: &Accept,
) -> core::result::Result<Incoming<'a>, SubtreeError<'a>> {
    read_inner(blob, accept, false)
}

/// [`read_granular`], or with `strict` the first refused component as the error.
///
/// The order of the checks is the ABI's (`Documentation/kho-rs-abi.rst`): the root string
/// (base, the set of components and, if `strict`, their versions) before any component
/// node, the nodes' own strings before any value.
fn read_inner<'a>(
    blob: &'a [u8],
    accept: &Accept,
    strict: bool,
) -> core::result::Result<Incoming<'a>, SubtreeError<'a>> {
    let fdt = Fdt::parse(blob)?;
    let root = fdt.root();
    let found = root.prop_str("compatible")?;
    let root_c = compat::Composite::parse(found)
        .map_err(|e| SubtreeError::Compat(Mismatch::Malformed(e)))?;
    let base = found.split(';').next().unwrap_or("");
    if base != accept.base {
        return Err(SubtreeError::Compat(Mismatch::BaseMismatch {
            expected: accept.base,
            found: base,
        }));
    }
    // Alphabetical, as in the composite string.
    let bv = listed(&root_c, &accept.block)?;
    let rv = listed(&root_c, &accept.radix)?;
    let vv = listed(&root_c, &accept.vmalloc)?;
    // The seal is checked before anything else is touched: without it nothing can be.
    let sv = listed(&root_c, &accept.seal)?;
    if let Verdict::Refuse(m) = verdict(&accept.seal, sv) {
        return Err(SubtreeError::Compat(m));
    }
    let verdicts = (
        verdict(&accept.radix, rv),
        verdict(&accept.vmalloc, vv),
        verdict(&accept.block, bv),
    );
    if strict {
        for v in [verdicts.2, verdicts.0, verdicts.1] {
            if let Verdict::Refuse(m) = v {
                return Err(SubtreeError::Compat(m));
            }
        }
    }
    let names = [
        accept.radix.name,
        accept.vmalloc.name,
        accept.block.name,
        accept.seal.name,
    ];
    if let Some(other) = root_c.components().find(|c| !names.contains(&c.name)) {
        return Err(SubtreeError::Compat(Mismatch::UnexpectedComponent {
            name: other.name,
        }));
    }
    let radix = component(&root, &accept.radix, rv)?;
    let vmalloc = component(&root, &accept.vmalloc, vv)?;
    let block = component(&root, &accept.block, bv)?;
    let seal = component(&root, &accept.seal, sv)?;
    // A generation counts kexecs from 1 and is incremented to carry the state on: 0 and
    // u64::MAX cannot come from a kho-rs kernel (and MAX + 1 would overflow).
    let generation = root.prop_u64_ne("generation")?;
    if generation == 0 || generation == u64::MAX {
        return Err(SubtreeError::Format(Error::new(
            super::error::errno::ERANGE,
            "subtree: generation out of range",
            generation,
        )));
    }
    let mut inc = Incoming {
        info: SubtreeInfo {
            generation,
            seed: root.prop_u64_ne("seed")?,
            // Optional: 0 (unknown) if absent, malformed if present and not 8 bytes.
            preserved_pages: match root.property("preserved-pages") {
                Some(_) => root.prop_u64_ne("preserved-pages")?,
                None => 0,
            },
            seal: Seal {
                root: digest(&seal, "root")?,
                radix: digest(&seal, "radix")?,
                vmalloc: digest(&seal, "vmalloc")?,
                block: digest(&seal, "block")?,
            },
            ..SubtreeInfo::default()
        },
        radix: verdicts.0,
        vmalloc: verdicts.1,
        block: verdicts.2,
    };
    if inc.radix.restores() {
        inc.info.radix_root = radix.prop_u64_ne("root")?;
        inc.info.radix_keys = radix.prop_u64_ne("keys")?;
    }
    if inc.vmalloc.restores() {
        let desc = vmalloc.property("descriptor").ok_or(Error::new(
            super::error::errno::ENOENT,
            "subtree: vmalloc descriptor missing",
            0,
        ))?;
        inc.info.vmalloc = KhoVmalloc::from_bytes(desc)?;
        inc.info.vmalloc_bytes = vmalloc.prop_u64_ne("bytes")?;
    }
    if inc.block.restores() {
        inc.info.block_head = block.prop_u64_ne("head")?;
        inc.info.block_entry_size = block.prop_u64_ne("entry-size")?;
        inc.info.block_count = block.prop_u64_ne("count")?;
    }
    Ok(inc)
}

/// A digest of the `seal` node: 8 bytes, a CRC-32C zero-extended.
fn digest(seal: &Node<'_>, name: &'static str) -> Result<u32> {
    let v = seal.prop_u64_ne(name)?;
    u32::try_from(v).map_err(|_| {
        Error::new(
            super::error::errno::ERANGE,
            "subtree: seal digest wider than 32 bits",
            v,
        )
    })
}

/// Parses and validates an incoming blob; every component must be of a version this build
/// reads (the first one that is not is the error).
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn read(blob: &[u8]) -> core::result::Result<SubtreeInfo, SubtreeError<'_>> {
    read_with(blob, &ACCEPT)
}

/// Like [`read`], against the given accepted versions.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn read_with<'a>(
    blob: &'a [u8],
    accept: &Accept,
) -> core::result::Result<SubtreeInfo, SubtreeError<'a>> {
    let inc = read_inner(blob, accept, true)?;
    match inc.first_refused() {
        Some(m) => Err(SubtreeError::Compat(m)),
        None => Ok(inc.info),
    }
}
