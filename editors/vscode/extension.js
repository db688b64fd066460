// The VS Code client of `vst lsp`: starts the server over stdio for `.vst` files and restarts it when the
// `vst.*` settings change. Highlighting needs no server: it comes from syntaxes/vst.tmLanguage.json.

"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("vst");
  const command = config.get("path") || "vst";
  const args = ["lsp", ...config.get("extraArgs", [])];
  return { command, args };
}

async function start(context) {
  client = new LanguageClient(
    "vst",
    "vst language server",
    serverOptions(),
    {
      documentSelector: [{ language: "vst" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.vst") },
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
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

async function restart(context) {
  if (client) {
    await client.stop().catch(() => {});
    client = undefined;
  }
  await start(context);
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("vst.restartServer", () => restart(context)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("vst.path") || e.affectsConfiguration("vst.extraArgs")) {
        restart(context);
      }
    }),
  );
  await start(context);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
