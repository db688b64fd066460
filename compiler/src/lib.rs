//! The `.vst` recipe compiler. Data flows one way: text → AST (with spans) → checked recipe → expanded sweep
//! cells → [`vst_spec::Plan`]. The compiler never touches tensors.
//!
//! ```text
//! load (use)  →  syntax::parse  →  check::collect  →  expand  →  build  →  lower
//!   files          AST + spans       keys, types,       cells,     job       Plan (DAG,
//!                                    units, ranges      origins    configs   content hashes)
//! ```

pub mod build;
pub mod check;
pub mod diagnostic;
pub mod expand;
mod lints;
pub mod load;
pub mod lower;
pub mod render;
pub mod schema;
pub mod source;
pub mod syntax;

use build::{CellBuilder, DataInfo};
use check::collect::Recipe;
use diagnostic::Diagnostics;
use expand::Expanded;
use load::{Loader, RootError};
use source::SourceMap;
use std::path::Path;
use vst_spec::Plan;

/// What a compilation needs from the outside world.
pub struct Options<'a> {
    pub loader: &'a dyn Loader,
    /// Environment variables for `env("VAR")`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Options<'static> {
    /// The file system and the process environment.
    pub fn system() -> Options<'static> {
        static LOADER: load::FsLoader = load::FsLoader;
        Options {
            loader: &LOADER,
            env: &|name| std::env::var(name).ok(),
        }
    }
}

/// Everything known about one recipe after compiling it: its sources, the diagnostics, and — when it has no
/// errors — its expanded cells and its plan.
pub struct Compilation {
    pub sources: SourceMap,
    pub diagnostics: Diagnostics,
    pub recipe: Option<Recipe>,
    pub expanded: Option<Expanded>,
    pub datasets: Vec<(String, DataInfo)>,
    pub plan: Option<Plan>,
    pub graph: Option<petgraph::graph::DiGraph<usize, ()>>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// The rendered diagnostics (and a summary line), without colour unless asked.
    pub fn render_diagnostics(&self, color: bool) -> String {
        self.diagnostics.render(&self.sources, color)
    }

    /// A recipe with no `pretrain` block (e.g. a file of shared settings meant to be included).
    pub fn is_fragment(&self) -> bool {
        self.recipe.as_ref().is_some_and(|r| r.pretrain.is_none())
    }
}

/// Loads, checks, expands and lowers the recipe at `path`. Only an unreadable root file is an `Err`; everything
/// wrong with the recipe itself is in [`Compilation::diagnostics`].
pub fn compile(path: &Path, options: &Options<'_>) -> Result<Compilation, RootError> {
    let mut diags = Diagnostics::default();
    let loaded = load::load(path, options.loader, &mut diags)?;
    let mut out = Compilation {
        sources: loaded.sources,
        diagnostics: Diagnostics::default(),
        recipe: None,
        expanded: None,
        datasets: Vec::new(),
        plan: None,
        graph: None,
    };
    if diags.has_errors() {
        out.diagnostics = diags;
        return Ok(out);
    }
    let recipe = check::collect::collect(&loaded.files, loaded.root, options.env, &mut diags);
    // Later stages would mostly repeat what is already reported (a misspelt key is also a missing setting).
    if diags.has_errors() || recipe.pretrain.is_none() {
        out.diagnostics = diags;
        out.recipe = Some(recipe);
        return Ok(out);
    }
    let expanded = expand::expand(&recipe, &mut diags);
    let datasets = build::datasets(&recipe);
    let mut built = Vec::with_capacity(expanded.cells.len());
    {
        let mut builder = CellBuilder {
            recipe: &recipe,
            expanded: &expanded,
            datasets: &datasets,
            diags: &mut diags,
        };
        for cell in &expanded.cells {
            if let Some(b) = builder.build(cell) {
                built.push((cell, b));
            }
        }
    }
    if !diags.has_errors() {
        lints::lint(&recipe, &expanded, &mut diags);
        let lowered = lower::lower(&recipe, &built, &path.display().to_string(), &mut diags);
        out.plan = Some(lowered.plan);
        out.graph = Some(lowered.graph);
    }
    drop(built);
    out.diagnostics = diags;
    out.datasets = datasets;
    out.expanded = Some(expanded);
    out.recipe = Some(recipe);
    Ok(out)
}
