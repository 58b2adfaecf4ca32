"""What the repository promises its users, checked: CI runs the README's test
command, the help works without `:helptags`, and the README's tables say
what the code does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from chatvim_ls.providers import BUILTIN_PROVIDERS, MODEL_PREFIXES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or "nvim"


def readme_section(marker: str) -> str:
    """The README's text from an HTML comment `<!-- marker: … -->` to the next blank line."""
    start = README.index(f"<!-- {marker}:")
    end = README.index("\n\n", start)
    return README[start:end]


def test_ci_runs_the_readme_test_command_literally() -> None:
    block = re.search(r"^Test command.*?\n```sh\n(.*?)\n```", README, re.MULTILINE | re.DOTALL)
    assert block is not None
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert block[1] in ci  # a line of its own, unconditional, as the README writes it
    after = [line for line in ci[ci.index(block[1]) + 1 :] if not line.startswith("#")]
    assert after == ["editors/vscode/e2e.sh"]  # then only the VS Code step, which it skips


def test_the_help_tags_are_in_the_repository_and_up_to_date(tmp_path: Path) -> None:
    """A plugin installed by hand has working `:help` at once, and `:helptags
    ALL` leaves its clone as it was."""
    shutil.copytree(ROOT / "doc", tmp_path / "doc")
    (tmp_path / "doc" / "tags").unlink()
    subprocess.run([NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-c", f"helptags {tmp_path / 'doc'}", "-c", "q"],
                   check=True, timeout=60)  # fmt: skip
    assert (tmp_path / "doc" / "tags").read_bytes() == (ROOT / "doc" / "tags").read_bytes()
    tracked = subprocess.run(["git", "ls-files", "doc/tags"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked.strip() == "doc/tags"


def test_the_readme_provider_table_is_the_code_s() -> None:
    rows = [line.split("|")[1:-1] for line in readme_section("providers").splitlines() if line.startswith("| ")]
    header, *body = rows
    assert [cell.strip() for cell in header] == ["provider", "model starts with", "key variable", "default model"]
    prefixes = {provider: names for names, provider in MODEL_PREFIXES}
    expected = []
    for provider in BUILTIN_PROVIDERS.values():  # in the order in which they are chosen with no model
        starts = (
            ", ".join(f"`{p}`" for p in prefixes[provider.name]) if provider.name in prefixes else "(set `provider`)"
        )
        key = f"`{provider.key_env}`" if provider.key_env else "none"
        expected.append((provider.name, starts, key, f"`{provider.default_model}`"))
    shown = [
        (name.strip(), starts.strip(), key.strip().split(" ")[0], model.strip()) for name, starts, key, model in body
    ]
    assert shown == expected


def test_the_readme_names_every_environment_variable_the_server_reads() -> None:
    source = "".join(path.read_text() for path in (ROOT / "chatvim_ls").glob("*.py"))
    read = {name for name in re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', source) if not name.startswith("O_")}
    read |= {"HOME"}  # (names starting O_ are os.open's flags)
    read |= {"OPENAI_ORG_ID", "OPENAI_PROJECT_ID"}  # the openai SDK's own, which llm.py keeps for OpenAI
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme_section("environment")))
    assert read <= documented, read - documented


def test_the_wheel_holds_every_module_of_the_package(tmp_path: Path) -> None:
    """`pip install .` (the README's install) builds a wheel, not the editable
    install the tests run from: a subpackage left out of it broke the server.
    Built from the repository's files alone (a `build/` left by an earlier
    build would fill the gap)."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True, text=True)
    for name in tracked.stdout.split("\0"):
        if name and (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = tmp_path.glob("chatvim_ls-*.whl")
    with zipfile.ZipFile(wheel) as built:
        shipped = {name for name in built.namelist() if name.endswith(".py")}
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "chatvim_ls").rglob("*.py")}
    assert modules - shipped == set()
