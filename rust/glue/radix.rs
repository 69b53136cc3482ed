// SPDX-License-Identifier: GPL-2.0

//! Safe wrapper of the exported C radix tree (not written yet).
