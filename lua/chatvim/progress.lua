--- The spinner: a small floating window in the top-right corner of the
--- editor while any chatvim answer streams, as chatvim had. It closes on
--- every ending: done, stopped, failed, buffer closed, server gone.
local streams = require('chatvim.streams')

local M = {}

---@type { buf: integer, win: integer, timer: uv.uv_timer_t }?
local shown

local function text()
  local lines = {}
  for _, stream in ipairs(streams.all()) do
    local name = stream.bufnr and vim.api.nvim_buf_is_valid(stream.bufnr)
        and vim.fn.fnamemodify(vim.api.nvim_buf_get_name(stream.bufnr), ':t')
      or ''
    table.insert(lines, vim.trim(('%s chatvim %s %s'):format(streams.frame(), name, stream.message)))
  end
  return lines
end

local function close()
  if not shown then
    return
  end
  shown.timer:stop()
  shown.timer:close()
  pcall(vim.api.nvim_win_close, shown.win, true)
  pcall(vim.api.nvim_buf_delete, shown.buf, { force = true })
  shown = nil
end

local function draw()
  local lines = require('chatvim').options().progress == 'float' and text() or {}
  if #lines == 0 then
    return close()
  end
  local width = math.max(unpack(vim.tbl_map(vim.fn.strdisplaywidth, lines)))
  if not shown then
    local buf = vim.api.nvim_create_buf(false, true)
    vim.bo[buf].bufhidden = 'wipe'
    local win = vim.api.nvim_open_win(buf, false, {
      relative = 'editor', anchor = 'NE', row = 0, col = vim.o.columns, width = width, height = #lines,
      style = 'minimal', border = 'rounded', focusable = false, noautocmd = true, zindex = 250,
    })
    local timer = assert(vim.uv.new_timer())
    timer:start(100, 100, vim.schedule_wrap(draw))
    shown = { buf = buf, win = win, timer = timer }
  elseif vim.api.nvim_win_is_valid(shown.win) then
    vim.api.nvim_win_set_config(shown.win, { relative = 'editor', row = 0, col = vim.o.columns, width = width,
                                               height = #lines })
  end
  if vim.api.nvim_buf_is_valid(shown.buf) then
    vim.api.nvim_buf_set_lines(shown.buf, 0, -1, false, lines)
  end
end

--- Keep the float in step with the streams (called once, by the plugin).
function M.attach()
  streams.on_change(function()
    vim.schedule(draw)
  end)
end

--- Whether the spinner is on screen (for tests and :checkhealth).
---@return boolean
function M.visible()
  return shown ~= nil and vim.api.nvim_win_is_valid(shown.win)
end

return M
