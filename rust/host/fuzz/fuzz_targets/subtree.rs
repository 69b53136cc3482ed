// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `subtree`: see `kho_rs_host::fuzz_api::subtree`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kho_rs_host::fuzz_api::subtree(data));
