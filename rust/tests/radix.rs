// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the radix component (not written yet).
