// SPDX-License-Identifier: GPL-2.0

//! kho_rs_sample: a driver that keeps its state across kexec with the `kho` library.
//!
//! Loaded on a cold boot it preserves a typed config, four folios and a vmalloc buffer
//! ([`sample`]) and keeps them published until it is unloaded; loaded after a kexec it
//! finds them, verifies every byte, and frees them. Everything it does goes through the
//! library's safe API: [`sample`] forbids `unsafe` code.

use kernel::prelude::*;

// The sample uses a small part of the library.
#[allow(dead_code)]
pub mod kho;
mod sample;

#[allow(unused_imports)]
pub(crate) use kho::{glue, pure};

module! {
    type: KhoRsSample,
    name: "kho_rs_sample",
    authors: ["kho-rs developers"],
    description: "Sample consumer of the kho Rust library: state kept across kexec",
    license: "GPL",
}

struct KhoRsSample {
    _state: Option<kho::Published<sample::Config>>,
}

impl kernel::Module for KhoRsSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let state = match sample::restore()? {
            true => None,
            false => Some(sample::preserve()?),
        };
        Ok(KhoRsSample { _state: state })
    }
}
