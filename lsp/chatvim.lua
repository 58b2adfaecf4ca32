-- The chatvim-ls client for `vim.lsp.enable('chatvim')` (Neovim 0.11+), with
-- the plugin's defaults; `require('chatvim').setup(opts)` overrides them.
return require('chatvim.lsp').config(require('chatvim').options())
