"""The hostile-input fuzzer's machinery (issue 13): targets from the app's URL map, the forms
and links its own pages render, a corpus of hostile values and a sender that checks every
answer.

A request is built from a *baseline* (a form or link as the app renders it, with empty
fields filled with valid values) and mutated: a path argument or a field replaced by a
hostile value, dropped, or sent twice. So a hostile price reaches the database with a valid
SKU, name and currency beside it, as an attacker's would.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from b2bshop.accounts.models import Customer, PaymentTerms
from b2bshop.billing.models import FreeTextInvoice, Invoice
from b2bshop.campaigns.models import Campaign, CampaignRecipient
from b2bshop.cart.models import CartLine
from b2bshop.catalog.models import Product
from b2bshop.core.listing import encode_cursor
from b2bshop.extensions import db
from b2bshop.payments.models import Payment
from b2bshop.quotations.models import Quotation
from b2bshop.relationships.models import AccountApplication, FollowUpTask, Party
from b2bshop.requests.models import B2BRequest, Invitation
from b2bshop.sales.models import SalesOrder
from b2bshop.suggestions.models import SuggestionRule

#: Where money lives: a refused request must leave each of these tables as it found it.
MONEY_TABLES = (
    "payments",
    "payment_allocations",
    "invoices",
    "sales_orders",
    "sales_order_lines",
    "carts",
    "cart_lines",
)

PASSWORD = "demo"
SIGN_INS = {"buyer": "buyer@contoso.example", "admin": "admin@b2bshop.example"}


def _raw_cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


#: Keyset cursors: ids beyond 32 and 64 bits, sort values out of their column's range or type,
#: and tokens that are not cursors at all.
CURSORS = [
    encode_cursor("2024-01-01", 2**63),
    encode_cursor("C-1000", 2**64),
    encode_cursor("1", 2**31),
    encode_cursor("1", -(2**63) - 1),
    encode_cursor("1e30", 1),
    encode_cursor("1e400", 1),
    encode_cursor("NaN", 1),
    encode_cursor("Infinity", 1),
    encode_cursor("-Infinity", 1),
    encode_cursor("99999999999999999999.99", 1),
    encode_cursor("9999-99-99", 1),
    encode_cursor("10000-01-01", 1),
    encode_cursor("\x00", 1),
    encode_cursor("x" * 600, 1),
    _raw_cursor([1, "x"]),
    _raw_cursor(["x", 1.5]),
    _raw_cursor(["x", True]),
    _raw_cursor(["x"]),
    _raw_cursor({"a": 1}),
    "!!!",
    "=",
    "e30",
]

#: Every field and argument gets each of these, one at a time, in the explicit pass.
MUST = [
    "\x00",
    "9223372036854775808",
    "2147483648",
    "-1",
    "²",
    "1e20",
    "1e30",
    "Infinity",
    "NaN",
    "0.001",
    "x" * 600,
    "2024-13-45",
    "9999-12-31",
    "0001-01-01",
    "bogus",
    "",
]

#: Forms per endpoint the explicit pass goes through field by field.
EXPLICIT_FORMS = 3

#: Path arguments: what a URL can carry (int converters only match digits).
PATH_MUST = ["\x00", "9223372036854775808", "2147483648", "0", "١٢", "x" * 600, "%", "..", " "]

#: The Hypothesis pass draws from these and from generated text, numbers and dates.
CORPUS = [
    *MUST,
    *CURSORS,
    "INV-\x00",
    "18446744073709551616",
    "١٢",
    "-9223372036854775809",
    "9" * 400,
    "-0",
    "00000000001",
    "1_000",
    "0x10",
    "1E+2",
    "12,50",
    " 1 ",
    "sNaN",
    "-Infinity",
    "-1e20",
    "9999999999999999.99",
    "10000000000000000",
    "99999999999999999.99",
    "0.005",
    "1e-30",
    "0000-00-00",
    "2024-02-30",
    "10000-01-01",
    "yesterday",
    "-amount",
    "due_date; DROP TABLE invoices",
    "__class__",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "\u202e",
    "é" * 300,
    "x" * 5000,
    "a@",
    "@",
    "\x00@x.example",
    "on",
    "true",
    "[]",
    "{}",
]

hostile_values = st.one_of(
    st.sampled_from(CORPUS),
    st.text(max_size=24),
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
)
hostile_path_values = st.one_of(st.sampled_from(PATH_MUST + CORPUS), st.text(min_size=1))


# --- Targets: the URL map ---


@dataclass(frozen=True)
class Target:
    rule: str
    endpoint: str
    method: str
    args: tuple[str, ...]

    def url(self, values: dict[str, str]) -> str:
        def fill(match: re.Match) -> str:
            return quote(values[match.group(1)], safe="")

        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", fill, self.rule)


def targets(app: Flask) -> list[Target]:
    """Every rule and every method it answers (HEAD and OPTIONS are Werkzeug's own)."""
    found = []
    # Rules without arguments first: what they create (a draft, an order) is then among the
    # rows the others' arguments point at.
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (bool(r.arguments), r.rule)):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(Target(rule.rule, rule.endpoint, method, tuple(rule.arguments)))
    return found


