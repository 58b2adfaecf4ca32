--- Finding the chatvim-ls command: `opts.cmd`, else `chatvim-ls` on PATH,
--- else the virtual environment the lazy.nvim build step makes inside the
--- plugin directory.
local M = {}

M.install_hint = 'chatvim-ls not found: build it as :help chatvim-install says, or set cmd in setup()'

--- The plugin's own directory (this file is lua/chatvim/server.lua in it).
---@return string
function M.plugin_dir()
  local source = debug.getinfo(1, 'S').source:sub(2)
  return vim.fn.fnamemodify(source, ':p:h:h:h')
end

---@param cmd? string[]
---@return string[]? command, or nil when nothing is found
function M.find(cmd)
  if cmd then
    return cmd
  end
  if vim.fn.executable('chatvim-ls') == 1 then
    return { 'chatvim-ls' }
  end
  local built = M.plugin_dir() .. '/.venv/bin/chatvim-ls'
  if vim.fn.executable(built) == 1 then
    return { built }
  end
  return nil
end

return M
