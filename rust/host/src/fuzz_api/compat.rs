// SPDX-License-Identifier: GPL-2.0

//! Target `compat`: the composite compatibility-string parser and the per-component check.
//!
//! The reference ([`model_composite`], [`model_check_against`]) is written from the rules in
//! `pure::compat`'s documentation with `str` methods: a component is `name-vN` of printable
//! non-space ASCII without `';'`, `name` non-empty, `N` a decimal `u32` without a leading
//! zero; a composite is `base[;sub]*` whose sub-components are in strictly ascending byte
//! order with no name repeated among them; `check_against` reports the base first, then each
//! expected sub-component (missing, other version), then unexpected ones.
//!
//! Input: `a NUL b NUL c...`; the first two pieces are the strings compared (both ways and
//! each against the module's own string), every piece a part list for `check_parts`, and
//! the whole input a `char compatible[]` field for `from_field`.

use std::collections::BTreeSet;
use std::vec::Vec;

use crate::pure::compat::{
    check_against, check_composite, check_parts, compat_align, from_field, joined_len, write_field,
    Component, Composite, Mismatch, KHO_RS_COMPATIBLE,
};
use crate::pure::error::errno;

/// Reference component parser: `(name, version)`.
pub(crate) fn model_component(s: &str) -> Option<(&str, u32)> {
    if s.is_empty() || !s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b';') {
        return None;
    }
    let head = s.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &s[head.len()..];
    let name = head.strip_suffix("-v")?;
    if digits.is_empty() || name.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((name, digits.parse::<u32>().ok()?))
}

/// A composite the reference accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MComposite<'a> {
    pub(crate) base_str: &'a str,
    pub(crate) base: (&'a str, u32),
    pub(crate) subs: Vec<(&'a str, u32)>,
}

/// Reference composite parser.
pub(crate) fn model_composite(s: &str) -> Option<MComposite<'_>> {
    let mut parts = s.split(';');
    let base_str = parts.next()?;
    let base = model_component(base_str)?;
    let raw: Vec<&str> = parts.collect();
    if raw.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    let subs = raw
        .iter()
        .map(|c| model_component(c))
        .collect::<Option<Vec<_>>>()?;
    let names: BTreeSet<&str> = subs.iter().map(|c| c.0).collect();
    if names.len() != subs.len() {
        return None;
    }
    Some(MComposite {
        base_str,
        base,
        subs,
    })
}

/// What the reference says `check_against` must report (`Malformed`'s error not compared).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MVerdict<'a> {
    Ok,
    Malformed,
    Base(&'a str, &'a str),
    Missing(&'a str),
    Version(&'a str, u32, u32),
    Unexpected(&'a str),
}

/// Reference `check_against`.
pub(crate) fn model_check_against<'a>(expected: &'a str, found: &'a str) -> MVerdict<'a> {
    let (Some(e), Some(f)) = (model_composite(expected), model_composite(found)) else {
        return MVerdict::Malformed;
    };
    if e.base != f.base {
        return MVerdict::Base(e.base_str, f.base_str);
    }
    for &(name, v) in &e.subs {
        match f.subs.iter().find(|c| c.0 == name) {
            None => return MVerdict::Missing(name),
            Some(&(_, fv)) if fv != v => return MVerdict::Version(name, v, fv),
            Some(_) => {}
        }
    }
    for &(name, _) in &f.subs {
        if !e.subs.iter().any(|c| c.0 == name) {
            return MVerdict::Unexpected(name);
        }
    }
    MVerdict::Ok
}

/// The code's `check_against` result in the reference's terms.
pub(crate) fn verdict<'a>(r: Result<(), Mismatch<'a>>) -> MVerdict<'a> {
    match r {
        Ok(()) => MVerdict::Ok,
        Err(Mismatch::Malformed(e)) => {
            assert_eq!(e.errno, errno::EINVAL);
            assert_eq!(Mismatch::Malformed(e).to_errno(), -errno::EINVAL);
            MVerdict::Malformed
        }
        Err(m) => {
            assert_eq!(m.to_errno(), -errno::EPROTO);
            assert_eq!(m.to_error().errno, errno::EPROTO);
            match m {
                Mismatch::BaseMismatch { expected, found } => MVerdict::Base(expected, found),
                Mismatch::MissingComponent { name } => MVerdict::Missing(name),
                Mismatch::VersionMismatch {
                    name,
                    expected,
                    found,
                } => MVerdict::Version(name, expected, found),
                Mismatch::UnexpectedComponent { name } => MVerdict::Unexpected(name),
                // Only a reader of a range of versions reports this, never check_against.
                Mismatch::VersionNotRead { .. } => unreachable!("check_against: {m}"),
                Mismatch::Malformed(_) => unreachable!(),
            }
        }
    }
}

