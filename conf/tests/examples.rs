//! Every shipped example under `conf/examples/` is a valid configuration, says what
//! the seed document says, and survives the trip to TOML and back.
//!
//! Git does not keep the 0600 mode of key files, so each example is copied to a
//! temporary directory and its key files are made 0600 there, as an operator would.

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hb_conf::model::{AutoFailback, Medium};
use hb_conf::{Config, HostCheck, Loaded};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Copies an example (a directory or a TOML file) with key files made 0600.
fn load_example(name: &str) -> (tempfile::TempDir, Loaded) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = examples().join(name);
    let target = if src.is_dir() {
        for f in ["ha.cf", "haresources", "authkeys"] {
            // Follows the symlinks that share seed/ha.cf and seed/haresources.
            std::fs::copy(src.join(f), tmp.path().join(f)).expect("copy example file");
        }
        tmp.path().to_path_buf()
    } else {
        let t = tmp.path().join(name);
        std::fs::copy(&src, &t).expect("copy example file");
        t
    };
    for f in ["authkeys", name] {
        let p = tmp.path().join(f);
        if p.is_file() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
    }
    let loaded = hb_conf::load(&target, &HostCheck::default())
        .unwrap_or_else(|e| panic!("example {name} is refused:\n{e}"));
    (tmp, loaded)
}

fn all_example_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples())
        .expect("examples dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml") || examples().join(n).join("ha.cf").exists())
        .collect();
    names.sort();
    assert!(
        names.len() >= 5,
        "expected the shipped examples, found {names:?}"
    );
    names
}

#[test]
fn every_example_is_valid_and_round_trips_through_toml() {
    for name in all_example_names() {
        let (tmp, loaded) = load_example(&name);
        let path = tmp.path().join("round-trip.toml");
        std::fs::write(&path, hb_conf::toml_form::write(&loaded.config, false)).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let back = hb_conf::load_toml(&path, &HostCheck::default())
            .unwrap_or_else(|e| panic!("{name}: TOML form is refused:\n{e}"));
        assert!(
            back.config.same_settings(&loaded.config),
            "{name}: TOML form differs:\n{:#?}\n{:#?}",
            back.config,
            loaded.config
        );
    }
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("address")
}

#[test]
fn seed_example_says_what_the_seed_says() {
    let (_tmp, loaded) = load_example("seed");
    let c: &Config = &loaded.config;
    assert_eq!(c.nodes, vec!["linuxha1", "linuxha2"]);
    let t = c.timing;
    assert_eq!(
        (t.keepalive, t.warntime, t.deadtime, t.initdead, t.deadping),
        (
            Duration::from_secs(2),
            Duration::from_secs(10),
            Duration::from_secs(30),
            Duration::from_secs(120),
            Duration::from_secs(30)
        )
    );
    assert_eq!(
        c.media,
        vec![
            Medium::Serial {
                device: "/dev/ttyS0".into(),
                baud: 19200
            },
            Medium::Bcast {
                iface: "eth1".into(),
                port: 694
            },
        ]
    );
    assert_eq!(c.watchdog.as_deref(), Some(Path::new("/dev/watchdog")));
    assert_eq!(c.auto_failback, AutoFailback::On);
    assert_eq!(c.hopfudge, 1);
    assert_eq!(c.respawn.len(), 1);
    assert_eq!(c.respawn[0].user, "hacluster");
    assert_eq!(c.respawn[0].argv, vec!["/usr/lib/heartbeat/ipfail"]);
    let pings: Vec<(&str, bool, usize)> = c
        .ping_nodes
        .iter()
        .map(|p| (p.name.as_str(), p.group, p.hosts.len()))
        .collect();
    assert_eq!(
        pings,
        vec![
            ("203.0.113.1", false, 1),
            ("203.0.113.2", false, 1),
            ("group1", true, 2)
        ]
    );
    // No logfile, debugfile or logfacility: the seed's default log file.
    assert_eq!(
        c.logging.logfile.as_deref(),
        Some(Path::new(hb_conf::DEFAULT_LOGFILE))
    );

    let g = &c.resources[0];
    assert_eq!((g.node.as_str(), g.key()), ("linuxha1", "192.0.2.3"));
    let scripts: Vec<(&str, Vec<String>)> = g
        .resources
        .iter()
        .map(|r| (r.script.as_str(), r.args.clone()))
        .collect();
    assert_eq!(
        scripts,
        vec![
            ("IPaddr", vec!["192.0.2.3".to_owned()]),
            ("httpd", vec![]),
            ("smb", vec![]),
            ("maid", vec!["vacuum".to_owned()])
        ]
    );
    let ip = |i: usize| {
        c.resources[i].resources[0]
            .ip
            .clone()
            .expect("an IP resource")
    };
    assert_eq!(ip(0).addr, IpAddr::V4(v4("192.0.2.3")));
    assert_eq!((ip(1).prefix, ip(1).broadcast), (Some(27), None));
    assert_eq!(
        (ip(2).prefix, ip(2).broadcast),
        (Some(27), Some(v4("203.0.113.80")))
    );
    assert_eq!(
        (ip(3).prefix, ip(3).iface.as_deref()),
        (Some(24), Some("eth0"))
    );
    assert_eq!(
        c.resources[3].resources[1].script, "mysql",
        "the continued line joins its group"
    );
    assert_eq!(c.authkeys.send_method().name(), "sha1");
}

#[test]
fn seed_authkeys_in_each_method() {
    for (name, method, slot) in [
        ("seed", "sha1", 1),
        ("seed-md5", "md5", 1),
        ("seed-crc", "crc", 2),
    ] {
        let (_tmp, loaded) = load_example(name);
        assert_eq!(
            loaded.config.authkeys.send_method().name(),
            method,
            "{name}"
        );
        assert_eq!(loaded.config.authkeys.send_slot(), slot, "{name}");
    }
}

#[test]
fn toml_example_is_the_two_node_example() {
    let (_a, dir) = load_example("two-node");
    let (_b, toml) = load_example("cluster.toml");
    assert!(
        toml.config.same_settings(&dir.config),
        "{:#?}\n{:#?}",
        toml.config,
        dir.config
    );
    assert_eq!(dir.config.timing.keepalive, Duration::from_millis(200));
    assert_eq!(dir.config.timing.warntime, Duration::from_millis(600));
}

/// The text entry points (used by the fuzz targets) read what the file ones read.
#[test]
fn texts_read_as_the_files_do() {
    for name in all_example_names() {
        let (_tmp, loaded) = load_example(&name);
        let src = examples().join(&name);
        let from_text = if src.is_dir() {
            let read = |f: &str| std::fs::read_to_string(src.join(f)).expect("read example");
            hb_conf::parse_texts(
                &read("ha.cf"),
                &read("haresources"),
                &read("authkeys"),
                &HostCheck::default(),
            )
        } else {
            let text = std::fs::read_to_string(&src).expect("read example");
            hb_conf::parse_toml_text(&text, &HostCheck::default())
        }
        .unwrap_or_else(|e| panic!("{name}: refused from text:\n{e}"));
        assert!(
            from_text.config.same_settings(&loaded.config),
            "{name}: text and file differ"
        );
    }
}
