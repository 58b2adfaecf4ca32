"""Writing a streamed answer into a document the user keeps editing.

`AnswerWriter` is the pure core of a completion's output: it knows the
document, where the answer goes (the anchor), the text waiting to be written
and the one edit in flight. The server feeds it the provider's text and the
editor's changes, asks it for the next edit and tells it the editor's reply.
It never waits, sleeps or speaks LSP.

How the answer stays whole while the user types:

- One edit in flight per document. Text that arrives meanwhile waits and goes
  out with the next edit: coalescing under backpressure, no timer.
- An edit counts as written only when its echo comes back in didChange: a
  change that leaves the document exactly as the edit would. Editors report
  changes their own way (Neovim as a diff of lines), so the test compares
  results, not ranges.
- User changes move the anchor. Text typed exactly at the anchor stays after
  the answer.
- A versioned edit that is not the first change after its version was not
  applied where it was meant to go. Refused (Helix): its text is queued
  again. Said to be applied (Neovim drops it; VS Code may apply it late at
  its old coordinates): it is "in doubt" until its late copy shows up or the
  server gives up waiting (`give_up_waiting`), and the client's way is learned.
- An edit applied at stale coordinates (VS Code, or any client given
  unversioned edits) shows up as an echo at the old place: that copy is
  deleted and the text is written again at the anchor. Such a client could
  apply the deletion at stale coordinates too, if the user typed again in
  that instant; so the server holds repairs back while the user is typing
  (`hold_repairs`) and sends them in the next pause.
- In a document whose lines end in CRLF, the answer's line breaks are
  written as CRLF: editors convert inserted text to the document's line
  breaks and report it so, and an echo must match what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from .render import answer_closing, answer_opening
from .settings import Delimiters
from .textdoc import Change, Splice, TextDocument

_TAIL = 64  # code points before the anchor that decide the delimiter padding


@dataclass
class _Sent:
    """An edit on its way: as sent, and where it lands if applied in order."""

    sent: Change
    expected: Change
    version: int | None
    moves_anchor: bool
    client_start: tuple[int, int]  # where it was sent, in the client's units: a stale copy lands there
    answered: bool | None = None
    echoed: bool = False
    missed: bool = False  # a user change came first: not applied in order
    in_doubt: bool = False  # said applied, but not in order: dropped, or coming late


@dataclass(frozen=True)
class Edit:
    """One edit to send: `change` in the document's coordinates at `version`."""

    change: Change
    version: int | None


