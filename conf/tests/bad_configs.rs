//! Table of bad configurations: each must be refused with exactly this first
//! error, at exactly this file and line. The base configuration is valid; each case
//! replaces one file (ha.cf, haresources, authkeys, or the TOML form).

use std::os::unix::fs::PermissionsExt as _;

use hb_conf::{HostCheck, Severity};

#[path = "bad_configs/table.rs"]
mod table;
use table::*;

/// Loads the case; returns (file name, line, message) of the first error.
fn first_error(c: &Case) -> Option<(String, usize, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = HostCheck::default();
    let path = stage(c, dir.path());
    let result = match c.file {
        F::Toml => hb_conf::load_toml(&path, &host),
        _ => hb_conf::load_dir(&path, &host),
    };
    let err = result.err()?;
    let first = err.errors().next()?;
    let file = first
        .loc
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some((file, first.loc.line, first.message.clone()))
}

#[test]
fn the_base_configuration_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [("ha.cf", HACF), ("haresources", HARES), ("authkeys", KEYS)] {
        write(&dir.path().join(name), text);
    }
    let loaded =
        hb_conf::load_dir(dir.path(), &HostCheck::default()).expect("base config is valid");
    assert!(loaded
        .warnings
        .iter()
        .all(|w| w.severity == Severity::Warning));
    let path = dir.path().join("cluster.toml");
    write(&path, TOML);
    let toml = hb_conf::load_toml(&path, &HostCheck::default()).expect("base TOML is valid");
    assert!(
        toml.config.same_settings(&loaded.config),
        "the TOML base says the same as the ha.d base"
    );
}

#[test]
fn every_bad_configuration_is_refused_with_its_exact_error_and_line() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the table must keep at least 40 cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let file = match c.file {
            F::HaCf => "ha.cf",
            F::HaRes => "haresources",
            F::Keys => "authkeys",
            F::Toml => "cluster.toml",
            F::Ext => "ha-ext.cf",
        };
        let expected = Some((file.to_owned(), c.line, c.message.to_owned()));
        let got = first_error(c);
        if got != expected {
            failures.push(format!(
                "{}:\n    expected {expected:?}\n    got      {got:?}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

#[test]
fn authkeys_readable_by_others_is_refused_naming_file_and_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [("ha.cf", HACF), ("haresources", HARES), ("authkeys", KEYS)] {
        write(&dir.path().join(name), text);
    }
    let keys = dir.path().join("authkeys");
    for (mode, verb) in [
        (0o644, "read"),
        (0o640, "read"),
        (0o604, "read"),
        (0o620, "change"),
    ] {
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let err = hb_conf::load_dir(dir.path(), &HostCheck::default()).expect_err("refused");
        let d = err.errors().next().expect("an error");
        assert_eq!(
            d.message,
            format!(
                "Bad permissions on keyfile [{}]: mode {mode:04o} lets group or others {verb} it",
                keys.display()
            )
        );
        assert_eq!(
            d.hint.as_deref(),
            Some(format!("chmod 600 {}", keys.display()).as_str())
        );
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("ha.cf"),
        "keepalve 1\nbcast eth1\nnode n1 n2\nhopfudge 999\n",
    );
    write(&dir.path().join("haresources"), "n1 192.0.2.300\n");
    write(&dir.path().join("authkeys"), "auth 1\n1 md5\n");
    let err = hb_conf::load_dir(dir.path(), &HostCheck::default()).expect_err("refused");
    let lines: Vec<String> = err
        .errors()
        .map(|d| {
            format!(
                "{}:{}",
                d.loc
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default(),
                d.loc.line
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec!["ha.cf:1", "ha.cf:4", "haresources:1", "authkeys:2"]
    );
}
