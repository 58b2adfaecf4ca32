"""Talking to a provider: one streamed chat completion, as plain events.

`stream_answer` opens an OpenAI-compatible Chat Completions stream and yields
`Text`, `Reasoning`, `Usage` and finally `Finish`, smoothing over how
providers differ (usage chunks with no choices, reasoning under
`reasoning_content` or `reasoning`, content as a list of typed parts). Every
failure becomes a `ProviderError` whose message is one line saying the cause
and the fix. `openai` is imported on first use: it takes most of a second.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .providers import Provider
from .request import ChatRequest

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Reasoning:
    text: str


@dataclass(frozen=True)
class Usage:
    completion_tokens: int | None
    prompt_tokens: int | None
    cost: float | None = None


@dataclass(frozen=True)
class Finish:
    reason: str | None  # None: the stream ended without saying why (cut)


Event = Text | Reasoning | Usage | Finish


@dataclass(frozen=True)
class Timeouts:
    first_byte: float = 180.0  # reasoning models may think for minutes before answering
    between_chunks: float = 90.0
    connect: float = 10.0


class ProviderError(Exception):
    """A completion failed; the message is one line: cause, then fix."""


async def stream_answer(
    request: ChatRequest,
    provider: Provider,
    key: str | None,
    *,
    timeouts: Timeouts = Timeouts(),
    max_retries: int = 2,
) -> AsyncIterator[Event]:
    import openai

    setup = (provider.name, provider.base_url, key or "no-key", tuple(sorted(provider.headers.items())))
    client = _client(asyncio.get_running_loop(), *setup, timeouts, max_retries)
    try:
        try:
            stream = await asyncio.wait_for(
                client.chat.completions.create(**_arguments(request, provider), stream=True),
                timeouts.first_byte,
            )
        except asyncio.TimeoutError:
            raise ProviderError(_no_answer(provider, timeouts.first_byte, "before answering")) from None
        async with stream:
            finish: str | None = None
            chunks = aiter(stream)
            while True:
                try:
                    chunk = await asyncio.wait_for(anext(chunks), timeouts.between_chunks)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise ProviderError(_no_answer(provider, timeouts.between_chunks, "mid-answer")) from None
                except ValueError:  # the SDK's json.loads of one `data:` line
                    raise ProviderError(f"{provider.name} sent an event that is not valid JSON; try again") from None
                except openai.APIConnectionError as exc:
                    raise ProviderError(
                        f"the connection to {provider.name} broke off mid-answer ({_root_cause(exc)}); "
                        "the text so far is kept; try again"
                    ) from None
                for event in _events(chunk):
                    if isinstance(event, Finish):
                        finish = event.reason
                    else:
                        yield event
            yield Finish(finish)
    except openai.APIError as exc:
        raise ProviderError(describe_error(exc, provider, request.model)) from None


@functools.lru_cache(maxsize=16)
def _client(
    loop: asyncio.AbstractEventLoop,
    name: str,
    base_url: str,
    key: str,
    headers: tuple[tuple[str, str], ...],
    timeouts: Timeouts,
    max_retries: int,
) -> openai.AsyncOpenAI:
    """One client per provider setup (and event loop, which its connections
    belong to), kept: its connections are reused, and a new client per answer
    (an SSL context and a connection pool each) made the server's memory creep
    up by about 25 kB an answer."""
    import openai

    client = openai.AsyncOpenAI(
        base_url=base_url,
        api_key=key,
        default_headers=dict(headers) or None,
        timeout=openai.Timeout(timeouts.first_byte, connect=timeouts.connect),
        max_retries=max_retries,
    )
    if name != "openai":  # the SDK reads OPENAI_ORG_ID/OPENAI_PROJECT_ID: OpenAI's, for OpenAI only
        client.organization = client.project = None
    return client


def _arguments(request: ChatRequest, provider: Provider) -> dict[str, Any]:
    options = dict(request.options)
    if provider.name == "openai" and "max_tokens" in options:
        # OpenAI's reasoning models refuse max_tokens; every OpenAI model takes this.
        options["max_completion_tokens"] = options.pop("max_tokens")
    arguments: dict[str, Any] = {
        "model": request.model,
        # The SDK walks `messages` with typing introspection, about 0.2 ms a message
        # (4 s for a chat of 20,000 turns); plain dicts need none, and `extra_body`
        # puts them in the JSON body as they are, in place of this empty list.
        "messages": [],
        "extra_body": {"messages": [{"role": m.role, "content": m.content} for m in request.messages]},
        **options,
    }
    if provider.stream_usage:
        arguments["stream_options"] = {"include_usage": True}
    return arguments


def _events(chunk: Any) -> list[Event]:
    events: list[Event] = []
    usage = getattr(chunk, "usage", None)
    for choice in (getattr(chunk, "choices", None) or [])[:1]:
        delta = getattr(choice, "delta", None)
        if delta is not None:
            extra: Mapping[str, Any] = getattr(delta, "model_extra", None) or {}
            reasoning = extra.get("reasoning_content") or extra.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events.append(Reasoning(reasoning))
            text = _content_text(delta.content) + (getattr(delta, "refusal", None) or "")
            if text:
                events.append(Text(text))
        if getattr(choice, "finish_reason", None):
            events.append(Finish(choice.finish_reason))
    if usage is not None:
        cost = (getattr(usage, "model_extra", None) or {}).get("cost")
        events.append(Usage(usage.completion_tokens, usage.prompt_tokens, cost if isinstance(cost, float) else None))
    return events


def _content_text(content: Any) -> str:
    """Content as a string, or as typed parts (Mistral's magistral): the text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, Mapping) else getattr(p, "text", "") for p in content]
        types = [p.get("type") if isinstance(p, Mapping) else getattr(p, "type", None) for p in content]
        return "".join(
            text for text, kind in zip(parts, types, strict=True) if kind == "text" and isinstance(text, str)
        )
    return ""


def _no_answer(provider: Provider, seconds: float, when: str) -> str:
    return (
        f"{provider.name} sent nothing for {seconds:g} s {when}; try again, or raise the timeout in your configuration"
    )


def describe_error(exc: openai.APIError, provider: Provider, model: str) -> str:
    """One line: what went wrong at the provider, and what to do."""
    import openai

    name = provider.name
    if isinstance(exc, openai.APITimeoutError):
        return f"{name} did not answer in time; try again, or raise the timeout in your configuration"
    if isinstance(exc, openai.APIConnectionError):
        cause = _root_cause(exc)
        return f"cannot reach {name} at {provider.base_url} ({cause}); check the network or the provider's base_url"
    if not isinstance(exc, openai.APIStatusError):
        return f"{name}: {_first_line(str(exc))}"
    status = exc.status_code
    if status in _STATUS_MESSAGES:
        cause, fix = _STATUS_MESSAGES[status]
    elif status >= 500:
        cause, fix = "{name} had a server error ({status})", "try again later"
    else:
        cause, fix = "{name} refused the request ({status})", ""
    fields = {"name": name, "status": status, "model": repr(model), "key_hint": provider.key_env or "its api_key_cmd"}
    line = cause.format(**fields) + _detail(exc)
    return f"{line}; {fix.format(**fields)}" if fix else line


#: status -> (what happened, what to do); {name}, {model}, {key_hint} are filled in.
_STATUS_MESSAGES: dict[int, tuple[str, str]] = {
    401: ("{name} rejected the API key (401)", "check {key_hint}"),
    403: ("{name} refused access (403)", "check that your key may use model {model}"),
    404: ("model {model} not found at {name} (404)", "check the model name"),
    408: ("{name} timed out the request (408)", "try again"),
    413: ("{name} says the chat is too large (413)", "shorten the chat or start a new one"),
    429: ("{name} is rate limiting you (429)", "wait a moment and try again"),
}


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error if isinstance(error, str) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    return f": {_first_line(message)}"


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _root_cause(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        if isinstance(seen, ConnectionRefusedError):
            break
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    text = _first_line(str(seen)) or type(seen).__name__
    lowered = text.lower()
    if isinstance(seen, ConnectionRefusedError) or "refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "unknown host"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS error: " + text
    return text
