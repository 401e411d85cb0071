"""An incident's timeline in the reader's language: every kind of entry wisbot writes
itself (classified, share, model, checked, a page skipped, missed and acknowledged) is
rendered from its message key, not from the English stored in ``text``.

In the pseudo-locale no English may be left outside ⟦…⟧ in ``incident show``, for the
reporter (named) and in an anonymised room; the anonymised view still names nobody. A
Chinese room reads the Chinese kind words. Everything expected is written by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlmodel import select

from tests.i18n import fixtures as fx
from tests.i18n.test_pseudo_rest import problems
from tests.reach_fixture import MatrixLike, mxid, room_id
from wisbot import i18n
from wisbot.adapters.base import Invocation, MessageRef, RoomRef, UserRef
from wisbot.adapters.console import ConsoleAdapter, render_text
from wisbot.directory import Directory, parse_directory
from wisbot.domain.confidentiality import Vis
from wisbot.services.render import timeline_lines
from wisbot.store.tables import Incident, TimelineEntry

# A small directory on "Matrix" (the console adapter under that name): every contact has a
# Matrix user id except Karl Schmidt, first on call for GISC Offenbach, so his page is
# skipped at once to the Offenbach desk. Germany's incident is shared `group anonymous`
# in the end: the Beijing room reads it anonymised.
DIRECTORY = """
members:
- {code: DE, name: Germany, aliases: [DWD, Deutscher Wetterdienst]}
- {code: CN, name: China, aliases: [CMA]}
centres:
- {code: DE-OF-NC, name: DWD National Centre, member: DE, principal_gisc: Offenbach,
   identifiers: [EDZW]}
- {code: CN-BJ-NC, name: CMA National Centre, member: CN, principal_gisc: Beijing}
giscs:
- {name: Offenbach}
- {name: Beijing}
contacts:
- {id: sec-desk, name: Secretariat desk, roles: [secretariat],
   chat: {matrix: "@sec-desk:example.org"}}
- {id: karl.schmidt, name: Karl Schmidt, phone: +49 69 1111 2, roles: ["gisc:Offenbach"]}
- {id: offenbach-desk, name: Offenbach desk, roles: ["gisc:Offenbach"],
   chat: {matrix: "@offenbach-desk:example.org"}}
- {id: beijing-desk, name: Beijing desk, roles: ["gisc:Beijing"],
   chat: {matrix: "@beijing-desk:example.org"}}
- {id: anna.weber, name: Anna Weber, email: anna.weber@dwd.example.de, phone: +49 69 8062 0,
   roles: ["member:DE"], chat: {matrix: "@anna.weber:example.org"}}
rooms:
- {key: secretariat, role: secretariat, platform: matrix, address: "!secretariat:example.org"}
- {key: gisc-offenbach, role: "gisc:Offenbach", platform: matrix,
   address: "!gisc-offenbach:example.org"}
- {key: gisc-beijing, role: "gisc:Beijing", platform: matrix,
   address: "!gisc-beijing:example.org", language: zh}
- {key: member-de, role: "member:DE", platform: matrix, address: "!member-de:example.org"}
oncall:
  secretariat: [sec-desk]
  gisc:Offenbach: [karl.schmidt, offenbach-desk]
  gisc:Beijing: [beijing-desk]
