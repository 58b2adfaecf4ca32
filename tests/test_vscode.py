"""The VS Code extension (editors/vscode) in a real VS Code workbench:
code-server, driven by headless Chromium through playwright, keys typed as
a person types them; the document's text read back through the workbench
(select all, copy, the clipboard), never from the server.

Needs code-server, Node 24, Chromium, playwright and the built .vsix:
`editors/vscode/e2e.sh` installs them (cached) and runs this file. Without
them (CODE_SERVER, NODE24_BIN, VSIX unset) it is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .fake_provider import Scenario, ThreadedFake

if not all(os.environ.get(name) for name in ("CODE_SERVER", "NODE24_BIN", "VSIX")):
    pytest.skip("code-server is not set up: run editors/vscode/e2e.sh", allow_module_level=True)
# Set up by e2e.sh (CI's own step), so nothing below may skip: a missing part fails.
from playwright.sync_api import Page, sync_playwright

CODE_SERVER = os.environ["CODE_SERVER"]
NODE24_BIN = os.environ["NODE24_BIN"]
VSIX = os.environ["VSIX"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "chat.disableAIFeatures": True,
    "files.autoSave": "off",  # the web workbench defaults to afterDelay; desktop VS Code to off
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def fake():
    threaded = ThreadedFake()
    yield threaded.fake
    threaded.stop()


@pytest.fixture(scope="session")
def workbench(tmp_path_factory, fake):
    """code-server on a free port with fresh dirs and the .vsix installed: (base URL, workspace folder)."""
    root = tmp_path_factory.mktemp("vscode")
    home, ws, ud, ext = (root / n for n in ("home", "ws", "ud", "ext"))
    for d in (home / "bin", home / "config" / "chatvim", ws, ud / "User", ext):
        d.mkdir(parents=True)
    (ud / "User" / "settings.json").write_text(json.dumps(SETTINGS))
    (home / "config" / "chatvim" / "config.md").write_text(
        f'+++\nmodel = "m"\nprovider = "fake"\n\n[providers.fake]\nbase_url = "{fake.base_url}"\n'
        'api_key_env = "FAKE_API_KEY"\n+++\n'
    )
    shim = home / "bin" / "chatvim-ls"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m chatvim_ls --log-file {home}/server.log "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "FAKE_API_KEY": "sk-vscode-test",
        "PATH": os.pathsep.join([str(home / "bin"), NODE24_BIN, env["PATH"]]),
    }
    common = [CODE_SERVER, "--config", "/dev/null", "--user-data-dir", str(ud), "--extensions-dir", str(ext)]
    subprocess.run([*common, "--install-extension", VSIX], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [*common, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
         "--vscode-option", "force-disable-user-env", str(ws)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield base, ws
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, workbench):
    base, _ = workbench
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = ctx.new_page()
    yield page
    ctx.close()


# --- driving the workbench ---------------------------------------------------------------


def open_chat(page: Page, workbench, name: str, text: str) -> Path:
    base, ws = workbench
    path = ws / name
    path.write_text(text)
    authority = urllib.parse.urlparse(base).netloc
    query = {"folder": str(ws), "payload": json.dumps([["openFile", f"vscode-remote://{authority}{path}"]])}
    page.goto(base + "/?" + urllib.parse.urlencode(query))
    page.locator(".editor-instance .monaco-editor .view-lines").wait_for(timeout=60000)
    page.locator(".codelens-decoration").first.wait_for(timeout=30000)  # the server is up
    editor_lines(page).click()
    return path


def editor_lines(page: Page):
    return page.locator(".editor-instance .monaco-editor .view-lines").first


def palette(page: Page, command: str) -> None:
    page.keyboard.press("Control+Shift+P")
    box = page.locator(".quick-input-widget input.input")
    box.wait_for(state="visible")
    box.fill(">" + command)
    page.locator(".quick-input-widget .monaco-list-row.focused", has_text=command).wait_for()
    page.keyboard.press("Enter")


def quick_fix(page: Page, title: str) -> None:
    """Ctrl+. and click `title`. Right after a page loads, Ctrl+. may show nothing (code-server 4.139): retry."""
    deadline = time.monotonic() + 15
    while True:
        page.keyboard.press("Control+.")
        try:
            page.locator(".action-widget .monaco-list-row", has_text=title).wait_for(timeout=1500)
            break
        except Exception:
            assert time.monotonic() < deadline, "no light bulb menu"
            page.keyboard.press("Escape")
    page.locator(".action-widget .monaco-list-row", has_text=title).click()


def document_text(page: Page) -> str:
    """The whole document, from the editor's model: select all, copy, read the clipboard."""
    editor_lines(page).click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Control+C")
    page.keyboard.press("Control+End")
    return page.evaluate("navigator.clipboard.readText()")


