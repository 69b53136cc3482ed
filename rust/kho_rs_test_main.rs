// SPDX-License-Identifier: GPL-2.0

//! kho_rs_test: the test harness of kho_rs, built from the same sources.
//!
//! The product module's workload (`kho_rs.ko`) with everything a test needs on top: fault
//! injection into the published state (`corrupt`, `damage_seed`), the KUnit suites, the
//! benchmarks against C, the vmalloc and block exchanges with C (`vmx_mib`, `blockx`), the
//! claim fixture, and upstream's `kho_block.c` as the block oracle. Built with
//! `--cfg kho_rs_test`, which also compiles the library's test-only C glue.

use kernel::prelude::*;

mod bench;
mod blockx;
mod claim_fixture;
pub mod kho;
#[macro_use]
mod module_params;
mod status;
mod tests;
mod vmx;
mod workload;

pub(crate) use kho::{glue, pure};

use glue::kho::param;

kho_rs_module! {
    type: KhoRs,
    name: "kho_rs_test",
    description: "kho_rs test harness: KUnit suites, benchmarks, fault injection, exchanges with C",
    extra_params: {
        bench: u32 {
            default: 0,
            description: "Run benchmarks at load: bit mask, 1 radix, 2 vmalloc, 4 block",
        },
        corrupt: u32 {
            default: 0,
            description: "Selftest only: publish damaged state (1 compat, 2 truncated blob, 3 block loop, 4 vmalloc loop, 5 unpreserved root, 6 count over capacity, 7 stray radix leaf bit, 8 vmalloc entry aliasing a chunk, 9 generation u64::MAX)",
        },
        damage_seed: u64 {
            default: 0,
            description: "Stress test only: after publishing, damage random bytes of the blob, radix nodes/leaves, vmalloc chunks and blocks chosen from this seed (0: off); on restore, print the damage outcome",
        },
        damage_bytes: u32 {
            default: 1,
            description: "Stress test only: number of bytes damage_seed damages (1..16)",
        },
        vmx_mib: u32 {
            default: 0,
            description: "vmalloc exchange: areas of 1/16/256 MiB up to this size, preserved by Rust and C for each other, restored and timed after kexec",
        },
        vmx_rounds: u32 {
            default: 1,
            description: "vmalloc exchange: rounds of four areas per size (1..4; 256 MiB areas get one), more for a steadier restore benchmark",
        },
        blockx: u32 {
            default: 0,
            description: "1: block chains written by C (upstream kho_block.c) and by Rust for each other, restored and verified by the other after kexec",
        },
        claim_prep: u32 {
            default: 0,
            description: "KUnit only: preserve the kho_rs_claim fixture for the next kernel",
        },
        fail_nth: u32 {
            default: 0,
            description: "Fault sweep only: fail the n-th allocation of this load's workload (restore and preserve) through the task's fail-nth counter, and say whether it was injected (0: off)",
        },
        copies: u32 {
            default: 1,
            description: "Fault sweep only: publish the workload as this many subtrees, kho-rs and kho-rs-1.. (1..32)",
        },
        instance: u32 {
            default: 0,
            description: "Fault sweep only: restore the workload's subtree kho-rs-<instance> (0: kho-rs)",
        },
    },
}

/// One line for the selftest's fault sweep: whether the `n`-th allocation failed, how the
/// load ended, whether a restore consumed its state, and the module's own page count,
/// which must be 0 after a failure (everything undone).
fn fault_report(n: u32, injected: bool, res: &Result<workload::Live>) {
    let owned = glue::mem::KernelMem::owned_pages();
    let consumed = if workload::last_restore_consumed() {
        "state consumed"
    } else {
        "state not consumed"
    };
    match res {
        Ok(_) => pr_info!(
            "fault sweep: fail_nth={}: {}, load succeeded, {}\n",
            n,
            if injected { "injected" } else { "not injected" },
            consumed
        ),
        Err(e) => pr_info!(
            "fault sweep: fail_nth={}: {}, load failed (errno {}), {}, {} pages owned\n",
            n,
            if injected { "injected" } else { "not injected" },
            e.to_errno(),
            consumed,
            owned
        ),
    }
}