class AnswerWriter:
    def __init__(self, doc: TextDocument, delimiters: Delimiters, *, whole_lines: bool = False,
                 versioned: bool = True) -> None:  # fmt: skip
        self.doc = doc
        self.delimiters = delimiters
        self.whole_lines = whole_lines
        self.versioned = versioned
        self.anchor = doc.before_final_line_break()
        self.line_break = doc.line_break()
        self.pending = ""
        self.opened = False
        self.finishing = False
        self.closed = False
        self.in_flight: _Sent | None = None
        self.repairs: list[Change] = []
        self.applies_late: bool | None = None  # learned: does the client apply stale edits late?
        self.waiting_for_change = False
        self.hold_repairs = False  # set by the server while the user is typing
        self.user_changes = 0
        self.changes_heard = 0  # didChange content changes, ours and the user's
        self.refusals_in_a_row = 0
        self.edits_sent = 0
        self.edits_refused = 0
        self.edits_moved = 0

    # -- input -----------------------------------------------------------------

    def add(self, text: str) -> None:
        """Answer text from the provider."""
        self.pending += text

    def finish(self) -> None:
        """No more answer text will come: write the closing block, if an
        answer was started."""
        self.finishing = True

    @property
    def done(self) -> bool:
        """Everything is written and confirmed (or there was nothing)."""
        nothing_left = not self.pending and not self.repairs and self.in_flight is None
        return self.finishing and nothing_left and (self.closed or not self.opened)

    @property
    def started(self) -> bool:
        return self.opened

    @property
    def in_doubt(self) -> bool:
        """An edit said to be applied may still arrive late (see module doc)."""
        return self.in_flight is not None and self.in_flight.in_doubt

    @property
    def awaiting_echo(self) -> bool:
        """The editor said it applied the edit in flight; its didChange has not come."""
        sent = self.in_flight
        return sent is not None and bool(sent.answered) and not sent.echoed

    def retry_now(self) -> None:
        """Stop waiting for a change after a refused edit (the server's
        fallback when the editor stays silent)."""
        self.waiting_for_change = False

    def give_up_waiting(self) -> None:
        """The edit's echo did not come in time (the server's timer): take it
        as dropped. Answer text is written again (never lost); a repair is
        forgotten."""
        sent = self.in_flight
        if sent is None or sent.echoed:
            return
        if sent.in_doubt:
            self.applies_late = False
        if sent.moves_anchor:
            self._requeue(sent)
        self.in_flight = None

    # -- output ----------------------------------------------------------------

    def next_edit(self) -> Edit | None:
        """The edit to send now, or None (one is in flight, or nothing to send)."""
        if self.in_flight is not None or self.waiting_for_change:
            return None
        if self.repairs and not self.hold_repairs:
            change = self.repairs.pop(0)
            return self._send(change, moves_anchor=False)
        text = self._take_text()
        if not text:
            return None
        return self._send(Change.insert(self.anchor, text), moves_anchor=True)

    def _take_text(self) -> str:
        if self.pending:
            if not self.opened:
                self.opened = True
                self.pending = answer_opening(self.doc.text_before(self.anchor, _TAIL), self.delimiters) + self.pending
            text = self.pending
            if self.whole_lines and not self.finishing:
                text = text[: text.rfind("\n") + 1]
            elif self.line_break == "\r\n" and text.endswith("\r") and not self.finishing:
                text = text[:-1]  # its "\n" may come next
            self.pending = self.pending[len(text) :]
            return self._in_line_style(text)
        if self.finishing and self.opened and not self.closed:
            self.closed = True
            before, after = self.doc.text_before(self.anchor, _TAIL), self.doc.text_after(self.anchor, _TAIL)
            return self._in_line_style(answer_closing(before, self.delimiters, after))
        return ""

    def _in_line_style(self, text: str) -> str:
        """`text` with the document's line breaks: editors convert what they
        insert to them (and report it so), and the user's file keeps one style."""
        if self.line_break == "\n":
            return text
        return text.replace("\r\n", "\n").replace("\n", "\r\n")

    def _send(self, change: Change, *, moves_anchor: bool) -> Edit:
        version = self.doc.version if self.versioned else None
        self.in_flight = _Sent(change, change, version, moves_anchor, self.doc.to_client(change.start))
        self.edits_sent += 1
        return Edit(change, version)

    # -- the editor's reply ----------------------------------------------------

    def on_reply(self, applied: bool) -> None:
        """The editor answered the edit in flight."""
        sent = self.in_flight
        if sent is None:
            return
        sent.answered = applied
        if not applied:
            self.edits_refused += 1
            self.refusals_in_a_row += 1
            # Refused for a change not heard of yet: wait for it before trying again.
            self.waiting_for_change = not sent.missed
            if not sent.echoed:
                self._requeue(sent)
            self.in_flight = None
            return
        self.refusals_in_a_row = 0
        if sent.echoed:
            self.in_flight = None
        elif sent.missed and sent.version is not None:
            self._doubt(sent)

    def _doubt(self, sent: _Sent) -> None:
        if self.applies_late is False:
            self._requeue(sent)
            self.in_flight = None
        else:
            sent.in_doubt = True

    def _requeue(self, sent: _Sent) -> None:
        if sent.moves_anchor:
            self.pending = sent.sent.text + self.pending
        else:
            self.repairs.insert(0, sent.expected)

    # -- the editor's changes --------------------------------------------------

    def apply_change(self, change: Change) -> None:
        """Apply one didChange content change to the document, telling our
        own edits (in order, or at a stale place) from the user's."""
        self.changes_heard += 1
        self.waiting_for_change = False
        sent = self.in_flight
        if sent is not None and not sent.echoed and self.doc.same_result(change, sent.expected):
            self._on_echo(sent)
            return
        stale = self._stale_copy_of(change)
        if stale is not None:
            self._on_stale_echo(*stale)
            return
        self._on_user_change(self.doc.apply(change))

    def _on_echo(self, sent: _Sent) -> None:
        # Apply our own change, not the editor's description of it: the text is
        # the same, and ours says exactly where the answer now ends.
        splice = self.doc.apply(sent.expected)
        sent.echoed = True
        if sent.moves_anchor:
            self.anchor = self.doc.advance(sent.expected.start, len(sent.expected.text))
        else:
            self.anchor = splice.map(self.anchor)
        self._map_pending_positions(splice)
        if sent.answered:
            self.in_flight = None

    def _stale_copy_of(self, change: Change) -> tuple[_Sent, Change] | None:
        """The edit in flight and the copy of it that `change` put at its old
        coordinates, if that is what `change` did."""
        sent = self.in_flight
        if sent is None or sent.echoed or not sent.moves_anchor or sent.sent == sent.expected:
            return None
        # The editor reads the old coordinates against its new text, in its own units
        # (a multi-byte character typed earlier on the line shifts them), and clamps.
        at = self.doc.from_client(*sent.client_start)
        copies = [Change.insert(at, sent.sent.text)]
        if at == self.doc.end() and at.character == 0 and at.line > 0:
            # Neovim: a line added after the last one gets a line break of its own.
            copies.append(Change.insert(at, sent.sent.text + self.line_break))
        for copy in copies:
            if self.doc.same_result(change, copy):
                return sent, copy
        return None

    def _on_stale_echo(self, sent: _Sent, copy: Change) -> None:
        splice = self.doc.apply(copy)  # the same text as the editor's change, placed as we know it
        sent.echoed = True
        self.edits_moved += 1
        if sent.version is not None:
            self.applies_late = True
        misplaced = Change(copy.start, self.doc.advance(copy.start, len(copy.text)), "")
        self.anchor = splice.map(self.anchor)
        self._map_pending_positions(splice)
        self.repairs.append(misplaced)
        self._requeue(sent)
        if sent.answered:
            self.in_flight = None

    def _on_user_change(self, splice: Splice) -> None:
        self.user_changes += 1
        self.anchor = splice.map(self.anchor)
        sent = self.in_flight
        if sent is not None and not sent.echoed:
            sent.missed = True
            if sent.answered and sent.version is not None and not sent.in_doubt:
                self._doubt(sent)
        self._map_pending_positions(splice)

    def _map_pending_positions(self, splice: Splice) -> None:
        """Carry the in-flight edit and the repairs across a change."""
        sent = self.in_flight
        if sent is not None and not sent.echoed:
            sent.expected = _map_change(splice, sent.expected)
        self.repairs = [piece for r in self.repairs for piece in _map_deletion(splice, r)]


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
