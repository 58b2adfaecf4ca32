--- Options of the chatvim plugin and their defaults.
---
--- `require('chatvim').setup(opts)` merges `opts` over these; without a
--- setup call the defaults are used as they are.
local M = {}

---@class chatvim.Options
---@field cmd? string[]         command that starts chatvim-ls (default: found, see chatvim.server)
---@field filetypes string[]    filetypes the client attaches to
---@field chat_dir? string      where :ChatvimNew puts chats (default: the current directory)
---@field model? string         the model :ChatvimNew writes in the front matter (default: none, the server picks)
---@field progress 'inline'|'none' the spinner: at the end of the line the answer is written on, or none
---@field keymaps boolean|table<string, string> true: chatvim's <Leader>cv… set; or { lhs = 'complete'|'stop'|'new' }
---@field settings? table       sent to the server as initializationOptions (providers, flush, timeouts)
M.defaults = {
  cmd = nil,
  filetypes = { 'markdown' },
  chat_dir = nil,
  model = nil,
  progress = 'inline',
  keymaps = false,
  settings = nil,
}

--- chatvim.nvim's keymaps, installed only with `keymaps = true`.
M.chatvim_keymaps = {
  ['<Leader>cvc'] = 'complete',
  ['<Leader>cvs'] = 'stop',
  ['<Leader>cvnn'] = 'new',
  ['<Leader>cvnl'] = 'new left',
  ['<Leader>cvnr'] = 'new right',
  ['<Leader>cvnt'] = 'new top',
  ['<Leader>cvnb'] = 'new bottom',
}

---@param opts? table
---@return chatvim.Options
function M.resolve(opts)
  vim.validate({ opts = { opts, 'table', true } })
  local resolved = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  if resolved.progress == 'float' then -- the old float (it hid text) is now the inline spinner
    resolved.progress = 'inline'
  end
  vim.validate({
    progress = { resolved.progress, function(v)
      return v == 'inline' or v == 'none'
    end, "'inline' or 'none'" },
    filetypes = { resolved.filetypes, 'table' },
    cmd = { resolved.cmd, 'table', true },
  })
  return resolved
end

return M
