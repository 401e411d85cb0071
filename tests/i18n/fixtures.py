"""Hand-written fixtures for the language tests: never derived from the code under test."""

from __future__ import annotations

import yaml

from wisbot.directory import Directory, parse_directory

# The source text's table (section 4.2 of the Chinese recommendation, "WMO WIS IT安全严重程度"),
# copied by hand, character for character: level, 描述, 建议的行动（针对其它WMO会员组织）.
CHINESE_SCALE = [
    (0, "当前无问题", "仅供参考。不采取异常行动。"),
    (1, "已知的局部问题", "受影响会员之外不可能有影响。"),
    (2, "正在调查", "严重程度、影响和范围未知 – 保持警惕。"),
    (3, "与WIS中心在相同安全区域的系统受到某种程度的影响", "提高警惕。"),
    (4, "与WIS中心有某种程度联系的系统受到危害", "提高警惕，考虑风险规避机制。"),
    (5, "WIS中心受到危害", "与你方GISC运行方商议，采取相应的业务风险规避机制。"),
]
# Section 4.4: "安全事件严重程度2 – 正在调查".
CHINESE_EXAMPLE = "安全事件严重程度2 – 正在调查"
ENGLISH_EXAMPLE = "Security incident severity 2 – Under investigation"

# A group cascade to rooms in three languages (and English). DE's incident is anonymous:
# every room but the Secretariat's, the Member's and the principal GISC's reads it
# anonymised.
DIRECTORY = """
members:
- {code: DE, name: Germany, aliases: [DWD, Deutscher Wetterdienst, Deutschland]}
- {code: CN, name: China, aliases: [CMA]}
- {code: MA, name: Morocco, aliases: [DGM]}
centres:
- {code: DE-OF-NC, name: DWD National Centre, member: DE, principal_gisc: Offenbach,
   identifiers: [EDZW, de-dwd]}
- {code: CN-BJ-NC, name: CMA National Centre, member: CN, principal_gisc: Beijing}
- {code: MA-NC, name: DGM National Centre, member: MA, principal_gisc: Offenbach}
giscs:
- {name: Offenbach}
- {name: Beijing}
contacts:
- {id: sec-desk, name: Secretariat desk, email: sec@wmo.example.int, roles: [secretariat],
   language: fr}
- {id: offenbach-desk, name: Offenbach desk, roles: ["gisc:Offenbach"]}
- {id: beijing-desk, name: Beijing desk, roles: ["gisc:Beijing"], language: zh}
- {id: anna.weber, name: Anna Weber, email: anna.weber@dwd.example.de, phone: +49 69 8062 0,
   roles: ["member:DE"]}
- {id: li.wei, name: Li Wei, roles: ["member:CN"], language: zh}
- {id: amina.alaoui, name: Amina Alaoui, email: amina@dgm.example.ma, roles: ["member:MA"],
   language: ar}
rooms:
- {key: secretariat, role: secretariat, platform: console, language: fr}
- {key: gisc-offenbach, role: "gisc:Offenbach", platform: console}
- {key: gisc-beijing, role: "gisc:Beijing", platform: console, language: zh}
- {key: area-offenbach, role: "area:Offenbach", platform: console, language: ar}
- {key: area-beijing, role: "area:Beijing", platform: console, language: zh}
- {key: collaboration, role: collaboration, platform: console, language: es}
- {key: member-de, role: "member:DE", platform: console}
- {key: member-ma, role: "member:MA", platform: console, language: ar}
oncall:
  secretariat: [sec-desk]
  gisc:Offenbach: [offenbach-desk]
  gisc:Beijing: [beijing-desk]
"""

SUMMARY = "DWDs mail relay at EDZW hit; call Anna Weber on +49 69 8062 0"
# Forbidden for anonymised readers of the DE incident, written by hand.
DE_FORBIDDEN = ["DWD", "EDZW", "de-dwd", "Anna", "Weber", "8062", "dwd.example",
                "Deutschland", "Germany", "DE-OF-NC", "Deutscher Wetterdienst"]
ANONYMISED = ("gisc-beijing", "area-offenbach", "area-beijing", "collaboration")

# What each language's severity 3 card must say (hand-written, from the scale).
SEVERITY_3 = {
    "fr": "Gravité de l’incident de sécurité 3",
    "zh": "安全事件严重程度3 – 与WIS中心在相同安全区域的系统受到某种程度的影响",
    "ar": "درجة خطورة الحادث الأمني 3",
    "es": "Gravedad del incidente de seguridad 3",
    "en": "Security incident severity 3",
}
ROOM_LANGUAGE = {"secretariat": "fr", "gisc-offenbach": "en", "gisc-beijing": "zh",
                 "area-offenbach": "ar", "area-beijing": "zh", "collaboration": "es",
                 "member-de": "en"}
# The anonymised label, in each language (hand-written).
ANONYMOUS_LABEL = {"zh": "GISC Offenbach 区域内的一个WIS中心",
                   "ar": "مركز تابع لنظام معلومات المنظمة في منطقة المركز العالمي",
                   "es": "un centro del SIO en la zona del CMSI Offenbach"}


def directory() -> Directory:
    return parse_directory(yaml.safe_load(DIRECTORY), "hand-written language fixture")
