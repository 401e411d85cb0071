"""The collaboration facility on the web: server-rendered pages for the people who may see
them. The one audience predicate decides every page, exactly as in chat."""
