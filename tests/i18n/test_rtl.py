"""Arabic reads right to left: Matrix gets ``dir="rtl"`` and ``<bdi>`` around a person's
text, codes and card values; the plain body and Slack get the isolates U+2068 … U+2069, so
a Latin summary or centre code keeps its own direction inside the Arabic line. Screenshot-
free: the marks themselves are checked."""

from __future__ import annotations

from wisbot import i18n
from wisbot.adapters.matrix import render, render_parts
from wisbot.adapters.slack_render import render_blocks, render_text
from wisbot.reply import ReplyBuilder, code, user

FSI, PDI = "\u2068", "\u2069"  # written here by hand, not taken from the code
SUMMARY = "DE-OF-NC mail relay down (EDZW)"


def arabic_card() -> object:
    with i18n.use("ar"):
        b = ReplyBuilder("WIS-SEC-2026-7 – أُبلغ عنه", kind="incident")
        b.field("المركز", "DWD National Centre (DE-OF-NC, Germany)")
        b.line("الملخص: ", user(SUMMARY))
        b.line("أكّد: ", code("incident confirm WIS-SEC-2026-7 1"))
        return b.build()


def test_matrix_arabic_is_right_to_left_with_user_text_isolated() -> None:
    reply = arabic_card()
    content = render(reply)  # type: ignore[arg-type]
    html = content["formatted_body"]
    assert html.startswith('<div dir="rtl">') and html.endswith("</div>")
    assert f"<bdi>{SUMMARY}</bdi>" in html
    assert "<bdi><code>incident confirm WIS-SEC-2026-7 1</code></bdi>" in html
    assert "<bdi>DWD National Centre (DE-OF-NC, Germany)</bdi>" in html
    body = content["body"]
    assert f"{FSI}{SUMMARY}{PDI}" in body
    assert f"{FSI}DWD National Centre (DE-OF-NC, Germany){PDI}" in body
    assert all(line.startswith("\u200f") for line in body.split("\n"))
    # Split messages keep the direction on every part.
    parts = render_parts(reply, limit=200)  # type: ignore[arg-type]
    assert len(parts) > 1 and all('dir="rtl"' in p["formatted_body"] for p in parts)


def test_person_cannot_break_out_of_the_isolation() -> None:
    """A stray PDI or RLO in a person's text is removed, so the isolate closes where
    wisbot closes it."""
    with i18n.use("ar"):
        reply = ReplyBuilder("x").line(user(f"evil{PDI}\u202egnp.exe")).build()
    body = render(reply)["body"]
    assert f"{FSI}evilgnp.exe{PDI}" in body and "\u202e" not in body


def test_slack_arabic_isolates_user_text_and_values() -> None:
    reply = arabic_card()
    text = render_text(reply)  # type: ignore[arg-type]
    assert f"{FSI}{SUMMARY}{PDI}" in text
    assert f"{FSI}DWD National Centre (DE-OF-NC, Germany){PDI}" in text
    blocks = render_blocks(reply)  # type: ignore[arg-type]
    fields = [f["text"] for b in blocks if b.get("fields") for f in b["fields"]]
    assert any(f"{FSI}DWD National Centre" in f for f in fields)


def test_left_to_right_languages_get_no_marks() -> None:
    with i18n.use("fr"):
        reply = ReplyBuilder("t").line(user(SUMMARY)).build()
    content = render(reply)
    assert 'dir="rtl"' not in content["formatted_body"] and FSI not in content["body"]
    assert FSI not in render_text(reply)


def test_incident_card_codes_isolated_in_arabic() -> None:
    """The card's own codes (incident number, GISC name in the anonymised label) are
    isolated when it is rendered in Arabic."""
    from wisbot.services.render import anonymous_label

    with i18n.use("ar"):
        label = anonymous_label("Offenbach")
    assert f"{FSI}Offenbach{PDI}" in label
    with i18n.use("fr"):
        assert FSI not in anonymous_label("Offenbach")
