//! Reading a recipe and the files it includes with `use "path"` (relative to the including file), each file once,
//! includes before the file that includes them, so that later settings override earlier ones.

use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::{File, StmtKind};
use crate::syntax::{self, Span};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Where source text comes from: the file system, or memory in tests.
pub trait Loader {
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Files held in memory, by path (for tests).
#[derive(Default)]
pub struct MemoryLoader {
    pub files: HashMap<PathBuf, String>,
}

impl MemoryLoader {
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> MemoryLoader {
        MemoryLoader {
            files: files
                .into_iter()
                .map(|(p, t)| (normalize(Path::new(p)), t.to_string()))
                .collect(),
        }
    }
}

impl Loader for MemoryLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(&normalize(path)).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
        })
    }
}

/// The parsed files of one recipe.
pub struct Loaded {
    pub sources: SourceMap,
    /// Every file once, each after the files it includes; the root file last.
    pub files: Vec<(FileId, File)>,
    pub root: FileId,
}

/// The root file could not be read (a usage error, not a recipe error).
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`: {source}")]
pub struct RootError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

pub fn load(
    root: &Path,
    loader: &dyn Loader,
    diags: &mut Diagnostics,
) -> Result<Loaded, RootError> {
    let text = loader.load(root).map_err(|source| RootError {
        path: root.to_path_buf(),
        source,
    })?;
    let mut state = State {
        loader,
        sources: SourceMap::new(),
        files: Vec::new(),
        done: HashMap::new(),
        stack: Vec::new(),
    };
    let root_id = state.sources.add(root.to_path_buf(), text);
    state.visit(root_id, diags);
    Ok(Loaded {
        sources: state.sources,
        files: state.files,
        root: root_id,
    })
}

struct State<'a> {
    loader: &'a dyn Loader,
    sources: SourceMap,
    files: Vec<(FileId, File)>,
    /// Normalised path → file, for files already read.
    done: HashMap<PathBuf, FileId>,
    /// Files being read (for cycle detection), with the `use` that led to the next one.
    stack: Vec<(PathBuf, Option<Span>)>,
}

impl State<'_> {
    fn visit(&mut self, id: FileId, diags: &mut Diagnostics) {
        let Some(source) = self.sources.get(id) else {
            return;
        };
        let path = source.path.clone();
        let key = normalize(&path);
        self.done.insert(key.clone(), id);
        let file = match syntax::parse(&source.text, id) {
            Ok(file) => file,
            Err(d) => {
                diags.push(d);
                return;
            }
        };
        self.stack.push((key, None));
        let mut seen_other = false;
        for stmt in &file.stmts {
            let StmtKind::Use(target) = &stmt.kind else {
                seen_other = true;
                continue;
            };
            if seen_other {
                diags.push(
                    Diagnostic::error(Kind::UseNotFirst, "`use` must come before the other statements of a file")
                        .at(stmt.span)
                        .help("move it to the top: included settings come first, so that this file can override them"),
                );
            }
            let include = normalize(&path.parent().unwrap_or(Path::new("")).join(&target.value));
            let include_key = include.clone();
            if let Some(position) = self.stack.iter().position(|(p, _)| *p == include_key) {
                let mut chain: Vec<String> = self.stack[position..]
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect();
                chain.push(include_key.display().to_string());
                diags.push(
                    Diagnostic::error(Kind::IncludeCycle, "include cycle")
                        .label(
                            target.span,
                            "this includes a file that is already being included",
                        )
                        .note(chain.join(" → ")),
                );
                continue;
            }
            if self.done.contains_key(&include_key) {
                // Included already (by this or another file): once is enough, and a second copy would undo overrides.
                continue;
            }
            match self.loader.load(&include) {
                Ok(text) => {
                    if let Some(top) = self.stack.last_mut() {
                        top.1 = Some(target.span);
                    }
                    let child = self.sources.add(include.clone(), text);
                    self.visit(child, diags);
                }
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            Kind::UnreadableInclude,
                            format!("cannot read `{}`: {e}", include.display()),
                        )
                        .label(target.span, "included here")
                        .help("`use` paths are relative to the file that contains them"),
                    );
                }
            }
        }
        self.stack.pop();
        self.files.push((id, file));
    }
}

/// `a/./b/../c` → `a/c`, lexically (the files may not exist, e.g. in tests).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let at_top = matches!(
                    out.components().next_back(),
                    None | Some(Component::ParentDir)
                );
                if at_top {
                    out.push("..");
                } else {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
