#!/usr/bin/env bash
# Packages the VS Code extension (editors/vscode) into editors/vscode/vst-recipes-<version>.vsix.
# Needs node ≥ 20 and npm, and the npm registry: the dependencies come from package-lock.json (`npm ci`) and the
# packager is @vscode/vsce, pinned here. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/../editors/vscode"
npm ci --no-audit --no-fund
npx --yes @vscode/vsce@3.9.2 package --skip-license --allow-missing-repository
ls -1 "$PWD"/*.vsix
