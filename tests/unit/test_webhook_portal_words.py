"""Every word the webhook pages show has its Chinese, and those words change no other page's."""

from __future__ import annotations

import re
from pathlib import Path

from csghub.web.i18n import translate
from csghub.web.i18n_webhooks import ZH_WEBHOOKS

WEB = Path(__file__).resolve().parents[2] / "src" / "csghub" / "web"
_T_CALL = re.compile(r"\bt\('((?:[^'\\]|\\.)*)'\)")
# Shown through t(): the delivery states and the notices of web/webhook_pages.py.
STATES = {"pending", "sending", "delivered", "failed", "skipped"}
NOTICES = {"Webhook created", "Webhook saved", "Webhook enabled", "Webhook disabled", "Webhook deleted"}


def test_every_word_of_the_webhook_pages_has_chinese() -> None:
    words = STATES | NOTICES | {"Delivery queued again"}
    for name in ("webhooks.html", "webhook.html"):
        words |= set(_T_CALL.findall((WEB / "templates" / name).read_text()))
    assert {"Redeliver", "Deliveries", "Add a webhook"} <= words
    missing = sorted(w for w in words - {"Webhooks", "Webhook"} if translate("zh", w) == w)
    assert missing == []


def test_the_webhook_words_change_no_other_pages_words() -> None:
    names = ("i18n.py", "i18n_chat.py", "i18n_metadata.py", "i18n_finetune.py", "i18n_spaces.py", "i18n_mirrors.py")
    others = "".join((WEB / n).read_text() for n in names)
    assert [k for k in ZH_WEBHOOKS if f'"{k}":' in others] == []
