--- :ChatvimComplete, :ChatvimStop, :ChatvimRegenerate, :ChatvimContinue, :ChatvimNew, :ChatvimFork and
--- the optional keymaps.
local lsp = require('chatvim.lsp')
local server = require('chatvim.server')
local streams = require('chatvim.streams')

local M = {}

local function notify(message, level)
  vim.notify('chatvim: ' .. message, level or vim.log.levels.ERROR)
end

local function say_why_not_attached()
  local options = require('chatvim').options()
  if not server.find(options.cmd) then
    notify(server.install_hint)
  else
    notify('no chatvim-ls attached to this buffer (is it a ' .. table.concat(options.filetypes, '/') .. ' file?)')
  end
end

---@param bufnr integer
---@return vim.lsp.Client?
local function client_or_say_why(bufnr)
  local client = lsp.client(bufnr)
  if not client then
    say_why_not_attached()
  end
  return client
end

--- Call `use` with the buffer's client; start one first if there is none
--- (the server crashed or was stopped), so the command just works again.
---@param bufnr integer
---@param use fun(client: vim.lsp.Client)
local function with_client(bufnr, use)
  local client = lsp.client(bufnr)
  if client then
    return use(client)
  end
  local options = require('chatvim').options()
  if not vim.tbl_contains(options.filetypes, vim.bo[bufnr].filetype) or not server.find(options.cmd) then
    return say_why_not_attached()
  end
  local waiting = vim.api.nvim_create_autocmd('LspAttach', {
    buffer = bufnr,
    callback = function(args)
      local attached = vim.lsp.get_client_by_id(args.data.client_id)
      if attached and attached.name == 'chatvim' then
        use(attached)
        return true -- once
      end
    end,
  })
  -- On 0.11, the configuration as `vim.lsp.config` resolves it, with the user's own additions.
  local resolved = vim.lsp.config and vim.lsp.config.chatvim
  local config = resolved and resolved.cmd and vim.deepcopy(resolved) or lsp.config(options) -- (a copy)
  if type(config.root_dir) == 'function' then -- only `vim.lsp.enable` calls it; a chat needs no root
    config.root_dir = nil
  end
  if not vim.lsp.start(config, { bufnr = bufnr }) then
    vim.api.nvim_del_autocmd(waiting)
    notify('could not start chatvim-ls; see :checkhealth chatvim')
  end
end

---@param client vim.lsp.Client
---@param command string
---@param bufnr integer
---@param on_refused? fun()
---@param more? any[] arguments after the buffer's URI
local function run(client, command, bufnr, on_refused, more)
  local params = { command = command, arguments = { vim.uri_from_bufnr(bufnr), unpack(more or {}) } }
  local function handler(err, result)
    -- A refusal comes as `{ started = false }`; the server has said why, once
    -- (window/showMessage). An error answer means a bad request: say it.
    if err then
      notify(err.message)
    end
    if (err or (type(result) == 'table' and result.started == false)) and on_refused then
      on_refused()
    end
  end
  if vim.fn.has('nvim-0.11') == 1 then
    client:request('workspace/executeCommand', params, handler, bufnr)
  else
    client.request('workspace/executeCommand', params, handler, bufnr)
  end
end

--- Stream an answer into the current buffer with `command` (complete, regenerate, continue).
---@param command string
local function answer(command)
  local bufnr = vim.api.nvim_get_current_buf()
  with_client(bufnr, function(client)
    streams.expect(bufnr)
    run(client, command, bufnr, function()
      streams.unexpect(bufnr) -- refused: no stream will begin for it
    end)
  end)
end

--- Stream the answer into the current buffer.
function M.complete()
  answer('chatvim.complete')
end

--- Replace the current buffer's last answer with a new one, from the same request.
function M.regenerate()
  answer('chatvim.regenerate')
end

--- Go on with the current buffer's last answer, where it was cut.
function M.continue_answer()
  answer('chatvim.continue')
end

--- Stop the answer streaming into the current buffer.
function M.stop()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_say_why(bufnr)
  if client then
    run(client, 'chatvim.stop', bufnr)
  end
end

