// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `compat`: see `kho_rs_host::fuzz_api::compat`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kho_rs_host::fuzz_api::compat(data));
