"""HTMX helpers: one template, served whole or as its fragment."""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    # A history-restore request wants the whole page, not the fragment.
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render(page_template: str, fragment_template: str, /, **context) -> Response:
    """Render the page, or only its fragment for an HTMX request. The page template
    {% include %}s the fragment, so both always show the same thing."""
    template = fragment_template if is_htmx() else page_template
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def hx_trigger(response: Response, event: str, detail: object = None) -> Response:
    """Ask the page to update other widgets (the cart badge, ...) after this response."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response
