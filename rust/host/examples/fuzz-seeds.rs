// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpus of every fuzz target.
//!
//! `cargo run --features fuzz --example fuzz-seeds [DIR]` (default: `fuzz/corpus` of this
//! crate) writes `DIR/<target>/<name>` for every seed of `fuzz_api::seeds()`, replacing the
//! directories' contents. The host test `tests::fuzz::seed_corpus_is_current` fails when the
//! committed corpus differs from what this writes.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"));
    for (target, _) in kho_rs_host::fuzz_api::TARGETS {
        let d = dir.join(target);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
    }
    let seeds = kho_rs_host::fuzz_api::seeds();
    for s in &seeds {
        std::fs::write(dir.join(s.target).join(&s.name), &s.data)?;
    }
    println!("{} seeds written to {}", seeds.len(), dir.display());
    Ok(())
}
