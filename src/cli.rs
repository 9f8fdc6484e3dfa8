//! The command line. The subcommand names and options are a contract used by
//! scripts and checks: keep them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The daemon's run directory (control socket).
pub const DEFAULT_RUN_DIR: &str = "/run/heartbeat";

/// The daemon's pid file, where 3.0.6 keeps it (spec §12.4).
pub const DEFAULT_PID_FILE: &str = "/var/run/heartbeat.pid";

/// The daemon's state directory (generation, UUID, event journal).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/heartbeat";

/// How long `heartbeat stop` waits by default, in seconds: a graceful stop
/// releases every resource group, each script with its own timeout.
pub const DEFAULT_STOP_TIMEOUT: u64 = 120;

const ABOUT: &str =
    "A Linux-HA heartbeat compatible cluster manager: service-IP failover between nodes";

const LONG_ABOUT: &str = "\
heartbeat watches the other nodes of a cluster over several media at once (UDP broadcast,
unicast and multicast on port 694, and serial lines) and moves resource groups (service
addresses and the services behind them) to a live node when their owner dies.

It reads an existing heartbeat 3.0.6 configuration unchanged (/etc/ha.d/ha.cf,
haresources, authkeys) or a single TOML file, and speaks the 3.0.6 wire protocol, so it
can join a cluster of real heartbeat 3.0.6 nodes.";

