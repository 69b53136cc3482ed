// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::compat`.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use proptest::prelude::*;

use crate::pure::compat::{
    check_against, check_composite, compat_align, from_field, kho_compat, write_field, Component,
    Composite, Mismatch, BLOCK_COMPAT, KHO_FDT_COMPATIBLE, KHO_RS_COMPATIBLE, KHO_RS_COMPAT_LEN,
    LIVEUPDATE_HNDL_COMPAT_LENGTH, LUO_ABI_COMPATIBLE, LUO_ABI_COMPAT_LEN, MEMFD_LUO_FH_COMPATIBLE,
    RADIX_COMPAT, VMALLOC_COMPAT,
};
use crate::pure::error::errno;

#[test]
fn rfc_values_and_alignment() {
    assert_eq!(KHO_FDT_COMPATIBLE, "kho-v4;radix-v1;vmalloc-v1");
    assert_eq!(LUO_ABI_COMPATIBLE, "luo-v5;block-v1");
    assert_eq!(MEMFD_LUO_FH_COMPATIBLE, "memfd-v2;vmalloc-v1");
    assert_eq!(
        KHO_RS_COMPATIBLE,
        "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1"
    );
    assert_eq!(compat_align(KHO_FDT_COMPATIBLE), 32);
    assert_eq!(compat_align(LUO_ABI_COMPATIBLE), 16);
    assert_eq!(LUO_ABI_COMPAT_LEN, 16);
    assert_eq!(compat_align(MEMFD_LUO_FH_COMPATIBLE), 24);
    assert!(compat_align(MEMFD_LUO_FH_COMPATIBLE) <= LIVEUPDATE_HNDL_COMPAT_LENGTH);
    assert_eq!(KHO_RS_COMPAT_LEN, 48);
    // 7.3's plain "luo-v5" (sizeof 7).
    assert_eq!(compat_align("luo-v5"), 8);
    assert_eq!(compat_align(""), 8);
    assert_eq!(compat_align("1234567"), 8);
    assert_eq!(compat_align("12345678"), 16);
    for s in [
        KHO_FDT_COMPATIBLE,
        LUO_ABI_COMPATIBLE,
        MEMFD_LUO_FH_COMPATIBLE,
        KHO_RS_COMPATIBLE,
    ] {
        assert_eq!(check_composite(s), Ok(()), "{s}");
        // The same property checked independently of the checker: non-empty, strictly
        // ascending sub-components after the base.
        let subs: Vec<&str> = s.split(';').skip(1).collect();
        assert!(subs.iter().all(|c| !c.is_empty()), "{s}");
        assert!(subs.windows(2).all(|w| w[0] < w[1]), "{s}");
    }
}

#[test]
fn macro_forms() {
    const BASE_ONLY: &str = kho_compat!("kho-v4");
    const TRAILING_COMMA: &str = kho_compat!("x-v1"; BLOCK_COMPAT, RADIX_COMPAT,);
    assert_eq!(BASE_ONLY, "kho-v4");
    assert_eq!(TRAILING_COMMA, "x-v1;block-v1;radix-v1");
    // Also usable in expression position.
    let s: &'static str = kho_compat!("a-v0"; VMALLOC_COMPAT);
    assert_eq!(s, "a-v0;vmalloc-v1");
}

fn err_of(s: &str) -> (&'static str, u64) {
    let e = check_composite(s).expect_err(s);
    assert_eq!(e.errno, errno::EINVAL, "{s}");
    assert!(e.what.starts_with("compat: "), "{}", e.what);
    (e.what, e.value)
}

#[test]
fn checker_accepts() {
    for s in [
        "kho-v4",
        "a-v0",
        "a-v4294967295",
        "kho-v4;radix-v1",
        "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v1",
        "b-v1;a-v1",      // only sub-components are sorted
        "a-v1;a-v1",      // the base may share a name with a sub-component
        "x-v1;A-v1;a-v1", // byte order: uppercase first
        "x-v1;a-b-v1;a-v1",
    ] {
        assert_eq!(check_composite(s), Ok(()), "{s}");
        assert!(Composite::parse(s).is_ok(), "{s}");
    }
}

