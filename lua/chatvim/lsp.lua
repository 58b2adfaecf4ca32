--- The `chatvim` LSP client's configuration, for `vim.lsp.config` (0.11+)
--- or `vim.lsp.start` (0.10).
local server = require('chatvim.server')

local M = {}

---@class chatvim.Restarts
---@field times number[]

--- At most 3 automatic restarts a minute: a server that dies at once is not restarted forever.
---@return chatvim.Restarts
local function new_restarts()
  return { times = {} }
end

---@param restarts chatvim.Restarts
---@return boolean
local function allow_restart(restarts)
  local now = vim.uv.now()
  restarts.times = vim.tbl_filter(function(t)
    return now - t < 60000
  end, restarts.times)
  table.insert(restarts.times, now)
  return #restarts.times <= 3
end

---@param opts chatvim.Options
---@param restarts? chatvim.Restarts carried over from a crashed client
---@return vim.lsp.Config
function M.config(opts, restarts)
  restarts = restarts or new_restarts()
  return {
    name = 'chatvim',
    cmd = server.find(opts.cmd) or { 'chatvim-ls' },
    filetypes = opts.filetypes,
    init_options = M.init_options(opts),
    -- The server sends the next piece of an answer when the last one is confirmed by didChange.
    flags = { debounce_text_changes = 0 },
    -- Versioned edits let the handler refuse one meant for an older buffer instead of losing it.
    capabilities = { workspace = { workspaceEdit = { documentChanges = true } } },
    handlers = { ['workspace/applyEdit'] = require('chatvim.edits').apply },
    on_exit = function(code, signal, client_id)
      local client = vim.lsp.get_client_by_id(client_id)
      local buffers = client and vim.tbl_keys(client.attached_buffers) or {}
      vim.schedule(function()
        require('chatvim.streams').forget_all() -- a crashed server sends no progress end
        if (code ~= 0 or (signal ~= 0 and signal ~= 15)) and allow_restart(restarts) then
          M.restart(opts, buffers, restarts)
        end
      end)
    end,
  }
end

--- The server's initializationOptions: the `settings` option, plus what the
--- plugin tells the server itself: which editor it is (so that hints name
--- :ChatvimStop and the like) and that files in `chat_dir` are chats.
---@param opts chatvim.Options
---@return table
function M.init_options(opts)
  local settings = vim.deepcopy(opts.settings or {})
  local chat_dirs = settings.chat_dirs or {}
  if opts.chat_dir then
    chat_dirs = vim.list_extend({ vim.fn.fnamemodify(opts.chat_dir, ':p') }, chat_dirs)
  end
  settings.editor = 'chatvim.nvim'
  settings.chat_dirs = #chat_dirs > 0 and chat_dirs or nil
  return settings
end

--- Start a new client for `buffers` at once after a crash. Besides being
--- handy, this matters: Neovim 0.11 stops tracking a buffer edited while no
--- client is attached, and a client started later never hears its changes.
---@param opts chatvim.Options
---@param buffers integer[]
---@param restarts chatvim.Restarts
function M.restart(opts, buffers, restarts)
  local id
  for _, bufnr in ipairs(buffers) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      if id then
        vim.lsp.buf_attach_client(bufnr, id)
      else
        id = vim.lsp.start(M.config(opts, restarts), {
          bufnr = bufnr,
          reuse_client = function()
            return false -- the crashed one may still be listed
          end,
        })
      end
    end
  end
end

--- The chatvim client attached to `bufnr`, if any.
---@param bufnr integer
---@return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ name = 'chatvim', bufnr = bufnr })[1]
end

return M
