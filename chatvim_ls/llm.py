"""Talking to a provider: one streamed chat completion, as plain events.

`stream_answer` opens an OpenAI-compatible Chat Completions stream and yields
`Text`, `Reasoning`, `Usage` and finally `Finish`, smoothing over how
providers differ (usage chunks with no choices, reasoning under
`reasoning_content` or `reasoning`, content as a list of typed parts). Every
failure becomes a `ProviderError` whose message is one line saying the cause
and the fix. `openai` is imported on first use, or ahead of it (`preload`): it
takes most of a second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import importlib
import re
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .messages import first_fitting, shorten, with_detail
from .problems import ChatvimError
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


class ProviderError(ChatvimError):
    """The provider failed to answer; the message is one line: cause, then
    fix (`messages`). `detail` holds what the provider said, for the log;
    `network`, whether the provider could not be reached or went silent
    (else it answered, with an error)."""

    def __init__(self, message: str, detail: str | None = None, *, network: bool = False) -> None:
        super().__init__(message)
        self.detail = detail
        self.network = network


#: What the SDK imports lazily on its first request (about 0.2 s): loaded ahead too.
_FIRST_REQUEST_MODULES = ("anyio._backends._asyncio",)


_preloading: concurrent.futures.Future[ssl.SSLContext | None] | None = None


def preload() -> concurrent.futures.Future[ssl.SSLContext | None]:
    """Load what the first answer needs in a thread of its own, once (the
    server calls this when a chat is opened): openai (most of a second), what
    the SDK imports on its first request, and one SSL context for every
    client (its CA bundle takes 50 ms to read). A server with no chat open
    never pays the memory. Await the future before using openai: importing it
    on the event loop while the thread imports it would block the loop. A load
    that failed is tried again by the next call (call it from the loop only)."""
    global _preloading
    if _preloading is not None and not (_preloading.done() and _preloading.exception()):
        return _preloading
    future: concurrent.futures.Future[ssl.SSLContext | None] = concurrent.futures.Future()
    future.set_running_or_notify_cancel()  # a stopped answer that awaited it cannot cancel it for the next one

    def load() -> None:
        # What this imports lives as long as the server: no collection in the whole process
        # while it loads (a full one among its objects held the event loop for 44 ms, in a
        # server already answering in another chat), then frozen, as start-up's objects are
        # (cli), so that no later collection walks them again. The price: what became garbage
        # in a reference cycle meanwhile (about 2,500 blocks of the import's) is never freed.
        collecting = gc.isenabled()
        gc.disable()
        try:
            tls = _load_client_code()
        except BaseException as exc:  # the answer waiting reports it
            if collecting:
                gc.enable()
            future.set_exception(exc)
            return
        gc.freeze()
        if collecting:
            gc.enable()
        future.set_result(tls)

    _preloading = future
    threading.Thread(target=load, name="chatvim-preload", daemon=True).start()
    return future


def _load_client_code() -> ssl.SSLContext | None:
    """Import openai and what its first request imports; make the SSL context."""
    from openai import _base_client

    http = getattr(_base_client, "httpx2", None) or _base_client.httpx  # type: ignore[attr-defined]
    for name in (*_FIRST_REQUEST_MODULES, "httpcore2" if http.__name__ == "httpx2" else "httpcore"):
        with contextlib.suppress(ImportError):  # an SDK laid out otherwise: it loads them itself
            importlib.import_module(name)
    create = getattr(http, "create_ssl_context", None)
    return create() if create else None


async def stream_answer(
    request: ChatRequest,
    provider: Provider,
    key: str | None,
    *,
    timeouts: Timeouts = Timeouts(),
    max_retries: int = 2,
) -> AsyncIterator[Event]:
    tls = await asyncio.wrap_future(preload())  # at once if a chat was opened before
    import openai

    base_url = continue_url(provider) if request.continues else provider.base_url
    setup = (provider.name, base_url, key or "no-key", tuple(sorted(provider.headers.items())))
    client = _client(asyncio.get_running_loop(), *setup, timeouts, max_retries, tls)
    try:
        try:
            stream = await asyncio.wait_for(
                # The SDK's request, retries, errors and SSE decoding; each chunk as the dict
                # it arrives as (`cast_to=object`), not a pydantic model: the server reads
                # three fields of it, and building the model was most of its cost per token.
                client.post(
                    "/chat/completions",
                    body=_body(request, provider),
                    cast_to=object,
                    stream=True,
                    stream_cls=openai.AsyncStream[object],
                ),
                timeouts.first_byte,
            )
        except asyncio.TimeoutError:
            raise ProviderError(_no_answer(provider, timeouts.first_byte, "first_byte_timeout"), network=True) from None
        async with stream:
            finish: str | None = None
            chunks = aiter(stream)
            while True:
                try:
                    chunk = await _next_chunk(chunks, timeouts.between_chunks)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    message = _no_answer(provider, timeouts.between_chunks, "chunk_timeout")
                    raise ProviderError(message, network=True) from None
                except ValueError as exc:  # the SDK's json.loads of one `data:` line
                    raise ProviderError(
                        f"{provider.name} sent an event that is not valid JSON: try again", str(exc)
                    ) from None
                except openai.APIConnectionError as exc:
                    raise ProviderError(
                        f"the connection to {provider.name} broke off mid-answer: try again (the text so far is kept)",
                        _root_cause(exc),
                        network=True,
                    ) from None
                for event in _events(chunk):
                    if isinstance(event, Finish):
                        finish = event.reason
                    else:
                        yield event
            yield Finish(finish)
    except openai.APIError as exc:
        detail = _provider_words(exc) or f"{provider.base_url}: {type(exc).__name__}: {_root_cause(exc)}"
        network = isinstance(exc, openai.APIConnectionError)  # (a timeout is one too)
        raise ProviderError(describe_error(exc, provider, request.model), detail, network=network) from None


async def _next_chunk(chunks: AsyncIterator[object], seconds: float) -> object:
    """The stream's next chunk; TimeoutError after `seconds` without one.
    On Python 3.11 and later, a timer and no task (`asyncio.wait_for` made
    both for every chunk)."""
    if sys.version_info < (3, 11):
        return await asyncio.wait_for(anext(chunks), seconds)
    async with asyncio.timeout(seconds):
        return await anext(chunks)


@functools.lru_cache(maxsize=16)
def _client(
    loop: asyncio.AbstractEventLoop,
    name: str,
    base_url: str,
    key: str,
    headers: tuple[tuple[str, str], ...],
    timeouts: Timeouts,
    max_retries: int,
    tls: ssl.SSLContext | None,
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
        http_client=openai.DefaultAsyncHttpxClient(verify=tls) if tls else None,
    )
    if name != "openai":  # the SDK reads OPENAI_ORG_ID/OPENAI_PROJECT_ID: OpenAI's, for OpenAI only
        client.organization = client.project = None
    return client


#: The user message that asks a provider with no prefix support for the rest of an answer.
CONTINUE_PROMPT = "Continue your last answer exactly where it stopped, mid-word if need be. Do not repeat any of it."


def _body(request: ChatRequest, provider: Provider) -> dict[str, Any]:
    """The JSON body, as it goes: plain dicts, never walked by the SDK's typing introspection."""
    options = dict(request.options)
    if provider.name == "openai" and "max_tokens" in options:
        # OpenAI's reasoning models refuse max_tokens; every OpenAI model takes this.
        options["max_completion_tokens"] = options.pop("max_tokens")
    body: dict[str, Any] = {"model": request.model, "messages": _messages(request, provider), **options,
                            "stream": True}  # fmt: skip
    if provider.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def _messages(request: ChatRequest, provider: Provider) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in request.messages]
    if request.continues and provider.continues_by == "prefix":
        messages[-1]["prefix"] = True
    elif request.continues and provider.continues_by == "ask":
        messages.append({"role": "user", "content": CONTINUE_PROMPT})
    return messages


