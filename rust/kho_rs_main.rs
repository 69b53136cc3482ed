// SPDX-License-Identifier: GPL-2.0

//! kho_rs: Kexec HandOver data structures in Rust.
//!
//! A loadable module that reimplements KHO's radix-tree preserved-memory tracker, vmalloc
//! preservation and linked-block serialization, wire compatible with Linux 7.2/7.3, and
//! carries a workload across kexec through its own KHO subtree.
//!
//! Layout: [`pure`] is the kernel-independent core (also built as a host crate for
//! `cargo test`); [`glue`] is the only layer that calls C; this file wires them together.

use kernel::prelude::*;

mod bench;
mod glue;
// The pure core is complete on its own (and tested on the host); the module uses only
// part of it outside of KUnit builds.
#[allow(dead_code)]
mod pure;
mod tests;

module! {
    type: KhoRs,
    name: "kho_rs",
    authors: ["kho-rs developers"],
    description: "Kexec HandOver data structures in Rust",
    license: "GPL",
    params: {
        bench: u32 {
            default: 0,
            description: "Run benchmarks at load: bit mask, 1 radix, 2 vmalloc, 4 block",
        },
    },
}

struct KhoRs;

impl kernel::Module for KhoRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let enabled = glue::kho::is_enabled();
        let kho_boot = glue::kho::is_kho_boot();
        pr_info!(
            "loaded: KHO {}, {}\n",
            if enabled { "enabled" } else { "disabled" },
            if kho_boot { "KHO boot" } else { "cold boot" }
        );
        let mask = module_parameters::bench.value();
        if mask != 0 {
            bench::run(mask)?;
        }
        Ok(KhoRs)
    }
}

impl Drop for KhoRs {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