"""

# Never in what the anonymised room reads (the Member, its centre, the people, a phone).
FORBIDDEN = ["Germany", "DWD", "Deutscher Wetterdienst", "DE-OF-NC", "EDZW", "Anna", "Weber",
             "anna.weber", "8062", "dwd.example", "Karl", "Schmidt", "karl.schmidt", "1111"]

# What stays as it is here besides the shared list (names from the directory above, the
# model's title and RSIT words, share levels, platform names).
KEPT = ["Offenbach desk", "Beijing desk", "Karl Schmidt", "CMA National Centre",
        r"Fraud: (phishing|masquerade)", r"fraud/(phishing|masquerade)", r"I-\d+",
        r"\bgroup\b", r"\banonymous\b", r"\bprincipal-gisc\b", "Matrix", r"\bevil\.example\b"]

KINDS = ["classified", "share", "model", "checked", "ioc", "severity", "target-missed",
         "page-skipped", "ack", "reported", "update"]


@pytest.fixture(autouse=True)
def english_default() -> Iterator[None]:
    yield
    i18n.set_default("en")


def directory(*, languages: bool) -> Directory:
    text = DIRECTORY if languages else DIRECTORY.replace(", language: zh", "")
    return parse_directory(yaml.safe_load(text), "hand-written timeline fixture")


def left(replies: list[Any]) -> list[tuple[list[str], str]]:
    return problems(replies, KEPT)


async def every_kind(make_app: Any, clock: Any, *, languages: bool,
                     pseudo: bool = False) -> tuple[Any, MatrixLike, str]:
    adapter = MatrixLike()
    app = await make_app(directory(languages=languages), adapters=[adapter])
    if pseudo:
        i18n.set_default("qps")
    n = f"WIS-SEC-{app.clock().year}-1"

    async def typed(who: str, line: str, room: str | None = "member-de") -> Any:
        reply = await adapter.type(mxid(who), line, room_id(room) if room else None)
        assert reply.kind != "error", render_text(reply)
        await app.outbox.drain()
        return reply

    await typed("anna.weber", "incident report DE-OF-NC share=principal-gisc sev=4 "
                "class=fraud/masquerade model=phishing Odd mails at the DWD relay")
    await typed("anna.weber", f"incident classify {n} fraud/phishing")
    await typed("anna.weber", f"incident check {n} 2")
    await typed("anna.weber", f"incident ioc add {n} domain evil.example")
    await typed("anna.weber", f"severity {n} 5 Lateral movement seen")
    await typed("anna.weber", f"incident update {n} Relay isolated")
    clock.advance(minutes=10)
    await typed("offenbach-desk", f"ack {n}", "gisc-offenbach")
    for _ in range(5):  # the Secretariat's page runs out its hour
        clock.advance(minutes=15)
        await app.paging.tick()
    await app.outbox.drain()
    await typed("anna.weber", f"incident share {n} group anonymous")
    await typed("anna.weber", f"incident share {n} group anonymous confirm")
    kinds = await app.store.tx(lambda s: {e.kind for e in s.exec(select(TimelineEntry))})
    assert set(KINDS) <= kinds, kinds
    return app, adapter, n


async def test_pseudo_locale_timeline_of_every_kind_named_and_anonymised(
        make_app: Any, clock: Any) -> None:
    _app, adapter, n = await every_kind(make_app, clock, languages=False, pseudo=True)
    named = await adapter.type(mxid("anna.weber"), f"incident show {n}", room_id("member-de"))
    anonymised = await adapter.type(mxid("beijing-desk"), f"incident show {n}",
                                    room_id("gisc-beijing"))
    for reply in (named, anonymised):
        assert "⟦Timeline⟧" in render_text(reply), render_text(reply)
    # The named view tells who was skipped, who acknowledged and the classification.
    shown = render_text(named)
    assert "Karl Schmidt" in shown and "fraud/masquerade" in shown, shown
    assert not left([named, anonymised]), left([named, anonymised])[:3]
    anon = render_text(anonymised)
    assert "⟦" in anon and [w for w in FORBIDDEN if w.casefold() in anon.casefold()] == [], anon
    # Every card, page and alert the rooms and people received on the way.
    received = [r for rs in [*adapter.rooms.values(), *adapter.direct.values()] for r in rs]
    assert received and not left(received), left(received)[:3]


async def test_english_timeline_reads_as_before_and_anonymised_names_nobody(
        make_app: Any, clock: Any) -> None:
    app, adapter, n = await every_kind(make_app, clock, languages=False)
    named = render_text(await adapter.type(mxid("anna.weber"), f"incident show {n}",
                                           room_id("member-de")))
    for words in ("classified: fraud/phishing (was fraud/masquerade)",
                  "model: Phishing", "checked: 2. ",
                  "share: group, anonymous (was principal-gisc)",
                  "on-call contact skipped: P-1 (GISC Offenbach): Karl Schmidt skipped "
                  "(no Matrix user id); Offenbach desk paged at once",
                  "page acknowledged: P-1 (GISC Offenbach) acknowledged after 10 min",
                  "1-hour target missed: P-2 (the WMO Secretariat) not acknowledged within "
                  "1 hour"):
        assert words in named, (words, named)
    anon = render_text(await adapter.type(mxid("beijing-desk"), f"incident show {n}",
                                          room_id("gisc-beijing")))
    assert "GISC Offenbach focal point skipped (no Matrix user id)" in anon, anon
    assert [w for w in FORBIDDEN if w.casefold() in anon.casefold()] == [], anon
    # The stored English is unchanged (exports and older readers use it).
    texts = await app.store.tx(lambda s: {e.kind: e.text for e in s.exec(select(TimelineEntry))})
    assert "karl.schmidt skipped (no Matrix user id); offenbach-desk paged at once" \
        in texts["page-skipped"], texts


async def test_a_chinese_room_reads_the_chinese_kind_words(make_app: Any, clock: Any) -> None:
    _app, adapter, n = await every_kind(make_app, clock, languages=True)
    anon = render_text(await adapter.type(mxid("beijing-desk"), f"incident show {n}",
                                          room_id("gisc-beijing")))
    # Written by hand: classified, checked, indicator, page acknowledged, 1-hour target
    # missed, on-call contact skipped, and what the skipped contact lacks.
    for words in ("已分类", "已勾选", "指标", "呼叫已确认", "未达1小时目标", "已跳过值班联系人",
                  "Matrix 用户账号", "原为"):
        assert words in anon, (words, anon)
    for english in ("acknowledged", "skipped", "not acknowledged", "classified", "checked",
                    "was "):
        assert english not in anon, (english, anon)
    assert [w for w in FORBIDDEN if w.casefold() in anon.casefold()] == [], anon


def test_an_old_row_without_a_message_key_shows_its_stored_text_redacted_anonymised() -> None:
    d = directory(languages=False)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    inc = Incident(id=1, number="WIS-SEC-2026-1", year=2026, seq=1, centre="DE-OF-NC",
                   member="DE", principal_gisc="Offenbach", share="group", anonymous=True,
                   summary="x", reported_by="anna.weber", created_at=at, updated_at=at)
    old = TimelineEntry(incident_id=1, at=at, actor="wisbot", kind="page-skipped",
                        text="P-1 (Member DE): anna.weber skipped (no Matrix user id); "
                             "nobody else on the chain can be reached")

    def shown(vis: Vis) -> str:
        return "".join(s.text for s in timeline_lines(d, inc, vis, [old])[0])

    assert "on-call contact skipped: P-1 (Member DE): anna.weber skipped" in shown(Vis.NAMED)
    anon = shown(Vis.ANONYMOUS)
    assert "on-call contact skipped: P-1" in anon, anon
    assert [w for w in FORBIDDEN if w.casefold() in anon.casefold()] == [], anon


async def test_a_removed_message_says_why_in_the_rooms_language(make_app: Any) -> None:
    """The redaction reason everyone in the room reads: the collaboration room is Spanish
    (the hand-written language fixture); the text is written by hand."""
    class Redacting(ConsoleAdapter):
        def __init__(self) -> None:
            super().__init__(echo=False)
            self.reasons: list[str] = []

        async def redact(self, message: MessageRef, reason: str) -> bool:
            self.reasons.append(reason)
            return True

    adapter = Redacting()
    app = await make_app(fx.directory(), adapters=[adapter])
    adapter.members["collaboration"] |= {"anna.weber", "li.wei"}
    inv = Invocation(platform="console", sender=UserRef("console", "anna.weber"),
                     text="!incident report DE-OF-NC share=secretariat Relay hit",
                     room=RoomRef("console", "collaboration", "collaboration"),
                     reply_to=MessageRef("console", "collaboration", "m1"))
    await app.dispatch(inv)
    assert adapter.reasons == ["eliminado por wisbot: no es para esta sala"], adapter.reasons