struct KhoRs {
    live: Option<workload::Live>,
    vmx: Option<vmx::VmxOut>,
    blockx: Option<blockx::BlockxOut>,
    claim: Option<claim_fixture::ClaimFixture>,
}

impl kernel::Module for KhoRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        glue::kho::log_loaded();
        // Every parameter is checked before anything is touched: a bad value must fail the
        // load before an incoming state is consumed (it can be restored only once).
        let mask: u32 = param(module_parameters::bench.value());
        if mask & !(bench::RADIX | bench::VMALLOC | bench::BLOCK) != 0 {
            pr_err!("bench={:#x} has bits other than 1, 2 and 4\n", mask);
            return Err(EINVAL);
        }
        let workload: u32 = param(module_parameters::workload.value());
        if workload > 1 {
            pr_err!("workload={} is not 0 or 1\n", workload);
            return Err(EINVAL);
        }
        let vmx_mib: u32 = param(module_parameters::vmx_mib.value());
        let vmx_rounds = u64::from(param::<u32>(module_parameters::vmx_rounds.value()));
        if !(1..=vmx::MAX_ROUNDS).contains(&vmx_rounds) {
            pr_err!(
                "vmx_rounds={} is not within 1..={}\n",
                vmx_rounds,
                vmx::MAX_ROUNDS
            );
            return Err(EINVAL);
        }
        let blockx: u32 = param(module_parameters::blockx.value());
        if blockx > 1 {
            pr_err!("blockx={} is not 0 or 1\n", blockx);
            return Err(EINVAL);
        }
        let claim_prep = param::<u32>(module_parameters::claim_prep.value()) != 0;
        // Each of these preserves memory, and KHO's preserve calls WARN when KHO is off
        // (`kho=off`, or scratch memory that could not be reserved at boot); `workload` is
        // checked by `Live::start`.
        for (name, on) in [
            ("bench", mask != 0),
            ("vmx_mib", vmx_mib != 0),
            ("blockx", blockx != 0),
            ("claim_prep", claim_prep),
        ] {
            if on {
                glue::kho::require_enabled(name)?;
            }
        }
        if mask != 0 {
            bench::run(mask)?;
        }
        let p = workload::Params {
            corrupt: param(module_parameters::corrupt.value()),
            damage_seed: param(module_parameters::damage_seed.value()),
            damage_bytes: param(module_parameters::damage_bytes.value()),
            copies: param(module_parameters::copies.value()),
            instance: param(module_parameters::instance.value()),
            ..workload::Params::new(
                param(module_parameters::seed.value()),
                param(module_parameters::folios.value()),
                param(module_parameters::vmalloc_mib.value()),
                param::<u32>(module_parameters::vmalloc_huge.value()) != 0,
                param(module_parameters::block_entries.value()),
            )
        };
        let fail_nth: u32 = param(module_parameters::fail_nth.value());
        let fail = match fail_nth {
            0 => None,
            n => Some(glue::kho::FailNth::arm(n)?),
        };
        let live = workload::Live::start(
            c"kho_rs_test",
            workload != 0,
            &p,
            param(module_parameters::chain.value()),
        );
        if let Some(fail) = fail {
            fault_report(fail_nth, fail.disarm(), &live);
        }
        let live = live?;
        let mut vmx_out = None;
        if vmx_mib != 0 && !vmx::restore_and_verify()? {
            vmx_out = Some(vmx::VmxOut::create(
                param(module_parameters::seed.value()),
                vmx_mib,
                vmx_rounds,
            )?);
        }
        let mut blockx_out = None;
        if blockx != 0 && !blockx::restore_and_verify()? {
            blockx_out = Some(blockx::BlockxOut::create(param(
                module_parameters::seed.value(),
            ))?);
        }
        let claim = if claim_prep {
            Some(claim_fixture::ClaimFixture::create()?)
        } else {
            None
        };
        Ok(KhoRs {
            live: Some(live),
            vmx: vmx_out,
            blockx: blockx_out,
            claim,
        })
    }
}

impl Drop for KhoRs {
    fn drop(&mut self) {
        self.live = None;
        self.vmx = None;
        self.blockx = None;
        self.claim = None;
        pr_info!("unloaded\n");
    }
}
