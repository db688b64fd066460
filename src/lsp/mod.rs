//! `vst lsp`: a language server over stdio. On every change it compiles the open recipe with its includes and
//! publishes the compiler's diagnostics; it answers hover (the schema's documentation and, per sweep cell, the
//! resolved value and its origin), completion (from the schema), go to definition (`use` paths, data and axis
//! names), formatting (`vst fmt`) and document symbols.
//!
//! [`Server::handle`] turns one incoming message into the messages to send back, so the server can be driven
//! in-process (tests, `vst bench lsp`) exactly as over stdio.

mod completion;
mod context;
mod definition;
mod diagnostics;
mod documents;
mod hover;
mod position;
mod symbols;
#[cfg(test)]
mod tests;

use documents::Documents;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _,
};
use lsp_types::{
    CompletionOptions, HoverProviderCapability, OneOf, PublishDiagnosticsParams,
    ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Url,
};
use std::collections::{BTreeMap, BTreeSet};

/// What the server offers, sent in answer to `initialize`.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![":".into(), " ".into(), "(".into(), ".".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Serves the Language Server Protocol on stdin/stdout until the client says `exit`.
pub fn run() -> anyhow::Result<()> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities())?;
    let (id, _params) = connection.initialize_start()?;
    connection.initialize_finish(
        id,
        serde_json::json!({
            "capabilities": capabilities,
            "serverInfo": { "name": "vst", "version": env!("CARGO_PKG_VERSION") },
        }),
    )?;
    let mut server = Server::default();
    for message in &connection.receiver {
        if let Message::Request(request) = &message
            && connection.handle_shutdown(request)?
        {
            break;
        }
        // The protocol: `exit` without `shutdown` first ends the server with a failure status.
        if let Message::Notification(n) = &message
            && n.method == "exit"
        {
            anyhow::bail!("the client said `exit` without `shutdown` first");
        }
        for out in server.handle_safely(message) {
            connection.sender.send(out)?;
        }
    }
    drop(connection);
    io_threads.join()?;
    Ok(())
}

#[derive(Default)]
pub struct Server {
    documents: Documents,
    /// For each open document, what its last compilation found, by file. A file is published with what every
    /// open recipe found in it (an included file is checked as part of each recipe that includes it).
    found: BTreeMap<Url, BTreeMap<Url, Vec<lsp_types::Diagnostic>>>,
}