def real_path_values(app: Flask) -> dict[tuple[str, str], list[str]]:
    """Values each path argument takes in the data: (rule, argument) -> a few of them."""
    by_name = {
        "customer_id": Customer.id,
        "draft_id": FreeTextInvoice.id,
        "product_id": Product.id,
        "terms_id": PaymentTerms.id,
        "request_id": B2BRequest.id,
        "line_id": CartLine.id,
        "rule_id": SuggestionRule.id,
        "party_id": Party.id,
        "task_id": FollowUpTask.id,
        "application_id": AccountApplication.id,
        "campaign_id": Campaign.id,
        "recipient_id": CampaignRecipient.id,
        "sku": Product.sku,
    }
    numbers = {"invoices": Invoice.number, "orders": SalesOrder.number, "payments": Payment.number}
    numbers["quotations"] = Quotation.number
    # Sales and trade agreements, vendors and purchase orders (issue 19).
    from b2bshop.agreements.models import SalesAgreement, TradeAgreement
    from b2bshop.purchasing.models import PurchaseOrder, Vendor

    numbers["agreements"] = SalesAgreement.number
    numbers["purchase-orders"] = PurchaseOrder.number
    by_name["agreement_id"] = TradeAgreement.id
    by_name["vendor_id"] = Vendor.id
    # Payment journals (issue 20), and the store admins whose entities can be limited.
    from b2bshop.accounts.models import User
    from b2bshop.intercompany.models import PaymentJournal

    numbers["journals"] = PaymentJournal.number
    by_name["user_id"] = User.id
    values: dict[tuple[str, str], list[str]] = {}
    with app.app_context():
        for rule in app.url_map.iter_rules():
            for arg in rule.arguments:
                if arg in by_name:
                    column = by_name[arg]
                elif arg == "number":
                    kind = next(k for k in numbers if f"/{k}/" in rule.rule)
                    column = numbers[kind]
                elif arg == "token":
                    from b2bshop.requests.invitations import token_for

                    invitations = db.session.scalars(select(Invitation).limit(2))
                    values[rule.rule, arg] = [token_for(i) for i in invitations] or ["0" * 64]
                    continue
                elif arg == "filename":
                    values[rule.rule, arg] = ["app.css", "favicon.svg"]
                    continue
                else:
                    raise AssertionError(f"{rule.rule}: say where real values of <{arg}> come from")
                rows = db.session.scalars(select(column).order_by(column)).all()
                picked = dict.fromkeys([*rows[:2], *rows[-2:]])  # in order: the first is used most
                values[rule.rule, arg] = [str(v) for v in picked] or ["1"]
        db.session.remove()
    return values


# --- Baselines: the forms and links the app renders ---


