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

/// (a) The FDT reader: `Fdt::parse` and the node API.
pub fn fdt(data: &[u8]) {
    let _ = fdt::run(data);
}

/// Runs target `name` on `data`; returns whether its decoder accepted the input.
pub(crate) fn accepts(name: &str, data: &[u8]) -> bool {
    match name {
        "fdt" => fdt::run(data),
        "subtree" => subtree::run(data),
        "compat" => compat::run(data),
        "radix_key" => radix::run_key(data),
        "radix_restore" => radix::run_restore(data),
        "vmalloc" => vmalloc::run(data),
        "block" => block::run(data),
        "image" => image::run(data),
        _ => panic!("no fuzz target {name}"),
    }
}

/// (b) The subtree blob: FDT, per-component compatibility, values.
pub fn subtree(data: &[u8]) {
    let _ = subtree::run(data);
}

/// (c) Composite compatibility strings: parser, checker, `check_against`, fields.
pub fn compat(data: &[u8]) {
    let _ = compat::run(data);
}

/// (d) Radix key decoding (and encoding).
pub fn radix_key(data: &[u8]) {
    let _ = radix::run_key(data);
}

/// (e) Radix tree restore from fuzzer-made node and leaf pages.
pub fn radix_restore(data: &[u8]) {
    let _ = radix::run_restore(data);
}

/// (f) vmalloc descriptor and chunk chain: validate, list, restore.
pub fn vmalloc(data: &[u8]) {
    let _ = vmalloc::run(data);
}

/// (g) Block chain restore and read.
pub fn block(data: &[u8]) {
    let _ = block::run(data);
}

/// (h) A whole simulated kexec image, damaged, restored end to end.
pub fn image(data: &[u8]) {
    let _ = image::run(data);
}

/// A fuzz target: takes the fuzzer's bytes, panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name (the names of the fuzz crate's binaries and corpus directories).
pub const TARGETS: &[(&str, Target)] = &[
    ("fdt", fdt),
    ("subtree", subtree),
    ("compat", compat),
    ("radix_key", radix_key),
    ("radix_restore", radix_restore),
    ("vmalloc", vmalloc),
    ("block", block),
    ("image", image),
];

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
