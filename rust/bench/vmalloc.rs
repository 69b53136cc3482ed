// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the vmalloc component: Rust vs C preservation of the same area.
//!
//! For areas of 1, 16 and 256 MiB: `preserve` and `unpreserve` by the Rust glue
//! ([`crate::glue::vmalloc::preserve`]) and by C (`kho_preserve_vmalloc()` /
//! `kho_unpreserve_vmalloc()`), alternating, after one untimed warm-up round each; and the
//! Rust reader (`validate` + `for_each_entry`) on the C-written descriptor, which has no C
//! counterpart (C only reads while restoring). Both preserves read the area's own page
//! list: C `vm->pages[]`, Rust the list [`VmallocArea`] records at allocation. Restore
//! cannot be measured in one boot: `kho_restore_pages()` only accepts the previous
//! kernel's memory (see [`crate::vmx`]).

use kernel::prelude::*;

use super::{time_ns, Fixed};
use crate::glue::c_vmalloc as cv;
use crate::glue::vmalloc::{self as gv, VmallocArea};

/// Area sizes in MiB and timed rounds per size (kept small for TCG).
const CASES: [(usize, u64); 3] = [(1, 16), (16, 4), (256, 2)];

/// Sums of nanoseconds over the timed rounds.
#[derive(Default)]
struct Totals {
    rust_pres: u64,
    rust_unpres: u64,
    c_pres: u64,
    c_unpres: u64,
    read: u64,
}

/// One timed (or warm-up) round: Rust preserve/unpreserve, C preserve, Rust read of the C
/// descriptor, C unpreserve.
fn round(area: &VmallocArea, t: &mut Totals) -> Result {
    let (ns, p) = time_ns(|| gv::preserve(area));
    let p = p?;
    t.rust_pres += ns;
    let (ns, ()) = time_ns(|| p.unpreserve());
    t.rust_unpres += ns;

    let (ns, c) = time_ns(|| cv::c_preserve(area));
    let c = c?;
    t.c_pres += ns;
    let mut sum = 0u64;
    // SAFETY: C's outgoing descriptor, preserved until `c` is dropped after this.
    let (ns, stats) =
        time_ns(|| unsafe { gv::read_entries(c.desc(), |pa| sum = sum.wrapping_add(pa)) });
    let stats = stats?;
    t.read += ns;
    if stats.entries != area.nr_pages() || sum == 0 {
        pr_err!("bench: vmalloc: reader saw {} entries\n", stats.entries);
        return Err(EINVAL);
    }
    let (ns, ()) = time_ns(|| drop(c));
    t.c_unpres += ns;
    Ok(())
}

/// Runs the vmalloc benchmark.
pub(super) fn run() -> Result {
    pr_info!(
        "bench: vmalloc: note: restore is not benchmarked: kho_restore_pages() accepts only \
         memory preserved by the previous kernel, so it needs a kexec (see the selftest)\n"
    );
    for (mib, rounds) in CASES {
        let area = match VmallocArea::new(mib << 20) {
            Ok(a) => a,
            Err(e) => {
                pr_info!(
                    "bench: vmalloc {} MiB: vmalloc failed ({:?}), skipped\n",
                    mib,
                    e
                );
                continue;
            }
        };
        let pages = area.nr_pages() as u64;
        round(&area, &mut Totals::default())?;
        let mut t = Totals::default();
        for _ in 0..rounds {
            round(&area, &mut t)?;
        }
        let per = |x: u64| x / rounds;
        let (rp, ru, cp, cu) = (
            per(t.rust_pres),
            per(t.rust_unpres),
            per(t.c_pres),
            per(t.c_unpres),
        );
        pr_info!(
            "bench: vmalloc {} MiB ({} pages, {} rounds) preserve: rust {} ns, c {} ns, \
             rust/c {}; per page rust {} ns, c {} ns\n",
            mib,
            pages,
            rounds,
            rp,
            cp,
            Fixed(rp, cp, 3),
            rp / pages,
            cp / pages
        );
        pr_info!(
            "bench: vmalloc {} MiB unpreserve: rust {} ns, c {} ns, rust/c {}\n",
            mib,
            ru,
            cu,
            Fixed(ru, cu, 3)
        );
        pr_info!(
            "bench: vmalloc {} MiB preserve+unpreserve: rust {} ns, c {} ns, rust/c {}\n",
            mib,
            rp + ru,
            cp + cu,
            Fixed(rp + ru, cp + cu, 3)
        );
        let rd = per(t.read);
        pr_info!(
            "bench: vmalloc {} MiB read (validate+for_each_entry, C-written chain): rust {} ns \
             ({} ns/page), c n/a (C has no reader without restore)\n",
            mib,
            rd,
            rd / pages
        );
    }
    Ok(())
}