def visible_text(page: Page) -> str:
    return editor_lines(page).inner_text().replace("\u00a0", " ")


def status(page: Page) -> str:
    """The extension's status bar item ("" when hidden: VS Code then removes it from the DOM). Never waits."""
    texts = page.locator("[id='chatvim.chatvim-ls.chatvim.progress']").all_inner_texts()
    return texts[0].strip() if texts else ""


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def toasts(page: Page) -> list[str]:
    return page.locator(".notifications-toasts .notification-list-item-message").all_inner_texts()


# --- scenarios -------------------------------------------------------------------------------

QUESTION = "# === USER ===\n\nWhat is a lighthouse?\n"
ANSWER = [f"word{i} " for i in range(30)]


def test_complete_from_palette_streams_and_status_clears(page, workbench, fake):
    fake.scenarios["m"] = Scenario.text(ANSWER, delay=0.05)
    open_chat(page, workbench, "palette.md", QUESTION)
    palette(page, "Chatvim: Complete")
    wait_for(lambda: "tokens" in status(page) and "/s" in status(page))  # streaming
    wait_for(lambda: "30 tokens" in status(page) and " s " in status(page))  # ended
    assert document_text(page) == QUESTION + "\n# === ASSISTANT ===\n\n" + "".join(ANSWER) + "\n\n# === USER ===\n\n"
    wait_for(lambda: status(page) == "", timeout=8)


def test_complete_from_light_bulb_while_typing_above(page, workbench, fake):
    fake.scenarios["m"] = Scenario.text(ANSWER, delay=0.1)
    open_chat(page, workbench, "typing.md", QUESTION)
    page.keyboard.press("Control+End")
    quick_fix(page, "Chatvim: complete")
    wait_for(lambda: "word1 " in visible_text(page))
    page.keyboard.press("Control+Home")
    typed = "".join(f"typed {i}\n" for i in range(5))
    page.keyboard.type(typed, delay=40)
    wait_for(lambda: "30 tokens" in status(page) and " s " in status(page))
    assert document_text(page) == (
        typed + QUESTION + "\n# === ASSISTANT ===\n\n" + "".join(ANSWER) + "\n\n# === USER ===\n\n"
    )


def test_stop_mid_answer(page, workbench, fake):
    fake.scenarios["m"] = Scenario.text(ANSWER, delay=0.1)
    open_chat(page, workbench, "stop.md", QUESTION)
    palette(page, "Chatvim: Complete")
    wait_for(lambda: "word3 " in visible_text(page))
    palette(page, "Chatvim: Stop")
    wait_for(lambda: "stopped" in status(page))
    text = document_text(page)
    assert text.startswith(QUESTION + "\n# === ASSISTANT ===\n\nword0 word1 word2 word3 ")
    assert text.endswith("\n\n# === USER ===\n\n") and "word29" not in text


def test_provider_error_shown_once(page, workbench, fake):
    fake.scenarios["m"] = Scenario.error(500, "boom")
    open_chat(page, workbench, "error.md", QUESTION)
    palette(page, "Chatvim: Complete")
    wait_for(lambda: "boom" in status(page))  # the answer's end: its message was sent before it, but
    wait_for(lambda: toasts(page))  # the workbench draws a toast in its own time, not with the status bar
    assert len(toasts(page)) == 1 and "boom" in toasts(page)[0]
    assert document_text(page) == QUESTION
