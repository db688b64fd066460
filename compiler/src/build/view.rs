//! One cell's values in one scope: its typed settings, where each value was written (to point at it), and the
//! diagnostics about the cell (each names the cell).

use crate::check::collect::{Recipe, ScopeRef};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::expand::{Cell, Expanded, Resolved, cell_name};
use crate::schema::typed::{ReadError, Values};
use crate::syntax::Span;

/// Accessors over one cell's values in one scope; problems become diagnostics that name the cell.
pub(super) struct View<'a, 'd> {
    pub(super) recipe: &'a Recipe,
    expanded: &'a Expanded,
    cell: &'a Cell,
    scope: ScopeRef,
    diags: &'d mut Diagnostics,
    ok: bool,
}

impl<'a, 'd> View<'a, 'd> {
    pub(super) fn new(
        recipe: &'a Recipe,
        expanded: &'a Expanded,
        cell: &'a Cell,
        scope: ScopeRef,
        diags: &'d mut Diagnostics,
    ) -> View<'a, 'd> {
        View {
            recipe,
            expanded,
            cell,
            scope,
            diags,
            ok: true,
        }
    }

    /// False once an error was reported about this cell.
    pub(super) fn ok(&self) -> bool {
        self.ok
    }
    pub(super) fn get(&self, key: &str) -> Option<&Resolved> {
        let slot = self.expanded.slot(self.scope, key)?;
        self.cell.values.get(slot)
    }

    pub(super) fn user_span(&self, key: &str) -> Option<Span> {
        self.get(key).and_then(|r| r.origin.value_span())
    }

    /// Where an argument of a call-valued setting was given, else where the call was.
    pub(super) fn arg_span(&self, key: &str, arg: &str) -> Span {
        self.get(key)
            .and_then(|r| r.arg_origin(arg).value_span())
            .unwrap_or_else(|| self.span(key))
    }

    /// Where to point for a problem with `key`: where it was set, else the block it belongs to.
    pub(super) fn span(&self, key: &str) -> Span {
        debug_assert!(
            self.expanded.slot(self.scope, key).is_some(),
            "`{key}` is not a setting of {:?}",
            self.scope
        );
        let block = match self.scope {
            ScopeRef::Pretrain => self.recipe.pretrain,
            ScopeRef::Eval(i) => self.recipe.evals.get(i).map(|e| e.span),
        };
        self.user_span(key).or(block).unwrap_or_default()
    }

    pub(super) fn cell_note(&self) -> Option<String> {
        if self.recipe.axes.is_empty() {
            None
        } else {
            Some(format!("in the cell {}", cell_name(self.recipe, self.cell)))
        }
    }

    pub(super) fn report(&mut self, mut d: Diagnostic) {
        if d.is_error() {
            self.ok = false;
        }
        if let Some(note) = self.cell_note() {
            d = d.note(note);
        }
        self.diags.push(d);
    }

    pub(super) fn error_at(&mut self, kind: Kind, key: &str, message: String) -> Diagnostic {
        Diagnostic::error(kind, message).at(self.span(key))
    }

    pub(super) fn warning_at(&mut self, kind: Kind, key: &str, message: String) -> Diagnostic {
        Diagnostic::warning(kind, message).at(self.span(key))
    }

    /// The cell's typed settings in this scope; a value that does not fit its field is a compiler bug, reported
    /// as one (never read as 0 or `""`).
    pub(super) fn read<T>(&mut self, read: fn(&Values<'_>) -> Result<T, ReadError>) -> Option<T> {
        let result = read(&|key| self.get(key).and_then(|r| r.value.as_ref()));
        match result {
            Ok(settings) => Some(settings),
            Err(e) => {
                let d = Diagnostic::error(Kind::Internal, format!("internal error: {e}"))
                    .at(self.span(e.key()))
                    .note(
                        "the checker accepted a value the compiler cannot use; please report this",
                    );
                self.report(d);
                None
            }
        }
    }
}
