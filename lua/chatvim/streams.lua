--- Which buffers are streaming an answer, from the server's `$/progress`.
---
--- A progress token is tied to its buffer when the stream begins (the buffer
--- :ChatvimComplete asked for) or, for streams started some other way (a
--- code action), by the first edit it makes. Everything here ends when the
--- progress ends, or when the client stops (a crashed server sends no end).
local M = {}

---@class chatvim.Stream
---@field token string|integer
---@field bufnr? integer
---@field message string   the server's last progress message (model, tokens, rate)
---@field started number   vim.uv.hrtime() at begin

---@type table<string|integer, chatvim.Stream>
local by_token = {}
---@type integer[]  buffers :ChatvimComplete asked for, not yet tied to a stream
local asked = {}
---@type fun()[]
local listeners = {}

--- Call `callback` whenever a stream begins, reports or ends.
function M.on_change(callback)
  table.insert(listeners, callback)
end

local function changed()
  for _, callback in ipairs(listeners) do
    pcall(callback)
  end
end

---@param bufnr integer
function M.expect(bufnr)
  table.insert(asked, bufnr)
end

---@param bufnr integer
function M.unexpect(bufnr)
  for i, asked_for in ipairs(asked) do
    if asked_for == bufnr then
      table.remove(asked, i)
      return
    end
  end
end

---@param bufnr integer
---@return chatvim.Stream?
function M.of_buffer(bufnr)
  for _, stream in pairs(by_token) do
    if stream.bufnr == bufnr then
      return stream
    end
  end
end

--- The stream an edit of `bufnr` belongs to, tying an untied one to it.
---@param bufnr integer
---@return chatvim.Stream?
function M.for_edit(bufnr)
  local stream = M.of_buffer(bufnr)
  if stream then
    return stream
  end
  local oldest
  for _, candidate in pairs(by_token) do
    if not candidate.bufnr and (not oldest or candidate.started < oldest.started) then
      oldest = candidate
    end
  end
  if oldest then
    oldest.bufnr = bufnr
  end
  return oldest
end

---@return chatvim.Stream[]
function M.all()
  return vim.tbl_values(by_token)
end

--- Handle one `$/progress` value of the chatvim client.
---@param token string|integer
---@param value table
function M.progress(token, value)
  if value.kind == 'begin' then
    local bufnr = table.remove(asked, 1)
    by_token[token] = { token = token, bufnr = bufnr, message = value.message or '', started = vim.uv.hrtime() }
  elseif value.kind == 'report' and by_token[token] then
    by_token[token].message = value.message or by_token[token].message
  elseif value.kind == 'end' then
    by_token[token] = nil
  end
  changed()
end

--- Streams end without a progress `end` when their buffer goes (`bufnr`)
--- or the server does (nil: all of them).
---@param bufnr? integer
function M.forget_buffer(bufnr)
  for token, stream in pairs(by_token) do
    if bufnr == nil or stream.bufnr == bufnr then
      by_token[token] = nil
    end
  end
  if bufnr == nil then
    asked = {}
  end
  changed()
end

--- The server is gone (stopped or crashed): every stream is over.
function M.forget_all()
  M.forget_buffer(nil)
end

local FRAMES = { '⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏' }

--- The spinner frame for now (ten frames a second).
---@return string
function M.frame()
  return FRAMES[math.floor(vim.uv.hrtime() / 1e8) % #FRAMES + 1]
end

--- A short status for statuslines: spinner, model or tokens, while the
--- current buffer streams; "" otherwise.
---@return string
function M.status()
  local stream = M.of_buffer(vim.api.nvim_get_current_buf())
  if not stream then
    return ''
  end
  return M.frame() .. ' ' .. stream.message
end

return M
