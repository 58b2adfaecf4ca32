--- The `chatvim` LSP client's configuration, for `vim.lsp.config` (0.11+)
--- or `vim.lsp.start` (0.10).
local server = require('chatvim.server')

local M = {}

---@param opts chatvim.Options
---@return vim.lsp.Config
function M.config(opts)
  return {
    name = 'chatvim',
    cmd = server.find(opts.cmd) or { 'chatvim-ls' },
    filetypes = opts.filetypes,
    init_options = opts.settings,
    -- The server sends the next piece of an answer when the last one is confirmed by didChange.
    flags = { debounce_text_changes = 0 },
    -- Versioned edits let the handler refuse one meant for an older buffer instead of losing it.
    capabilities = { workspace = { workspaceEdit = { documentChanges = true } } },
    handlers = { ['workspace/applyEdit'] = require('chatvim.edits').apply },
    on_exit = function()
      vim.schedule(require('chatvim.streams').forget_all) -- a crashed server sends no progress end
    end,
  }
end

--- The chatvim client attached to `bufnr`, if any.
---@param bufnr integer
---@return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ name = 'chatvim', bufnr = bufnr })[1]
end

return M
