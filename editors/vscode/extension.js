// The VS Code client of `vst lsp`: starts the server over stdio for `.vst` files and restarts it when the
// `vst.*` settings change. Highlighting needs no server: it comes from syntaxes/vst.tmLanguage.json.

"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;
let watcher;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("vst");
  const command = config.get("path") || "vst";
  const args = ["lsp", ...config.get("extraArgs", [])];
  return { command, args };
}

async function start() {
  client = new LanguageClient(
    "vst",
    "vst language server",
    serverOptions(),
    {
      documentSelector: [{ language: "vst" }],
      synchronize: { fileEvents: watcher },
    },
  );
  try {
    await client.start();
  } catch (e) {
    const path = vscode.workspace.getConfiguration("vst").get("path");
    vscode.window.showErrorMessage(
      `Cannot start \`${path} lsp\`: ${e.message}. Set \`vst.path\` to the vst executable.`,
    );
  }
}

async function stop() {
  if (client) {
    const old = client;
    client = undefined;
    await old.stop().catch(() => {});
  }
}

async function restart() {
  await stop();
  await start();
}

async function activate(context) {
  watcher = vscode.workspace.createFileSystemWatcher("**/*.vst");
  context.subscriptions.push(
    watcher,
    vscode.commands.registerCommand("vst.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("vst.path") || e.affectsConfiguration("vst.extraArgs")) {
        restart();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
