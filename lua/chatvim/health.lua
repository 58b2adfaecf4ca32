--- :checkhealth chatvim
---
--- The configuration is checked by the server itself (`chatvim-ls health`,
--- JSON), so this shows what the server will do, with no Lua copy of its
--- rules: config.md's problems with file and line, and the provider, model
--- and base URL a new chat would use. Never a key's value.
local M = {}

---@param health table vim.health
---@param cmd string[]
---@return table? the report
local function server_report(health, cmd)
  local settings = require('chatvim.lsp').init_options(require('chatvim').options())
  -- On stdin, not in argv (which other users can read): provider headers may hold tokens.
  local result = vim.system(vim.list_extend(vim.deepcopy(cmd), { 'health', '--settings', '-' }),
    { text = true, stdin = vim.json.encode(settings) }):wait(10000)
  local ok, report = pcall(vim.json.decode, result.stdout or '')
  if result.code ~= 0 or not ok or type(report) ~= 'table' then
    health.error(('`%s health` failed: %s'):format(cmd[1], vim.trim(result.stderr or '')))
    return nil
  end
  return report
end

---@param health table vim.health
---@param report table
local function show_config(health, report)
  local config = report.config
  if config.exists then
    health.info('config: ' .. config.path)
  else
    health.info('config: ' .. config.path .. ' (none; optional)')
  end
  for _, problem in ipairs(config.problems) do
    if problem.severity == 'error' then
      health.error(problem.message)
    else
      health.warn(problem.message)
    end
  end
  if config.exists and #config.problems == 0 then
    health.ok('config.md has no problems')
  end
  if report.settings_problem then
    health.error('settings option: ' .. report.settings_problem)
  end
end

---@param health table vim.health
---@param report table
local function show_chat(health, report)
  local chat = report.chat
  if chat.problem then
    health.warn('a new chat: ' .. chat.problem)
    return
  end
  local line = ('a new chat uses provider %s, model %s, at %s'):format(chat.provider, chat.model, chat.base_url)
  local key = chat.key
  if key.command then
    health.ok(line .. ' (key from api_key_cmd: ' .. key.command .. ')')
  elseif key.none then
    health.ok(line .. ' (no key needed)')
  elseif key.set then
    health.ok(line .. ' (key: ' .. key.variable .. ', set)')
  else
    health.error(line .. ', but ' .. key.variable .. ' is not set', { 'export it where you start Neovim' })
  end
  local set = {}
  for _, variable in ipairs(report.keys) do
    if variable.set then
      table.insert(set, variable.variable)
    end
  end
  health.info('provider keys set: ' .. (#set > 0 and table.concat(set, ', ') or 'none'))
end

function M.check()
  local health = vim.health
  health.start('chatvim')
  local version = vim.version()
  local nvim = ('Neovim %d.%d.%d'):format(version.major, version.minor, version.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok(nvim)
  else
    health.error(nvim .. ': chatvim needs Neovim 0.10 or later')
  end

  local options = require('chatvim').options()
  local cmd = require('chatvim.server').find(options.cmd)
  local report
  if not cmd then
    health.error(require('chatvim.server').install_hint)
  else
    local result = vim.system(vim.list_extend(vim.deepcopy(cmd), { '--version' }), { text = true }):wait(10000)
    if result.code == 0 then
      health.ok(('server: %s (%s)'):format(table.concat(cmd, ' '), vim.trim(result.stdout)))
      report = server_report(health, cmd)
    else
      health.error(('server: %s --version failed: %s'):format(cmd[1], vim.trim(result.stderr or '')))
    end
  end

  local clients = vim.lsp.get_clients({ name = 'chatvim' })
  if #clients > 0 then
    local buffers = vim.tbl_count(clients[1].attached_buffers)
    health.ok(('client running (id %d), attached to %d buffer(s)'):format(clients[1].id, buffers))
  else
    health.info('no chatvim client running: it starts when a ' .. table.concat(options.filetypes, '/')
      .. ' buffer opens')
  end

  if report then
    show_config(health, report)
    show_chat(health, report)
  end
end

return M