#[test]
fn checker_rejects() {
    let cases: &[(&str, &str, u64)] = &[
        ("", "compat: missing base", 0),
        (";radix-v1", "compat: missing base", 0),
        (
            "kho-v4;radix-v1;radix-v1",
            "compat: duplicate component",
            16,
        ),
        (
            "kho-v4;vmalloc-v1;radix-v1",
            "compat: components not in strictly ascending order",
            18,
        ),
        ("kho-v4;radix-v1;;vmalloc-v1", "compat: empty component", 16),
        ("kho-v4;radix-v1;", "compat: empty component", 16),
        ("kho-v4;", "compat: empty component", 7),
        ("kho-v4;;", "compat: empty component", 7),
        (
            "kho-v4;radix-v1;radix-v2",
            "compat: component name repeated",
            16,
        ),
        (
            "k-v1;a-v1;a-v1x-v1;a-v2",
            "compat: component name repeated",
            19,
        ),
        ("kho", "compat: component lacks '-vN'", 0),
        ("kho-v", "compat: component lacks '-vN'", 0),
        ("kho-4", "compat: component lacks '-vN'", 0),
        ("khov4", "compat: component lacks '-vN'", 0),
        ("kho-v4;radix", "compat: component lacks '-vN'", 7),
        ("-v4", "compat: component has an empty name", 0),
        ("kho-v04", "compat: version has a leading zero", 5),
        ("kho-v4294967296", "compat: version overflows u32", 0),
        ("kho v4", "compat: invalid character in component", 3),
        (
            "kho-v4;rad\0ix-v1",
            "compat: invalid character in component",
            10,
        ),
        (
            "kho-v4;radïx-v1",
            "compat: invalid character in component",
            10,
        ),
    ];
    for &(s, what, value) in cases {
        assert_eq!(err_of(s), (what, value), "{s:?}");
        assert!(Composite::parse(s).is_err(), "{s:?}");
    }
}

#[test]
fn check_parts_rejects_separator() {
    use crate::pure::compat::check_parts;
    assert_eq!(check_parts(&["a-v1", "b-v1"]), Ok(()));
    let e = check_parts(&["a-v1", "b-v1", "c-v1;d-v1"]).unwrap_err();
    assert_eq!((e.what, e.value), ("compat: component contains ';'", 2));
}

#[test]
fn parser_round_trip() {
    let c = Composite::parse(KHO_RS_COMPATIBLE).unwrap();
    assert_eq!(c.as_str(), KHO_RS_COMPATIBLE);
    assert_eq!(
        c.base(),
        Component {
            name: "kho-rs",
            version: 1
        }
    );
    let subs: Vec<_> = c.components().collect();
    let names: Vec<_> = subs.iter().map(|c| c.name).collect();
    assert_eq!(names, ["block", "radix", "seal", "vmalloc"]);
    assert!(subs.iter().all(|c| c.version == 1));
    let mut rebuilt = c.base().to_string();
    for sub in c.components() {
        rebuilt.push(';');
        rebuilt.push_str(&sub.to_string());
    }
    assert_eq!(rebuilt, KHO_RS_COMPATIBLE);
    assert_eq!(c.get("radix").map(|c| c.version), Some(1));
    assert_eq!(c.get("kho-rs"), None);
    assert_eq!(c.get("nope"), None);

    let only = Composite::parse("kho-v4").unwrap();
    assert_eq!(only.components().count(), 0);
    assert_eq!(only.base().name, "kho");

    let c = Component::parse("a-v1x-v42").unwrap();
    assert_eq!((c.name, c.version), ("a-v1x", 42));
    assert!(Component::parse("a").is_err());
    assert!(Component::parse("").is_err());
}

fn mismatch(expected: &str, found: &str) -> String {
    let m = check_against(expected, found).unwrap_err();
    format!("{m}")
}

