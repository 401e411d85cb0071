"""What each room's member reads, per confidentiality level, from their own sync."""

from __future__ import annotations

import re

from tests.matrix.conftest import World

ANON = "a WIS centre in the area of GISC Offenbach"

# share level → {(person, room): "named" | "anonymous" | None (must read nothing)}
EXPECT: dict[str, dict[tuple[str, str], str | None]] = {
    "secretariat": {("sec", "secretariat"): "named", ("anna", "member-de"): "named",
                    ("of", "gisc-offenbach"): None, ("tk", "gisc-tokyo"): None,
                    ("ex", "gisc-exeter"): None, ("of", "area-offenbach"): None,
                    ("tk", "collaboration"): None},
    "principal-gisc": {("sec", "secretariat"): "named", ("of", "gisc-offenbach"): "named",
                       ("tk", "gisc-tokyo"): None, ("ex", "gisc-exeter"): None,
                       ("of", "area-offenbach"): None, ("tk", "collaboration"): None},
    "all-giscs": {("sec", "secretariat"): "named", ("of", "gisc-offenbach"): "named",
                  ("tk", "gisc-tokyo"): "anonymous", ("ex", "gisc-exeter"): "anonymous",
                  ("of", "area-offenbach"): None, ("tk", "collaboration"): None},
    "group": {("sec", "secretariat"): "named", ("of", "gisc-offenbach"): "named",
              ("tk", "gisc-tokyo"): "anonymous", ("ex", "gisc-exeter"): "anonymous",
              ("of", "area-offenbach"): "anonymous", ("tk", "collaboration"): "anonymous"},
}


async def test_each_member_reads_what_each_level_allows(world: World) -> None:
    app = await world.app()
    p, r, bot = world.people, world.rooms, world.bot
    number_of: dict[str, str] = {}
    for level in EXPECT:
        await p["anna"].say(r["member-de"], f"!incident report DE-OF-NC share={level} "
                            f"anonymous Level {level} test at DWD")
        text = await p["anna"].wait_for(r["member-de"], bot,
                                        lambda t, lv=level: f"Level {lv} test" in t)
        block = [b for b in text.split("\n\n") if f"Level {level} test" in b][-1]
        number_of[level] = re.findall(r"WIS-SEC-\d{4}-\d+", block)[0]
    await world.delivered(app)
    for person in p.values():
        await person.sync()
    for level, expected in EXPECT.items():
        number = number_of[level]
        for (who, room), how in expected.items():
            text = "\n\n".join(n["body"] for n in p[who].notices(r[room], bot)
                               if re.search(rf"{number}(?!\d)", n["body"]))
            if how is None:
                assert text == "", f"{who} in {room} must read nothing of {level}: {text}"
                continue
            assert text, f"{who} in {room} read nothing of the {level} incident"
            if how == "named":
                assert "DE-OF-NC" in text
            else:
                assert ANON in text
                assert "DE-OF-NC" not in text and "DWD" not in text and "Germany" not in text
    # the stranger is in no room and reads nothing at all
    await p["stranger"].sync()
    assert not any(p["stranger"].events.values())
