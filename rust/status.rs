// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/kho_rs/status`: what this module preserved or restored.

use core::fmt;

use crate::glue::mem::GEOMETRY;
use crate::pure::subtree::{self, Footprint, SubtreeInfo};

/// What the module did with the workload at load time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// No workload (`workload=0`).
    Idle,
    /// Preserved a workload for the next kernel (published as the `kho-rs` subtree).
    Preserved,
    /// Restored and verified the previous kernel's workload and did not carry it on.
    Restored,
    /// Restored and verified the previous kernel's workload, then preserved it again.
    Carried,
}

/// Contents of the status file.
#[derive(Clone, Copy)]
pub(crate) struct Status {
    /// What happened.
    pub(crate) role: Role,
    /// What was restored from the previous kernel, if anything.
    pub(crate) restored: Option<SubtreeInfo>,
    /// Microseconds spent validating, restoring and verifying it.
    pub(crate) restore_us: u64,
    /// Mismatching words/bytes/records found while verifying (0 = PASS).
    pub(crate) mismatches: u64,
    /// Pages claimed from the previous kernel (order-k blocks counted as 2^k pages).
    pub(crate) claimed_pages: u64,
    /// What is preserved for the next kernel now, if anything.
    pub(crate) preserved: Option<SubtreeInfo>,
    /// Microseconds spent building and preserving it.
    pub(crate) preserve_us: u64,
    /// Its metadata pages against the data they preserve.
    pub(crate) footprint: Footprint,
}

impl Status {
    /// Status of a module that did nothing with a workload.
    pub(crate) const IDLE: Status = Status {
        role: Role::Idle,
        restored: None,
        restore_us: 0,
        mismatches: 0,
        claimed_pages: 0,
        preserved: None,
        preserve_us: 0,
        footprint: Footprint {
            radix_nodes: 0,
            vmalloc_chunks: 0,
            blocks: 0,
            blob: 0,
            data_bytes: 0,
        },
    };
}

fn info(f: &mut fmt::Formatter<'_>, what: &str, i: &SubtreeInfo) -> fmt::Result {
    writeln!(f, "{what}.generation: {}", i.generation)?;
    writeln!(f, "{what}.seed: {:#x}", i.seed)?;
    writeln!(
        f,
        "{what}.radix: keys={} root={:#x}",
        i.radix_keys, i.radix_root
    )?;
    writeln!(
        f,
        "{what}.vmalloc: bytes={} pages={} first={:#x}",
        i.vmalloc_bytes, i.vmalloc.total_pages, i.vmalloc.first
    )?;
    writeln!(
        f,
        "{what}.block: entries={} entry_size={} head={:#x}",
        i.block_count, i.block_entry_size, i.block_head
    )?;
    match i.preserved_pages {
        0 => writeln!(f, "{what}.preserved_pages: unknown"),
        n => writeln!(f, "{what}.preserved_pages: {n}"),
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Idle => "idle",
            Role::Preserved => "preserved",
            Role::Restored => "restored",
            Role::Carried => "restored+preserved",
        };
        writeln!(f, "role: {role}")?;
        writeln!(f, "compatible: {}", subtree::COMPAT.root)?;
        let r = |v: &subtree::Version| (v.name, v.oldest, v.newest);
        writeln!(
            f,
            "reads: {0:?}, {1:?}, {2:?} (name, oldest, newest version)",
            r(&subtree::RADIX),
            r(&subtree::VMALLOC),
            r(&subtree::BLOCK)
        )?;
        if let Some(i) = &self.restored {
            info(f, "restored", i)?;
            writeln!(f, "restored.verify_us: {}", self.restore_us)?;
            writeln!(f, "restored.claimed_pages: {}", self.claimed_pages)?;
            writeln!(
                f,
                "restored.result: {} ({} mismatches)",
                if self.mismatches == 0 { "PASS" } else { "FAIL" },
                self.mismatches
            )?;
        }
        if let Some(i) = &self.preserved {
            info(f, "preserved", i)?;
            writeln!(f, "preserved.preserve_us: {}", self.preserve_us)?;
            let fp = &self.footprint;
            writeln!(
                f,
                "preserved.metadata: {fp}, {} bytes, {} ppm of {} data bytes",
                fp.bytes(GEOMETRY.page_size),
                fp.ppm(GEOMETRY.page_size),
                fp.data_bytes
            )?;
        }
        Ok(())
    }
}
