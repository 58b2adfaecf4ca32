"""A simulated editor for the pure streaming core: no LSP, no network.

The editor keeps each character with where it came from ("orig" for the
text before the completion, "user" for what the user types meanwhile,
"answer" for what the server writes), so a test can check that the answer
arrived whole, in its place, and that nothing of the user's was lost.

Client behaviours (`mode`):
- "strict": refuses a versioned edit whose version is not current (Helix).
- "drop": drops a stale versioned edit but answers applied=true (Neovim).
- "lax": applies every edit at its coordinates, stale or not (VS Code).
`debounce=True` holds didChange back until `flush()` (Neovim's default);
`late=True` holds them too, and the server's timers run out before they
come (eglot, vim-lsp); `diff_reports=True` reports each change as a minimal
diff of the whole text (like Neovim's line diff), not as the edit that was
made; `merged_reports=True` reports everything held as one minimal diff
(vim-lsp's diff, yegappan/lsp's whole text); `versions_at_report=True`
counts a version only as it reports a change, and checks an edit's version
against the one it last reported (eglot 1.17, Emacs 30: an edit at that
version lands at its coordinates even while the user's typing is unreported).

One residual is raised as `StaleDeletionHitUserText` rather than asserted: a
lax client applying a server *deletion* (the repair of a misplaced chunk)
at stale coordinates, because the user typed again in that instant. No
positional protocol can prevent it; the server keeps the window to one
message hop (README, "Editing while it streams").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from chatvim_ls.problems import Position
from chatvim_ls.stream import AnswerWriter, Edit, EditorWays
from chatvim_ls.textdoc import Change, TextDocument


class StaleDeletionHitUserText(Exception):
    pass


@dataclass
class SimEditor:
    text: str
    mode: str = "strict"
    debounce: bool = False
    diff_reports: bool = False
    late: bool = False
    merged_reports: bool = False
    versions_at_report: bool = False
    chars: list[tuple[str, str]] = field(init=False)
    reported: str = field(init=False)  # the text as last reported
    stale_copy_unreported: bool = False  # a server edit applied at stale coordinates, not reported yet
    stale_copy_moved: bool = False  # ...and the user typed before the report (a residual: stream.py)
    stale_edits_applied: int = 0
    version: int = 1
    reported_version: int = 1
    held: list[tuple[Change, int]] = field(default_factory=list)  # debounced didChanges

    def __post_init__(self) -> None:
        self.chars = [(c, "orig") for c in self.text]
        self.reported = self.text

    @property
    def current(self) -> str:
        return "".join(c for c, _ in self.chars)

    # -- coordinates (code points) -------------------------------------------

    def index_of(self, pos: Position) -> int:
        doc = TextDocument("sim", self.current, encoding="utf-32")
        lines = doc.lines
        if pos.line >= len(lines):
            return len(self.chars)  # past the last line: the end, as editors clamp
        return sum(len(x) for x in lines[: pos.line]) + min(pos.character, len(lines[pos.line].rstrip("\r\n")))

    def position_of(self, index: int) -> Position:
        return TextDocument("sim", self.current, encoding="utf-32").position_of(index)

    # -- changes ---------------------------------------------------------------

    def _replace(self, start: int, end: int, text: str, tag: str, channel: deque) -> None:
        if tag == "user" and self.stale_copy_unreported and self.merged_reports:
            self.stale_copy_moved = True
        before = self.current
        report = Change(self.position_of(start), self.position_of(end), text)
        replaced = self.chars[start:end]
        self.chars[start:end] = [(c, tag) for c in text]
        self.version += 1
        if self.diff_reports:
            report = TextDocument("sim", before, encoding="utf-32").minimal_change(self.current)
            if tag == "user":  # equal characters cannot be told apart: tag what was reported
                self.chars[start : start + len(text)] = []
                self.chars[start:start] = replaced
                at, until = self.index_of(report.start), self.index_of(report.end)
                self.chars[at:until] = [(c, tag) for c in report.text]
        if self.debounce or self.late:
            self.held.append((report, self.version))
        else:
            self._report(channel, [(report, self.version)])

    def flush(self, channel: deque) -> None:
        """Send held changes as one didChange, as Neovim does after its debounce."""
        if self.held:
            self._report(channel, list(self.held))
        self.held.clear()

    def _report(self, channel: deque, changes: list[tuple[Change, int]]) -> None:
        if self.merged_reports:
            merged = TextDocument("sim", self.reported, encoding="utf-32").minimal_change(self.current)
            changes = [(merged, self.version)]
        self.reported = self.current
        self.reported_version = changes[-1][1]
        self.stale_copy_unreported = False
        channel.append(("changes", changes))

    def user_insert(self, index: int, text: str, channel: deque) -> None:
        self._replace(index, index, text, "user", channel)

    def user_delete(self, start: int, length: int, channel: deque) -> None:
        """Delete text that is not the server's (the test's rule)."""
        end = start
        while end < len(self.chars) and end - start < length and self.chars[end][1] != "answer":
            end += 1
        if end > start:
            self._replace(start, end, "", "user", channel)

    def receive_edit(self, edit: Edit, known_version: int, channel: deque) -> None:
        """Apply a server edit as this client would, and answer it.
        `known_version` is the version the server had heard of when it sent it."""
        current = self.reported_version if self.versions_at_report else self.version
        stale = edit.version is not None and edit.version != current
        if stale and self.mode == "strict":
            channel.append(("reply", False))
            return
        if stale and self.mode == "drop":
            channel.append(("reply", True))
            return
        start, end = self.index_of(Position(*edit.start)), self.index_of(Position(*edit.end))
        deleted = self.chars[start:end]
        lax = self.mode == "lax" or self.versions_at_report
        if edit.start != edit.end and known_version != self.version and lax:
            raise StaleDeletionHitUserText(deleted)  # a repair applied at stale coordinates
        assert all(tag == "answer" for _, tag in deleted), f"the server deleted the user's text: {deleted}"
        applied_stale = known_version != self.version
        if applied_stale:
            self.stale_copy_unreported = True
            self.stale_edits_applied += 1
        before = list(self.chars)
        self._replace(start, end, edit.text, "answer", channel)
        if applied_stale and start == end:
            self._tag_as_meant(before, edit.text)
        channel.append(("reply", True))

    def _tag_as_meant(self, before: list[tuple[str, str]], text: str) -> None:
        """A stale insertion that gives the same text as the answer's next
        piece at its place (equal characters, such as line breaks, in
        between) cannot be told apart from it: tag it as that piece."""
        answer_at = [i for i, (_, tag) in enumerate(before) if tag == "answer"]
        if not answer_at:
            return
        meant = before[: answer_at[-1] + 1] + [(c, "answer") for c in text] + before[answer_at[-1] + 1 :]
        if "".join(c for c, _ in meant) == self.current:
            self.chars = meant


@dataclass
class Session:
    """A server-side writer and a simulated editor, joined by two queues."""

    editor: SimEditor
    writer: AnswerWriter
    to_client: deque = field(default_factory=deque)
    to_server: deque = field(default_factory=deque)
    stale_before_learned: bool = False

    @staticmethod
    def start(text: str, *, mode: str = "strict", versioned: bool = True, debounce: bool = False,
              diff_reports: bool = False, whole_lines: bool = False, late: bool = False,
              merged_reports: bool = False, versions_at_report: bool = False,
              ways: EditorWays | None = None) -> Session:  # fmt: skip
        from chatvim_ls.settings import Settings

        editor = SimEditor(text, mode=mode, debounce=debounce, diff_reports=diff_reports, late=late,
                           merged_reports=merged_reports, versions_at_report=versions_at_report)  # fmt: skip
        doc = TextDocument("sim", text, version=editor.version, encoding="utf-32")
        writer = AnswerWriter(doc, Settings().delimiters, whole_lines=whole_lines, versioned=versioned, ways=ways)
        return Session(editor, writer)

    def stream(self, text: str) -> None:
        """The provider's `text`, sent, and the session run till nothing moves,
        no timer running out (a late editor's reports stay held)."""
        self.writer.add(text)
        self.server_sends()
        while self.client_step() or self.server_step():
            pass

    def server_sends(self) -> None:
        edit = self.writer.next_edit()
        if edit is not None:
            self.to_client.append((edit, self.writer.doc.version))

    def client_step(self) -> bool:
        if not self.to_client:
            return False
        edit, known_version = self.to_client.popleft()
        stale_before = self.editor.stale_edits_applied
        self.editor.receive_edit(edit, known_version, self.to_server)
        if self.editor.versions_at_report and self.editor.stale_edits_applied > stale_before:
            # applied at stale coordinates before the server learned that this editor's version does not
            # protect an edit (its first refusal: stream.py, `counts_ahead`): a residual
            self.stale_before_learned = self.stale_before_learned or self.writer.counts_ahead
        return True

    def server_step(self) -> bool:
        if not self.to_server:
            return False
        kind, payload = self.to_server.popleft()
        if kind == "changes":
            for change, version in payload:
                self.writer.apply_change(change)
                self.writer.doc.version = version
            self.writer.reported(self.writer.doc.version)
        else:
            self.writer.on_reply(payload)
        self.server_sends()
        return True

    def settle(self, limit: int = 10_000) -> None:
        """Run until nothing moves, the server's timers running out in the
        order of their lengths: the wait for an echo (0.25 s), a late editor's
        report (eglot: 0.5 s idle), the wait for a report on an edit in doubt,
        the retry after a refusal, the wait for the last echoes."""
        timers = [
            (lambda: self.editor.held and not self.editor.late, lambda: self.editor.flush(self.to_server)),
            (lambda: self.writer.unconfirmed and not self.writer.trust_replies, self._trust_replies),
            (lambda: self.editor.held, lambda: self.editor.flush(self.to_server)),
            (lambda: self.writer.in_doubt, self.writer.give_up_waiting),
            (lambda: self.writer.waiting_for_change, self.writer.retry_now),
            (lambda: self.writer.all_sent and self.writer.unconfirmed, self.writer.trust_unconfirmed),
        ]
        for _ in range(limit):
            self.server_sends()
            if self.client_step() or self.server_step():
                continue
            due = next((fire for ready, fire in timers if ready()), None)
            if due is None:
                return
            due()
        raise AssertionError("the session did not settle")

    def _trust_replies(self) -> None:
        self.writer.trust_replies = True

    # -- checks ----------------------------------------------------------------

    def answer_text(self) -> str:
        return "".join(c for c, tag in self.editor.chars if tag == "answer")

    def assert_whole(self, expected_answer: str) -> None:
        """The answer is exactly `expected_answer` (nothing lost, nothing
        doubled), all of it after the original text (but for the final line
        break, which stays last), and the server's copy of
        the document equals the editor's. (Where user text typed at the
        answer's end goes is checked by its own test.)"""
        chars = self.editor.chars
        assert self.answer_text() == expected_answer, (self.answer_text(), expected_answer)
        answer_at = [i for i, (_, tag) in enumerate(chars) if tag == "answer"]
        if not answer_at:
            return
        after = chars[answer_at[0] :]
        assert all(tag != "orig" or c in "\r\n" for c, tag in after), "original text after the start of the answer"
        assert all(tag != "orig" for _, tag in chars[answer_at[0] : answer_at[-1]]), "original text inside the answer"
        assert self.writer.doc.text == self.editor.current, "the server's copy differs from the editor's"
