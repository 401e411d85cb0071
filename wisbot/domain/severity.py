"""The WIS incident severity scale (Annex E §4). A severity is never shown as a bare number.

The scale is normative text, kept here rather than in the message catalogs: English as the
spec digest, Chinese exactly as the source text's table (section 4.2, "安全事件严重程度2 –
正在调查"), French, Spanish, Russian and Arabic as the team's reviewed translations
(TRANSLATIONS.md says how a native speaker changes them).
"""

from __future__ import annotations

from dataclasses import dataclass

from wisbot import i18n


@dataclass(frozen=True)
class Severity:
    level: int
    description: str
    action: str
    """English; :meth:`words_in`, :attr:`words` and :attr:`advice` give the reader's language."""

    def description_in(self, language: str) -> str:
        if language == i18n.PSEUDO:
            return f"⟦{self.description}⟧"
        return SCALES.get(language, SCALES["en"])[self.level][0]

    def action_in(self, language: str) -> str:
        if language == i18n.PSEUDO:
            return f"⟦{self.action}⟧"
        return SCALES.get(language, SCALES["en"])[self.level][1]

    def words_in(self, language: str) -> str:
        """"Security incident severity 2 – Under investigation" in ``language``."""
        if language == i18n.PSEUDO:
            return f"⟦Security incident severity {self.level} – {self.description}⟧"
        prefix = PREFIX.get(language, PREFIX["en"])
        return prefix.format(level=self.level, description=self.description_in(language))

    @property
    def words(self) -> str:
        """The words in the current language (:func:`wisbot.i18n.use`)."""
        return self.words_in(i18n.current())

    @property
    def advice(self) -> str:
        """The recommended action in the current language."""
        return self.action_in(i18n.current())


PREFIX: dict[str, str] = {
    "en": "Security incident severity {level} – {description}",
    "zh": "安全事件严重程度{level} – {description}",
    "fr": "Gravité de l’incident de sécurité {level} – {description}",
    "es": "Gravedad del incidente de seguridad {level} – {description}",
    "ru": "Степень серьёзности инцидента безопасности {level} – {description}",
    "ar": "درجة خطورة الحادث الأمني {level} – {description}",
}

SCALES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("No current issues", "For information only. No unusual action."),
        ("Known local problem", "Unlikely to have impact outside the affected Member."),
        ("Under investigation", "Severity, impact and scope unknown – stay alert."),
        ("Systems in the same security domain as a WIS centre are affected to some degree",
         "Increase vigilance."),
        ("Systems with some connection to a WIS centre are compromised",
         "Increase vigilance; consider risk-avoidance mechanisms."),
        ("A WIS centre is compromised",
         "Consult your GISC operator; apply the corresponding operational risk-avoidance "
         "mechanisms."),
    ),
    # The source text's own table (section 4.2), character for character.
    "zh": (
        ("当前无问题", "仅供参考。不采取异常行动。"),
        ("已知的局部问题", "受影响会员之外不可能有影响。"),
        ("正在调查", "严重程度、影响和范围未知 – 保持警惕。"),
        ("与WIS中心在相同安全区域的系统受到某种程度的影响", "提高警惕。"),
        ("与WIS中心有某种程度联系的系统受到危害", "提高警惕，考虑风险规避机制。"),
        ("WIS中心受到危害", "与你方GISC运行方商议，采取相应的业务风险规避机制。"),
    ),
    "fr": (
        ("Aucun problème actuel", "Pour information seulement. Aucune mesure inhabituelle."),
        ("Problème local connu",
         "Peu susceptible d’avoir un impact au-delà du Membre touché."),
        ("Enquête en cours", "Gravité, impact et portée inconnus – restez vigilants."),
        ("Des systèmes du même domaine de sécurité qu’un centre du SIO sont touchés dans "
         "une certaine mesure", "Renforcez la vigilance."),
        ("Des systèmes ayant un lien avec un centre du SIO sont compromis",
         "Renforcez la vigilance ; envisagez des mécanismes d’évitement des risques."),
        ("Un centre du SIO est compromis",
         "Consultez l’exploitant de votre CMSI ; appliquez les mécanismes opérationnels "
         "d’évitement des risques correspondants."),
    ),
    "es": (
        ("Sin problemas actuales", "Solo para información. Ninguna medida inusual."),
        ("Problema local conocido",
         "Es poco probable que tenga repercusiones fuera del Miembro afectado."),
        ("En investigación",
         "Gravedad, repercusiones y alcance desconocidos – manténganse alerta."),
        ("Sistemas del mismo dominio de seguridad que un centro del SIO están afectados en "
         "cierta medida", "Aumenten la vigilancia."),
        ("Sistemas con alguna conexión con un centro del SIO están comprometidos",
         "Aumenten la vigilancia; consideren mecanismos para evitar riesgos."),
        ("Un centro del SIO está comprometido",
         "Consulten al operador de su CMSI; apliquen los mecanismos operativos "
         "correspondientes para evitar riesgos."),
    ),
    "ru": (
        ("Текущих проблем нет", "Только для информации. Никаких особых действий."),
        ("Известная локальная проблема",
         "Влияние за пределами затронутого Члена маловероятно."),
        ("Ведётся расследование",
         "Серьёзность, последствия и масштаб неизвестны – сохраняйте бдительность."),
        ("Системы в том же домене безопасности, что и центр ИСВ, в некоторой степени "
         "затронуты", "Повысьте бдительность."),
        ("Системы, имеющие связь с центром ИСВ, скомпрометированы",
         "Повысьте бдительность; рассмотрите механизмы предотвращения рисков."),
        ("Центр ИСВ скомпрометирован",
         "Проконсультируйтесь с оператором вашего ГЦИС; примените соответствующие "
         "оперативные механизмы предотвращения рисков."),
    ),
    "ar": (
        ("لا توجد مشكلات حالياً", "للعلم فقط. لا يلزم اتخاذ أي إجراء غير معتاد."),
        ("مشكلة محلية معروفة", "من غير المرجح أن يكون لها تأثير خارج العضو المتأثر."),
        ("قيد التحقيق", "الخطورة والتأثير والنطاق غير معروفة – ابقوا متيقظين."),
        ("أنظمة في نفس النطاق الأمني لمركز تابع لنظام معلومات المنظمة متأثرة إلى حد ما",
         "زيادة اليقظة."),
        ("أنظمة لها صلة ما بمركز تابع لنظام معلومات المنظمة مخترقة",
         "زيادة اليقظة؛ والنظر في آليات تجنب المخاطر."),
        ("مركز تابع لنظام معلومات المنظمة مخترق",
         "التشاور مع مشغّل المركز العالمي لنظام المعلومات الخاص بكم؛ وتطبيق آليات تجنب "
         "المخاطر التشغيلية المقابلة."),
    ),
}

SCALE: tuple[Severity, ...] = tuple(
    Severity(level, description, action)
    for level, (description, action) in enumerate(SCALES["en"])
)

DEFAULT_LEVEL = 2


def severity(level: int) -> Severity:
    if not 0 <= level <= 5:
        raise ValueError(f"severity must be 0 to 5, not {level}")
    return SCALE[level]


def parse_level(text: str) -> int:
    """``"4"`` → 4; anything else raises ValueError with a message for a person."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or not 0 <= int(stripped) <= 5:
        raise ValueError(f"invalid severity {text!r}: use a whole number from 0 to 5")
    return int(stripped)
