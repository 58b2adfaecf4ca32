#!/usr/bin/env bash
# Neovim 0.10 and Emacs 30 (with its own eglot, 1.17) for the editor tests:
# Debian 12 has neither, Debian 13 (trixie) has both. Their packages, with
# every library they need down to libc, are unpacked (never installed: the
# system stays as it is) into a cache, and each binary is pointed at the
# unpacked libc's loader and libraries (patchelf, unpacked too), so that it
# runs, and starts itself again (Neovim's TUI does), as any program does:
#
#   $CACHE/bin/nvim-0.10, $CACHE/bin/emacs-30     (CACHE: ~/.cache/chatvim-ls-e2e/trixie)
#
# tests/test_nvim_lspconfig.py and tests/test_emacs.py use them when they
# are there, and skip those variants when not. .ci/run runs this script; run
# it yourself to have them locally (about 100 MB, a minute). Needs apt-get and
# dpkg, on x86-64 Debian (its archive keyring checks trixie's packages); not root.
set -euo pipefail
CACHE=${CHATVIM_E2E_CACHE:-$HOME/.cache/chatvim-ls-e2e}/trixie
ROOT=$CACHE/root
LIBS=$ROOT/usr/lib/x86_64-linux-gnu
if "$CACHE/bin/nvim-0.10" --version >/dev/null 2>&1 && "$CACHE/bin/emacs-30" --version >/dev/null 2>&1; then
    exit 0
fi
rm -rf "$CACHE"
mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache" "$CACHE/debs/partial" "$CACHE/bin" "$ROOT"
echo "deb http://deb.debian.org/debian trixie main" >"$CACHE/apt/sources.list"
apt=(-o "Dir::Etc::sourcelist=$CACHE/apt/sources.list" -o Dir::Etc::sourceparts=-
     -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache"
     -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0
     -o "APT::Sandbox::User=$(id -un)"
     -o "Dir::Cache::archives=$CACHE/debs")
apt-get "${apt[@]}" -qq update
# (the status file is empty: apt fetches every dependency, libc included)
apt-get "${apt[@]}" -qq -y --download-only --no-install-recommends install neovim emacs-nox elpa-markdown-mode patchelf >/dev/null
for deb in "$CACHE"/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
rm -rf "$CACHE/debs" "$CACHE/apt"
for binary in "$ROOT/usr/bin/nvim" "$ROOT/usr/bin/emacs-nox"; do
    # (an RPATH, not a RUNPATH: it holds for the libraries' own libraries too)
    "$LIBS/ld-linux-x86-64.so.2" --library-path "$LIBS" "$ROOT/usr/bin/patchelf" \
        --set-interpreter "$LIBS/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$LIBS" "$binary"
done

cat >"$CACHE/bin/nvim-0.10" <<EOF
#!/bin/sh
VIMRUNTIME='$ROOT/usr/share/nvim/runtime' exec '$ROOT/usr/bin/nvim' "\$@"
EOF
dump=$(ls "$ROOT"/usr/libexec/emacs/30.*/x86_64-linux-gnu/*.pdmp)
share=$(ls -d "$ROOT"/usr/share/emacs/30.*)
libexec=$(dirname "$dump")
# EMACSLOADPATH without a trailing colon: none of the system's Emacs 28 lisp
# (nor its eglot 1.9) gets in. Markdown mode is a package in elpa-src.
cat >"$CACHE/bin/emacs-30" <<EOF
#!/bin/sh
EMACSLOADPATH='$share/lisp' EMACSDATA='$share/etc' EMACSPATH='$libexec' \
    exec '$ROOT/usr/bin/emacs-nox' --dump-file='$dump' "\$@"
EOF
echo "$ROOT/usr/share/emacs/site-lisp/elpa-src" >"$CACHE/emacs-30-packages"
chmod +x "$CACHE/bin/nvim-0.10" "$CACHE/bin/emacs-30"
"$CACHE/bin/nvim-0.10" --version | head -1
"$CACHE/bin/emacs-30" --version | head -1
