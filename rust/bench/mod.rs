// SPDX-License-Identifier: GPL-2.0

//! In-kernel benchmarks: Rust and C side by side in the same boot.
//!
//! Run at insmod when the `bench` module parameter is non-zero (a bit mask of
//! [`RADIX`], [`VMALLOC`], [`BLOCK`]); `scripts/bench.sh` boots QEMU and does that. Every
//! benchmark prints lines starting with `bench:` with ns/op (or bytes/s) and the Rust/C
//! ratio. Benchmarks measure, they never fail a test.

use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

mod block;
mod radix;
mod vmalloc;

/// Bit of the `bench` parameter: radix tree add/del/walk and range API.
pub(crate) const RADIX: u32 = 1;
/// Bit of the `bench` parameter: vmalloc preserve/restore.
pub(crate) const VMALLOC: u32 = 2;
/// Bit of the `bench` parameter: block set write/read vs memcpy.
pub(crate) const BLOCK: u32 = 4;

/// `num / den` printed with `places` decimals (integer math; `n/a` if `den` is 0). The one
/// number formatter of the benchmarks: ns/op, ns/entry and Rust/C ratios.
pub(crate) struct Fixed(pub(crate) u64, pub(crate) u64, pub(crate) u32);

impl kernel::fmt::Display for Fixed {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        let Fixed(num, den, places) = *self;
        if den == 0 {
            return f.write_str("n/a");
        }
        let scale = 10u64.saturating_pow(places);
        let v = num.saturating_mul(scale) / den;
        write!(f, "{}.{:0w$}", v / scale, v % scale, w = places as usize)
    }
}

/// Nanoseconds spent in `f`, and its result.
pub(crate) fn time_ns<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let start = Instant::<Monotonic>::now();
    let r = f();
    let ns = start.elapsed().as_nanos();
    (u64::try_from(ns).unwrap_or(0), r)
}

/// Runs the benchmarks selected by `mask`.
pub(crate) fn run(mask: u32) -> Result {
    pr_info!("bench: start (mask {:#x})\n", mask);
    if mask & RADIX != 0 {
        radix::run()?;
    }
    if mask & VMALLOC != 0 {
        vmalloc::run()?;
    }
    if mask & BLOCK != 0 {
        block::run()?;
    }
    pr_info!("bench: done\n");
    Ok(())
}