--- A new chat beside this one, holding it up to the turn under the cursor.
function M.fork()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_say_why(bufnr)
  if client then
    run(client, 'chatvim.fork', bufnr, nil, { vim.api.nvim_win_get_cursor(0)[1] - 1 })
  end
end

local SPLITS = { left = 'topleft vsplit', right = 'botright vsplit', top = 'topleft split', bottom = 'botright split' }

--- Any running chatvim client, or nil.
---@return vim.lsp.Client?
local function any_client()
  return vim.lsp.get_clients({ name = 'chatvim' })[1]
end

--- Open a new chat file, in the current window or a split. The server
--- writes it (`chatvim.new`: one template for every editor, with your
--- delimiters); with no server running yet, one is started for it.
---@param where? 'left'|'right'|'top'|'bottom'
function M.new(where)
  if where and where ~= '' and not SPLITS[where] then
    return notify(('unknown place %q: use left, right, top or bottom'):format(where))
  end
  local options = require('chatvim').options()
  local folder = vim.fn.fnamemodify(options.chat_dir or vim.fn.getcwd(), ':p')
  local params = {
    command = 'chatvim.new',
    arguments = { { folder = folder, model = options.model, show = false } },
  }
  local function create(client)
    local function handler(err, result)
      if err then
        return notify(err.message)
      end
      if type(result) ~= 'table' or not result.path then
        return -- refused: the server has said why
      end
      vim.cmd((SPLITS[where] or 'edit') .. ' ' .. vim.fn.fnameescape(result.path))
      vim.api.nvim_win_set_cursor(0, { result.line + 1, 0 })
    end
    if vim.fn.has('nvim-0.11') == 1 then
      client:request('workspace/executeCommand', params, handler)
    else
      client.request('workspace/executeCommand', params, handler)
    end
  end
  local client = any_client()
  if client then
    return create(client)
  end
  local scratch = vim.api.nvim_create_buf(false, true) -- a markdown buffer to start the server for
  vim.bo[scratch].filetype = options.filetypes[1]
  with_client(scratch, function(started)
    create(started)
    vim.schedule(function()
      pcall(vim.api.nvim_buf_delete, scratch, { force = true })
    end)
  end)
end

local ACTIONS = {
  complete = M.complete,
  stop = M.stop,
  new = M.new,
  fork = M.fork,
  regenerate = M.regenerate,
  ['continue'] = M.continue_answer,
}

--- Create the user commands (the plugin does it at startup; no setup needed).
function M.create()
  vim.api.nvim_create_user_command('ChatvimComplete', M.complete, { desc = 'Stream the answer into this chat' })
  vim.api.nvim_create_user_command('ChatvimStop', M.stop, { desc = 'Stop the answer streaming into this chat' })
  vim.api.nvim_create_user_command('ChatvimFork', M.fork, { desc = 'A new chat, this one up to the turn here' })
  vim.api.nvim_create_user_command('ChatvimRegenerate', M.regenerate, { desc = 'Answer the last question again' })
  vim.api.nvim_create_user_command('ChatvimContinue', M.continue_answer, { desc = 'Go on with a cut answer' })
  vim.api.nvim_create_user_command('ChatvimNew', function(args)
    M.new(args.fargs[1])
  end, {
    nargs = '?',
    complete = function()
      return { 'left', 'right', 'top', 'bottom' }
    end,
    desc = 'Open a new chat file',
  })
end

--- Install keymaps: chatvim's set for `true`, or `{ lhs = 'complete'|'stop'|'new [where]'|'fork' }`.
---@param keymaps boolean|table<string, string>
function M.map(keymaps)
  if not keymaps then
    return
  end
  local set = keymaps == true and require('chatvim.config').chatvim_keymaps or keymaps
  for lhs, action in pairs(set) do
    local name, arg = action:match('^(%S+)%s*(%S*)$')
    local fn = ACTIONS[name]
    if not fn then
      notify(('keymap %s: unknown action %q (complete, stop, new, fork, regenerate, continue)'):format(lhs, action))
    else
      vim.keymap.set('n', lhs, function()
        fn(arg ~= '' and arg or nil)
      end, { desc = 'chatvim: ' .. action })
    end
  end
end

return M
