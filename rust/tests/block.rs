// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the block component (not written yet).