/// Parser checks for one string.
fn check_one(s: &str) {
    let model = model_composite(s);
    assert_eq!(
        check_composite(s).is_ok(),
        model.is_some(),
        "check_composite({s:?})"
    );
    let parsed = Composite::parse(s);
    let (Ok(c), Some(m)) = (parsed, model) else {
        assert!(parsed.is_err(), "Composite::parse accepted {s:?}");
        return;
    };
    assert_eq!(c.as_str(), s);
    assert_eq!((c.base().name, c.base().version), m.base);
    let comps: Vec<(&str, u32)> = c.components().map(|x| (x.name, x.version)).collect();
    assert_eq!(comps, m.subs, "components of {s:?}");
    for &(name, v) in &m.subs {
        assert_eq!(c.get(name).map(|x| x.version), Some(v));
    }
    assert!(c.get("kho-rs-fuzz-absent").is_none());
    // Display of a component gives back its text.
    for (text, comp) in s.split(';').skip(1).zip(c.components()) {
        assert_eq!(std::format!("{comp}"), text);
    }
}

/// The `compat` target; returns whether the first two strings are compatible.
pub(crate) fn run(data: &[u8]) -> bool {
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let strs: Vec<&str> = pieces
        .iter()
        .filter_map(|p| core::str::from_utf8(p).ok())
        .collect();

    for s in &strs {
        check_one(s);
        match Component::parse(s) {
            Ok(c) => assert_eq!(Some((c.name, c.version)), model_component(s), "{s:?}"),
            Err(_) => assert_eq!(model_component(s), None, "Component::parse({s:?})"),
        }
    }
    let a = strs.first().copied().unwrap_or("");
    let b = strs.get(1).copied().unwrap_or("");
    let compatible = check_against(a, b).is_ok();
    for (e, f) in [
        (a, b),
        (b, a),
        (KHO_RS_COMPATIBLE, a),
        (a, KHO_RS_COMPATIBLE),
    ] {
        assert_eq!(
            verdict(check_against(e, f)),
            model_check_against(e, f),
            "check_against({e:?}, {f:?})"
        );
    }

    // check_parts / joined_len over the pieces as a part list.
    let want_ok = !strs.iter().any(|s| s.contains(';'));
    assert_eq!(check_parts(&strs).is_ok(), want_ok);
    assert_eq!(joined_len(&strs), strs.join(";").len());

    // from_field with every bound up to past the end.
    for bound in [0, 1, 7, 8, 16, 40, 48, data.len(), data.len() + 1] {
        let window = &data[..bound.min(data.len())];
        let want = window
            .iter()
            .position(|&b| b == 0)
            .and_then(|nul| core::str::from_utf8(&window[..nul]).ok());
        assert_eq!(
            from_field(data, bound).ok(),
            want,
            "from_field bound {bound}"
        );
    }
    // write_field round trip.
    for s in &strs {
        let mut out = std::vec![0xffu8; s.len() + 16];
        let n = write_field(s, &mut out).expect("write_field with room");
        assert_eq!(n, (s.len() + 1).div_ceil(8) * 8);
        assert_eq!(n, compat_align(s));
        assert!(out[s.len()..n].iter().all(|&b| b == 0));
        assert_eq!(from_field(&out, n), Ok(*s));
        assert!(write_field(s, &mut out[..n - 1]).is_err());
    }
    compatible
}