class _PageParser(HTMLParser):
    """Forms and links of a page. A form is (action, method, fields with their rendered
    values, variant): a form with several named submit buttons (Save, Post) is one form per
    button, as a browser sends only the one clicked; a radio group sends its checked value
    (else its first)."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[tuple[str, str, list[tuple[str, str]], str]] = []
        self.links: list[str] = []
        self._form: tuple[str, str, list[tuple[str, str]]] | None = None
        self._buttons: list[tuple[str, str]] = []
        self._radios: dict[str, int] = {}
        self._select: str | None = None
        self._select_values: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"])
        elif tag == "form":
            action = a.get("action") or self.page_url
            self._form = (action, (a.get("method") or "get").upper(), [])
            self._buttons, self._radios = [], {}
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind, name = a.get("type", "text"), a["name"]
            if kind == "radio":
                if name not in self._radios:
                    self._radios[name] = len(self._form[2])
                    self._form[2].append((name, a.get("value", "on")))
                elif "checked" in a:
                    self._form[2][self._radios[name]] = (name, a.get("value", "on"))
            elif kind == "submit":
                self._buttons.append((name, a.get("value", "")))
            else:
                value = a.get("value", "on" if kind == "checkbox" else "")
                self._form[2].append((name, value))
        elif tag == "button" and a.get("name"):
            self._buttons.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select, self._select_values = a["name"], []
        elif tag == "option" and self._select is not None:
            self._select_values.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "form" and self._form is not None:
            action, method, fields = self._form
            for button in self._buttons or [None]:
                variant = f"{button[0]}={button[1]}" if button else ""
                self.forms.append((action, method, fields + ([button] if button else []), variant))
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            # The selected option, or (a placeholder such as "Choose a customer" selected, as
            # fill() does for empty fields) the first real one.
            options = self._select_values
            chosen = [v for v, selected in options if selected and v] or [
                v for v, _ in options if v
            ]
            self._form[2].append((self._select, chosen[0] if chosen else ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form[2].append((self._textarea, self._text))
            self._textarea = None


_counter = itertools.count(1)

#: Valid values for fields a page renders empty, so a mutation of one field meets valid others.
_FILLS: list[tuple[str, object]] = [
    (r"email", lambda n: f"fuzz{n}@example.com"),
    (r"(sku|number|code)", lambda n: f"FZ{n}"),
    (r"(name|reason|reference)", lambda n: f"Fuzz {n}"),
    (r"description(-\d+)?", lambda n: "Fuzz line"),
    (r"(amount|price)(-\d+)?", lambda n: "10.00"),
    (r"credit_limit", lambda n: "1000"),
    (r"tax(-\d+)?|tax_rate", lambda n: "21"),
    (r"(quantity|qty)(-\d+)?|stock_on_hand|net_days", lambda n: "1"),
    (r"password|confirm", lambda n: "correct horse battery"),
    (r"card_number", lambda n: "4242424242424242"),
]


def fill(name: str, value: str) -> str:
    if value:
        return value
    n = next(_counter)
    for pattern, make in _FILLS:
        if re.fullmatch(pattern, name):
            return make(n)  # type: ignore[operator]
    return value


Baseline = tuple[tuple[str, str], ...]


@dataclass
class Baselines:
    """(endpoint, method) -> distinct field sets, from every page the role can open."""

    found: dict[tuple[str, str], list[Baseline]] = field(default_factory=dict)

    shapes: dict[tuple[str, str], set] = field(default_factory=dict)

    def add(
        self, endpoint: str, method: str, fields: list[tuple[str, str]], variant: str = ""
    ) -> None:
        """Forms of one shape (field names and submit button) once: the invoice list has a
        Pay form per row."""
        fields = [(n, v) for n, v in fields if n != "csrf_token"]
        known = self.found.setdefault((endpoint, method), [])
        seen = self.shapes.setdefault((endpoint, method), set())
        shape = (tuple(sorted({n for n, _ in fields})), variant)
        if shape not in seen and len(known) < 6:
            seen.add(shape)
            known.append(tuple(fields))

    def of(self, target: Target) -> list[Baseline]:
        return self.found.get((target.endpoint, target.method)) or [()]

    def names(self) -> list[str]:
        return sorted({n for forms in self.found.values() for form in forms for n, _ in form})


def harvest(app: Flask, client: FlaskClient, reals: dict, baselines: Baselines) -> None:
    """Open every GET page the client may see and record its forms and links."""
    adapter = app.url_map.bind("localhost")
    for target in targets(app):
        if target.method != "GET" or target.endpoint == "static":
            continue
        url = target.url({a: reals[target.rule, a][0] for a in target.args})
        with client.get(url) as response:  # closed: a streamed body holds its request open
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            html = response.get_data(as_text=True)
        parser = _PageParser(url)
        parser.feed(html)
        pages = list(parser.forms)
        pages += [(href, "GET", [], "") for href in parser.links]
        for action, method, fields, variant in pages:
            parts = urlsplit(action)
            try:
                endpoint, _args = adapter.match(parts.path, method=method)
            except HTTPException:
                continue
            fields = fields + parse_qsl(parts.query, keep_blank_values=True)
            baselines.add(endpoint, method, fields, variant)


# --- Requests ---


@dataclass(frozen=True)
class FuzzRequest:
    target: Target
    url: str
    fields: tuple[tuple[str, str], ...] = ()
    #: "form" (urlencoded), "json", or "raw" (bytes that are not UTF-8)
    body: str = "form"
    htmx: bool = False

    def describe(self) -> str:
        shown = [(n, v if len(v) < 60 else v[:40] + f"...({len(v)})") for n, v in self.fields]
        return f"{self.target.method} {self.url[:120]} {self.body} hx={self.htmx} {shown}"


def baseline_fields(baseline: Baseline) -> list[tuple[str, str]]:
    return [(n, fill(n, v)) for n, v in baseline]


def explicit_requests(target: Target, reals: dict, baselines: Baselines) -> Iterator[FuzzRequest]:
    """Each path argument and each field of each baseline, given each MUST value in turn
    (cursor fields the crafted cursors too), the others valid."""
    path = {a: reals[target.rule, a][0] for a in target.args}
    for arg in target.args:
        for value in PATH_MUST:
            yield FuzzRequest(target, target.url({**path, arg: value}))
    # The first forms of each kind (the Hypothesis pass draws from all of them).
    for baseline in baselines.of(target)[:EXPLICIT_FORMS]:
        # Numbered rows (amount-0 ... amount-4, qty-<line id>) are one field to the view:
        # the first row of each is mutated here.
        stems = {}
        for name, _value in baseline:
            stems.setdefault(re.sub(r"-[0-9]+$", "-#", name), name)
        for name in stems.values():
            values = MUST + (CURSORS if name in ("after", "before") else [])
            for value in values:
                fields = [(n, value if n == name else v) for n, v in baseline_fields(baseline)]
                yield FuzzRequest(target, target.url(path), tuple(fields))


@st.composite
def fuzz_requests(draw, target: Target, reals: dict, baselines: Baselines, names: list[str]):  # type: ignore[no-untyped-def]
    """A request built from a baseline, each part kept, replaced, dropped or repeated."""
    path = {
        a: draw(st.one_of(st.sampled_from(reals[target.rule, a]), hostile_path_values))
        for a in target.args
    }
    baseline = draw(st.sampled_from(baselines.of(target)))
    fields: list[tuple[str, str]] = []
    for name, value in baseline_fields(baseline):
        how = draw(st.sampled_from(["keep", "hostile", "drop", "twice"]))
        if how == "keep":
            fields.append((name, value))
        elif how == "hostile":
            fields.append((name, draw(hostile_values)))
        elif how == "twice":
            fields += [(name, value), (name, draw(hostile_values))]
    for name in draw(st.lists(st.sampled_from(names), max_size=2)):
        fields.append((name, draw(hostile_values)))
    body = "form"
    if target.method == "POST":
        body = draw(st.sampled_from(["form", "form", "form", "json", "raw"]))
    return FuzzRequest(target, target.url(path), tuple(fields), body, draw(st.booleans()))


def money_counts(app: Flask) -> tuple[int, ...]:
    columns = ", ".join(f"(SELECT count(*) FROM {t})" for t in MONEY_TABLES)
    with app.app_context(), db.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT {columns}")).one())


@dataclass
class Sender:
    """Sends requests as one role and keeps what went wrong."""

    app: Flask
    role: str
    client: FlaskClient
    count: int = 0
    failures: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    #: Endpoints that answer this 5xx with no input at all (the health check when degraded):
    #: such an answer is not caused by the input.
    inputless: dict[str, int] = field(default_factory=dict)
    #: Where the last answer redirected to, if it did.
    location: str = ""

    @classmethod
    def signed_in(cls, app: Flask, role: str) -> Sender:
        sender = cls(app, role, app.test_client())
        sender.sign_in()
        return sender

    def sign_in(self) -> None:
        if self.role in SIGN_INS:
            response = self.client.post(
                "/login", data={"email": SIGN_INS[self.role], "password": PASSWORD}
            )
            assert response.status_code == 302, response.status_code

    def send(self, request: FuzzRequest) -> int:
        target = request.target
        before = money_counts(self.app) if target.method == "POST" else None
        headers = {"HX-Request": "true"} if request.htmx else {}
        kwargs: dict = {"method": target.method, "headers": headers}
        if target.method == "GET":
            kwargs["query_string"] = list(request.fields)
        elif request.body == "json":
            kwargs["json"] = {n: v for n, v in request.fields}
        elif request.body == "raw":
            kwargs["data"] = (
                b"&".join(
                    quote(n).encode() + b"=%ff%fe" + quote(v).encode() for n, v in request.fields
                )
                or b"%ff=%fe"
            )
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        else:
            kwargs["data"] = MultiDict(list(request.fields))
        self.count += 1
        location = ""
        try:
            response = self.client.open(request.url, **kwargs)
            try:
                response.get_data()  # a streamed body (the CSV) fails while it is read
            finally:
                response.close()  # as a WSGI server does: ends the streamed request
            status, location = response.status_code, response.headers.get("Location", "")
        except Exception as exc:
            status = 500
            where = traceback.extract_tb(exc.__traceback__)[-1]
            detail = f"{type(exc).__name__}: {str(exc)[:200]} at {where.filename}:{where.lineno}"
        else:
            detail = f"answered {status}"
        if status >= 500 and self.inputless.get(target.endpoint) != status:
            self.failures.append(f"[{self.role}] {request.describe()}: {detail}")
        elif before is not None and 400 <= status < 500:
            after = money_counts(self.app)
            if after != before:
                changes = {
                    t: (b, a) for t, b, a in zip(MONEY_TABLES, before, after, strict=True) if a != b
                }
                self.changed.append(f"[{self.role}] {request.describe()}: {status}, {changes}")
        # Signed out (POST /logout, or anything else that ends the session): sign in again,
        # so the rest of the pass still runs as this role.
        self.location = location
        signed_out = urlsplit(location).path == "/login"
        if self.role in SIGN_INS and (
            signed_out or (target.method == "POST" and target.endpoint.startswith("accounts."))
        ):
            self.sign_in()
        return status


def rule_of(app: Flask, endpoint: str) -> Rule:
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
