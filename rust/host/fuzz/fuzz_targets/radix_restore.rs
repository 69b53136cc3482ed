// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `radix_restore`: see `kho_rs_host::fuzz_api::radix_restore`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kho_rs_host::fuzz_api::radix_restore(data));
