"""Response models: what each route returns, as ``/docs`` and the studio's generated types see it.

One module per domain. The models describe the JSON the core already builds, key for key, so
declaring them (``response_model=``) documents the wire format without changing it; numbers that
can be whole or fractional are ``int | float`` so a ``5`` is never re-sent as ``5.0``.
"""
