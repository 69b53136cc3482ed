// SPDX-License-Identifier: GPL-2.0

//! Host tests of the pure core, one file per component.

mod block;
mod claim;
mod compat;
mod damage;
mod fdt;
mod fuzz;
mod geometry;
mod radix;
mod subtree;
mod vmalloc;
