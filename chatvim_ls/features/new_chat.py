"""Chats started from anywhere: `chatvim.new [options]`, the code action
"Chatvim: ask about this selection" (in any file, with a selection made),
and `chatvim.fork [uri, line]`: a new chat beside this one (`NAME-fork.md`)
holding the conversation up to the turn at `line`, to try another direction
without losing this one.

The new chat is a file of its own, written into the `new_chats` folder
(default ~/.local/share/chatvim/chats, a chat folder too), named by the time:
front matter, a user turn holding the selection in a fenced block labelled
with its language and path, and an empty line for the question. The editor
is asked to show it (`window/showDocument`) with the cursor on that line.

`options` (all optional): `uri` and `range`, the selection; `folder`, where
to write (the Neovim plugin's `chat_dir`); `model`, written as the chat's
setting; `show: false`, to leave showing it to the caller. The answer:
`{"uri", "path", "line"}`. A file is never overwritten.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from ..config import ConfigError
from ..files import CannotCreate, mode_of_copy, write_new_chat
from ..render import Excerpt, forked_chat, new_chat
from ..textdoc import TextDocument
from .documents import file_path, short_name

if TYPE_CHECKING:
    from ..server import ChatvimServer

NEW = "chatvim.new"
FORK = "chatvim.fork"
CONVERTER = get_converter()


def excerpt(doc: TextDocument, selection: lsp.Range, home: Path, root: Path | None) -> Excerpt:
    start = doc.from_client(selection.start.line, selection.start.character)
    end = doc.from_client(selection.end.line, selection.end.character)
    path = file_path(doc.uri)
    if path is None:
        label = doc.uri
    elif root is not None and path.is_relative_to(root):
        label = str(path.relative_to(root))
    elif path.is_relative_to(home):
        label = "~/" + str(path.relative_to(home))
    else:
        label = str(path)
    return Excerpt(label, doc.language_id if doc.language_id != "plaintext" else "", doc.text_between(start, end))


def _options(args: tuple[Any, ...]) -> dict[str, Any]:
    if not args:
        return {}
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(message=f"expected the arguments [] or [{{options}}], got {list(args)!r}"[:200])
    return args[0]


def register(server: ChatvimServer) -> None:
    async def create(options: dict[str, Any]) -> dict[str, Any]:
        config = server.settings.global_config()
        home = Path.home()
        folder = _folder(options.get("folder"))
        selection = None
        doc = server.documents.get(options.get("uri", "")) if isinstance(options.get("uri"), str) else None
        if doc is not None and isinstance(options.get("range"), dict):
            chosen = _range(options["range"])
            selection = excerpt(doc, chosen, home, _root(server))
        model = options.get("model") if isinstance(options.get("model"), str) else None
        text, line = new_chat(config.settings.delimiters, model, selection)
        stem = datetime.datetime.now().strftime("chat-%Y-%m-%d-%H-%M-%S")
        path = write_new_chat(folder or config.options.new_chats_folder(os.environ), stem, text)
        return await _shown(server, path, line, show=options.get("show", True) is not False)

    async def fork(uri: str, line: int) -> dict[str, Any]:
        parsed = server.documents.parsed(uri)
        if parsed is None:
            raise CannotCreate(f"{short_name(uri)} is not a chat open in the editor: open it first")
        delimiters = parsed.chat.settings.over(server.settings.chat_defaults()).delimiters
        text, cursor = forked_chat(parsed.doc.lines, parsed.chat, line, delimiters)
        source = file_path(uri)
        if source is not None:
            path = write_new_chat(source.parent, f"{source.stem}-fork", text, mode_of_copy(source))
        else:
            folder = server.settings.global_config().options.new_chats_folder(os.environ)
            path = write_new_chat(folder, datetime.datetime.now().strftime("chat-%Y-%m-%d-%H-%M-%S-fork"), text)
        return await _shown(server, path, cursor, show=True)

    @server.command(FORK)
    async def fork_command(*args: Any) -> dict[str, Any]:
        if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], int) or isinstance(args[1], bool):
            raise JsonRpcInvalidParams(message=f"expected the arguments [uri, line], got {list(args)!r}"[:200])
        try:
            return await fork(args[0], args[1])
        except (CannotCreate, ConfigError) as exc:
            server.show(exc.short, error=True)
            return {"created": False, "reason": exc.short}
        finally:
            server.command_answered()

    @server.command(NEW)
    async def new(*args: Any) -> dict[str, Any]:
        try:
            return await create(_options(args))
        except (CannotCreate, ConfigError) as exc:
            server.show(exc.short, error=True)
            return {"created": False, "reason": exc.short}
        finally:
            server.command_answered()

    def code_actions(doc: TextDocument, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        # Only for a selection: with none, "Chatvim: complete" stays a chat's one
        # action, which `vim.lsp.buf.code_action({ apply = true })` and the like run at once.
        if params.range.start == params.range.end:
            return []
        options = {"uri": doc.uri, "range": CONVERTER.unstructure(params.range)}
        return [_action("Chatvim: ask about this selection", options)]

    server.code_actions.append(code_actions)


def _folder(given: Any) -> Path | None:
    """The `folder` option: an absolute path (after ~), or None for the setting."""
    if given is None:
        return None
    path = Path(given).expanduser() if isinstance(given, str) and given and "\0" not in given else None
    if path is None or not path.is_absolute():
        raise JsonRpcInvalidParams(message=f"`folder` must be an absolute path, got {given!r}"[:200])
    return path


def _range(data: Any) -> lsp.Range:
    try:
        return CONVERTER.structure(data, lsp.Range)
    except Exception:
        raise JsonRpcInvalidParams(message=f"`range` must be an LSP range, got {data!r}"[:200]) from None


def _action(title: str, options: dict[str, Any]) -> lsp.CodeAction:
    return lsp.CodeAction(title=title, command=lsp.Command(title, NEW, arguments=[options]))


def _root(server: ChatvimServer) -> Path | None:
    folders = server.workspace.folders
    first = next(iter(folders.values()), None) if folders else None
    return file_path(first.uri) if first is not None else None


async def _shown(server: ChatvimServer, path: Path, line: int, *, show: bool) -> dict[str, Any]:
    """Ask the editor to show the new chat at `line` (where it cannot, say where it is): the command's answer."""
    uri = path.as_uri()
    window = server.client_capabilities.window
    if show and not (window and window.show_document and window.show_document.support):
        server.tell(f"new chat: {path}")
    elif show:
        cursor = lsp.Range(start=lsp.Position(line=line, character=0), end=lsp.Position(line=line, character=0))
        params = lsp.ShowDocumentParams(uri=uri, take_focus=True, selection=cursor)
        await server.answer_to(lambda: server.window_show_document_async(params), "a new chat to show")
    return {"uri": uri, "path": str(path), "line": line}
