--- The chatvim client's `workspace/applyEdit` handler.
---
--- Neovim's own handler applies a stale versioned edit by dropping it with a
--- printed "Buffer … newer than edits." and answers `applied: true`; each
--- edit is also its own undo step. This one:
--- - refuses an edit made for an older version of the buffer, quietly (the
---   server then writes the text again at the right place);
--- - joins the answer's edits into one undo step, unless the user changed the
---   buffer in between (their change keeps its own undo step);
--- - moves the cursor along with the answer in windows whose cursor was at
---   the end of the buffer when the answer began and has not moved since.
local streams = require('chatvim.streams')

local M = {}

---@type table<integer, integer>  bufnr -> changedtick right after the answer's last edit
local tick_after_answer = {}
---@type table<integer, table<integer, integer[]>>  bufnr -> window -> the cursor we left there
local followers = {}
---@type table<integer, string|integer>  bufnr -> the progress token of the stream the above are for
local stream_of = {}

---@param bufnr integer
local function start_following(bufnr)
  local last = vim.api.nvim_buf_line_count(bufnr)
  local windows = {}
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    local cursor = vim.api.nvim_win_get_cursor(win)
    if cursor[1] == last then
      windows[win] = cursor
    end
  end
  followers[bufnr] = windows
end

---@param bufnr integer
local function follow(bufnr)
  local last = vim.api.nvim_buf_line_count(bufnr)
  for win, left_at in pairs(followers[bufnr] or {}) do
    local here = vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_buf(win) == bufnr
      and vim.api.nvim_win_get_cursor(win)
    if here and here[1] == left_at[1] and here[2] == left_at[2] then
      local target = { last, 0 }
      vim.api.nvim_win_set_cursor(win, target)
      followers[bufnr][win] = vim.api.nvim_win_get_cursor(win)
    else
      followers[bufnr][win] = nil -- moved by the user, or gone: leave it alone from now on
    end
  end
end

--- The buffer is gone from the client: forget it. (A stream's end keeps
--- the state: the closing `# === USER ===` comes just after it.)
---@param bufnr integer
function M.forget(bufnr)
  tick_after_answer[bufnr] = nil
  followers[bufnr] = nil
  stream_of[bufnr] = nil
end

---@param change table a TextDocumentEdit
---@return string? why it is refused
local function outdated(change)
  local document = change.textDocument
  if not (document and document.version and document.version > 0) then
    return nil
  end
  local bufnr = vim.uri_to_bufnr(document.uri)
  local current = vim.lsp.util.buf_versions[bufnr]
  if current and current ~= document.version then
    return ('outdated edit: version %d, buffer is at %d'):format(document.version, current)
  end
end

---@param edit table a WorkspaceEdit
---@return integer[] the buffers it changes
local function buffers_of(edit)
  local buffers = {}
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      table.insert(buffers, vim.uri_to_bufnr(change.textDocument.uri))
    end
  end
  for uri in pairs(edit.changes or {}) do
    table.insert(buffers, vim.uri_to_bufnr(uri))
  end
  return buffers
end

local has_011 = vim.fn.has('nvim-0.11') == 1

--- A position's row and byte column, 0-based (nil if its character is not
--- in its line).
---@param bufnr integer
---@param position table an LSP Position
---@param encoding string
---@return integer, integer?
local function byte_position(bufnr, position, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, false)[1] or ''
  if encoding == 'utf-8' then
    return position.line, position.character <= #line and position.character or nil
  end
  local ok, col
  if has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, position.character, false)
  else -- 0.10: (s, index, use_utf16)
    ok, col = pcall(vim.str_byteindex, line, position.character, encoding == 'utf-16')
  end
  return position.line, ok and col or nil
end

--- The edit's text edits, if it changes one document.
---@param edit table a WorkspaceEdit
---@return table[]?
local function text_edits_of(edit)
  local change = edit.documentChanges and edit.documentChanges[1]
  return change and change.edits or select(2, next(edit.changes or {}))
end

--- Where the edit's first text edit starts: row and byte column, 0-based.
---@param edit table a WorkspaceEdit for one buffer
---@param bufnr integer
---@param encoding string
---@return integer?, integer?
local function start_of(edit, bufnr, encoding)
  local text_edits = text_edits_of(edit)
  local start = text_edits and text_edits[1] and text_edits[1].range.start
  if not start then
    return nil
  end
  local row, col = byte_position(bufnr, start, encoding)
  return row, col or #(vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or '')
