"""Writing a streamed answer into a document the user keeps editing.

`AnswerWriter` is the pure core of an answer's output: it knows the document
as the editor last reported it, where the answer goes (the anchor), the text
waiting to be written and the edits on their way. The server feeds it the
provider's text and the editor's changes, asks it for the next edit and tells
it the editor's replies. It never waits, sleeps or speaks LSP.

Editors report their changes (didChange) in their own time: Neovim at once
or after a debounce, eglot only after half a second of idleness in any
buffer, vim-lsp a second later and, on Vim 9.0, not at all for a change made
by a server until a key is pressed; some send the whole text, some one diff
for many changes. So the rules are:

- One edit unanswered at a time. Text that arrives meanwhile waits and goes
  out with the next edit: coalescing under backpressure, no timer.
- The next edit waits for the echo of the last one (its didChange), unless
  the editor is one that reports late (`trust_replies`, set by the server
  when an echo is overdue): then an edit it says it applied is trusted and
  the next one is sent at once, after it. A versioned edit is then stamped
  with the version the editor will have once the edits before it are
  applied: the last reported version plus `step` per edit, a step learned
  from echoes (1 until one is seen). So a strict editor (Helix, eglot 1.9,
  lsp-mode, the Neovim plugin) refuses an edit that would land on text the
  server has not heard of, and one that merely reports late keeps the
  answer streaming. (A version can match by chance: an edit dropped, then
  one keystroke. Editors that drop stale edits and say they applied them
  are Neovim's own handler, which reports promptly, so it is never trusted
  this way.)
- Some editors count a version only as they report it (eglot 1.17, Emacs
  30: its version grows when it sends the didChange). Such an editor
  refuses an edit stamped ahead; then the server learns it
  (`counts_ahead`), sends the next edit at once with the last reported
  version, and from then on treats it as a client whose version does not
  protect an edit: it takes one while the user's typing is unreported and
  applies it at stale coordinates, so copies at the old place are looked
  for and repaired as for unversioned clients. An edit refused at the
  reported version while applied edits are unreported turns it back. But
  a refusal that a change heard since the edit was sent explains (the
  user's, or a report that crossed it) teaches nothing: the edit goes again
  at once. Only one that nothing explains waits for a change to come.
  A refusal may also come from the user's typing, not yet reported: so the
  guess is kept for the editor's next answers (`EditorWays`) only once an
  edit stamped by it, ahead of the last report, is applied. The first edit
  of the first answer comes before anything can be learned, and one that
  lands stale then is not looked for: so for the one editor known to count
  that way, Eglot from 1.17.30 (Emacs 30), it is the first guess
  (`EditorWays.first_guess`), which its behaviour may still overturn.
- An echo is recognised by its result, not its range: one change may echo
  one edit, several consecutive ones (a diff of the lines, vim-lsp), or
  hold them beside the user's typing (the whole text, yegappan/lsp); then
  the answer's text is looked for where it must be, between the text that
  was before and after the anchor.
- User changes move the anchor. Text typed exactly at the anchor stays after
  the answer. An edit whose echo comes after a user change was not applied
  where it was meant to go: refused, its text is queued again; said to be
  applied, it is "in doubt" until its echo or its copy at the old place
  shows up or the server gives up waiting (`give_up_waiting`): then it was
  dropped (Neovim's own handler drops an edit for an old version and says
  it applied it), and its text is written again, as is that of every edit
  sent after it. The client's way is learned.
- An edit applied at stale coordinates (VS Code, the Vim clients, any
  client given unversioned edits) shows up as an echo at the old place:
  that copy is deleted (a repair) and the text is written again at the
  anchor. Such a client could apply the deletion at stale coordinates too,
  if the user typed again in that instant; so the server holds repairs back
  while the user is typing (`hold_repairs`) and sends them in the next
  pause, each alone.
- Regenerating, the old answer is taken out by a deletion sent like a
  repair, first, once the new answer's first text is here: a stop or a
  failure before then leaves the old answer as it was. Continuing, the same
  takes out the closing block after a cut answer, and the text goes on
  after its last character, with no opening.
- The answer is done when every edit is answered and echoed, or the server
  stops waiting for late echoes (`trust_unconfirmed`): the editor said it
  applied them, and its late report is then an ordinary change.
- In a document whose lines end in CRLF, the answer's line breaks are
  written as CRLF: editors convert inserted text to the document's line
  breaks and report it so, and an echo must match what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from .problems import Position
from .render import answer_closing, answer_opening
from .settings import Delimiters
from .textdoc import Change, Splice, TextDocument, common_ends

_TAIL = 64  # code points before the anchor that decide the delimiter padding
_DIFF_LIMIT = 4000  # code points a change may differ by and still be diffed closely (_diff_size)


@dataclass
class _Sent:
    """An edit on its way: answer text inserted at the anchor, or a repair."""

    seq: int  # the order edits were sent in: text written again keeps it
    text: str
    repair: Change | None  # a deletion in the server's coordinates; None for answer text
    version: int | None
    client_start: tuple[int, int]  # where it was sent, in the client's units: a stale copy lands there
    ahead: int = 0  # edits applied and not reported when it was sent (stamped ahead by them, if `counted_ahead`)
    counted_ahead: bool = True  # the way its version was reckoned (`AnswerWriter.counts_ahead`)
    heard: int = 0  # the editor's changes heard before it was sent (`AnswerWriter.changes_heard`)
    answered: bool | None = None
    echoed: bool = False
    missed: bool = False  # a user change came first: not applied where it was meant to go
    in_doubt: bool = False  # said applied, but missed: dropped, or coming at its old place

    @property
    def stamped_ahead(self) -> bool:
        """Its version counted edits not reported yet, or would have (`counted_ahead`)."""
        return self.ahead > 0 and self.version is not None


@dataclass
class EditorWays:
    """How an editor counts versions, as learned by the answers written into
    it (module doc); one per editor, shared by its answers."""

    step: int = 1  # how much its version grows per edit applied
    counts_ahead: bool = True  # does its version count edits it applied and has not reported?

    @classmethod
    def first_guess(cls, client: str, version: str) -> EditorWays:
        """Before an answer has shown them, from the editor's name and version (module doc)."""
        numbers = tuple(int(part) if part.isdigit() else 0 for part in version.split(".")[:3])
        return cls(counts_ahead=not (client == "Eglot" and numbers >= (1, 17, 30)))


