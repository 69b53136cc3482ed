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
#[macro_use]
mod module_params;
mod status;
mod workload;

pub(crate) use kho::{glue, pure};

use glue::kho::param;

kho_rs_module! {
    type: KhoRs,
    name: "kho_rs",
    description: "Kexec HandOver data structures in Rust: live-update workload",
    extra_params: {},
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
