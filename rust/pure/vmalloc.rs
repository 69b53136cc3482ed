// SPDX-License-Identifier: GPL-2.0

//! TODO(vmalloc): placeholder while the module is written.
