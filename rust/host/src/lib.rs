// SPDX-License-Identifier: GPL-2.0

//! Host build of the kho-rs pure core.
//!
//! `pure` is the very same source tree that `kho_rs.ko` compiles (`rust/pure/`); nothing is
//! copied. This crate adds a simulated physical memory ([`sim::SimMem`]) and the host tests.

#![no_std]
// The pure core is written for the kernel crate, where its items are `pub(crate)` and used
// by the glue and the KUnit suites; here only the tests use them.
#![allow(dead_code)]

#[cfg(test)]
extern crate std;

#[path = "../../pure/mod.rs"]
pub(crate) mod pure;

#[cfg(test)]
pub(crate) mod sim;

#[cfg(test)]
mod tests;
