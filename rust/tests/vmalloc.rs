// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the vmalloc component (not written yet).