def continue_url(provider: Provider) -> str:
    """Where a continued answer is asked for: DeepSeek's prefix completion is at its /beta URL."""
    if provider.name == "deepseek" and provider.continues_by == "prefix":
        return provider.base_url.removesuffix("/").removesuffix("/v1") + "/beta"
    return provider.base_url


def _events(chunk: Any) -> list[Event]:
    """The events in one chunk, as the provider sent it: decoded from JSON,
    so its objects are dicts (told by `dict`, not abc's slower `Mapping`: this
    runs for every chunk)."""
    if not isinstance(chunk, dict):
        return []
    events: list[Event] = []
    for choice in (chunk.get("choices") or [])[:1]:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events.append(Reasoning(_encodable(reasoning)))
            refusal = delta.get("refusal")
            text = _content_text(delta.get("content")) + (refusal if isinstance(refusal, str) else "")
            if text:
                events.append(Text(_encodable(text)))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            events.append(Finish(choice["finish_reason"]))
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        cost = usage.get("cost")  # OpenRouter's, in dollars
        if not isinstance(cost, (int, float)) or isinstance(cost, bool):
            cost = None
        events.append(Usage(_count(usage.get("completion_tokens")), _count(usage.get("prompt_tokens")),
                            None if cost is None else float(cost)))  # fmt: skip
    return events


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """`text`, a lone surrogate (JSON allows "\\ud800") replaced by U+FFFD: no
    file can hold one in UTF-8."""
    if text.isascii():  # (nearly every chunk: no work per token)
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _content_text(content: Any) -> str:
    """Content as a string, or as typed parts (Mistral's magistral): the text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def _no_answer(provider: Provider, seconds: float, setting: str) -> str:
    return f"{provider.name} sent nothing for {seconds:g} s: try again, or raise {setting} in config.md"


def describe_error(exc: openai.APIError, provider: Provider, model: str) -> str:
    """One line: what went wrong at the provider, and what to do (`messages`);
    the provider's own words only where they are the cause and fit."""
    import openai

    name = provider.name
    if isinstance(exc, openai.APITimeoutError):
        return f"{name} did not answer in time: try again, or raise first_byte_timeout in config.md"
    if isinstance(exc, openai.APIConnectionError):
        cause = _root_cause(exc)
        host = urlsplit(provider.base_url).netloc or provider.base_url
        kind = next((k for k in _CONNECTION_FIXES if cause.startswith(k)), None)
        if kind is None:
            return first_fitting(f"cannot reach {name} at {host} ({cause}): check network and base_url",
                                 f"cannot reach {name}: check the network and its base_url")  # fmt: skip
        fix = _CONNECTION_FIXES[kind]
        return first_fitting(f"cannot reach {name} at {host}: {kind}; {fix}", f"cannot reach {name}: {kind}; {fix}")
    if not isinstance(exc, openai.APIStatusError):
        return with_detail(f"{name} failed", str(exc))
    status = exc.status_code
    fields = {"name": name, "status": status, "model": repr(model), "key_hint": provider.key_env or "its api_key_cmd"}
    if status in _STATUS_MESSAGES:  # the cause is known: the provider's words go to the log only
        cause, fix = _STATUS_MESSAGES[status]
        return first_fitting(f"{cause.format(**fields)}: {fix.format(**fields)}", cause.format(**fields))
    if status >= 500:
        return with_detail(f"{name} had a server error ({status})", _provider_words(exc), "try again later")
    return with_detail(f"{name} refused the request ({status})", _provider_words(exc))


