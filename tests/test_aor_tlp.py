"""The area table and the TLP mapping, checked against hand-written expectations."""

from wisbot.domain.aor import responsible_giscs, table
from wisbot.domain.confidentiality import Share
from wisbot.domain.tlp import Tlp, strictest, tlp_for


def test_area_table_known_rows() -> None:
    assert len(table()) == 211
    assert responsible_giscs("de-dwd") == ("Offenbach",)
    assert responsible_giscs("ae-ncm") == ("Jeddah",)
    assert responsible_giscs("int-ecmwf") == ("Exeter", "Offenbach")
    assert responsible_giscs("KI-met") == ("Melbourne", "Washington")
    assert responsible_giscs("zz-nowhere") == ()


def test_tlp_mapping_and_strictest() -> None:
    assert tlp_for(Share.SECRETARIAT).label == "TLP:RED"
    assert tlp_for(Share.PRINCIPAL_GISC).label == "TLP:AMBER+STRICT"
    assert tlp_for(Share.ALL_GISCS).label == "TLP:AMBER"
    assert tlp_for(Share.GROUP).label == "TLP:GREEN"
    assert tlp_for(Share.GROUP, public=True).label == "TLP:CLEAR"
    assert strictest([Tlp.GREEN, Tlp.AMBER_STRICT, Tlp.CLEAR]) is Tlp.AMBER_STRICT
    assert strictest([]) is Tlp.RED
