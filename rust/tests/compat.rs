// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_compat`: granular compatibility strings (RFC "kho: granular
//! compatibility and header decoupling", patches 6-9).
//!
//! The RFC's own test checks that every composite string has unique sub-components in
//! strict alphabetical order. Here the build does that for every composite string the
//! module knows (`kho_compat!` runs the checker at compile time, and the host tests check
//! the same strings independently of it); this suite proves on the kernel that the checker
//! rejects what it must, and checks the parser's per-component mismatch reports (the
//! review asked for per-component checks).

use kernel::prelude::*;

#[kunit_tests(kho_rs_compat)]
mod tests {
    use kernel::prelude::*;

    use crate::pure::compat::{
        check_against,
        check_composite,
        Composite,
        Mismatch,
        KHO_RS_COMPATIBLE, //
    };
    use crate::pure::error::errno;

    #[test]
    fn checker_rejects_bad_composites() {
        let bad = [
            "kho-v4;vmalloc-v1;radix-v1",  // wrong order
            "kho-v4;radix-v1;radix-v1",    // duplicate
            "kho-v4;radix-v1;;vmalloc-v1", // empty component
            "kho-v4;radix-v1;",            // trailing separator
            ";radix-v1;vmalloc-v1",        // missing base
            "",                            // nothing at all
            "kho-v4;radix-v1;radix-v2",    // one component twice
            "kho-v4;radix",                // no version
        ];
        for s in bad {
            assert!(check_composite(s).is_err());
        }
        assert!(check_composite("kho-v4").is_ok());
    }

    #[test]
    fn parser_round_trip() -> Result {
        let c = Composite::parse(KHO_RS_COMPATIBLE).map_err(|_| EINVAL)?;
        assert_eq!(c.base().name, "kho-rs");
        assert_eq!(c.base().version, 1);
        let expected = ["block", "radix", "seal", "vmalloc"];
        let mut n = 0;
        for (i, comp) in c.components().enumerate() {
            assert_eq!(Some(&comp.name), expected.get(i));
            assert_eq!(comp.version, 1);
            n += 1;
        }
        assert_eq!(n, 4);
        assert_eq!(c.get("vmalloc").map(|v| v.version), Some(1));
        assert!(c.get("memfd").is_none());
        Ok(())
    }

    #[test]
    fn mismatch_reports_the_component() {
        let exp = KHO_RS_COMPATIBLE;
        assert!(check_against(exp, exp).is_ok());
        assert!(matches!(
            check_against(exp, "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v2"),
            Err(Mismatch::VersionMismatch {
                name: "vmalloc",
                expected: 1,
                found: 2
            })
        ));
        assert!(matches!(
            check_against(exp, "kho-rs-v1;block-v1;seal-v1;vmalloc-v1"),
            Err(Mismatch::MissingComponent { name: "radix" })
        ));
        assert!(matches!(
            check_against(exp, "kho-rs-v2;block-v1;radix-v1;seal-v1;vmalloc-v1"),
            Err(m @ Mismatch::BaseMismatch { .. }) if m.to_errno() == -errno::EPROTO
        ));
        assert!(matches!(
            check_against(
                exp,
                "kho-rs-v1;block-v1;memfd-v1;radix-v1;seal-v1;vmalloc-v1"
            ),
            Err(Mismatch::UnexpectedComponent { name: "memfd" })
        ));
        assert!(matches!(
            check_against(exp, "kho-rs-v1;radix-v1;block-v1"),
            Err(m @ Mismatch::Malformed(_)) if m.to_errno() == -errno::EINVAL
        ));
    }
}
