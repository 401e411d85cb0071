# Message catalogs (docs/i18n.md): `make i18n` extracts wisbot/locale/wisbot.pot from the
# code and updates every language's .po; translators then edit the .po files. The .po
# files are compiled when a language is first used (no build step).
I18N_LANGS := ar zh fr ru es
I18N_KEYWORDS := -k _t -k N_ -k ngettext:1,2 -k Command:2 -k group:2

.PHONY: i18n i18n-check

i18n: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg $(I18N_KEYWORDS) --no-location --sort-output \
	  --project=wisbot --copyright-holder="WMO" -o wisbot/locale/wisbot.pot .
	for l in $(I18N_LANGS); do \
	  test -f wisbot/locale/$$l/LC_MESSAGES/wisbot.po \
	    || $(BIN)/pybabel -q init -D wisbot -i wisbot/locale/wisbot.pot -d wisbot/locale -l $$l; \
	done
	$(BIN)/pybabel -q update -D wisbot -i wisbot/locale/wisbot.pot -d wisbot/locale \
	  --no-fuzzy-matching --ignore-obsolete

i18n-check: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_i18n_catalogs.py
