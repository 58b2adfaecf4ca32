"""A pygls language server that does nothing: the start-up baseline for
bench/startup.py."""

from pygls.lsp.server import LanguageServer

if __name__ == "__main__":
    LanguageServer("bare", "0").start_io()
