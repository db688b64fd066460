// Checks the TextMate grammar against the parser: every token of every recipe given must get, from VS Code's own
// tokenizer (vscode-textmate + vscode-oniguruma), the scope of the class the pest grammar gives it.
//
//   node editors/vscode/test/tokens.mjs [--vst PATH] [--grammar FILE] RECIPE.vst...
//
// The classes come from `vst fmt --tokens` (byte ranges over the parse tree: key, value, unit, ...). A token's
// TextMate class is read off its scope stack: the outermost scope that starts with one of CLASS_SCOPES' prefixes
// (so the quote of a string is a string, not punctuation). Every piece of every pest token must have exactly its
// class; and the pest tokens must cover every non-blank character, so that an empty dump cannot pass. Exit 0 when
// all agree, 1 with the disagreements listed, 2 on a usage or setup error.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

// Class (as `vst fmt --tokens` names it) → the scope prefix the grammar must give it. No prefix is a prefix of
// another, so a scope names at most one class.
const CLASS_SCOPES = {
  comment: "comment.line.number-sign.vst",
  keyword: "keyword.control.",
  key: "support.type.property-name.vst",
  value: "constant.other.value.vst",
  block: "entity.name.type.block.vst",
  label: "entity.name.label.vst",
  function: "entity.name.function.vst",
  name: "entity.name.variable.",
  number: "constant.numeric.",
  unit: "keyword.other.unit.vst",
  string: "string.quoted.double.vst",
  operator: "keyword.operator.",
  punctuation: "punctuation.",
};

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { vst: "vst", grammar: join(here, "..", "syntaxes", "vst.tmLanguage.json"), files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--vst" || a === "--grammar") {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      args[a.slice(2)] = argv[++i];
    } else if (a.startsWith("--")) {
      fail(`unknown option ${a}`);
    } else {
      args.files.push(a);
    }
  }
  if (args.files.length === 0) fail("usage: tokens.mjs [--vst PATH] [--grammar FILE] RECIPE.vst...");
  return args;
}

async function loadGrammar(path) {
  let textmate, oniguruma;
  try {
    textmate = require("vscode-textmate");
    oniguruma = require("vscode-oniguruma");
  } catch {
    fail("vscode-textmate / vscode-oniguruma are not installed: run `npm ci --prefix editors/vscode`");
  }
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.vst" ? textmate.parseRawGrammar(readFileSync(path, "utf8"), path) : null,
  });
  const grammar = await registry.loadGrammar("source.vst");
  if (!grammar) fail(`cannot load the grammar ${path}`);
  return { grammar, INITIAL: textmate.INITIAL };
}

/// The class a TextMate token has: its outermost scope that names one.
function scopeClass(scopes) {
  for (const scope of scopes) {
    for (const [cls, prefix] of Object.entries(CLASS_SCOPES)) {
      if (scope.startsWith(prefix)) return cls;
    }
  }
  return null;
}

/// UTF-8 byte offset → UTF-16 index, for every byte offset that starts a character (and the end).
function byteToUtf16(text) {
  const map = new Map();
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    map.set(bytes, i);
    bytes += Buffer.byteLength(ch, "utf8");
    i += ch.length;
  }
  map.set(bytes, i);
  return map;
}

/// TextMate tokens of the whole text, with absolute UTF-16 ranges.
function tokenize(grammar, INITIAL, text) {
  const tokens = [];
  let stack = INITIAL;
  let offset = 0;
  for (const line of text.split("\n")) {
    const result = grammar.tokenizeLine(line, stack);
    for (const t of result.tokens) {
      const start = offset + t.startIndex;
      const end = offset + Math.min(t.endIndex, line.length);
      if (start < end) tokens.push({ start, end, scopes: t.scopes });
    }
    stack = result.ruleStack;
    offset += line.length + 1;
  }
  return tokens;
}

function where(text, index) {
  const before = text.slice(0, index);
  const line = before.split("\n").length;
  return `${line}:${index - before.lastIndexOf("\n")}`;
}

/// Disagreements in one file, as lines of text; `counts` gets the number of tokens checked per class.
function checkFile(path, text, classes, grammar, INITIAL, counts) {
  const problems = [];
  const toUtf16 = byteToUtf16(text);
  const tm = tokenize(grammar, INITIAL, text);
  const covered = new Uint8Array(text.length);
  let k = 0;
  for (const [byteStart, byteEnd, cls] of classes) {
    const start = toUtf16.get(byteStart);
    const end = toUtf16.get(byteEnd);
    if (start === undefined || end === undefined || !(cls in CLASS_SCOPES)) {
      problems.push(`${path}: bad token [${byteStart}, ${byteEnd}, ${cls}] in the dump`);
      continue;
    }
    covered.fill(1, start, end);
    counts[cls] = (counts[cls] ?? 0) + 1;
    while (k < tm.length && tm[k].end <= start) k++;
    for (let j = k; j < tm.length && tm[j].start < end; j++) {
      const got = scopeClass(tm[j].scopes);
      if (got !== cls) {
        const piece = text.slice(Math.max(start, tm[j].start), Math.min(end, tm[j].end));
        problems.push(
          `${path}:${where(text, start)}: \`${text.slice(start, end)}\` is a ${cls} (${CLASS_SCOPES[cls]}) ` +
            `but the grammar gives \`${piece}\` ${got ?? "no class"} (${tm[j].scopes.join(" ")})`,
        );
        break;
      }
    }
  }
  for (let i = 0; i < text.length; i++) {
    if (!covered[i] && !/\s/.test(text[i])) {
      problems.push(`${path}:${where(text, i)}: \`${text[i]}\` has no token class in the dump`);
      break;
    }
  }
  return problems;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { grammar, INITIAL } = await loadGrammar(args.grammar);
  let dump;
  try {
    dump = JSON.parse(
      execFileSync(args.vst, ["fmt", "--tokens", ...args.files], { encoding: "utf8", maxBuffer: 1 << 28 }),
    );
  } catch (e) {
    fail(`\`${args.vst} fmt --tokens\` failed: ${e.message}`);
  }
  if (dump.length !== args.files.length) fail(`the dump has ${dump.length} files, not ${args.files.length}`);
  const counts = {};
  const problems = [];
  for (let f = 0; f < args.files.length; f++) {
    const text = readFileSync(args.files[f], "utf8");
    problems.push(...checkFile(args.files[f], text, dump[f].tokens, grammar, INITIAL, counts));
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const summary = Object.entries(counts)
    .sort()
    .map(([c, n]) => `${c} ${n}`)
    .join(", ");
  if (problems.length > 0) {
    for (const p of problems.slice(0, 50)) console.log(p);
    if (problems.length > 50) console.log(`... and ${problems.length - 50} more`);
    console.log(`FAILED: ${problems.length} disagreements in ${total} tokens of ${args.files.length} files`);
    process.exit(1);
  }
  console.log(`ok: ${total} tokens of ${args.files.length} files agree (${summary})`);
}

await main();
