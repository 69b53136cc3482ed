// SPDX-License-Identifier: GPL-2.0

//! Fuzz harnesses of every decoder that reads bytes from the previous kernel.
//!
//! The pure core's items are `pub(crate)`, so the fuzz crate in `rust/host/fuzz/` (built
//! with the `fuzz` feature) reaches them only through the functions here: one per target,
//! each taking the fuzzer's bytes, running the decoder on them and panicking when an
//! invariant breaks. The host tests call the same functions on the committed corpus and on
//! every crash found so far (`src/tests/fuzz.rs`).
//!
//! Every target checks the same three things: no panic inside the decoder; on success the
//! result is what the bytes say, by an independent reference model (or a re-encode that must
//! read back the same); on failure nothing is left claimed or allocated in the simulated
//! memory, and no page the decoder did not claim is freed or written. Models and input
//! formats are described in each module.

mod block;
mod compat;
mod fdt;
mod image;
mod input;
pub(crate) mod radix;
pub(crate) mod seeds;
mod subtree;
mod vmalloc;

use std::string::String;
use std::vec::Vec;

/// A fuzz target: takes the fuzzer's bytes, panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Makes, from one list of targets, a public function per target (what the fuzz crate's
/// binaries call), [`TARGETS`] and [`accepts`].
macro_rules! targets {
    ($($(#[$doc:meta])* $name:ident => $run:path;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(data: &[u8]) {
                let _ = $run(data);
            }
        )*

        /// Every target by name (the names of the fuzz crate's binaries and corpus
        /// directories).
        pub const TARGETS: &[(&str, Target)] = &[$((stringify!($name), $name)),*];

        /// Runs target `name` on `data`; returns whether its decoder accepted the input.
        pub(crate) fn accepts(name: &str, data: &[u8]) -> bool {
            match name {
                $(stringify!($name) => $run(data),)*
                _ => panic!("no fuzz target {name}"),
            }
        }
    };
}

targets! {
    /// (a) The FDT reader: `Fdt::parse` and the node API.
    fdt => fdt::run;
    /// (b) The subtree blob: FDT, per-component compatibility, values.
    subtree => subtree::run;
    /// (c) Composite compatibility strings: parser, checker, `check_against`, fields.
    compat => compat::run;
    /// (d) Radix key decoding (and encoding).
    radix_key => radix::run_key;
    /// (e) Radix tree restore from fuzzer-made node and leaf pages.
    radix_restore => radix::run_restore;
    /// (f) vmalloc descriptor and chunk chain: validate, list, restore.
    vmalloc => vmalloc::run;
    /// (g) Block chain restore and read.
    block => block::run;
    /// (h) A whole simulated kexec image, damaged, restored end to end.
    image => image::run;
}

/// One seed input.
pub struct Seed {
    /// Target name (see [`TARGETS`]).
    pub target: &'static str,
    /// File name in the target's corpus directory.
    pub name: String,
    /// The input.
    pub data: Vec<u8>,
}

/// The seed corpus of every target (what `examples/fuzz-seeds.rs` writes).
pub fn seeds() -> Vec<Seed> {
    seeds::all()
}
