// SPDX-License-Identifier: GPL-2.0

//! `kho_rs_module!`: `module!` with the workload's parameters, the ones a user sets.
//!
//! The product module (`kho_rs.ko`) and the test module (`kho_rs_test.ko`) run the same
//! workload and take the same parameters for it; the test module adds its own. Each crate
//! root includes this file with `#[macro_use] mod module_params;` before it uses the macro.

/// `module!` for a kho_rs module of type `$type` named `$name`: the workload's parameters,
/// then those in `extra_params`. (Fragments are matched as `tt`: `module!` parses literal
/// tokens, which other fragment kinds would hide in a group.)
macro_rules! kho_rs_module {
    (
        type: $type:tt,
        name: $name:tt,
        description: $desc:tt,
        extra_params: { $($extra:tt)* } $(,)?
    ) => {
        module! {
            type: $type,
            name: $name,
            authors: ["kho-rs developers"],
            description: $desc,
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
                $($extra)*
            },
        }
    };
}
