--- Starting the `chatvim` client: `vim.lsp.config` + `vim.lsp.enable` on
--- Neovim 0.11+, `vim.lsp.start` on markdown buffers on 0.10.
local lsp = require('chatvim.lsp')

local M = {}


---@param opts chatvim.Options
function M.enable(opts)
  if not require('chatvim.server').find(opts.cmd) then
    vim.notify('chatvim: ' .. require('chatvim.server').install_hint, vim.log.levels.ERROR)
    return
  end
  local config = lsp.config(opts)
  if vim.lsp.config then
    vim.lsp.config('chatvim', config)
    vim.lsp.enable('chatvim')
    return
  end
  local group = vim.api.nvim_create_augroup('chatvim.start', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = opts.filetypes,
    callback = function(args)
      vim.lsp.start(config, { bufnr = args.buf })
    end,
  })
end

--- Follow the chatvim client's progress (called once, by the plugin).
function M.watch()
  local streams = require('chatvim.streams')
  local group = vim.api.nvim_create_augroup('chatvim.watch', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'chatvim' then
        streams.progress(args.data.params.token, args.data.params.value)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == 'chatvim' then
        streams.forget_buffer(args.buf)
        require('chatvim.edits').forget(args.buf)
      end
    end,
  })
end

return M
