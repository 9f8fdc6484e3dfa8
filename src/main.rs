//! `heartbeat`: the command-line entry point. It parses arguments, runs the
//! subcommand and maps the outcome to an exit code; the work itself lives in the
//! library crates (`hb-conf` reads configuration, `hb-core` decides and encodes).

#![deny(unsafe_code)]

mod cl_status;
mod cli;
mod daemon;
mod demo;
mod explain;
mod inspect;
mod logging;
mod panic;
mod pidfile;
mod reload;
mod run;
mod signals;
mod state;
mod status;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use hb_conf::{ConfigError, Diagnostic, HostCheck, Loaded};

use cli::{Cli, Command};

/// The configuration (or a packet) was refused.
pub(crate) const EXIT_INVALID: u8 = 1;

fn main() -> ExitCode {
    // Invoked as `cl_status` (a symbolic link to this binary): heartbeat's tool.
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    if Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new("cl_status")) {
        let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
        return cl_status(Path::new(cli::DEFAULT_RUN_DIR), &args);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => daemon::run(&args),
        Command::Start(args) => daemon::start(&args),
        Command::Stop { timeout, pid_file } => {
            daemon::stop(&pid_file, std::time::Duration::from_secs(timeout))
        }
        Command::Status {
            config,
            pid_file,
            run_dir,
            json,
        } => Ok(status::run(&pid_file, &config, &run_dir, json)),
        Command::ClStatus { run_dir, args } => Ok(cl_status(&run_dir, &args)),
        Command::Reload { pid_file } => daemon::reload(&pid_file),
        Command::Standby(r) => control(&r.run_dir, &format!("standby {}", r.set)),
        Command::Takeover(r) => control(&r.run_dir, &format!("takeover {}", r.set)),
        Command::CheckConfig {
            config,
            node_name,
            strict,
            quiet,
        } => check_config(&config, node_name, strict, quiet),
        Command::ConvertConfig {
            config,
            output,
            force,
        } => convert_config(&config, output.as_deref(), force),
        Command::Inspect { authkeys, packets } => inspect(&authkeys, &packets),
        Command::Explain { since, state_dir } => explain::run(&state_dir, since.as_deref()),
        Command::Demo => demo::run(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("heartbeat: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn load(config: &Path, node_name: Option<String>, strict: bool) -> Result<Loaded, ConfigError> {
    let confdir = if config.is_dir() {
        Some(config)
    } else {
        config.parent()
    };
    let host = HostCheck {
        local_node: Some(node_name.map_or_else(
            || hb_conf::host::local_node_name(confdir),
            |n| n.to_ascii_lowercase(),
        )),
        strict,
        init_dir: None,
    };
    hb_conf::load(config, &host)
}

fn refused(e: &ConfigError) -> ExitCode {
    print_diagnostics(&e.diagnostics);
    let n = e.errors().count();
    eprintln!(
        "configuration refused: {n} error{}",
        if n == 1 { "" } else { "s" }
    );
    ExitCode::from(EXIT_INVALID)
}

fn check_config(
    config: &Path,
    node_name: Option<String>,
    strict: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    // Strict: exactly what `run` decides with (issue 14, item 8).
    let result = if strict {
        run::check(config, node_name).map(|(loaded, _)| loaded)
    } else {
        load(config, node_name, false).map_err(run::Refusal::Config)
    };
    match result {
        Err(run::Refusal::Media(e)) => {
            eprintln!("error: {e:#}");
            eprintln!("configuration refused: 1 error");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        Err(run::Refusal::Config(e)) => Ok(refused(&e)),
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            if !quiet {
                print!("{}", hb_conf::toml_form::write(&loaded.config, true));
            }
            for line in hb_conf::host::ip_runner_lines(&loaded.config, Some(&loaded.confdir)) {
                eprintln!("{line}");
            }
            eprintln!(
                "configuration OK: {} node(s), {} medium/media, {} resource group(s){}",
                loaded.config.nodes.len(),
                loaded.config.media.len(),
                loaded.config.resources.len(),
                match loaded.warnings.len() {
                    0 => String::new(),
                    n => format!(", {n} warning(s)"),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn convert_config(config: &Path, output: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    let loaded = match load(config, None, false) {
        Ok(l) => l,
        Err(e) => return Ok(refused(&e)),
    };
    print_diagnostics(&loaded.warnings);
    let text = hb_conf::toml_form::write(&loaded.config, false);
    let Some(output) = output else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    // The file holds the keys: create it 0600 and never follow a planted symlink.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut file = opts.open(output).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            " (use --force to replace it)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot create {}: {e}{hint}", output.display())
    })?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    // Read it back: the TOML form must give the very same configuration.
    let host = HostCheck::default();
    match hb_conf::load_toml(output, &host) {
        Ok(back) if back.config.same_settings(&loaded.config) => {
            eprintln!("wrote {} (mode 600; it holds the keys)", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => anyhow::bail!(
            "internal error: {} does not read back as the same configuration",
            output.display()
        ),
        Err(e) => {
            print_diagnostics(&e.diagnostics);
            anyhow::bail!("internal error: {} does not read back", output.display())
        }
    }
}

/// Sends one request to the daemon's control socket and prints its answer.
fn control(run_dir: &Path, request: &str) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead as _, Write as _};
    let path = run_dir.join("heartbeat.sock");
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the daemon at {}: {e} (is heartbeat running?)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    writeln!(stream, "{request}")?;
    let mut answer = String::new();
    std::io::BufReader::new(&stream).read_line(&mut answer)?;
    let answer = answer.trim();
    if answer == "ok" {
        println!("{request}: requested");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "heartbeat: {request}: {}",
            answer.strip_prefix("error: ").unwrap_or(answer)
        );
        Ok(ExitCode::from(EXIT_INVALID))
    }
}

/// `cl_status ARGS...`, asking the daemon behind `run_dir`.
fn cl_status(run_dir: &Path, args: &[String]) -> ExitCode {
    let o = cl_status::run(args, || status::query(run_dir));
    print!("{}", o.out);
    eprint!("{}", o.err);
    ExitCode::from(o.code)
}

fn inspect(authkeys: &Path, packets: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let keys = match hb_conf::read_authkeys(authkeys, false) {
        Ok(k) => k,
        Err(e) => return Ok(refused(&e)),
    };
    let mut all_ok = true;
    for (i, path) in packets.iter().enumerate() {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let (text, ok) = inspect::describe(&path.display().to_string(), &bytes, &keys);
        if i > 0 {
            println!();
        }
        print!("{text}");
        all_ok &= ok;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}