#[test]
fn check_against_variants() {
    assert_eq!(check_against(KHO_RS_COMPATIBLE, KHO_RS_COMPATIBLE), Ok(()));
    assert_eq!(check_against("kho-v4", "kho-v4"), Ok(()));

    let exp = KHO_RS_COMPATIBLE;
    let m = check_against(exp, "kho-rs-v2;block-v1;radix-v1;vmalloc-v1").unwrap_err();
    assert_eq!(
        m,
        Mismatch::BaseMismatch {
            expected: "kho-rs-v1",
            found: "kho-rs-v2"
        }
    );
    assert_eq!(m.to_string(), "base is 'kho-rs-v2', expected 'kho-rs-v1'");
    assert_eq!(m.to_errno(), -errno::EPROTO);
    assert_eq!(m.to_error().what, "compat: base mismatch");
    assert_eq!(
        mismatch(exp, "kho-v4;block-v1;radix-v1;vmalloc-v1"),
        "base is 'kho-v4', expected 'kho-rs-v1'"
    );

    let m = check_against(exp, "kho-rs-v1;block-v1;seal-v1;vmalloc-v1").unwrap_err();
    assert_eq!(m, Mismatch::MissingComponent { name: "radix" });
    assert_eq!(m.to_string(), "component 'radix' is missing");
    assert_eq!(m.to_errno(), -errno::EPROTO);

    let m = check_against(exp, "kho-rs-v1;block-v1;radix-v1;seal-v1;vmalloc-v2").unwrap_err();
    assert_eq!(
        m,
        Mismatch::VersionMismatch {
            name: "vmalloc",
            expected: 1,
            found: 2
        }
    );
    assert_eq!(
        m.to_string(),
        "component 'vmalloc' has version v2, expected v1"
    );
    assert_eq!(m.to_errno(), -errno::EPROTO);
    assert_eq!(m.to_error().value, 2);

    let m = check_against(
        exp,
        "kho-rs-v1;block-v1;kmalloc-v1;radix-v1;seal-v1;vmalloc-v1",
    )
    .unwrap_err();
    assert_eq!(m, Mismatch::UnexpectedComponent { name: "kmalloc" });
    assert_eq!(m.to_string(), "unexpected component 'kmalloc'");
    assert_eq!(m.to_errno(), -errno::EPROTO);

    let m = check_against(exp, "kho-rs-v1;radix-v1;block-v1").unwrap_err();
    match m {
        Mismatch::Malformed(e) => {
            assert_eq!(e.what, "compat: components not in strictly ascending order")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.to_errno(), -errno::EINVAL);
    assert_eq!(
        m.to_string(),
        "malformed compatible string: compat: components not in strictly ascending order (0x13) [errno -22]"
    );
    // A malformed expected string is reported too.
    let m = check_against("bad", exp).unwrap_err();
    assert!(matches!(m, Mismatch::Malformed(_)));
    assert_eq!(m.to_errno(), -errno::EINVAL);
}

#[test]
fn fields() {
    // 46 bytes of string, its NUL and one byte of padding.
    let mut buf = [0xffu8; 56];
    assert_eq!(write_field(KHO_RS_COMPATIBLE, &mut buf), Ok(48));
    assert_eq!(&buf[..46], KHO_RS_COMPATIBLE.as_bytes());
    assert!(buf[46..48].iter().all(|&b| b == 0));
    assert!(buf[48..].iter().all(|&b| b == 0xff));
    assert_eq!(from_field(&buf, KHO_RS_COMPAT_LEN), Ok(KHO_RS_COMPATIBLE));
    assert_eq!(from_field(&buf, 1000), Ok(KHO_RS_COMPATIBLE));

    let mut small = [0u8; 47];
    let e = write_field(KHO_RS_COMPATIBLE, &mut small).unwrap_err();
    assert_eq!(
        (e.errno, e.what),
        (errno::ENOSPC, "compat: field too small")
    );

    // Not terminated within the bound, or within the slice.
    let e = from_field(&buf, 46).unwrap_err();
    assert_eq!(e.what, "compat: string not NUL-terminated within bound");
    let e = from_field(&buf[..46], 100).unwrap_err();
    assert_eq!(e.what, "compat: string not NUL-terminated within bound");
    assert_eq!(from_field(&[], 8).unwrap_err().errno, errno::EINVAL);
    // Invalid UTF-8.
    let e = from_field(b"ab\xffc\0", 8).unwrap_err();
    assert_eq!((e.what, e.value), ("compat: string not valid UTF-8", 2));
    // Bytes after the NUL are ignored (strncmp semantics).
    assert_eq!(from_field(b"kho-v4\0garbage", 8), Ok("kho-v4"));
}

/// Builds `base;subs...` from a list of component names (all version 1).
fn composite_of(subs: &[String]) -> String {
    let mut s = String::from("base-v1");
    for sub in subs {
        s.push(';');
        s.push_str(sub);
    }
    s
}

proptest! {
    #[test]
    fn random_component_lists(names in proptest::collection::vec("[a-d]{1,3}-v[1-3]", 0..6)) {
        let s = composite_of(&names);
        let sorted_unique = names.windows(2).all(|w| w[0] < w[1]);
        let mut by_name: Vec<&str> = names.iter().map(|n| n.split("-v").next().unwrap()).collect();
        by_name.sort();
        let names_unique = by_name.windows(2).all(|w| w[0] != w[1]);
        let ok = check_composite(&s).is_ok();
        prop_assert_eq!(ok, sorted_unique && names_unique, "{}", s);
        if ok {
            let c = Composite::parse(&s).unwrap();
            let back: Vec<String> = c.components().map(|c| c.to_string()).collect();
            prop_assert_eq!(back, names.clone());
            prop_assert_eq!(check_against(&s, &s), Ok(()));
        }
        // Sorting and deduplicating by name always gives an accepted string.
        let mut fixed = names.clone();
        fixed.sort();
        fixed.dedup_by(|a, b| a.split("-v").next() == b.split("-v").next());
        prop_assert!(check_composite(&composite_of(&fixed)).is_ok());
    }

    #[test]
    fn checker_never_panics(s in "[a-c;v0-9\\-]{0,24}") {
        let _ = check_composite(&s);
        let _ = Composite::parse(&s).map(|c| c.components().count());
        let _ = check_against(KHO_RS_COMPATIBLE, &s);
        let _ = from_field(s.as_bytes(), 16);
    }
}

/// Compiles a tiny crate that uses `kho_compat!` with `list` and returns rustc's result.
fn compile_with(tag: &str, list: &str) -> (bool, String) {
    let pure = concat!(env!("CARGO_MANIFEST_DIR"), "/../kho/pure");
    let dir = std::env::temp_dir().join(format!("kho-rs-compat-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("t.rs");
    let text = format!(
        "#![no_std]\n#![allow(dead_code)]\n\
         mod pure {{\n\
         #[path = \"{pure}/error.rs\"] pub(crate) mod error;\n\
         #[path = \"{pure}/compat.rs\"] pub(crate) mod compat;\n\
         }}\n\
         pub const X: &str = crate::pure::compat::kho_compat!({list});\n"
    );
    std::fs::write(&src, text).unwrap();
    let out = std::process::Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
        ])
        .arg("--out-dir")
        .arg(&dir)
        .arg(&src)
        .output()
        .expect("running rustc");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn macro_rejects_bad_lists_at_build_time() {
    let (ok, err) = compile_with("good", "\"kho-v4\"; \"radix-v1\", \"vmalloc-v1\"");
    assert!(ok, "{err}");
    for (tag, list, msg) in [
        (
            "order",
            "\"kho-v4\"; \"vmalloc-v1\", \"radix-v1\"",
            "compat: components not in strictly ascending order",
        ),
        (
            "dup",
            "\"kho-v4\"; \"radix-v1\", \"radix-v1\"",
            "compat: duplicate component",
        ),
        (
            "empty",
            "\"kho-v4\"; \"radix-v1\", \"\"",
            "compat: empty component",
        ),
        (
            "semi",
            "\"kho-v4\"; \"a-v1;b-v1\"",
            "compat: component contains ';'",
        ),
        ("nobase", "\"\"; \"radix-v1\"", "compat: missing base"),
    ] {
        let (ok, err) = compile_with(tag, list);
        assert!(!ok, "{tag}: compiled");
        assert!(err.contains(msg), "{tag}: {err}");
    }
}
