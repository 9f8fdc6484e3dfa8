//! The resource manager actor against real `#!/bin/sh` resource scripts that
//! record their calls in one file. Every wait polls until a deadline; nothing
//! sleeps for a fixed time.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use hb_actors::resource_mgr::{
    GroupsDone, ReleaseLeftovers, ResourceManager, RunGroups, ScriptDirs,
};
use hb_conf::diag::Loc;
use hb_conf::model::{Resource, ResourceGroup};
use hb_core::resources::nice::Hold;
use slog::{o, Logger};

const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` every 10 ms until it holds; panics after [`DEADLINE`].
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = actix::clock::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            actix::clock::Instant::now() < end,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(10)).await;
    }
}

/// Keeps what the resource manager reports.
struct Reports(Arc<Mutex<Vec<bool>>>);

impl Actor for Reports {
    type Context = Context<Self>;
}

impl Handler<GroupsDone> for Reports {
    type Result = ();
    fn handle(&mut self, m: GroupsDone, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(m.ok);
    }
}

fn group(node: &str, scripts: &[&str]) -> ResourceGroup {
    let file: Arc<Path> = Arc::from(Path::new("haresources"));
    ResourceGroup {
        node: node.to_owned(),
        resources: scripts
            .iter()
            .map(|s| Resource {
                text: (*s).to_owned(),
                script: (*s).to_owned(),
                args: Vec::new(),
                ip: None,
            })
            .collect(),
        loc: Loc::new(&file, 1),
    }
}

/// A script that appends `NAME OP` to `calls` (and `NAME OP end` when done),
/// keeps its state in `dir`, and, if `gate` is given, answers `status` only
/// once that file exists.
fn script(dir: &Path, name: &str, calls: &Path, gate: Option<&Path>) {
    let wait = gate.map_or_else(String::new, |g| {
        format!(
            "if [ \"$op\" = status ]; then while [ ! -e '{}' ]; do sleep 0.05; done; fi\n",
            g.display()
        )
    });
    let body = format!(
        "#!/bin/sh\nfor a; do op=$a; done\necho \"{name} $op\" >> '{calls}'\n{wait}\
         case \"$op\" in\n  start) touch '{state}' ;;\n  stop) rm -f '{state}' ;;\n  \
         status) if [ -e '{state}' ]; then echo running; else echo stopped; fi ;;\nesac\n\
         echo \"{name} $op end\" >> '{calls}'\n",
        calls = calls.display(),
        state = dir.join(format!("{name}.state")).display(),
    );
    let p = dir.join("resource.d").join(name);
    fs::write(&p, body).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(p: &PathBuf) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Issue 14, item 14: two groups, one whose `status` is slow (here: it
/// answers only once the test opens a gate, as Debian's `Delay` takes
/// seconds). The start-up checks (leftovers) and the acquisition of the
/// other group do not wait for it: that group is started while the slow
/// `status` still runs. The slow group keeps its own order (leftover check,
/// then the acquisition's check, then start), and the job is reported done
/// once, after both groups.
#[actix_rt::test]
async fn a_slow_status_delays_only_its_own_group() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("resource.d")).unwrap();
    let record = dir.path().join("calls.txt");
    let gate = dir.path().join("gate");
    script(dir.path(), "slow", &record, Some(&gate));
    script(dir.path(), "fast", &record, None);

    let reports = Arc::new(Mutex::new(Vec::new()));
    let table = Reports(reports.clone()).start();
    let log = Logger::root(slog::Discard, o!());
    let rm = ResourceManager::new(
        "n1",
        vec![group("n1", &["slow"]), group("n1", &["fast"])],
        ScriptDirs {
            confdir: dir.path().to_owned(),
            init_dir: dir.path().join("init.d"),
        },
        table.recipient(),
        &log,
    )
    .start();
    rm.do_send(ReleaseLeftovers);
    rm.do_send(RunGroups {
        acquire: true,
        set: Hold::LOCAL,
    });

    // The slow status cannot end before the gate opens: whatever the
    // scheduling, the fast group was started while it ran.
    until("the fast group's start and the slow status", || {
        let c = calls(&record);
        c.contains(&"fast start end".to_owned()) && c.contains(&"slow status".to_owned())
    })
    .await;
    let so_far = calls(&record);
    assert!(
        !so_far.contains(&"slow status end".to_owned()),
        "the slow status had ended: {so_far:?}"
    );
    assert!(
        reports.lock().unwrap().is_empty(),
        "reported before the slow group"
    );

    fs::write(&gate, "").unwrap();
    until("the job's report", || !reports.lock().unwrap().is_empty()).await;
    assert_eq!(*reports.lock().unwrap(), vec![true]);
    let slow: Vec<String> = calls(&record)
        .into_iter()
        .filter(|l| l.starts_with("slow ") && !l.ends_with(" end"))
        .collect();
    assert_eq!(slow, ["slow status", "slow status", "slow start"]);
    let fast: Vec<String> = calls(&record)
        .into_iter()
        .filter(|l| l.starts_with("fast ") && !l.ends_with(" end"))
        .collect();
    assert_eq!(fast, ["fast status", "fast status", "fast start"]);
}

/// Jobs are reported in the order they came, even when a later one (here a
/// release of the fast group alone) finishes before an earlier one (the
/// acquisition of the slow group).
#[actix_rt::test]
async fn jobs_are_reported_in_the_order_they_came() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("resource.d")).unwrap();
    let record = dir.path().join("calls.txt");
    let gate = dir.path().join("gate");
    script(dir.path(), "slow", &record, Some(&gate));
    script(dir.path(), "fast", &record, None);
    let reports = Arc::new(Mutex::new(Vec::new()));
    let table = Reports(reports.clone()).start();
    let log = Logger::root(slog::Discard, o!());
    let rm = ResourceManager::new(
        "n1",
        vec![group("n1", &["slow"]), group("n2", &["fast"])],
        ScriptDirs {
            confdir: dir.path().to_owned(),
            init_dir: dir.path().join("init.d"),
        },
        table.recipient(),
        &log,
    )
    .start();
    rm.do_send(RunGroups {
        acquire: true,
        set: Hold::LOCAL,
    });
    rm.do_send(RunGroups {
        acquire: false,
        set: Hold::FOREIGN,
    });
    until("the fast group's release", || {
        calls(&record).contains(&"fast stop end".to_owned())
    })
    .await;
    assert!(
        reports.lock().unwrap().is_empty(),
        "the release was reported first"
    );
    fs::write(&gate, "").unwrap();
    until("both reports", || reports.lock().unwrap().len() == 2).await;
    assert_eq!(*reports.lock().unwrap(), vec![true, true]);
}
