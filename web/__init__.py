"""The web layer: ``api/`` (JSON over HTTP, OpenAPI) and ``ui/`` (server-rendered pages).

Both authenticate the caller and call the services of ``cases`` and ``notifications``; neither
touches the database directly. ``web.server.create_web_app`` puts them together.
"""
