// SPDX-License-Identifier: GPL-2.0

//! TODO(radix): placeholder while the module is written.
