//! The open documents: their text as the editor has it (which overrides the file on disk, also for a file another
//! one includes), and the last compilation of each.

use lsp_types::Url;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vst_compiler::load::{FsLoader, Loader};
use vst_compiler::{Compilation, Options};

pub struct Document {
    pub uri: Url,
    pub path: PathBuf,
    pub text: String,
    /// The compilation of this text with its includes, redone on every change.
    pub compilation: Option<Compilation>,
    /// The last compilation that got as far as names (the text parsed), kept while an edit does not parse, for
    /// completion and definitions.
    parsed: Option<Compilation>,
}

impl Document {
    /// The latest compilation that knows the recipe's names (data, axes, evaluations).
    pub fn names(&self) -> Option<&Compilation> {
        [&self.compilation, &self.parsed]
            .into_iter()
            .flatten()
            .find(|c| c.recipe.is_some())
    }

    /// The URI of a file of this document's compilation: its own for itself.
    pub fn uri_of(&self, path: &Path) -> Option<Url> {
        if path == self.path {
            Some(self.uri.clone())
        } else {
            uri_of(path)
        }
    }
}

#[derive(Default)]
pub struct Documents {
    pub open: HashMap<Url, Document>,
}

/// Open documents first, then the file system.
struct Overlay<'a>(&'a HashMap<Url, Document>);

impl Loader for Overlay<'_> {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        match self.0.values().find(|d| same_file(&d.path, path)) {
            Some(doc) => Ok(doc.text.clone()),
            None => FsLoader.load(path),
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// The path of a `file:` URI, relative to the server's folder (the editor's project) when it is inside it, so that
/// messages name files as `vst check` run there does; other schemes (an unsaved buffer) get a path made of the URI,
/// which includes cannot be relative to but which still compiles on its own.
pub fn path_of(uri: &Url) -> PathBuf {
    let Ok(path) = uri.to_file_path() else {
        return PathBuf::from(uri.as_str());
    };
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(path)
}

pub fn uri_of(path: &Path) -> Option<Url> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    Url::from_file_path(absolute).ok()
}

impl Documents {
    /// Opens or replaces a document and compiles it.
    pub fn set(&mut self, uri: Url, text: String) {
        let path = path_of(&uri);
        let parsed = self.open.remove(&uri).and_then(|mut d| {
            if d.compilation.as_ref().is_some_and(|c| c.recipe.is_some()) {
                d.compilation.take()
            } else {
                d.parsed.take()
            }
        });
        self.open.insert(
            uri.clone(),
            Document {
                uri: uri.clone(),
                path,
                text,
                compilation: None,
                parsed,
            },
        );
        self.recompile(&uri);
    }

    pub fn close(&mut self, uri: &Url) {
        self.open.remove(uri);
    }

    pub fn get(&self, uri: &Url) -> Option<&Document> {
        self.open.get(uri)
    }

    /// The other open documents whose last compilation read the document `uri` (they include it).
    pub fn including(&self, uri: &Url) -> Vec<Url> {
        let Some(path) = self.open.get(uri).map(|d| d.path.as_path()) else {
            return Vec::new();
        };
        self.open
            .iter()
            .filter(|(u, d)| {
                *u != uri
                    && d.compilation
                        .as_ref()
                        .is_some_and(|c| c.sources.files().any(|(_, f)| same_file(&f.path, path)))
            })
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// Compiles one open document with its includes (open ones as the editor has them).
    pub fn recompile(&mut self, uri: &Url) {
        let Some(path) = self.open.get(uri).map(|d| d.path.clone()) else {
            return;
        };
        let compilation = compile(&self.open, &path);
        if let Some(doc) = self.open.get_mut(uri) {
            doc.compilation = compilation;
        }
    }
}

fn compile(open: &HashMap<Url, Document>, path: &Path) -> Option<Compilation> {
    let loader = Overlay(open);
    let options = Options {
        loader: &loader,
        env: &|name| std::env::var(name).ok(),
    };
    vst_compiler::compile(path, &options).ok()
}
