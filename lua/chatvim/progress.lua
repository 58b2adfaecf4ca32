--- The spinner, inline: while an answer streams, a spinner and the server's
--- progress (model, then tokens and rate) stand as virtual text at the end
--- of the line the answer is being written on. It hides nothing (it is
--- after the line's text), it is where the user is looking, and it moves
--- with the answer: an extmark with right gravity at the place the answer
--- is inserted is pushed along by every piece of it, and by lines typed
--- above. It goes on every ending: done, stopped, failed, buffer closed,
--- server gone. With `progress = 'none'` nothing is drawn; statuslines,
--- fidget.nvim and `vim.lsp.status()` get the same progress either way.
local streams = require('chatvim.streams')

local M = {}

local ns = vim.api.nvim_create_namespace('chatvim.progress')

---@type table<string|integer, { bufnr: integer, id: integer }>  progress token -> its mark
local marks = {}
---@type uv.uv_timer_t?
local timer

local function enabled()
  return require('chatvim').options().progress == 'inline'
end

---@param stream chatvim.Stream
---@param id? integer
---@return vim.api.keyset.set_extmark
local function mark_options(stream, id)
  local text = vim.trim(streams.frame() .. ' ' .. stream.message)
  return { id = id, right_gravity = true, virt_text = { { text, 'Comment' } }, virt_text_pos = 'eol' }
end

--- Put the stream's mark at (row, col) of its buffer, 0-based, col in bytes.
---@param stream chatvim.Stream
---@param row integer
---@param col integer
function M.place(stream, row, col)
  local bufnr = stream.bufnr
  if not (enabled() and bufnr and vim.api.nvim_buf_is_valid(bufnr)) then
    return
  end
  local old = marks[stream.token]
  if old and old.bufnr ~= bufnr then
    pcall(vim.api.nvim_buf_del_extmark, old.bufnr, ns, old.id)
    old = nil
  end
  local ok, id = pcall(vim.api.nvim_buf_set_extmark, bufnr, ns, row, col, mark_options(stream, old and old.id))
  if ok then
    marks[stream.token] = { bufnr = bufnr, id = id }
  end
end

--- Before the first piece of the answer: where it will go, the end of the buffer.
---@param stream chatvim.Stream
local function place_at_end(stream)
  local last = vim.api.nvim_buf_line_count(stream.bufnr) - 1
  local line = vim.api.nvim_buf_get_lines(stream.bufnr, last, last + 1, false)[1] or ''
  M.place(stream, last, #line)
end

local function stop_timer()
  if timer then
    timer:stop()
    timer:close()
    timer = nil
  end
end

local function draw()
  local live = {}
  for _, stream in ipairs(enabled() and streams.all() or {}) do
    if stream.bufnr and vim.api.nvim_buf_is_valid(stream.bufnr) then
      live[stream.token] = true
      if not marks[stream.token] then
        place_at_end(stream)
      end
      local mark = marks[stream.token]
      local at = mark and vim.api.nvim_buf_get_extmark_by_id(mark.bufnr, ns, mark.id, {})
      if at and at[1] then
        pcall(vim.api.nvim_buf_set_extmark, mark.bufnr, ns, at[1], at[2], mark_options(stream, mark.id))
      end
    end
  end
  for token, mark in pairs(marks) do
    if not live[token] then
      pcall(vim.api.nvim_buf_del_extmark, mark.bufnr, ns, mark.id)
      marks[token] = nil
    end
  end
  if next(marks) == nil then
    stop_timer()
  elseif not timer then
    timer = assert(vim.uv.new_timer())
    timer:start(100, 100, vim.schedule_wrap(draw)) -- the spinner turns ten times a second
  end
end

--- Keep the marks in step with the streams (called once, by the plugin).
function M.attach()
  streams.on_change(function()
    vim.schedule(draw)
  end)
end

--- Whether a spinner is shown (for tests and :checkhealth).
---@return boolean
function M.visible()
  return next(marks) ~= nil
end

return M
