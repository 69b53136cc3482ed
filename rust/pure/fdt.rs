// SPDX-License-Identifier: GPL-2.0

//! TODO(fdt): placeholder while the module is written.
