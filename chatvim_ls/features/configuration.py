"""What the editor tells the server, and config.md under it.

- `initialize`: the position encoding, `initializationOptions` (editor
  settings, and `editor`, which picks the hints for the user's keys).
- the `chatvim` section of `workspace/configuration`, read after
  `initialized` and again when `workspace/didChangeConfiguration` says
  so; settings pushed in that notification are taken as they are.
- `global_config()`: config.md with the editor's settings over it, read
  again only when the file changed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..config import ConfigError, GlobalConfig, ServerOptions, load_global_config
from ..messages import EDITOR_HINTS, Hints
from ..providers import forget_keys
from ..settings import Settings
from ..textdoc import ENCODINGS

if TYPE_CHECKING:
    from ..server import ChatvimServer

log = logging.getLogger(__name__)

CONFIGURATION_WAIT = 5.0  # seconds an answer waits for settings being read


class EditorSettings:
    def __init__(self, server: ChatvimServer) -> None:
        self.server = server
        self.init_options = ServerOptions()
        self.workspace_options = ServerOptions()
        self.position_encoding = "utf-16"
        self.hints = Hints()  # how the user does things in their editor (the `editor` init option)
        self.client = ("", "")  # the editor's name and version, as it says (clientInfo)
        self.reading: asyncio.Task[None] | None = None
        self.pushed = 0  # counts settings pushed by the editor: a slower read must not undo them

    def global_config(self) -> GlobalConfig:
        """config.md, with the editor's settings over it (`ConfigError` if it is wrong)."""
        config = load_global_config()
        editor = self.workspace_options.over(self.init_options)
        return replace(config, options=editor.over(config.options))

    def config_or_error(self) -> GlobalConfig | ConfigError:
        """`global_config()`, or what is wrong with it (for the features that say so)."""
        try:
            return self.global_config()
        except ConfigError as exc:
            return exc

    def usable_config(self) -> GlobalConfig:
        """`global_config()`, or the defaults while config.md is broken (diagnostics say why)."""
        config = self.config_or_error()
        return config if isinstance(config, GlobalConfig) else GlobalConfig()

    def chat_defaults(self) -> Settings:
        """config.md's settings under every chat's (none while it is broken)."""
        return self.usable_config().settings

    async def settled(self) -> None:
        """Once settings being read (just changed) are in, or after `CONFIGURATION_WAIT`."""
        if self.reading is not None and not self.reading.done():
            await asyncio.wait({self.reading}, timeout=CONFIGURATION_WAIT)

    @property
    def changing(self) -> bool:
        return self.reading is not None and not self.reading.done()

    def initialize(self, params: lsp.InitializeParams) -> None:
        workspace = self.server.protocol._workspace
        self.position_encoding = _encoding_name(workspace.position_encoding if workspace else None)
        if params.client_info is not None:
            self.client = (params.client_info.name, params.client_info.version or "")
        log.info("the editor: %s %s", *self.client)
        options = params.initialization_options
        if options:
            self.init_options = self.read(options)
            editor = options.get("editor") if isinstance(options, dict) else None
            self.hints = EDITOR_HINTS.get(editor, Hints()) if isinstance(editor, str) else Hints()

    def push(self, settings: Any) -> bool:
        """Settings sent in didChangeConfiguration; False if it holds none (then read them)."""
        if not (isinstance(settings, dict) and isinstance(settings.get("chatvim"), dict)):
            return False
        self.pushed += 1
        self.workspace_options = self.read(settings["chatvim"])
        return True

    def read(self, data: Any) -> ServerOptions:
        forget_keys()
        if not isinstance(data, dict):
            return ServerOptions()
        try:
            return ServerOptions.from_mapping(data, "editor settings")
        except ConfigError as exc:
            self.server.show(exc.short, error=True)
            return ServerOptions()

    def reread(self) -> asyncio.Task[None]:
        # Settings pushed from now on win over what this reads (counted now, not when the
        # task first runs: a push handled in between would lose to the older settings).
        self.reading = asyncio.ensure_future(self._read_workspace_configuration(self.pushed))
        return self.reading

    async def _read_workspace_configuration(self, pushed: int) -> None:
        workspace = self.server.client_capabilities.workspace
        if not (workspace and workspace.configuration):
            return
        items = [lsp.ConfigurationItem(section="chatvim")]
        reply = self.server.workspace_configuration_async(lsp.ConfigurationParams(items))
        try:
            result = await asyncio.wait_for(asyncio.shield(reply), CONFIGURATION_WAIT)
        except Exception:
            log.warning("workspace/configuration failed", exc_info=True)
            return
        if result and pushed == self.pushed:
            self.workspace_options = self.read(result[0])


def _encoding_name(kind: lsp.PositionEncodingKind | str | None) -> str:
    """The encoding's name: utf-8, utf-16 or utf-32 (`str()` of the enum gives its Python name)."""
    name = kind.value if isinstance(kind, lsp.PositionEncodingKind) else kind
    return name if name in ENCODINGS else "utf-16"


def register(server: ChatvimServer) -> None:
    @server.feature(lsp.INITIALIZE)
    def initialize(params: lsp.InitializeParams) -> None:
        server.settings.initialize(params)

    @server.feature(lsp.INITIALIZED)
    async def initialized(params: lsp.InitializedParams) -> None:
        # openai is imported when a chat is opened (llm.preload), not here: it
        # holds about 25 MB, which a session with no chat open should not pay.
        await server.settings.reread()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: lsp.DidChangeConfigurationParams) -> None:
        if not server.settings.push(params.settings):
            await server.settings.reread()
