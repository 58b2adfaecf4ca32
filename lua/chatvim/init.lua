--- chatvim: chat with an LLM in a markdown file, through the chatvim-ls
--- language server. `setup()` is optional; see `:help chatvim`.
local config = require('chatvim.config')

local M = {}

---@type chatvim.Options
local options = config.resolve()

--- The options in effect.
---@return chatvim.Options
function M.options()
  return options
end

--- Configure the plugin and start the client for chat buffers.
---@param opts? table see `:help chatvim-options`
function M.setup(opts)
  local ok, resolved = pcall(config.resolve, opts)
  if not ok then
    local message = tostring(resolved):gsub('^.-:%d+: ', '')
    vim.notify('chatvim: bad option: ' .. message .. ' (see :help chatvim-options)', vim.log.levels.ERROR)
    return
  end
  options = resolved
  require('chatvim.commands').map(options.keymaps)
  require('chatvim.client').enable(options)
end

M.complete = function()
  require('chatvim.commands').complete()
end
M.stop = function()
  require('chatvim.commands').stop()
end
---@param where? 'left'|'right'|'top'|'bottom'
M.new = function(where)
  require('chatvim.commands').new(where)
end
M.fork = function()
  require('chatvim.commands').fork()
end
M.regenerate = function()
  require('chatvim.commands').regenerate()
end
M.continue_answer = function()
  require('chatvim.commands').continue_answer()
end

--- For statuslines: spinner, model or tokens while the current buffer
--- streams an answer, "" otherwise.
---@return string
function M.status()
  return require('chatvim.streams').status()
end

return M
