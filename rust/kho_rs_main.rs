// SPDX-License-Identifier: GPL-2.0

//! kho_rs: Kexec HandOver data structures in Rust.
//!
//! A loadable module that reimplements KHO's radix-tree preserved-memory tracker, vmalloc
//! preservation and linked-block serialization, wire compatible with Linux 7.2/7.3, and
//! carries a workload across kexec through its own KHO subtree.
//!
//! Layout: [`pure`] is the kernel-independent core (also built as a host crate for
//! `cargo test`); [`glue`] is the layer that calls C; this file wires them together.

use kernel::prelude::*;

mod bench;
mod blockx;
mod claim_fixture;
mod glue;
mod pure;
mod status;
mod tests;
mod vmx;
mod workload;

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
        chain: u32 {
            default: 0,
            description: "Re-preserve a verified workload until this generation (kexec chains)",
        },
        claim_prep: u32 {
            default: 0,
            description: "KUnit only: preserve the kho_rs_claim fixture for the next kernel",
        },
    },
}

/// The value of a module parameter: `value()` returns it in Linux 7.3 and a reference to it
/// in 7.2; both implement `Borrow<T>`.
fn param<T: Copy>(v: impl core::borrow::Borrow<T>) -> T {
    *v.borrow()
}

struct KhoRs {
    // `/sys/kernel/debug/kho_rs/status`; holds its own copy of the status.
    _status: Pin<KBox<kernel::debugfs::File<status::Status>>>,
    _dir: kernel::debugfs::Dir,
    outgoing: Option<workload::Outgoing>,
    vmx: Option<vmx::VmxOut>,
    blockx: Option<blockx::BlockxOut>,
    claim: Option<claim_fixture::ClaimFixture>,
}

impl kernel::Module for KhoRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let enabled = glue::kho::is_enabled();
        let kho_boot = glue::kho::is_kho_boot();
        pr_info!(
            "loaded: KHO {}, {}\n",
            if enabled { "enabled" } else { "disabled" },
            if kho_boot { "KHO boot" } else { "cold boot" }
        );
        if pure::subtree::NEXT_VERSION_BUILD {
            pr_warn!(
                "test-only build (KHO_RS_NEXT): writes {}, reads radix v{}-v{}, vmalloc v{}-v{}, block v{}-v{}\n",
                pure::subtree::COMPAT.root,
                pure::subtree::RADIX.oldest,
                pure::subtree::RADIX.newest,
                pure::subtree::VMALLOC.oldest,
                pure::subtree::VMALLOC.newest,
                pure::subtree::BLOCK.oldest,
                pure::subtree::BLOCK.newest
            );
        }
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
        // (`kho=off`, or scratch memory that could not be reserved at boot).
        if !enabled {
            let wanted = [
                ("workload", workload != 0),
                ("bench", mask != 0),
                ("vmx_mib", vmx_mib != 0),
                ("blockx", blockx != 0),
                ("claim_prep", claim_prep),
            ];
            if let Some((name, _)) = wanted.iter().find(|(_, on)| *on) {
                pr_err!(
                    "{}: KHO is disabled (boot with kho=on, and check the log for 'KHO: '): nothing preserved\n",
                    name
                );
                return Err(glue::kho::errno(kernel::bindings::EOPNOTSUPP));
            }
        }
        if mask != 0 {
            bench::run(mask)?;
        }
        let (outgoing, st) = match workload {
            0 => (None, status::Status::IDLE),
            _ => run_workload()?,
        };
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
        let dir = kernel::debugfs::Dir::new(c"kho_rs");
        let file = KBox::pin_init(dir.read_only_file(c"status", st), GFP_KERNEL)?;
        Ok(KhoRs {
            _status: file,
            _dir: dir,
            outgoing,
            vmx: vmx_out,
            blockx: blockx_out,
            claim,
        })
    }
}

/// Verifies an incoming workload, or preserves a new one (see [`workload`]). KHO is
/// enabled (checked by the caller).
fn run_workload() -> Result<(Option<workload::Outgoing>, status::Status)> {
    let params = workload::Params {
        seed: param(module_parameters::seed.value()),
        folios: param(module_parameters::folios.value()),
        vmalloc_mib: param(module_parameters::vmalloc_mib.value()),
        vmalloc_huge: param::<u32>(module_parameters::vmalloc_huge.value()) != 0,
        block_entries: param(module_parameters::block_entries.value()),
        corrupt: param(module_parameters::corrupt.value()),
        damage_seed: param(module_parameters::damage_seed.value()),
        damage_bytes: param(module_parameters::damage_bytes.value()),
    };
    if params.damage_bytes == 0 || params.damage_bytes as usize > pure::damage::MAX_HITS {
        pr_err!(
            "workload: damage_bytes={} is not within 1..={}\n",
            params.damage_bytes,
            pure::damage::MAX_HITS
        );
        return Err(EINVAL);
    }
    let mut st = status::Status::IDLE;
    let generation = match workload::restore_and_verify(params.damage_seed != 0)? {
        None => 1,
        Some(report) => {
            if report.mismatches != 0 {
                return Err(EIO);
            }
            st.role = status::Role::Restored;
            st.restored = Some(report.info);
            st.restore_us = report.elapsed_us;
            st.claimed_pages = report.claimed_pages;
            // `subtree::read` rejects a generation of u64::MAX; saturate all the same.
            let next = report.info.generation.saturating_add(1);
            if u64::from(param::<u32>(module_parameters::chain.value())) < next {
                return Ok((None, st));
            }
            next
        }
    };
    let out = workload::Outgoing::create(&params, generation)?;
    st.role = if st.restored.is_some() {
        status::Role::Carried
    } else {
        status::Role::Preserved
    };
    st.preserved = Some(out.info);
    st.preserve_us = out.preserve_us;
    st.footprint = out.footprint;
    Ok((Some(out), st))
}

impl Drop for KhoRs {
    fn drop(&mut self) {
        self.outgoing = None;
        self.vmx = None;
        self.blockx = None;
        self.claim = None;
        pr_info!("unloaded\n");
    }
}
