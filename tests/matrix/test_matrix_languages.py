"""A ``group`` cascade on a real Synapse to rooms in several languages: each room reads its
own language, read from each member's own sync; the anonymised rooms name nobody (the
forbidden words are written here by hand); the Arabic room is laid out right to left with
the user text isolated."""

from __future__ import annotations

import copy
import re

import pytest

from tests.matrix.conftest import World

LANGUAGES = {"secretariat": "fr", "gisc-tokyo": "zh", "gisc-exeter": "ar",
             "area-offenbach": "es", "collaboration": "ru"}
# Hand-written: what each room must read of severity 3, and its anonymised label.
SEVERITY = {
    "fr": "Gravité de l’incident de sécurité 3 – Des systèmes du même domaine de sécurité",
    "zh": "安全事件严重程度3 – 与WIS中心在相同安全区域的系统受到某种程度的影响",
    "ar": "درجة خطورة الحادث الأمني 3 –",
    "es": "Gravedad del incidente de seguridad 3 – Sistemas del mismo dominio de seguridad",
    "ru": "Степень серьёзности инцидента безопасности 3 – Системы в том же домене",
    "en": "Security incident severity 3 – Systems in the same security domain",
}
LABEL = {"zh": "区域内的一个WIS中心", "ar": "مركز تابع لنظام معلومات المنظمة في منطقة",
         "es": "un centro del SIO en la zona del CMSI", "ru": "центр ИСВ в зоне ГЦИС"}
FORBIDDEN = ["Germany", "DWD", "DE-OF-NC", "Anna", "Weber", "Deutschland", "National Centre"]
SUMMARY = "DWD mail relay hit at DE-OF-NC; Anna Weber coordinates"


@pytest.fixture
def world(world_db: World) -> World:
    return world_db


def unmarked(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "").replace("\u200f", "")


async def test_group_cascade_each_room_in_its_own_language(world: World) -> None:
    from wisbot.directory import parse_directory

    data = copy.deepcopy(world.data)
    for room in data["rooms"]:
        if room["key"] in LANGUAGES:
            room["language"] = LANGUAGES[room["key"]]
    app = await world.app(directory=parse_directory(data))
    p, r, bot = world.people, world.rooms, world.bot
    await p["anna"].say(r["member-de"], "!incident report DE-OF-NC share=group sev=3 "
                        f"anonymous {SUMMARY}")
    sec = await p["sec"].wait_for(r["secretariat"], bot,
                                  lambda t: bool(re.search(r"WIS-SEC-\d{4}-\d+", t)))
    (number,) = set(re.findall(r"WIS-SEC-\d{4}-\d+", sec))
    await world.delivered(app)
    readers = {"secretariat": "sec", "gisc-offenbach": "of", "gisc-tokyo": "tk",
               "gisc-exeter": "ex", "area-offenbach": "of", "collaboration": "tk"}
    for key, who in readers.items():
        text = unmarked(await p[who].wait_for(r[key], bot, lambda t: number in t))
        lang = LANGUAGES.get(key, "en")
        assert SEVERITY[lang] in text, (key, text)
        for other, words in SEVERITY.items():
            if other != lang:
                assert words not in text, (key, other)
        if key in ("secretariat", "gisc-offenbach"):
            assert "DE-OF-NC" in text  # named (the test can fail)
            continue
        assert LABEL[LANGUAGES[key]] in text, (key, text)
        leaked = [w for w in FORBIDDEN if w.casefold() in text.casefold()]
        assert not leaked, (key, leaked)
    # Arabic: right to left; wisbot's codes isolated so the line does not reorder.
    (notice,) = [n for n in p["ex"].notices(r["gisc-exeter"], bot) if number in n["body"]]
    assert str(notice["formatted_body"]).startswith('<div dir="rtl">')
    assert "\u2068Exeter\u2069" not in notice["body"]  # not this room's GISC
    assert "\u2068Offenbach\u2069" in notice["body"]
    assert "<bdi>\u2068group, anonymous\u2069</bdi>" in notice["formatted_body"]
    # The French room: labels translated, share level and number as they are.
    (fr,) = [n for n in p["sec"].notices(r["secretariat"], bot) if number in n["body"]]
    assert "Partage:" in fr["body"] and "group, anonymous" in fr["body"]
    assert 'dir="rtl"' not in fr["formatted_body"]
