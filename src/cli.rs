//! The command line. The subcommand names and options are a contract used by
//! scripts and checks: keep them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The daemon's run directory (control socket).
pub const DEFAULT_RUN_DIR: &str = "/run/heartbeat";

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
    Run {
        /// Configuration directory (ha.cf, haresources, authkeys) or TOML file.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "DIR|FILE",
            default_value = "/etc/ha.d"
        )]
        config: PathBuf,
        /// This node's name (default: `uname -n`, lower-cased, or /etc/ha.d/nodeinfo).
        #[arg(long, value_name = "NAME")]
        node_name: Option<String>,
        /// Where the heartbeat generation and node UUID are kept.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/heartbeat")]
        state_dir: PathBuf,
        /// Where the control socket lives.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_RUN_DIR)]
        run_dir: PathBuf,
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
