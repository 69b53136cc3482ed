// SPDX-License-Identifier: GPL-2.0

//! What `kho_rs_sample.ko` keeps across kexec, with the `kho` library's safe API only.
//!
//! First kernel: four folios (orders 0 to 3) and a 1 MiB vmalloc buffer, filled with a
//! pattern, and a typed [`Config`] that describes them, published as the KHO subtree
//! `kho-rs-sample`. Next kernel: the state is retrieved, every byte compared with the
//! pattern and the config, and everything freed.

// The point of the sample: a driver needs no `unsafe` code to use the library.
#![forbid(unsafe_code)]

use kernel::prelude::*;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::kho::{Folio, Outgoing, Published, Restored, VmallocArea};

/// The sample's KHO subtree.
const NAME: &CStr = c"kho-rs-sample";

/// Marks a [`Config`] written by this sample.
const MAGIC: u64 = 0x6b686f2d_73616d70;

/// Folio orders the sample preserves, one folio each.
const ORDERS: [u32; 4] = [0, 1, 2, 3];

/// Size of the vmalloc buffer.
const VMALLOC_BYTES: usize = 1 << 20;

/// The typed state: what the next kernel should find.
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub(crate) struct Config {
    /// [`MAGIC`].
    magic: u64,
    /// Number of folios.
    folios: u64,
    /// Size of the vmalloc buffer in bytes.
    vmalloc_bytes: u64,
    /// Sum of every byte of the folios and the buffer.
    sum: u64,
}

/// Byte `i` of the data numbered `n` (folio index, or 255 for the buffer).
fn pattern(n: u64, i: usize) -> u8 {
    (n.wrapping_mul(0x9e).wrapping_add(i as u64 / 7) ^ (i as u64)) as u8
}

/// Fills `data` with the pattern of `n` and returns the sum of its bytes.
fn fill(data: &mut [u8], n: u64) -> u64 {
    data.iter_mut().enumerate().fold(0, |sum, (i, b)| {
        *b = pattern(n, i);
        sum + u64::from(*b)
    })
}

/// Bytes of `data` that differ from the pattern of `n`, and the sum of its bytes.
fn check(data: &[u8], n: u64) -> (usize, u64) {
    data.iter().enumerate().fold((0, 0), |(bad, sum), (i, &b)| {
        (bad + usize::from(b != pattern(n, i)), sum + u64::from(b))
    })
}

/// Builds and publishes the sample's state.
pub(crate) fn preserve() -> Result<Published<Config>> {
    let mut out = Outgoing::<Config>::new(NAME)?;
    let mut sum = 0;
    for (n, &order) in ORDERS.iter().enumerate() {
        let mut folio = Folio::new(order)?;
        sum += fill(folio.as_mut_slice(), n as u64);
        out.add_folio(folio)?;
    }
    let mut area = VmallocArea::new(VMALLOC_BYTES)?;
    sum += fill(area.as_mut_slice(), 255);
    out.set_vmalloc(area)?;
    out.push(Config {
        magic: MAGIC,
        folios: ORDERS.len() as u64,
        vmalloc_bytes: VMALLOC_BYTES as u64,
        sum,
    })?;
    let published = out.publish(1)?;
    pr_info!(
        "preserved {} folios, a {} KiB vmalloc buffer and the config (sum {:#x}) as {}\n",
        ORDERS.len(),
        VMALLOC_BYTES >> 10,
        sum,
        NAME.to_str().unwrap_or("?")
    );
    Ok(published)
}

/// Verifies the previous kernel's state, if there is one: `Ok(true)` if it was found and
/// is intact, `Ok(false)` if there is none; an error if it is damaged or incomplete.
pub(crate) fn restore() -> Result<bool> {
    let Some(state) = Restored::<Config>::retrieve(NAME)? else {
        return Ok(false);
    };
    let [config] = state.entries() else {
        pr_err!("restore: {} configs, not 1\n", state.entries().len());
        return Err(EIO);
    };
    let mut bad = 0;
    let mut sum = 0;
    let folios = state.folios();
    if config.magic != MAGIC || config.folios != ORDERS.len() as u64 || folios.len() != ORDERS.len()
    {
        pr_err!(
            "restore: config magic {:#x}, {} folios (config says {})\n",
            config.magic,
            folios.len(),
            config.folios
        );
        return Err(EIO);
    }
    // The folios come back in address order: match each with its order's pattern.
    for folio in folios {
        let Some(n) = ORDERS.iter().position(|&o| o == folio.order()) else {
            pr_err!("restore: a folio of order {}\n", folio.order());
            return Err(EIO);
        };
        let (b, s) = check(folio.as_slice(), n as u64);
        bad += b;
        sum += s;
    }
    match state.vmalloc() {
        Some(buf) if buf.len() as u64 == config.vmalloc_bytes => {
            let (b, s) = check(buf, 255);
            bad += b;
            sum += s;
        }
        _ => {
            pr_err!("restore: the vmalloc buffer is missing or of the wrong size\n");
            return Err(EIO);
        }
    }
    if bad != 0 || sum != config.sum {
        pr_err!(
            "restore: {} bytes differ, sum {:#x} (config says {:#x})\n",
            bad,
            sum,
            config.sum
        );
        return Err(EIO);
    }
    pr_info!(
        "restored generation {}: {} folios, {} KiB vmalloc, config verified (sum {:#x})\n",
        state.generation(),
        folios.len(),
        config.vmalloc_bytes >> 10,
        sum
    );
    Ok(true)
}
