"""A list's GET filter form as HTML, built in Python (templates/_listing.html: filter_form).

Every list fragment renders its filter form again, with the values of the URL. As a Jinja
macro it cost a fifth of the invoice list's template: a call, a lookup and an escape for
each field, choice and attribute. The markup is the macro's; every value is escaped here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup, escape

from b2bshop.core.listing import ListFilterForm, PlainFilter


def _text(value: Any) -> str:
    return str(escape(value))


def filter_form_markup(
    form: ListFilterForm | PlainFilter,
    action: str,
    target: str,
    form_id: str,
    prefix: str,
    hide: Iterable[str],
    translate: Callable[[Any], Any],
    apply_label: str,
    clear_label: str,
) -> Markup:
    """The form: `action` its URL, `target` the id of the list it swaps, `hide` fields
    left out, `translate` the render's lazy_text (labels and choices in its catalog)."""
    action = _text(action)
    out = [
        f'<form id="{_text(form_id)}" class="filters" method="get" action="{action}" '
        f'role="search"\n      hx-get="{action}" hx-target="#{_text(target)}" '
        'hx-swap="outerHTML" hx-push-url="true"\n      hx-trigger="change, submit, input '
        'changed delay:400ms from:find input[type=search]">\n'
    ]
    add = out.append
    hidden = set(hide)
    invalid_attrs = f' aria-invalid="true" aria-describedby="{_text(prefix)}-errors"'
    for field in form:
        name = field.name
        if name in hidden:
            continue
        field_id = _text(f"{prefix}-{name.replace('_', '-')}")
        value = form.valid_value(name)
        invalid = invalid_attrs if field.errors else ""
        add(
            f'  <div>\n    <label for="{field_id}">{_text(translate(field.label.text))}'
            "</label>\n    "
        )
        if field.type == "SelectField":
            chosen = str(value if value is not None else "")
            add(f'<select id="{field_id}" name="{_text(name)}"{invalid}>')
            for choice in field.choices:
                selected = " selected" if str(choice.value) == chosen else ""
                add(
                    f'<option value="{_text(choice.value)}"{selected}>'
                    f"{_text(translate(choice.label))}</option>"
                )
            add("</select>")
        elif field.type == "DateField":
            shown = value.isoformat() if value else ""
            add(
                f'<input type="date" id="{field_id}" name="{_text(name)}" value="{shown}"{invalid}>'
            )
        else:
            render_kw = field.render_kw or {}
            add(
                f'<input type="search" id="{field_id}" name="{_text(name)}" '
                f'value="{_text(value or "")}"{invalid} '
                f'maxlength="{_text(render_kw.get("maxlength", 100))}"'
            )
            if render_kw.get("placeholder"):
                add(f' placeholder="{_text(translate(render_kw["placeholder"]))}"')
            add(">")
        add("\n  </div>\n")
    add(
        f'  <div class="filter-actions">\n    <button type="submit">{_text(apply_label)}'
        f'</button>\n    <a href="{action}">{_text(clear_label)}</a>\n  </div>\n</form>\n'
    )
    return Markup("".join(out))  # nosec B704 (every value above is escaped)
