"""The web pages (zh-CN): server-rendered Jinja2 templates with htmx for partial updates.

``routes.install(web)`` adds them to the FastAPI app of ``web.server``: sign-in with a session
cookie and CSRF tokens (``session``), the to-do list, case pages with their action forms,
registration (``cases_pages``), the 挂图作战 dashboard, audit and the bulletin
(``reports_pages``), the inbox and administration (``admin_pages``). Pages call the services of
``App`` and the read queries of ``cases.dashboard``; they never open the database themselves.
"""
