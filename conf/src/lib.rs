//! `hb-conf`: reads the operator's heartbeat configuration into one validated model.
//!
//! Two front ends feed the same checks: the classic `/etc/ha.d` directory
//! (`ha.cf`, `haresources`, `authkeys`, read unchanged) and a single TOML file for
//! new installations. Every problem is reported with file, line and, where
//! obvious, the fix.
//!
//! # Layout
//! * [`diag`]: locations, diagnostics and the refusal error.
//! * `hacf`, `haresources`, `authkeys`: line parsers for the three files
//!   (`hacf` also reads `ha-ext.cf`, our own directives beside ha.cf).
//! * [`toml_form`]: the TOML front end and the writer used by `convert-config`.
//! * `partial`: values as written, then 3.0.6's defaults and cross-checks.
//! * [`host`]: checks against the machine (node name, devices, users, scripts).
//! * [`model`]: the validated [`Config`].
//! * [`params`]: the values `cl_status hbparameter` reports (as written in ha.cf).
//! * [`time`]: heartbeat's time values (`2`, `500ms`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod authkeys;
pub mod diag;
mod hacf;
mod haresources;
pub mod host;
pub mod model;
pub mod params;
mod partial;
pub mod time;
pub mod toml_form;

use std::path::{Path, PathBuf};

pub use authkeys::check_mode as check_authkeys_mode;
pub use diag::{ConfigError, Diagnostic, Severity};
pub use hacf::EXT_FILE;
pub use haresources::ip_spec;
pub use host::HostCheck;
pub use model::Config;
pub use partial::DEFAULT_LOGFILE;

use diag::Diagnostics;
use partial::Partial;

/// A configuration that was accepted, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Warnings (nothing here stopped the configuration from being used).
    pub warnings: Vec<Diagnostic>,
    /// The directory of `ha.cf` or of the TOML file: `resource.d/` is looked up there.
    pub confdir: PathBuf,
    /// The parameters as 3.0.6 records them (`cl_status hbparameter`).
    pub params: params::Params,
    /// Cluster and ping nodes in 3.0.6's node-table order: as the `node`,
    /// `ping`, `ping6` and `ping_group` values come in the file (`cl_status
    /// listnodes`).
    pub node_table: Vec<String>,
}

/// Loads `/etc/ha.d`-style directory or a TOML file, whichever `path` is.
pub fn load(path: &Path, host: &HostCheck) -> Result<Loaded, ConfigError> {
    if path.is_dir() {
        load_dir(path, host)
    } else {
        load_toml(path, host)
    }
}

/// Loads `ha.cf`, `haresources` and `authkeys` from a directory, and
/// `ha-ext.cf` (our own directives, which 3.0.6 never reads) if there is one.
pub fn load_dir(dir: &Path, host: &HostCheck) -> Result<Loaded, ConfigError> {
    let read = |name: &str, what: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map(|text| (path.clone(), text))
            .map_err(|e| {
                ConfigError::file(
                    &path,
                    format!("Cannot open {what} [{}]: {e}", path.display()),
                    hint_for(name),
                )
            })
    };
    let (hacf_path, hacf_text) = read("ha.cf", "config file")?;
    let (hares_path, hares_text) = read("haresources", "resources file")?;
    let keys_path = dir.join("authkeys");
    check_authkeys_mode(&keys_path)?;
    let (keys_path, keys_text) = read("authkeys", "keyfile")?;
    let ext_path = dir.join(hacf::EXT_FILE);
    let ext = match std::fs::read_to_string(&ext_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ConfigError::file(
                &ext_path,
                format!("Cannot read {}: {e}", ext_path.display()),
                Some(format!(
                    "{} is optional: fix its mode or remove it",
                    hacf::EXT_FILE
                )),
            ))
        }
    };
    from_texts(
        [
            (&hacf_path, &hacf_text),
            (&hares_path, &hares_text),
            (&keys_path, &keys_text),
        ],
        ext.as_deref().map(|t| (ext_path.as_path(), t)),
        dir,
        host,
    )
}

/// Reads the texts of `ha.cf`, `haresources` and `authkeys` as [`load_dir`]
/// reads the files, without touching them: no file is opened and the mode of
/// `authkeys` is not checked. Diagnostics name the files `ha.cf`, `haresources`
/// and `authkeys`; the host checks look for `resource.d/` in the current
/// directory. For tests and the fuzz targets.
pub fn parse_texts(
    hacf: &str,
    haresources: &str,
    authkeys: &str,
    host: &HostCheck,
) -> Result<Loaded, ConfigError> {
    from_texts(
        [
            (Path::new("ha.cf"), hacf),
            (Path::new("haresources"), haresources),
            (Path::new("authkeys"), authkeys),
        ],
        None,
        Path::new("."),
        host,
    )
}

