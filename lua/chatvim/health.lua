--- :checkhealth chatvim
local M = {}

local KEY_VARIABLES = {
  'OPENAI_API_KEY', 'XAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY',
  'OPENROUTER_API_KEY', 'DEEPSEEK_API_KEY', 'MISTRAL_API_KEY', 'GROQ_API_KEY',
}

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
  if not cmd then
    health.error(require('chatvim.server').install_hint)
  else
    local result = vim.system({ cmd[1], '--version' }, { text = true }):wait(10000)
    if result.code == 0 then
      health.ok(('server: %s (%s)'):format(table.concat(cmd, ' '), vim.trim(result.stdout)))
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

  local set = vim.tbl_filter(function(name)
    return (vim.env[name] or '') ~= ''
  end, KEY_VARIABLES)
  if #set > 0 then
    health.ok('provider keys set: ' .. table.concat(set, ', '))
  else
    health.warn('no provider key variable is set', { 'export one of ' .. table.concat(KEY_VARIABLES, ', ')
      .. ', or configure a provider with api_key_cmd (see the README)' })
  end
end

return M
