// SPDX-License-Identifier: GPL-2.0

//! TODO(block): placeholder while the module is written.