end

--- The buffer's lowercase marks in `row` (0-based), by name: their columns.
---@param bufnr integer
---@param row integer
---@return table<string, integer>
local function marks_in(bufnr, row)
  local marks = {}
  for byte = ('a'):byte(), ('z'):byte() do
    local name = string.char(byte)
    local at = vim.api.nvim_buf_get_mark(bufnr, name)
    if at[1] == row + 1 then
      marks[name] = at[2]
    end
  end
  return marks
end

--- Insert `lines` at `row`, `col`, keeping the row's marks, which
--- `nvim_buf_set_text` deletes (as `apply_text_edits` keeps them).
---@param bufnr integer
---@param row integer
---@param col integer
---@param lines string[]
local function insert(bufnr, row, col, lines)
  local marks = marks_in(bufnr, row)
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  for name, mark_col in pairs(marks) do
    if vim.api.nvim_buf_get_mark(bufnr, name)[1] == 0 then
      local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
      vim.api.nvim_buf_set_mark(bufnr, name, row + 1, math.min(mark_col, #line), {})
    end
  end
end

--- Apply an answer's edit to its buffer. Nearly every one inserts text
--- inside the buffer's lines: that is set in place, as Neovim's
--- `apply_workspace_edit` would set it but without its work for edits in
--- general (every mark of the buffer listed twice, options read), which is
--- a good part of each token's way into the buffer. Anything else goes
--- through Neovim's.
---@param edit table a WorkspaceEdit for one buffer
---@param bufnr integer
---@param encoding string
local function apply_answer_edit(edit, bufnr, encoding)
  local text_edits = #(edit.documentChanges or { 1 }) == 1 and text_edits_of(edit) -- (no file operations)
  local only = text_edits and #text_edits == 1 and text_edits[1]
  local range = only and only.range
  local inserts = range and range.start.line == range['end'].line and range.start.character == range['end'].character
  if inserts and vim.api.nvim_buf_is_loaded(bufnr) and range.start.line < vim.api.nvim_buf_line_count(bufnr) then
    local row, col = byte_position(bufnr, range.start, encoding)
    if col then
      insert(bufnr, row, col, vim.split((only.newText:gsub('\r\n?', '\n')), '\n', { plain = true }))
      return
    end
  end
  vim.lsp.util.apply_workspace_edit(edit, encoding)
end

---@param params table ApplyWorkspaceEditParams
---@param ctx table
function M.apply(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return { applied = false, failureReason = 'no client' }
  end
  for _, change in ipairs(params.edit.documentChanges or {}) do
    local why = outdated(change)
    if why then
      return { applied = false, failureReason = why }
    end
  end
  local buffers = buffers_of(params.edit)
  if #buffers ~= 1 then -- not an answer's edit: apply it as Neovim would
    local ok, err = pcall(vim.lsp.util.apply_workspace_edit, params.edit, client.offset_encoding)
    return { applied = ok, failureReason = not ok and tostring(err) or nil }
  end
  local bufnr = buffers[1]
  local stream = streams.for_edit(bufnr)
  if stream and stream_of[bufnr] ~= stream.token then -- a new answer begins
    stream_of[bufnr] = stream.token
    tick_after_answer[bufnr] = nil -- its own undo step, even right after the last (regenerate)
    start_following(bufnr)
    local row, col = start_of(params.edit, bufnr, client.offset_encoding)
    if row then
      require('chatvim.progress').place(stream, row, col) -- the answer pushes the spinner along
    end
  end
  local ok, err
  vim.api.nvim_buf_call(bufnr, function() -- :undojoin works on the current buffer
    if tick_after_answer[bufnr] == vim.api.nvim_buf_get_changedtick(bufnr) then
      pcall(vim.cmd.undojoin) -- E790 right after an undo: then this edit starts a new step
    end
    ok, err = pcall(apply_answer_edit, params.edit, bufnr, client.offset_encoding)
  end)
  tick_after_answer[bufnr] = vim.api.nvim_buf_get_changedtick(bufnr)
  follow(bufnr)
  return { applied = ok, failureReason = not ok and tostring(err) or nil }
end

return M
