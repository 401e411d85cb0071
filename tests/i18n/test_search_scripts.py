"""``lessons search`` in every script: Chinese, Japanese and Arabic text, substrings and
word prefixes, with the same results on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm);
parametrised over both databases by ``db_url``. Lessons and queries are written by hand."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.i18n import fixtures as fx

LESSONS = {
    # L-1 … L-5, in this order.
    1: "钓鱼邮件冒充秘书处，要求重置密码；启用多因素认证后未再发生。",
    2: "フィッシングメールがオペレーターを狙った。多要素認証を導入した。",
    3: "رسائل التصيد استهدفت المشغلين؛ فعّلنا المصادقة متعددة العوامل على الخادم.",
    4: "Phishing mails to operators; enforce MFA on the VPN.",
    5: "Фишинговые письма операторам; включили двухфакторную аутентификацию.",
}
QUERIES = [
    ("钓鱼", {1}),                 # a two-character Chinese word inside a sentence
    ("多因素认证", {1}),            # a longer Chinese substring
    ("认证 钓鱼", {1}),             # two words, any order
    ("フィッシング", {2}),          # Japanese katakana
    ("多要素", {2}),                # Japanese kanji, not the Chinese lesson
    ("التصيد", {3}),               # Arabic word
    ("المصادق", {3}),              # Arabic word prefix
    ("الخادم", {3}),               # with the article attached
    ("phish", {4}),                # English prefix
    ("фишинг", {5}),               # Russian prefix, any case
    ("ФИШИНГОВЫЕ", {5}),
    ("認証 MFA", set()),           # every word must match
    ("mfa", {4}),                  # a whole short word
    ("mf", set()),                 # two letters match only a whole word
]


async def _lessons(app: Any) -> None:
    c = app.console
    for i, text in LESSONS.items():
        r = await c.type("li.wei", f"incident report CN-BJ-NC share=secretariat sev=1 case {i}",
                         None)
        assert r.kind == "incident", r.plain()
        number = f"WIS-SEC-2026-{i}"
        assert (await c.type("li.wei", f"incident resolve {number}")).kind == "incident"
        r = await c.type("li.wei", f"lessons add {number} share=none {text}")
        assert r.kind != "error", r.plain()


@pytest.mark.parametrize(("query", "expected"), [pytest.param(q, e, id=q) for q, e in QUERIES])
async def test_lesson_search_every_script(make_app: Any, query: str,
                                          expected: set[int]) -> None:
    app = await make_app(fx.directory())
    await _lessons(app)
    reply = await app.console.type("sec-desk", f"lessons search {query}")
    found = {int(n) for n in re.findall(r"L-(\d+)", reply.plain())}
    assert found == expected, reply.plain()
