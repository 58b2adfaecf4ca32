"""The exact request a chat would send: model, provider, messages, options.

`build_request` joins a parsed chat with the global configuration and the
environment (for choosing a provider when none is named) and either returns
a `ChatRequest` or raises a `RequestError` whose message says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .chat import Chat, Message
from .config import GlobalConfig
from .problems import ChatvimError, Problem
from .providers import NoModel, choose

#: Settings passed to the provider as they are, when set.
SAMPLING_OPTIONS = ("temperature", "top_p", "max_tokens", "reasoning_effort", "seed", "stop")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    provider: str
    messages: list[Message]
    options: dict[str, Any] = field(default_factory=dict)
    continues: bool = False  # the last message is a partial answer, to be continued (`chatvim.continue`)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model or None,  # none: a preview of a chat with no model (`preview`)
            "provider": self.provider or None,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            **self.options,
        }


class RequestError(ChatvimError):
    """Why a chat cannot be sent. `line` (0-based) is where to look, if
    known; `short` is then `line N: message`."""

    def __init__(self, message: str, line: int | None = None, problem: Problem | None = None) -> None:
        super().__init__(message, short=f"line {line + 1}: {message}" if line is not None else None)
        self.line = line
        self.problem = problem

    def one_line(self, where: str) -> str:
        if self.problem is not None:
            return self.problem.one_line(where)
        place = f"{where}:{self.line + 1}" if self.line is not None else where
        return f"{place}: error: {self}"


def build_request(chat: Chat, config: GlobalConfig, env: Mapping[str, str], *, preview: bool = False,
                  continues: bool = False) -> ChatRequest:  # fmt: skip
    """The request, or `RequestError` (`providers.ChoiceError` when no
    provider or model can be chosen). A `preview` (the dry run) may have no
    model: then its model and provider are "" (see `providers.NO_MODEL`)."""
    if chat.errors:
        first = chat.errors[0]
        more = len(chat.errors) - 1
        message = first.message + (f" (and {more} more error{'s' * (more > 1)})" if more else "")
        raise RequestError(message, first.range.start.line, Problem(first.severity, message, first.range))
    settings = chat.settings.over(config.settings)
    messages = [Message("system", settings.system)] if settings.system else []
    messages += config.preamble + chat.messages
    if not continues:
        _check_last_message(chat, messages, settings.delimiters.user)
    elif not messages or messages[-1].role != "assistant":
        raise RequestError("nothing to continue: the chat must end with an answer")
    try:
        model, provider = choose(settings.model, settings.provider, config.providers, env)
    except NoModel:
        if not preview:
            raise
        model = provider = ""
    options = {name: getattr(settings, name) for name in SAMPLING_OPTIONS if getattr(settings, name) is not None}
    return ChatRequest(model, provider, messages, options, continues)


def _check_last_message(chat: Chat, messages: list[Message], user_delimiter: str) -> None:
    if not chat.turns:
        raise RequestError(f"nothing to send: the chat is empty; write your message under a `{user_delimiter}`")
    if messages and messages[-1].role == "user":
        return
    last = chat.turns[-1]
    if last.role == "user" and not last.content:
        raise RequestError(f"nothing to send: write your message under the last `{user_delimiter}`", last.start_line)
    raise RequestError(f"nothing to send: add a `{user_delimiter}` line at the end and write under it", last.start_line)
