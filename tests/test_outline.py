"""The outline and folds of a chat (chatvim_ls/outline.py), without a server."""

from __future__ import annotations

from chatvim_ls.chat import parse_chat
from chatvim_ls.outline import Fold, Section, folds, sections

CHAT = """+++
model = "gpt-4.1"
+++
# === SYSTEM ===

Be brief.

# === USER ===

What is a lighthouse, and why are so many of them painted in stripes of red and white?

# === ASSISTANT ===

A tower with a light.

```python
print("# === USER ===")
```

# === USER ===

"""


def test_a_section_for_the_settings_and_each_turn_named_by_its_first_words() -> None:
    lines = CHAT.split("\n")
    found = sections(parse_chat(CHAT), lines)
    assert found == [
        Section("settings", "Settings", 0, 2, 0),
        Section("system", "System: Be brief.", 3, 5, 3),
        Section("user", "User: What is a lighthouse, and why are so many of…", 7, 9, 7),
        Section("assistant", "Assistant: A tower with a light.", 11, 17, 11),
        Section("user", "User", 19, 19, 19),
    ]


def test_folds_for_the_settings_each_turn_and_each_code_block() -> None:
    found = folds(parse_chat(CHAT), CHAT.split("\n"))
    assert found == [
        Fold("settings", 0, 2),
        Fold("turn", 3, 5),
        Fold("turn", 7, 9),
        Fold("turn", 11, 17),
        Fold("code", 15, 17),
    ]


def test_text_before_any_delimiter_is_a_user_turn() -> None:
    text = "hello there\n\n# === ASSISTANT ===\nhi\n"
    assert [s.name for s in sections(parse_chat(text), text.split("\n"))] == ["User: hello there", "Assistant: hi"]
