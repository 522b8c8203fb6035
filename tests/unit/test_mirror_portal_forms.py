"""The portal's mirroring helpers that need no hub: which upstream URLs the mirror panel links to (public
ones only, judged by the URL's spelling), the upstream page's address per repository type, and how the
source form's fields become a SourceSpec (the token write-only, the proxy rules one a line); every word
of the mirroring pages has its Chinese, and none changes another page's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from csghub.core.errors import InvalidArgument
from csghub.core.names import RepoType
from csghub.services.mirrors.choices import is_public_url, upstream_page
from csghub.web import mirror_panels
from csghub.web.i18n import translate
from csghub.web.i18n_mirrors import ZH_MIRRORS
from csghub.web.mirror_forms import mirror_spec
from csghub.web.mirror_panels import INTERVALS
from csghub.web.mirror_source_forms import parse_rules, source_changes, source_spec

WEB = Path(mirror_panels.__file__).parent


@pytest.mark.parametrize(
    "url",
    ["https://huggingface.co", "https://hub.example.com:8443/", "http://8.8.8.8", "https://[2606:4700::1111]"],
)
def test_public_upstream_is_linked(url: str) -> None:
    assert is_public_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://10.1.2.3",
        "http://192.168.0.9",
        "http://169.254.169.254",
        "http://[::1]:80",
        "http://[::ffff:10.0.0.1]",
        "http://hub",  # a single-label name only resolves inside a network
        "http://hub2.internal",
        "http://nas.local",
        "not a url",
    ],
)
def test_private_upstream_is_plain_text(url: str) -> None:
    assert not is_public_url(url)


def test_upstream_page_follows_the_hugging_face_layout() -> None:
    assert upstream_page("https://hf.co/", "model", "org/m") == "https://hf.co/org/m"
    assert upstream_page("https://hf.co", "dataset", "org/d") == "https://hf.co/datasets/org/d"
    assert upstream_page("https://hf.co", "space", "org/s") == "https://hf.co/spaces/org/s"


def test_proxy_rules_are_one_a_line_and_a_bad_line_is_named() -> None:
    assert parse_rules("allow openai/*\n\n  DENY *  \n") == [
        {"action": "allow", "pattern": "openai/*"},
        {"action": "deny", "pattern": "*"},
    ]
    with pytest.raises(InvalidArgument, match="line 2"):
        parse_rules("cache a/*\nallow\n")


def test_source_form_keeps_or_removes_the_token_but_never_invents_one() -> None:
    fields = {"name": "hf", "base_url": "https://hf.co", "use_git": "on", "max_concurrency": "3"}
    spec = source_spec({**fields, "token": "  "}, editing=False)
    assert spec.token is None and spec.use_git and spec.max_concurrency == 3 and not spec.upstream_proxy
    assert "token" not in source_changes(fields)  # left empty while editing: the stored token stays
    assert source_changes({**fields, "clear_token": "on"})["token"] == ""
    assert source_changes({**fields, "token": "hf_new"})["token"] == "hf_new"
    with pytest.raises(InvalidArgument, match="max_concurrency"):
        source_spec({**fields, "max_concurrency": "-1"}, editing=False)


def test_new_mirror_form_defaults_to_the_upstream_name_in_the_chosen_namespace() -> None:
    spec = mirror_spec({"source": "hf", "repo_type": "dataset", "upstream": "org/data/", "namespace": "alice"})
    assert (spec.source, spec.upstream, spec.repo, spec.repo_type) == ("hf", "org/data", "alice/data", RepoType.DATASET)
    assert spec.interval_seconds == 86400 and spec.visibility == "public"
    named = mirror_spec(
        {"source": "hf", "upstream": "org/m", "namespace": "alice", "name": "copy", "interval_seconds": "0"}
    )
    assert named.repo == "alice/copy" and named.interval_seconds == 0


_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)+)'\)")
_STATE_LABELS = re.compile(r"'[a-z_]+': '([A-Z][a-z A-Z]+)'")
_TEMPLATES = (
    "_mirror_panel.html",
    "_mirror_task.html",
    "_mirror_interval.html",
    "admin_mirrors.html",
    "admin_mirror_sources.html",
    "admin_mirror_tasks.html",
    "mirror_new.html",
    "_admin_nav.html",
)


def _template_words() -> set[str]:
    words: set[str] = set()
    for name in _TEMPLATES:
        text = (WEB / "templates" / name).read_text()
        words |= {w.replace("\\'", "'") for w in _T_CALL.findall(text)}
        words |= set(_STATE_LABELS.findall(text))
    return words


def test_every_word_of_the_mirror_pages_has_chinese() -> None:
    words = _template_words() | {label for _, label in INTERVALS} | {"Source added", "Task cancelled"}
    words |= {"create", "manual", "schedule", "batch", "proxy", "retry"}  # triggers, shown through t()
    assert {"Sync now", "Fetching LFS objects", "Remove the stored token", "Every week"} <= words
    missing = sorted(w for w in words - {"Git"} if translate("zh", w) == w)
    assert missing == []


def test_the_mirror_words_change_no_other_pages_words() -> None:
    names = ("i18n.py", "i18n_chat.py", "i18n_metadata.py", "i18n_finetune.py", "i18n_spaces.py", "i18n_errors.py")
    others = "".join((WEB / n).read_text() for n in names)
    assert [k for k in ZH_MIRRORS if f'"{k}":' in others] == []
