"""Security headers on every response, with a per-request CSP nonce for inline scripts.

Folium writes its map set-up as inline ``<script>`` blocks; they get the nonce
(see :func:`webgis.maps.pages.render_map`), so ``script-src`` stays strict.
``style-src 'unsafe-inline'`` is the accepted residual: Leaflet sets inline styles.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from werkzeug.wrappers import Response

CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self';"
    " worker-src 'self' blob:; manifest-src 'self'; form-action 'self'; base-uri 'none';"
    " frame-ancestors 'none'; object-src 'none'"
)


def csp_nonce() -> str:
    """This request's nonce, made on first use."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
    if request.endpoint != "static":
        # Pages and APIs carry personal data for signed-in users: never cache them.
        h["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
