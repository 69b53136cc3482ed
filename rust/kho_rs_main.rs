// SPDX-License-Identifier: GPL-2.0

//! kho_rs: Kexec HandOver data structures in Rust, and a live-update workload on them.
//!
//! The product module. It carries a workload across kexec through its own KHO subtree
//! (`kho-rs`): folios tracked in the Rust radix tree, a vmalloc area (vmalloc-v1) and a
//! block set (block-v1), wire compatible with Linux 7.2/7.3's C code. Its parameters are
//! the ones a user sets; the test harness with fault injection, KUnit suites and
//! benchmarks is `kho_rs_test.ko`, built from the same sources.
//!
//! Layout: [`kho`] is the library (safe API, its kernel-independent core `kho::pure`, also
//! built as a host crate for `cargo test`, and the C glue `kho::glue`); [`workload`] is
//! what this module preserves with it.

use kernel::prelude::*;

// The module uses only part of the library; the test module uses all of it, and is where
// dead code is caught.
#[allow(dead_code)]
pub mod kho;
mod status;
mod workload;

pub(crate) use kho::{glue, pure};

use glue::kho::param;

module! {
    type: KhoRs,
    name: "kho_rs",
    authors: ["kho-rs developers"],
    description: "Kexec HandOver data structures in Rust: live-update workload",
    license: "GPL",
    params: {
        // An integer, not `bool`: `module!` of Linux 7.2 has no `bool` parameters.
        workload: u32 {
            default: 0,
            description: "1: verify the previous kernel's workload on a KHO boot, else preserve one (0: off)",
        },
        seed: u64 {
            default: 0x6b686f2d7273,
            description: "Seed of the workload data",
        },
        folios: u32 {
            default: 64,
            description: "Workload: folios of orders 0..4 tracked in the Rust radix tree",
        },
        vmalloc_mib: u32 {
            default: 64,
            description: "Workload: size of the preserved vmalloc area in MiB",
        },
        vmalloc_huge: u32 {
            default: 0,
            description: "Workload: 1 to allocate the vmalloc area with vmalloc_huge() and preserve it in 2 MiB blocks where it has them (vmalloc_mib must then be even)",
        },
        block_entries: u32 {
            default: 100000,
            description: "Workload: entries (32 bytes) in the preserved block set",
        },
        chain: u32 {
            default: 0,
            description: "Re-preserve a verified workload until this generation (kexec chains)",
        },
    },
}

struct KhoRs {
    _live: workload::Live,
}

impl kernel::Module for KhoRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        glue::kho::log_loaded();
        // Checked before anything is touched: a bad value must fail the load before an
        // incoming state is consumed (it can be restored only once).
        let on: u32 = param(module_parameters::workload.value());
        if on > 1 {
            pr_err!("workload={} is not 0 or 1\n", on);
            return Err(EINVAL);
        }
        let p = workload::Params::new(
            param(module_parameters::seed.value()),
            param(module_parameters::folios.value()),
            param(module_parameters::vmalloc_mib.value()),
            param::<u32>(module_parameters::vmalloc_huge.value()) != 0,
            param(module_parameters::block_entries.value()),
        );
        let chain = param(module_parameters::chain.value());
        Ok(KhoRs {
            _live: workload::Live::start(c"kho_rs", on != 0, &p, chain)?,
        })
    }
}

impl Drop for KhoRs {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
