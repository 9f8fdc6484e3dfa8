//! Diagnostics: every problem names its file and line, says what is wrong, and
//! suggests the fix where one is obvious.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    /// The file, as the operator named it.
    pub file: Arc<Path>,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
}

impl Loc {
    /// A line of a file.
    pub fn new(file: &Arc<Path>, line: usize) -> Loc {
        Loc {
            file: Arc::clone(file),
            line,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// Its location.
    pub loc: Loc,
}

impl<T> At<T> {
    /// Pairs a value with its location.
    pub fn new(value: T, loc: Loc) -> At<T> {
        At { value, loc }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; the configuration is used as is.
    Warning,
    /// The configuration is refused.
    Error,
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// File and line.
    pub loc: Loc,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when obvious.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {level}: {}", self.loc, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while reading; reading goes on after an error so the
/// operator sees every problem at once.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records an error.
    pub fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Severity::Error, loc, message.into(), None);
    }

    /// Records an error with a hint.
    pub fn error_hint(&mut self, loc: &Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Error, loc, message.into(), Some(hint.into()));
    }

    /// Records a warning.
    pub fn warn(&mut self, loc: &Loc, message: impl Into<String>) {
        self.push(Severity::Warning, loc, message.into(), None);
    }

    /// Records a warning with a hint.
    pub fn warn_hint(&mut self, loc: &Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Severity::Warning, loc, message.into(), Some(hint.into()));
    }

    fn push(&mut self, severity: Severity, loc: &Loc, message: String, hint: Option<String>) {
        self.items.push(Diagnostic {
            severity,
            loc: loc.clone(),
            message,
            hint,
        });
    }

    /// How many errors were recorded.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// True if any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Everything recorded, in order.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Appends one diagnostic as it is.
    pub fn push_diagnostic(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Appends another collector's diagnostics.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

/// A configuration that was refused: every diagnostic found (errors and warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// All diagnostics, in file order; at least one is an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// A refusal with one error about a whole file.
    pub fn file(path: &Path, message: impl Into<String>, hint: Option<String>) -> ConfigError {
        ConfigError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                loc: Loc {
                    file: Arc::from(path),
                    line: 0,
                },
                message: message.into(),
                hint,
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The file name an operator would look for, for messages.
pub(crate) fn shared_path(p: impl Into<PathBuf>) -> Arc<Path> {
    Arc::from(p.into().into_boxed_path())
}
