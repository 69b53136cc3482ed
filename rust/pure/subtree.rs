// SPDX-License-Identifier: GPL-2.0

//! The module's KHO subtree: an FDT blob registered with `kho_add_subtree()`.
//!
//! Layout (documented as an ABI in `Documentation/kho-rs-abi.rst`):
//!
//! ```text
//! / {
//!     compatible = "kho-rs-v1;block-v1;radix-v1;vmalloc-v1";
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
//! };
//! ```
//!
//! Every `<u64>` is 8 raw native-endian bytes, the way the KHO core stores physical
//! addresses in its own FDT (not big-endian cells). The reader checks the FDT structure,
//! then compatibility per component (root composite string and each child's own string),
//! then every value's length, before returning anything.

use core::fmt;

use super::compat::{self, Mismatch};
use super::error::{Error, Result};
use super::fdt::{Fdt, FdtWriter, Node};
use super::vmalloc::KhoVmalloc;

/// Name of the subtree in the KHO FDT (`/sys/kernel/debug/kho/out/sub_fdts/kho-rs`).
pub(crate) const SUBTREE_NAME: &str = "kho-rs";
/// The same name as a C string, for `kho_add_subtree()`.
pub(crate) const SUBTREE_NAME_C: &core::ffi::CStr = c"kho-rs";

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
}

/// The strings this version of the module writes and expects.
pub(crate) const COMPAT: SubtreeCompat<'static> = SubtreeCompat {
    root: compat::KHO_RS_COMPATIBLE,
    radix: compat::RADIX_COMPAT,
    vmalloc: compat::VMALLOC_COMPAT,
    block: compat::BLOCK_COMPAT,
};

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
    w.begin_node("radix")?;
    w.property_str("compatible", c.radix)?;
    w.property_u64_ne("root", info.radix_root)?;
    w.property_u64_ne("keys", info.radix_keys)?;
    w.end_node()?;
    w.begin_node("vmalloc")?;
    w.property_str("compatible", c.vmalloc)?;
    w.property("descriptor", &info.vmalloc.to_bytes())?;
    w.property_u64_ne("bytes", info.vmalloc_bytes)?;
    w.end_node()?;
    w.begin_node("block")?;
    w.property_str("compatible", c.block)?;
    w.property_u64_ne("head", info.block_head)?;
    w.property_u64_ne("entry-size", info.block_entry_size)?;
    w.property_u64_ne("count", info.block_count)?;
    w.end_node()?;
    w.end_node()?;
    w.finish()
}

/// Checks one component node's `compatible` against the expected component string.
fn check_node<'a>(
    root: &Node<'a>,
    name: &'static str,
    expected: &'a str,
) -> core::result::Result<Node<'a>, SubtreeError<'a>> {
    let node = root.subnode(name).ok_or(Error::new(
        super::error::errno::ENOENT,
        "subtree: component node missing",
        0,
    ))?;
    let found = node.prop_str("compatible")?;
    compat::check_against(expected, found).map_err(SubtreeError::Compat)?;
    Ok(node)
}

/// Parses and validates an incoming blob against the compatibility this module expects.
pub(crate) fn read(blob: &[u8]) -> core::result::Result<SubtreeInfo, SubtreeError<'_>> {
    read_with(blob, &COMPAT)
}

/// Like [`read`], against the given expected strings.
pub(crate) fn read_with<'a>(
    blob: &'a [u8],
    c: &SubtreeCompat<'a>,
) -> core::result::Result<SubtreeInfo, SubtreeError<'a>> {
    let fdt = Fdt::parse(blob)?;
    let root = fdt.root();
    // Composite first: reports the first component whose version differs, by name.
    let found = root.prop_str("compatible")?;
    compat::check_against(c.root, found).map_err(SubtreeError::Compat)?;
    let radix = check_node(&root, "radix", c.radix)?;
    let vmalloc = check_node(&root, "vmalloc", c.vmalloc)?;
    let block = check_node(&root, "block", c.block)?;
    let desc = vmalloc.property("descriptor").ok_or(Error::new(
        super::error::errno::ENOENT,
        "subtree: vmalloc descriptor missing",
        0,
    ))?;
    Ok(SubtreeInfo {
        generation: root.prop_u64_ne("generation")?,
        seed: root.prop_u64_ne("seed")?,
        radix_root: radix.prop_u64_ne("root")?,
        radix_keys: radix.prop_u64_ne("keys")?,
        vmalloc: KhoVmalloc::from_bytes(desc)?,
        vmalloc_bytes: vmalloc.prop_u64_ne("bytes")?,
        block_head: block.prop_u64_ne("head")?,
        block_entry_size: block.prop_u64_ne("entry-size")?,
        block_count: block.prop_u64_ne("count")?,
    })
}
