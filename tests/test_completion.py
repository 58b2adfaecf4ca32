"""What completion offers where (chatvim_ls/completion.py), without a server."""

from __future__ import annotations

from chatvim_ls.chat import parse_head
from chatvim_ls.completion import items_at
from chatvim_ls.config import GlobalConfig, ServerOptions
from chatvim_ls.providers import ProviderTable
from chatvim_ls.settings import Settings

TOML = '+++\nmodel = "gpt-4.1"\n\n+++\n# === USER ===\n\n'
YAML = "---\nprovider: openai\n\n---\n"
CONFIG = GlobalConfig(options=ServerOptions(providers={"work": ProviderTable(base_url="http://w", models=("w-1",))}))


def no_paths(typed: str) -> list[tuple[str, bool]]:
    return []


def at(text: str, line: int, before: str, after: str = "", config: GlobalConfig = CONFIG, paths=no_paths) -> list:
    return items_at(parse_head(text.split("\n")), line, before, after, config, paths)


def test_setting_keys_not_set_yet_with_their_type_and_meaning() -> None:
    items = at(TOML, 2, "tem")
    labels = [i.label for i in items]
    assert "model" not in labels and "temperature" in labels and "userDelimiter" in labels
    temperature = next(i for i in items if i.label == "temperature")
    assert (temperature.insert, temperature.start, temperature.detail) == ("temperature = ", 0, "number 0..2")
    assert "temperature" in temperature.documentation
    assert next(i for i in at(YAML, 2, "") if i.label == "model").insert == "model: "


def test_provider_and_model_names_come_quoted_in_toml() -> None:
    providers = at(TOML, 2, "provider = ")
    assert [i.label for i in providers][:2] == ["work", "openai"]
    assert (providers[0].insert, providers[0].start) == ('"work"', 11)
    models = {i.label: i for i in at(TOML, 2, 'model = "g', '"')}
    assert models["w-1"].detail == "provider work" and models["gpt-4.1"].detail == "provider openai"
    assert (models["gpt-4.1"].insert, models["gpt-4.1"].start) == ('"gpt-4.1', 8)  # the editor's closing quote stays


def test_yaml_values_are_plain_and_reasoning_levels_are_listed() -> None:
    assert [i.insert for i in at(YAML, 2, "reasoning_effort: ")] == ["minimal", "low", "medium", "high"]


def test_delimiter_lines_at_the_start_of_a_body_line_in_the_chats_own_style() -> None:
    assert [i.label for i in at(TOML, 5, "# === ")] == ["# === USER ===", "# === ASSISTANT ===", "# === SYSTEM ==="]
    own = '+++\nuserDelimiter = "## me"\n+++\n\n'
    assert [i.label for i in at(own, 3, "#")] == ["## me", "# === ASSISTANT ===", "# === SYSTEM ==="]
    custom = GlobalConfig(settings=Settings(user_delimiter=">>> you"))
    assert [i.label for i in at("hi\n\n", 1, ">", config=custom)] == [">>> you"]
    assert at(TOML, 5, "# === ", "text after") == [] and at(TOML, 5, "some words") == []


def test_after_file_the_names_that_may_follow_what_is_typed() -> None:
    asked = []

    def paths(typed: str) -> list[tuple[str, bool]]:
        asked.append(typed)
        return [("src", True), ("notes.txt", False)]

    items = at(TOML, 6, "Read @file:docs/no", paths=paths)
    assert asked == ["docs/no"]
    assert [(i.label, i.kind, i.insert, i.start) for i in items] == [
        ("src/", "folder", "src/", len("Read @file:docs/")),
        ("notes.txt", "file", "notes.txt", len("Read @file:docs/")),
    ]
    assert [i.start for i in at(TOML, 6, "@file:", paths=paths)] == [6, 6]
    for not_a_path in ("mail@file:x", "`@file:x", "@file:x.txt#L", "@file:a b", "file:x"):
        assert [i.kind for i in at(TOML, 6, not_a_path, paths=paths)] == [], not_a_path
