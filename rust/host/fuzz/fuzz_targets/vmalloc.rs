// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `vmalloc`: see `kho_rs_host::fuzz_api::vmalloc`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kho_rs_host::fuzz_api::vmalloc(data));
