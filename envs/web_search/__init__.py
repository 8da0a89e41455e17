"""The web-search environment: search backends (FTS5 offline, ddgs live), a generated world of
fictional entities, and the ``web_search`` env. See :mod:`lfmgym.envs.web_search.env`.

Submodules are imported on demand; this package import stays light.
"""