@dataclass(frozen=True)
class Edit:
    """One edit to send, in the client's units, for the editor's `version`."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str
    version: int | None


class AnswerWriter:
    def __init__(self, doc: TextDocument, delimiters: Delimiters, *, whole_lines: bool = False, versioned: bool = True,
                 trust_replies: bool = False, replacing: Change | None = None,
                 continuing: bool = False, ways: EditorWays | None = None) -> None:  # fmt: skip
        self.doc = doc
        self.delimiters = delimiters
        self.whole_lines = whole_lines
        self.versioned = versioned
        self.trust_replies = trust_replies
        self.anchor = doc.before_final_line_break()
        self.line_break = doc.line_break()
        self.pending = ""
        self.again: list[tuple[int, str]] = []  # (seq, text) to write again, in the order first sent
        self.opened = False
        self.continuing = continuing  # the text goes on an answer already there: no opening delimiter
        self.finishing = False
        self.closed = False
        self.sent: list[_Sent] = []  # in the order sent; gone once answered and echoed
        self.repairs: list[Change] = []
        # An old answer to take out (regenerate): a deletion sent as the first edit once the new
        # answer's first text is here (so a failure before it leaves the old one); as a repair.
        self.replacing: list[Change] = [replacing] if replacing is not None else []
        self.ways = ways if ways is not None else EditorWays()  # learned for sure, and kept for the next answer
        self.counts_ahead = self.ways.counts_ahead  # this answer's guess, kept in `ways` once an edit bears it out
        self.applies_late: bool | None = None  # learned: does the client apply stale edits after all?
        self.waiting_for_change = False
        self.hold_repairs = False  # set by the server while the user is typing
        self.user_changes = 0
        self.changes_heard = 0  # didChange content changes, ours and the user's
        self.refusals_in_a_row = 0
        self.edits_sent = 0
        self.edits_refused = 0
        self.edits_moved = 0
        self._report_echoes = 0  # edits echoed in the report being heard
        self._report_clean = True  # ...and nothing else in it
        self._report_from: int | None = doc.version

    # -- input -----------------------------------------------------------------

    def add(self, text: str) -> None:
        """Answer text from the provider."""
        self.pending += text

    def finish(self) -> None:
        """No more answer text will come: write the closing block, if an
        answer was started (and keep an old answer if none was)."""
        self.finishing = True
        if not self.pending:
            self.replacing.clear()

    @property
    def started(self) -> bool:
        return self.opened

    @property
    def all_sent(self) -> bool:
        """Everything is written and answered; echoes may still be on their way."""
        nothing_left = not self.pending and not self.again and not self.repairs
        settled = all(s.answered for s in self.sent) and not self.in_doubt
        return self.finishing and nothing_left and settled and (self.closed or not self.opened)

    @property
    def done(self) -> bool:
        """Everything is written and confirmed (or there was nothing)."""
        return self.all_sent and not self.sent

    @property
    def in_doubt(self) -> bool:
        """An edit said to be applied may have been dropped (see module doc)."""
        return any(s.in_doubt for s in self.sent)

    @property
    def unconfirmed(self) -> bool:
        """An edit the editor said it applied has not been echoed yet."""
        return any(s.answered and not s.echoed for s in self.sent)

    def retry_now(self) -> None:
        """Stop waiting for a change after a refused edit (the server's
        fallback when the editor stays silent)."""
        self.waiting_for_change = False

    def give_up_waiting(self) -> None:
        """The edits in doubt did not show up (the server's timer): take them
        as dropped and write their text again."""
        for sent in [s for s in self.sent if s.in_doubt]:
            if sent in self.sent:  # (writing one again may have written later ones again)
                self.applies_late = False
                self._write_again(sent)

    def trust_unconfirmed(self) -> None:
        """Stop waiting for the echoes of applied edits (the server's timer):
        the editor said it applied them."""
        self.sent = [s for s in self.sent if not (s.answered and not s.echoed)]

    # -- output ----------------------------------------------------------------

    def next_edit(self) -> Edit | None:
        """The edit to send now, or None (one is unanswered, or nothing to send)."""
        if self.waiting_for_change or self.in_doubt:
            return None
        if any(s.answered is None or s.repair is not None for s in self.sent):
            return None  # one unanswered at a time; a repair is confirmed before anything follows it
        if self.replacing and self.pending:
            self.repairs[:0], self.replacing = self.replacing, []
        if self.unconfirmed and not self.trust_replies:
            return None
        if self.repairs and not self.hold_repairs:
            if self.sent:
                return None  # a repair goes alone, once the answer's echoes are in
            return self._send_repair(self.repairs.pop(0))
        text = self._take_text()
        if not text:
            return None
        return self._send_text(text)

    def _take_text(self) -> str:
        if self.again:
            self.pending = "".join(text for _, text in self.again) + self.pending
            self.again.clear()
        if self.pending:
            if not self.opened:
                self.opened = True
                if not self.continuing:
                    self.pending = (
                        answer_opening(self.doc.text_before(self.anchor, _TAIL), self.delimiters) + self.pending
                    )
            text = self.pending
            if self.whole_lines and not self.finishing:
                text = text[: text.rfind("\n") + 1]
            elif self.line_break == "\r\n" and text.endswith("\r") and not self.finishing:
                text = text[:-1]  # its "\n" may come next
            self.pending = self.pending[len(text) :]
            return self._in_line_style(text)
        if self.finishing and self.opened and not self.closed:
            self.closed = True
            before = (self.doc.text_before(self.anchor, _TAIL) + self._unechoed_text())[-_TAIL:]
            after = self.doc.text_after(self.anchor, _TAIL)
            return self._in_line_style(answer_closing(before, self.delimiters, after))
        return ""

    def _in_line_style(self, text: str) -> str:
        """`text` with the document's line breaks: editors convert what they
        insert to them (and report it so), and the user's file keeps one style."""
        if self.line_break == "\n":
            return text
        return text.replace("\r\n", "\n").replace("\n", "\r\n")

    def _unechoed_text(self) -> str:
        return "".join(s.text for s in self.sent if not s.echoed)

    def _send_text(self, text: str) -> Edit:
        at = self.doc.to_client_after(self.anchor, self._unechoed_text())
        ahead = sum(1 for s in self.sent if s.answered and not s.echoed)
        sent = _Sent(
            self.edits_sent, text, None, self._version(ahead), at, ahead, self.counts_ahead, self.changes_heard
        )
        return self._send(sent, at, at)

    def _send_repair(self, deletion: Change) -> Edit:
        start, end = self.doc.to_client(deletion.start), self.doc.to_client(deletion.end)
        return self._send(_Sent(self.edits_sent, "", deletion, self._version(0), start), start, end)

    def _version(self, edits_before: int) -> int | None:
        if not self.versioned or self.doc.version is None:
            return None
        return self.doc.version + (self.ways.step * edits_before if self.counts_ahead else 0)

    def _send(self, sent: _Sent, start: tuple[int, int], end: tuple[int, int]) -> Edit:
        self.sent.append(sent)
        self.edits_sent += 1
        return Edit(start, end, sent.text, sent.version)

    # -- the editor's reply ----------------------------------------------------

    def on_reply(self, applied: bool) -> None:
        """The editor answered the edit sent last."""
        sent = next((s for s in self.sent if s.answered is None), None)
        if sent is None:
            return
        sent.answered = applied
        if not applied:
            self.edits_refused += 1
            self.refusals_in_a_row += 1
            # Refused for a change heard since it was sent (the user's, or a report that crossed it):
            # tried again at once. Else for a change not heard of yet: wait for it before trying
            # again. Unless it may have been the version alone: then the other way is tried at once.
            explained = sent.missed or self.changes_heard > sent.heard
            self.waiting_for_change = not explained
            if sent.stamped_ahead and not explained:
                self.counts_ahead = not sent.counted_ahead
                self.waiting_for_change = self.counts_ahead
            self.sent.remove(sent)
            if not sent.echoed:
                self._queue_again(sent)
            return
        self.refusals_in_a_row = 0
        if sent.stamped_ahead:
            self.ways.counts_ahead = sent.counted_ahead  # (a refusal may have been the user's typing, unreported)
        if sent.echoed:
            self.sent.remove(sent)
        elif sent.missed:
            self._doubt(sent)

    def _doubt(self, sent: _Sent) -> None:
        if self.applies_late is False:
            self._write_again(sent)
        else:
            sent.in_doubt = True

    def _write_again(self, sent: _Sent) -> None:
        """`sent` did not land where it was meant to: remove it and queue its
        text (or its repair) again. Edits sent after an answer edit counted on
        it being there, so they are missed too."""
        self.sent.remove(sent)
        self._queue_again(sent)
        if sent.repair is None:
            for later in self.sent:
                if later.seq > sent.seq and not later.echoed:
                    later.missed = True
                    if later.answered:
                        self._doubt(later)

    def _queue_again(self, sent: _Sent) -> None:
        if sent.repair is not None:
            self.repairs.insert(0, sent.repair)
        else:
            self.again.append((sent.seq, sent.text))
            self.again.sort()

    # -- the editor's changes --------------------------------------------------

    def apply_change(self, change: Change) -> None:
        """Apply one didChange content change to the document, telling our
        own edits (in order, at a stale place, or inside a larger change) from
        the user's."""
        self.changes_heard += 1
        self.waiting_for_change = False
        if self._echo(change) or self._stale_echo(change) or self._echo_inside(change):
            return
        self._report_clean = False
        if change.start < change.end and change.start <= self.anchor <= change.end:
            # One change for several around the anchor (a merged report): piece by piece, so
            # that the anchor stays between the text before it and after it, as it was.
            self._user_changes_between(change.start, self.doc.text_between(change.start, change.end), change.text)
        else:
            self._on_user_change(self.doc.apply(change))

    def reported(self, version: int | None) -> None:
        """A didChange has been applied, change by change: the editor is now
        at `version`. Learn the version step from a report of echoes alone."""
        if self._report_clean and self._report_echoes and version is not None and self._report_from is not None:
            grown = version - self._report_from
            if grown > 0 and grown % self._report_echoes == 0:
                self.ways.step = grown // self._report_echoes
        self._report_echoes, self._report_clean, self._report_from = 0, True, version

    def _unechoed(self) -> list[_Sent]:
        return [s for s in self.sent if not s.echoed]

    def _answer_run(self) -> list[_Sent]:
        """The unechoed answer edits that come first, up to a repair."""
        run = []
        for sent in self._unechoed():
            if sent.repair is not None:
                break
            run.append(sent)
        return run

    def _echo(self, change: Change) -> bool:
        """`change` is the echo of the next edit, or of several in a row."""
        unechoed = self._unechoed()
        if not unechoed:
            return False
        first = unechoed[0]
        if first.repair is not None:
            if not self.doc.same_result(change, first.repair):
                return False
            splice = self.doc.apply(first.repair)
            self.anchor = splice.map(self.anchor)
            self._map_repairs(splice)
            self._echoed([first])
            return True
        run = self._answer_run()
        text = ""
        for count, sent in enumerate(run, 1):
            text += sent.text
            if self.doc.same_result(change, Change.insert(self.anchor, text)):
                self._write_echo(run[:count], text)
                return True
        return False

    def _write_echo(self, run: list[_Sent], text: str) -> None:
        # Apply our own change, not the editor's description of it: the text is
        # the same, and ours says exactly where the answer now ends.
        splice = self.doc.apply(Change.insert(self.anchor, text))
        self.anchor = self.doc.advance(self.anchor, len(text))
        self._map_repairs(splice)
        self._echoed(run)

    def _echoed(self, run: list[_Sent]) -> None:
        for sent in run:
            sent.echoed = True
            self._report_echoes += 1
            if sent.answered:
                self.sent.remove(sent)

    def _stale_echo(self, change: Change) -> bool:
        """`change` put a copy of the next edit at its old coordinates."""
        run = self._answer_run()
        if not run or run[0].client_start == self.doc.to_client(self.anchor):
            return False  # nothing moved since it was sent: a copy there is an echo
        sent = run[0]
        # The editor reads the old coordinates against its new text, in its own units
        # (a multi-byte character typed earlier on the line shifts them), and clamps.
        at = self.doc.from_client(*sent.client_start)
        copies = [Change.insert(at, sent.text)]
        if at == self.doc.end() and at.character == 0 and at.line > 0:
            # Neovim: a line added after the last one gets a line break of its own.
            copies.append(Change.insert(at, sent.text + self.line_break))
        copy = next((c for c in copies if self.doc.same_result(change, c)), None)
        if copy is None:
            return False
        splice = self.doc.apply(copy)  # the same text as the editor's change, placed as we know it
        self.edits_moved += 1
        self._report_clean = False
        if sent.version is not None:
            self.applies_late = True
        self.anchor = splice.map(self.anchor)
        self._map_repairs(splice)
        self.repairs.append(Change(copy.start, self.doc.advance(copy.start, len(copy.text)), ""))
        sent.echoed = True  # as a copy: its text is written again at the anchor
        self.sent.remove(sent)
        self._queue_again(sent)
        return True

    def _echo_inside(self, change: Change) -> bool:
        """`change` holds the next edits' text beside the user's changes (one
        diff, or the whole text, for several changes; the user may even have
        typed inside the new text). Of the readings (the first edits at the
        anchor, the next ones at their old coordinates: stale copies, the rest
        the user's) the one that leaves the least to the user wins; on a tie,
        an echo before a copy (see below)."""
        run = self._answer_run()
        if not run or not change.text:
            return False  # (a deletion holds no edit's text)
        # The change, widened to hold the anchor, and by the edits' length either side: a
        # diff may have put the text it inserted anywhere in a run of repeated text.
        margin = sum(len(s.text) for s in run)
        near = self.doc.advance_back(self.anchor, margin) <= change.end and change.start <= self.doc.advance(
            self.anchor, margin
        )
        if not near and len(change.text) < len(run[0].text):
            return False  # it cannot hold the text (and a keystroke elsewhere costs no more than this)
        start = self.doc.advance_back(min(change.start, self.anchor), margin)
        end = min(self.doc.advance(max(change.end, self.anchor), margin), self.doc.end())
        old = self.doc.text_between(start, end)
        new = self.doc.text_between(start, change.start) + change.text + self.doc.text_between(change.end, end)
        at = len(self.doc.text_between(start, self.anchor))
        # Readings: the first `placed` edits at the anchor, then `copied` more at their old
        # coordinates, the rest the user's. (0, 0) is "all the user's". Each is (the text it
        # expects, the text it leaves to compare): a diff costs milliseconds, so they are diffed
        # cheapest-looking first (a reading costs at least the difference of the lengths), and
        # the rest are skipped once none can cost less than the best so far.
        # On a tie the first wins: all the user's, then edits at the anchor (fewest first), then
        # copies (an edit's text where it was sent is its echo there, and a copy's too).
        readings: list[tuple[tuple[int, int, int], str, str]] = [((0, 0, 0), old, new)]
        copy_readings: list[tuple[tuple[int, int, int], str, str]] = []
        for placed in range(len(run) + 1):
            text = "".join(s.text for s in run[:placed])
            expected = old[:at] + text + old[at:]
            if placed:
                readings.append(((placed, 0, 0), expected, new))
            if self.versioned and self.counts_ahead and not self.applies_late:
                continue  # a stale copy only from a client whose versions do not protect, or seen to apply late
            begin, copies = self._copies_in(new, start, end, run[placed:])
            copied = ""
            for count in range(1, copies + 1):
                copied += run[placed + count - 1].text
                copy_readings.append(((placed, count, begin), expected, new[:begin] + new[begin + len(copied) :]))
        placed, copies, copy_at = _cheapest(readings + copy_readings)
        if not placed and not copies:
            return False
        self._report_clean = False
        text = "".join(s.text for s in run[:placed])
        if placed:
            self._write_echo(run[:placed], text)
        expected = old[:at] + text + old[at:]
        if copies:
            self._copied(run[placed : placed + copies], start, expected, new, copy_at)
        else:
            self._user_changes_between(start, expected, new)
        return True

    def _copied(self, run: list[_Sent], start: Position, old: str, new: str, copy_at: int) -> None:
        """`new` holds copies of `run` at `copy_at`, their old coordinates:
        the user's changes are the rest; the copies are deleted (a repair) and
        their text is written again at the anchor."""
        text = "".join(s.text for s in run)
        for sent in run:
            sent.echoed = True
            self.sent.remove(sent)
            self._queue_again(sent)
            self.edits_moved += 1
            if sent.version is not None:
                self.applies_late = True
        self._user_changes_between(start, old, new[:copy_at] + new[copy_at + len(text) :])
        copy = Change.insert(self.doc.advance(start, copy_at), text)
        splice = self.doc.apply(copy)
        self.anchor = splice.map(self.anchor)
        self._map_repairs(splice)
        self.repairs.append(Change(copy.start, self.doc.advance(copy.start, len(text)), ""))

    def _copies_in(self, new: str, start: Position, end: Position, run: list[_Sent]) -> tuple[int, int]:
        """Where `new` (the text from `start` to `end`) holds copies of the
        first edits of `run` at their old coordinates, each just after the
        one before: (offset of the first, how many). Only there, or where the
        editor clamped those coordinates (`_copy_at`): a copy the user moved
        by typing before the editor reported it cannot be told from the user's
        own text (README, "Editing while it streams")."""
        first_line = self.doc.lines[start.line][: start.character]
        text = first_line + new
        begin, count, expected = 0, 0, -1
        for sent in run:
            line, character = sent.client_start
            if line < start.line:
                break
            if count:
                offset = expected
            else:
                at = _copy_at(text, (line - start.line, character), sent.text, self.doc.encoding,
                              whole=end == self.doc.end(), followers=tuple(s.text for s in run[1:]))  # fmt: skip
                offset = -1 if at is None else at - len(first_line)
            if offset < 0 or new[offset : offset + len(sent.text)] != sent.text:
                break
            if not count:
                begin = offset
            count, expected = count + 1, offset + len(sent.text)
        return begin, count

    def _user_changes_between(self, start: Position, before: str, after: str) -> None:
        """The user's changes that turned `before` (the document's text from
        `start` on) into `after`, applied piece by piece so that the anchor
        moves exactly."""
        for first, last, typed in reversed(_differences(before, after)):  # from the end: offsets stay true
            change = Change(self.doc.advance(start, first), self.doc.advance(start, last), typed)
            self._on_user_change(self.doc.apply(change))

    def _on_user_change(self, splice: Splice) -> None:
        self.user_changes += 1
        self.refusals_in_a_row = 0  # a refusal the user's typing explains is no sign of a dead editor
        self.anchor = splice.map(self.anchor)
        for sent in self._unechoed():
            sent.missed = True
            if sent.answered and not sent.in_doubt:
                self._doubt(sent)
        self._map_repairs(splice)

    def _map_repairs(self, splice: Splice) -> None:
        """Carry the repairs (and a repair on its way) across a change."""
        self.repairs = [piece for r in self.repairs for piece in _map_deletion(splice, r)]
        self.replacing = [piece for r in self.replacing for piece in _map_deletion(splice, r)]
        for sent in self._unechoed():
            if sent.repair is not None:
                sent.repair = _map_change(splice, sent.repair)


def _copy_at(
    text: str, at: tuple[int, int], copy: str, encoding: str, *, whole: bool, followers: tuple[str, ...] = ()
) -> int | None:
    """The offset in `text` of a copy of `copy` inserted at the client
    position `at` of the text without it, as editors clamp: a column past its
    line's end is that end (the copy then ends its line, or the copies of
    the edits sent after it, `followers`, clamped there too, follow it and
    end it), a line past the last is the end. `whole`: `text` runs to the
    document's end (else its last line may be cut short, and only a copy
    followed by a line break can have been clamped)."""
    scratch = TextDocument("", text, encoding=encoding)
    line, character = at
    if line < len(scratch.lines):
        pos = scratch.from_client(line, character)
        offset = sum(len(x) for x in scratch.lines[:line]) + pos.character
        if scratch.to_client(pos) == at and text.startswith(copy, offset):
            return offset  # where it was sent: nothing clamped
        line_start = offset - pos.character
        found = text.find(copy, line_start, line_start + len(scratch.lines[line]) + len(copy))
        while found != -1:
            clamped = scratch.units(text[line_start:found]) < character and "\n" not in text[line_start:found]
            if clamped and _ends_its_line(text, found + len(copy), followers, whole):
                return found
            found = text.find(copy, found + 1, line_start + len(scratch.lines[line]) + len(copy))
    if whole and text.endswith(copy):
        found = len(text) - len(copy)
        before = text[:found]
        if before.count("\n") + before.count("\r") - before.count("\r\n") < line:
            return found  # sent past the last line of the text it met: at the end
    return None


def _ends_its_line(text: str, end: int, followers: tuple[str, ...], whole: bool) -> bool:
    """Whether a line break (or, `whole`, the end) comes at `end` in `text`,
    or after the first of `followers`, one after the other."""
    for follower in ("", *followers):
        if not text.startswith(follower, end):
            return False
        end += len(follower)
        after = text[end : end + 1]
        if after in ("\r", "\n") if after else whole:
            return True
    return False


def _differences(a: str, b: str) -> list[tuple[int, int, str]]:
    """The pieces that turn `a` into `b`, in order: (start, end, new text),
    offsets in `a`. A diff when the part between their common ends is short
    (`_DIFF_LIMIT`), else that part as one piece."""
    prefix, suffix = common_ends(a, b)
    middle_a, middle_b = a[prefix : len(a) - suffix], b[prefix : len(b) - suffix]
    if not middle_a and not middle_b:
        return []
    if len(middle_a) + len(middle_b) > _DIFF_LIMIT:
        return [(prefix, len(a) - suffix, middle_b)]
    opcodes = SequenceMatcher(None, middle_a, middle_b, autojunk=False).get_opcodes()
    return [(prefix + i1, prefix + i2, middle_b[j1:j2]) for tag, i1, i2, j1, j2 in opcodes if tag != "equal"]


def _cheapest(readings: list[tuple[tuple[int, int, int], str, str]]) -> tuple[int, int, int]:
    """The reading whose two texts differ least (`_diff_size`), the first of
    equals; each diffed only while its length difference (a bound below its
    cost) is under the best cost so far."""
    order = sorted(range(len(readings)), key=lambda i: (abs(len(readings[i][1]) - len(readings[i][2])), i))
    best_cost, best_index = -1, -1
    for index in order:
        _, a, b = readings[index]
        bound = abs(len(a) - len(b))
        if best_index >= 0 and (bound > best_cost or (bound == best_cost and index > best_index)):
            break  # (in this order, every reading left costs more, or as much and comes later)
        cost = _diff_size(a, b)
        if best_index < 0 or cost < best_cost or (cost == best_cost and index < best_index):
            best_cost, best_index = cost, index
    return readings[best_index][0]


def _diff_size(a: str, b: str) -> int:
    """Code points deleted plus inserted to turn `a` into `b` (`_differences`)."""
    return sum(end - start + len(text) for start, end, text in _differences(a, b))


def _map_deletion(splice: Splice, deletion: Change) -> list[Change]:
    """A range to delete, across a change; text typed inside it splits it
    in two, so the user's text is never deleted."""
    mapped = _map_change(splice, deletion)
    typed_start, typed_end = splice.inserted
    if mapped.start < typed_start and typed_end < mapped.end and typed_start < typed_end:
        return [Change(mapped.start, typed_start, ""), Change(typed_end, mapped.end, "")]
    return [mapped] if mapped.start < mapped.end else []


def _map_change(splice: Splice, change: Change) -> Change:
    if change.start == change.end:
        at = splice.map(change.start)
        return Change(at, at, change.text)
    start = splice.map(change.start, stick_after=True)
    end = max(start, splice.map(change.end))
    return Change(start, end, change.text)
