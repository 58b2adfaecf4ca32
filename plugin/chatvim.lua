-- chatvim: user commands and the progress watcher, with no setup call.
-- The client starts with `require('chatvim').setup()` or `vim.lsp.enable('chatvim')` (lsp/chatvim.lua).
if vim.g.loaded_chatvim then
  return
end
vim.g.loaded_chatvim = true

require('chatvim.commands').create()
require('chatvim.client').watch()
require('chatvim.progress').attach()