/// The three files' paths (for messages) and texts, in the order ha.cf,
/// haresources, authkeys.
fn from_texts(
    [(hacf_path, hacf_text), (hares_path, hares_text), (keys_path, keys_text)]: [(&Path, &str); 3],
    ext: Option<(&Path, &str)>,
    confdir: &Path,
    host: &HostCheck,
) -> Result<Loaded, ConfigError> {
    let mut diags = Diagnostics::default();
    let mut p = Partial::default();
    hacf::parse(hacf_path, hacf_text, ext, &mut p, &mut diags);
    p.resources = haresources::parse(hares_path, hares_text, &mut diags);
    p.authkeys = authkeys::parse(keys_path, keys_text, &mut diags);
    finish(p, confdir, host, diags)
}

/// Loads a TOML configuration file (see [`toml_form`]). The file holds keys, so
/// a file that group or others can access is refused, as `authkeys` is.
pub fn load_toml(file: &Path, host: &HostCheck) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigError::file(
            file,
            format!("Cannot open config file [{}]: {e}", file.display()),
            None,
        )
    })?;
    let confdir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    from_toml_text(file, &text, true, &confdir, host)
}

/// Reads the text of a TOML configuration as [`load_toml`] reads the file,
/// without touching it (no mode check). Diagnostics name the file
/// `cluster.toml`; the host checks look for `resource.d/` in the current
/// directory. For tests and the fuzz targets.
pub fn parse_toml_text(text: &str, host: &HostCheck) -> Result<Loaded, ConfigError> {
    from_toml_text(Path::new("cluster.toml"), text, false, Path::new("."), host)
}

/// A syntax error is reported before a bad file mode, as it always was.
fn from_toml_text(
    file: &Path,
    text: &str,
    check_mode: bool,
    confdir: &Path,
    host: &HostCheck,
) -> Result<Loaded, ConfigError> {
    let mut diags = Diagnostics::default();
    let p = toml_form::parse(file, text, &mut diags)?;
    if check_mode {
        check_authkeys_mode(file)?;
    }
    finish(p, confdir, host, diags)
}

/// Reads an authkeys file on its own (for `inspect`). With `check_mode`, a file
/// that group or others can access is refused, as the daemon refuses it.
pub fn read_authkeys(
    path: &Path,
    check_mode: bool,
) -> Result<hb_core::auth::KeyTable, ConfigError> {
    if check_mode {
        check_authkeys_mode(path)?;
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::file(
            path,
            format!("Cannot open keyfile [{}]: {e}", path.display()),
            None,
        )
    })?;
    let mut diags = Diagnostics::default();
    let keys = authkeys::parse(path, &text, &mut diags);
    match keys {
        Some(keys) if !diags.has_errors() => Ok(keys),
        _ => Err(ConfigError {
            diagnostics: diags.into_vec(),
        }),
    }
}

fn finish(
    mut p: Partial,
    confdir: &Path,
    host: &HostCheck,
    mut diags: Diagnostics,
) -> Result<Loaded, ConfigError> {
    host.run(&p, Some(confdir), &mut diags);
    let written = p.written.take();
    let node_table = node_table(&p);
    let config = p.finish(&mut diags);
    let diagnostics = diags.into_vec();
    match config {
        Some(config) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            params: params::Params::build(written.as_ref(), &config),
            node_table,
            config,
            warnings: diagnostics,
            confdir: confdir.to_path_buf(),
        }),
        _ => Err(ConfigError { diagnostics }),
    }
}

/// Node names in the order of their lines (each once): 3.0.6 adds a node
/// to its table at each `node` value and each ping medium.
fn node_table(p: &Partial) -> Vec<String> {
    let mut named: Vec<(usize, &str)> = p
        .nodes
        .iter()
        .map(|n| (n.loc.line, n.value.as_str()))
        .chain(
            p.ping_nodes
                .iter()
                .map(|n| (n.loc.line, n.value.name.as_str())),
        )
        .collect();
    named.sort_by_key(|(line, _)| *line);
    let mut out: Vec<String> = Vec::new();
    for (_, name) in named {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

fn hint_for(name: &str) -> Option<String> {
    Some(match name {
        "haresources" => {
            "create it (an empty file if this cluster manages no resources); see conf/examples/"
                .into()
        }
        "authkeys" => "create it with `auth 1` and `1 sha1 SOME-LONG-KEY`, mode 600".into(),
        _ => "an annotated example is in conf/examples/seed/ha.cf".into(),
    })
}
