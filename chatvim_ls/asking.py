"""What a chat sends, and the provider's events for it: one way for the
server and the command line, so that a chat is sent the same from both.

- `ask` parses the chat, builds the request (`request.py`) with the files
  of the question's `@file:` references (`context.py`, under
  `context_rules`), picks the provider, and checks that its key variable is
  set: a missing one is refused before anything is sent, not mid-stream.
  Every failure is a `ChatvimError`; nothing has left the machine then.
- `events` gets the key (its variable, or its command's output, remembered
  as a secret so that no log shows it) and streams the provider's events
  (`llm.py`) with config.md's timeouts and retries.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .chat import Chat, parse_chat
from .config import GlobalConfig, ServerOptions
from .context import CONTEXT_LIMIT, Rules, expand
from .llm import Event, Timeouts, stream_answer
from .providers import Provider, api_key, key_from_environment, provider_named
from .request import ChatRequest, build_request
from .secrets import remember_secret
from .settings import Settings


@dataclass(frozen=True)
class Asked:
    """A chat ready to send."""

    chat: Chat
    request: ChatRequest
    provider: Provider
    options: ServerOptions
    settings: Settings  # the chat's own over config.md's


def ask(
    text: str, path: Path | None, config: GlobalConfig, env: Mapping[str, str], *, continues: bool = False
) -> Asked:
    """The request the chat `text` (saved at `path`, if it is a file) sends now."""
    chat = parse_chat(text, config.settings)
    request = build_request(chat, config, env, continues=continues)
    request = replace(request, messages=expand(request.messages, context_rules(path, config.options)))
    provider = provider_named(request.provider, config.providers, env)
    if not provider.key_command:
        key_from_environment(provider, env)
    return Asked(chat, request, provider, config.options, chat.settings.over(config.settings))


def context_rules(path: Path | None, options: ServerOptions) -> Rules:
    """What `@file:` may send from the chat at `path` (None: not a file), a
    path as written: it is resolved here, once (the server passes
    `documents.written_path`, not the resolved `file_path`)."""
    return Rules(path.resolve().parent if path else None, options.context_roots, options.context_limit or CONTEXT_LIMIT)


async def events(asked: Asked) -> AsyncGenerator[Event, None]:
    options = asked.options
    key = await api_key(asked.provider)
    if key:
        remember_secret(key)
    timeouts = Timeouts(
        first_byte=options.first_byte_timeout or Timeouts.first_byte,
        between_chunks=options.chunk_timeout or Timeouts.between_chunks,
    )
    retries = options.max_retries if options.max_retries is not None else 2
    async for event in stream_answer(asked.request, asked.provider, key, timeouts=timeouts, max_retries=retries):
        yield event