const AFTER_HELP: &str = "\
Examples:
  heartbeat start                             check /etc/ha.d, start the daemon in the background
  heartbeat status                            is it running? (LSB exit codes: 0, 1, 3, 4), then the cluster table
  heartbeat status --json                     the same as one JSON document
  heartbeat cl-status nodestatus n2           heartbeat's cl_status (also as a `cl_status` symlink)
  heartbeat stop                              release the groups, tell the other nodes, exit
  heartbeat explain --since 10m               what happened in the last 10 minutes, and why
  heartbeat demo                              a two-node failover in namespaces, measured (root)
  heartbeat check-config                      validate /etc/ha.d and print it normalized
  heartbeat check-config -c cluster.toml      validate a TOML configuration
  heartbeat convert-config -o cluster.toml    turn /etc/ha.d into one TOML file
  heartbeat inspect --authkeys /etc/ha.d/authkeys packet.bin
                                              decode and verify a captured packet";

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "heartbeat",
    version = concat!(env!("CARGO_PKG_VERSION"), " (heartbeat 3.0.6 wire protocol)"),
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (as systemd runs it) until SIGTERM or SIGINT,
    /// which stop it gracefully: the other nodes get a shutdown notice.
    Run(DaemonArgs),
    /// Check the configuration, then run the daemon in the background.
    ///
    /// Configuration errors go to standard error (exit 1), as with `run`. The daemon
    /// detaches (a new session, standard input and output on /dev/null, umask 022,
    /// working directory /) and writes its pid file; this command exits 0 once the
    /// daemon is up (its links and control socket are open), or 1 with the daemon's
    /// error. A daemon that already runs is refused (exit 1).
    Start(DaemonArgs),
    /// Stop the running daemon gracefully (SIGTERM): its resource groups are
    /// released and the other nodes get a shutdown notice.
    ///
    /// Exits 0 once it is gone, 0 if it was not running, and 1 if it still runs
    /// after the timeout (typically a resource group that cannot be released: the
    /// daemon then keeps it and keeps running; its log says why).
    Stop {
        /// How long to wait for the daemon to exit, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_STOP_TIMEOUT)]
        timeout: u64,
        /// The daemon's pid file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_PID_FILE)]
        pid_file: PathBuf,
    },
    /// Say whether the daemon runs, with LSB status codes: 0 running, 1 dead but
    /// the pid file remains, 3 not running, 4 unknown; then, when the daemon
    /// answers on its control socket, a table of the cluster as this node sees it.
    ///
    /// The first line is heartbeat 3.0.6's (`heartbeat OK [pid N et al] is
    /// running on HOST [NODE]...`), and the exit code is LSB's whatever the
    /// table shows. The table needs root (the control socket is root's).
    Status {
        /// Configuration directory or TOML file (for the node name in /etc/ha.d/nodeinfo).
        #[arg(
            short = 'c',
            long = "config",
            value_name = "DIR|FILE",
            default_value = "/etc/ha.d"
        )]
        config: PathBuf,
        /// The daemon's pid file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_PID_FILE)]
        pid_file: PathBuf,
        /// Where the daemon's control socket lives.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_RUN_DIR)]
        run_dir: PathBuf,
        /// Print one JSON document instead: the LSB code (`lsb_status`), the
        /// first line (`message`), the daemon's status (`status`, or null) and
        /// why it is missing (`error`).
        #[arg(long)]
        json: bool,
    },
    /// heartbeat's cl_status: the same subcommands, outputs and exit codes
    /// (hbstatus, listnodes, nodestatus, nodetype, nodeweight, nodesite,
    /// listhblinks, hblinkstatus, clientstatus, rscstatus, hbparameter).
    ///
    /// The binary also runs as cl_status when invoked under that name (a
    /// symbolic link). `heartbeat cl-status` alone prints the subcommands.
    #[command(name = "cl-status", disable_help_flag = true)]
    ClStatus {
        /// Where the daemon's control socket lives (before the subcommand).
        #[arg(long, value_name = "DIR", default_value = DEFAULT_RUN_DIR)]
        run_dir: PathBuf,
        /// The cl_status subcommand and its options and arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "SUBCOMMAND"
        )]
        args: Vec<String>,
    },
    /// Send SIGHUP to the running daemon: it re-reads its configuration and reopens
    /// its log files. Exits 0 when signalled, 7 when no daemon runs (LSB).
    Reload {
        /// The daemon's pid file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_PID_FILE)]
        pid_file: PathBuf,
    },
    /// Give resource groups to the other node (heartbeat's hb_standby): all (the
    /// default), local (this node's own groups), foreign (the others), or failback
    /// (= foreign).
    Standby(GroupRequest),
    /// Take resource groups from the other node (heartbeat's hb_takeover): all (the
    /// default), local, foreign, or failback.
    Takeover(GroupRequest),
    /// Validate ha.cf, haresources and authkeys together (or a TOML file) and print the
    /// normalized configuration.
    ///
    /// Exits 0 when the configuration is usable (warnings go to stderr), 1 when it is
    /// not, with one `file:line: error: ...` message per problem. Checks that depend on
    /// the machine (this node listed, devices, users, scripts) are warnings unless
    /// --strict is given, so a configuration can be checked on another machine.
    CheckConfig {
        /// Configuration directory (ha.cf, haresources, authkeys) or TOML file.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "DIR|FILE",
            default_value = "/etc/ha.d"
        )]
        config: PathBuf,
        /// Check as this node (default: this machine's `uname -n`).
        #[arg(long, value_name = "NAME")]
        node_name: Option<String>,
        /// Treat problems with this machine (missing devices, users, scripts, node
        /// not listed) as errors, as the daemon does.
        #[arg(long)]
        strict: bool,
        /// Print only the diagnostics, not the normalized configuration.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Convert an /etc/ha.d configuration into a single TOML file.
    ///
    /// The result holds the keys of authkeys and is written with mode 600. It is read
    /// back and compared before the command succeeds.
    ConvertConfig {
        /// Configuration directory to convert.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "DIR",
            default_value = "/etc/ha.d"
        )]
        config: PathBuf,
        /// Output file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Tell what happened, and why, from this node's event journal: deaths with
    /// the silence and dead time they were decided on, takeovers with their cause
    /// and script times, standby, failback, reloads.
    ///
    /// The journal is STATE_DIR/journal (and its rotated journal.1 ... journal.3),
    /// which the daemon writes. Only this node's journal is read.
    Explain {
        /// Only what happened since then: HH:MM[:SS] (today), YYYY-MM-DD[ HH:MM[:SS]],
        /// or a duration ago (90s, 10m, 2h, 1d).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// The daemon's state directory (where the journal is).
        #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// A live demonstration on this machine (as root): two nodes in network
    /// namespaces serve a tiny web site on 192.0.2.50; the owner loses its power;
    /// a client measures the outage; the survivor explains what happened. Then
    /// everything is removed (also on an error or Ctrl-C). Takes under a minute.
    Demo,
    /// Decode captured heartbeat packets (UDP payloads, e.g. saved from tcpdump),
    /// verify their authentication and print their fields.
    ///
    /// Exits 0 when every packet decodes and verifies, 1 otherwise.
    Inspect {
        /// The authkeys file whose keys verify the packets (its mode is not checked:
        /// this is an offline tool).
        #[arg(long, value_name = "FILE")]
        authkeys: PathBuf,
        /// Files holding one packet each.
        #[arg(required = true, value_name = "PACKET")]
        packets: Vec<PathBuf>,
    },
}

/// Arguments of `run` and `start`.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Configuration directory (ha.cf, haresources, authkeys) or TOML file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "DIR|FILE",
        default_value = "/etc/ha.d"
    )]
    pub config: PathBuf,
    /// This node's name (default: `uname -n`, lower-cased, or /etc/ha.d/nodeinfo).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Where the heartbeat generation, node UUID and event journal are kept.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Where the control socket lives.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RUN_DIR)]
    pub run_dir: PathBuf,
    /// The pid file: held while the daemon runs, so that a second daemon is
    /// refused; removed when it exits.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PID_FILE)]
    pub pid_file: PathBuf,
    /// Hidden, for the tests: check the configuration as `run` does before it
    /// starts anything (no pid file, no log, no state), then exit 0 or 1.
    #[arg(long, hide = true)]
    pub check_only: bool,
}

/// Arguments of `standby` and `takeover`.
#[derive(Debug, clap::Args)]
pub struct GroupRequest {
    /// Which groups.
    #[arg(default_value = "all", value_parser = ["all", "local", "foreign", "failback"])]
    pub set: String,
    /// Where the daemon's control socket lives.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RUN_DIR)]
    pub run_dir: PathBuf,
}
