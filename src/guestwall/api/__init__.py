"""The REST API: OpenStack Networking v2.0 shapes for security groups, rules, ports and address groups, and
guestwall's own resources (provider blocks, filters, bindings, hosts) under ``/guestwall/v1``.

A thin front end: every request is one call of the use cases the CLI calls (guestwall.cloud's use cases,
guestwall.services); authentication and tenant isolation are this package's only own decisions.
``create_app(settings)`` builds the ASGI application (api/app.py); ``guestwall api`` serves it.
"""
