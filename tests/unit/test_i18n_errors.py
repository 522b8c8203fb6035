"""The Chinese for server messages: every template matches its own English and fills the same values."""

from __future__ import annotations

import re

import pytest

from csghub.web.i18n import script_messages, translate_error
from csghub.web.i18n_errors import ZH_ACTIONS, ZH_CODES, ZH_MESSAGES, zh_message

_NAMES = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("english", sorted(ZH_MESSAGES))
def test_zh_message_template_matches_its_own_english_with_values(english: str) -> None:
    values = {name: f"<{name}>" for name in _NAMES.findall(english)}
    chinese = zh_message(english.format(**values))
    assert chinese is not None and re.search("[\u4e00-\u9fff]", chinese), english
    # Its own translation, not a more general template's, with every value it names filled in.
    filled = {**values, **{"action": ZH_ACTIONS.get(values.get("action", ""), values.get("action", ""))}}
    assert chinese == _NAMES.sub(lambda m: filled[m.group(1)], ZH_MESSAGES[english])


def test_zh_message_fills_values_and_translates_actions() -> None:
    assert zh_message("The name 'alice' is already taken by a user or organization") == "名称“alice”已被用户或组织占用"
    assert zh_message("You are not allowed to admin model alice/bert") == "您无权管理 model alice/bert"
    assert zh_message("'x/y.txt' is a folder, not a file") == "“x/y.txt”是一个目录，不是文件"


def test_translate_error_falls_back_to_the_code_and_keeps_english_for_english() -> None:
    assert (
        translate_error("zh", "Something new happened", "Conflict") == f"{ZH_CODES['Conflict']}：Something new happened"
    )
    assert translate_error("zh", "Something new happened") == "Something new happened"
    assert translate_error("en", "Branch 'main' already exists", "Conflict") == "Branch 'main' already exists"
    assert translate_error("zh", "Branch 'main' already exists", "Conflict") == "分支“main”已存在"


def test_script_messages_carry_the_server_table_only_in_chinese() -> None:
    assert script_messages("en") == {"words": {k: k for k in script_messages("en")["words"]}}  # type: ignore[union-attr]
    zh = script_messages("zh")
    assert zh["messages"] is ZH_MESSAGES and zh["words"]["Committing"] == "正在提交"  # type: ignore[index]