impl Server {
    /// One incoming message → the messages to send back (a response, published diagnostics).
    pub fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Request(request) => vec![Message::Response(self.request(request))],
            Message::Notification(n) => self.notification(n),
            Message::Response(_) => Vec::new(),
        }
    }

    /// [`Server::handle`], but a bug that panics answers the request with an error (its message is on stderr)
    /// instead of ending the session: the editor keeps its server while the text is being typed.
    pub fn handle_safely(&mut self, message: Message) -> Vec<Message> {
        let id = match &message {
            Message::Request(r) => Some(r.id.clone()),
            _ => None,
        };
        let handled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(message)));
        handled.unwrap_or_else(|_| {
            id.map(|id| {
                Message::Response(Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    "internal error in vst lsp (see its stderr)".into(),
                ))
            })
            .into_iter()
            .collect()
        })
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => answer::<HoverRequest>(request, |p| {
                let at = p.text_document_position_params;
                let doc = self.documents.get(&at.text_document.uri)?;
                hover::hover(doc, at.position)
            }),
            Completion::METHOD => answer::<Completion>(request, |p| {
                let at = p.text_document_position;
                let doc = self.documents.get(&at.text_document.uri)?;
                Some(completion::complete(doc, at.position).into())
            }),
            GotoDefinition::METHOD => answer::<GotoDefinition>(request, |p| {
                let at = p.text_document_position_params;
                let doc = self.documents.get(&at.text_document.uri)?;
                definition::definition(doc, at.position).map(Into::into)
            }),
            Formatting::METHOD => answer::<Formatting>(request, |p| {
                let doc = self.documents.get(&p.text_document.uri)?;
                format(&doc.text)
            }),
            DocumentSymbolRequest::METHOD => answer::<DocumentSymbolRequest>(request, |p| {
                let doc = self.documents.get(&p.text_document.uri)?;
                symbols::symbols(doc).map(Into::into)
            }),
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("unknown method `{}`", request.method),
            )),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn notification(&mut self, n: Notification) -> Vec<Message> {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(p) = params::<DidOpenTextDocument>(n) else {
                    return Vec::new();
                };
                self.change(p.text_document.uri, p.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let Some(p) = params::<DidChangeTextDocument>(n) else {
                    return Vec::new();
                };
                // Full sync: the last change holds the whole text.
                match p.content_changes.into_iter().last() {
                    Some(change) => self.change(p.text_document.uri, change.text),
                    None => Vec::new(),
                }
            }
            DidCloseTextDocument::METHOD => {
                let Some(p) = params::<DidCloseTextDocument>(n) else {
                    return Vec::new();
                };
                let uri = p.text_document.uri;
                self.documents.close(&uri);
                let mut touched = BTreeSet::from([uri.clone()]);
                touched.extend(self.found.remove(&uri).unwrap_or_default().into_keys());
                self.publish_all(touched)
            }
            _ => Vec::new(),
        }
    }

    /// A document opened or changed: compile it, and the open recipes that include it, and publish the diagnostics
    /// of every file whose findings may have changed (clearing those of files no longer affected).
    fn change(&mut self, uri: Url, text: String) -> Vec<Message> {
        self.documents.set(uri.clone(), text);
        let mut touched = BTreeSet::new();
        self.found_in(&uri, &mut touched);
        for dependent in self.documents.including(&uri) {
            self.documents.recompile(&dependent);
            self.found_in(&dependent, &mut touched);
        }
        self.publish_all(touched)
    }

    /// Records what the last compilation of `uri` found; adds the files concerned, before and now, to `touched`.
    fn found_in(&mut self, uri: &Url, touched: &mut BTreeSet<Url>) {
        let by_file = match self.documents.get(uri).and_then(|d| d.compilation.as_ref()) {
            Some(compilation) => diagnostics::by_file(uri, compilation),
            None => BTreeMap::from([(uri.clone(), Vec::new())]),
        };
        touched.extend(by_file.keys().cloned());
        if let Some(before) = self.found.insert(uri.clone(), by_file) {
            touched.extend(before.into_keys());
        }
    }

    /// Publishes each file with what the open recipes found in it (each finding once).
    fn publish_all(&self, files: BTreeSet<Url>) -> Vec<Message> {
        files
            .into_iter()
            .map(|file| {
                let mut all: Vec<lsp_types::Diagnostic> = Vec::new();
                for d in self
                    .found
                    .values()
                    .filter_map(|by_file| by_file.get(&file))
                    .flatten()
                {
                    if !all.contains(d) {
                        all.push(d.clone());
                    }
                }
                publish(file, all)
            })
            .collect()
    }
}

type Answer = Result<serde_json::Value, (ErrorCode, String)>;

/// Decodes a request's parameters, runs `f`, encodes its result (`None` is `null`).
fn answer<R: lsp_types::request::Request>(
    request: Request,
    f: impl FnOnce(R::Params) -> R::Result,
) -> Answer {
    let params: R::Params = serde_json::from_value(request.params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters: {e}")))?;
    serde_json::to_value(f(params)).map_err(|e| {
        (
            ErrorCode::InternalError,
            format!("cannot encode the result: {e}"),
        )
    })
}

fn params<N: lsp_types::notification::Notification>(n: Notification) -> Option<N::Params> {
    serde_json::from_value(n.params).ok()
}

fn publish(uri: Url, diagnostics: Vec<lsp_types::Diagnostic>) -> Message {
    Message::Notification(Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    ))
}

/// `vst fmt`'s canonical text as one edit of the whole document; no edit when it is canonical already or does not
/// parse (its diagnostics say why).
fn format(text: &str) -> Option<Vec<TextEdit>> {
    let file = vst_compiler::syntax::parse(text, vst_compiler::source::FileId(0)).ok()?;
    let formatted = vst_compiler::syntax::format_file(&file);
    if formatted == text {
        return Some(Vec::new());
    }
    let source = vst_compiler::source::SourceFile::new("".into(), text.to_string());
    Some(vec![TextEdit::new(
        position::range(&source, 0, text.len()),
        formatted,
    )])
}
