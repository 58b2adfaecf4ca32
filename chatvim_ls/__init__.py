"""chatvim-ls: chat with an LLM inside a markdown file, from any LSP editor."""

__version__ = "0.1.0"
