// SPDX-License-Identifier: GPL-2.0

//! Host build of the kho-rs pure core.
//!
//! `pure` is the very same source tree that `kho_rs.ko` compiles (`rust/kho/pure/`); nothing is
//! copied. This crate adds a simulated physical memory ([`sim::SimMem`]), the host tests and,
//! with the `fuzz` feature, [`fuzz_api`]: the fuzz harnesses the crate in `fuzz/` drives.

#![no_std]
// The pure core is written for the kernel crate, where its items are `pub(crate)` and used
// by the glue and the KUnit suites; here only the tests use them.
#![allow(dead_code)]

#[cfg(any(test, feature = "fuzz"))]
extern crate std;

#[path = "../../kho/pure/mod.rs"]
pub(crate) mod pure;

#[cfg(any(test, feature = "fuzz"))]
pub(crate) mod sim;

#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz_api;

#[cfg(test)]
mod tests;