#: the cause of a failed connection (`_root_cause`) -> what to do
_CONNECTION_FIXES = {
    "connection refused": "is it running?",
    "unknown host": "check network and base_url",
    "TLS error": "check base_url (http or https?)",
}

#: status -> (what happened, what to do); {name}, {model}, {key_hint} are filled in.
_STATUS_MESSAGES: dict[int, tuple[str, str]] = {
    401: ("{name} rejected the API key (401)", "check {key_hint}"),
    403: ("{name} refused access (403)", "check that your key may use {model}"),
    404: ("model {model} not found at {name} (404)", "check the model name"),
    408: ("{name} timed out the request (408)", "try again"),
    413: ("{name} says the chat is too large (413)", "shorten it, or start a new chat"),
    429: ("{name} is rate limiting you (429)", "wait a moment and try again"),
}


def _provider_words(exc: Any) -> str | None:
    """The provider's own error message (from the JSON body), if it sent one."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else error if isinstance(error, str) else None
        if isinstance(message, str) and message.strip():
            return message.strip()
    return None


def _root_cause(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        if isinstance(seen, ConnectionRefusedError):
            break
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    text = shorten(str(seen).strip().split("\n", 1)[0], 200) or type(seen).__name__
    lowered = text.lower()
    if isinstance(seen, ConnectionRefusedError) or "refused" in lowered or "connect call failed" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "unknown host"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS error: " + text
    return text
