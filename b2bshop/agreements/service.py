"""Sales agreements and trade agreements in the back office, and what buyers see of them.

Sales agreement states: on hold -> effective -> closed (on hold -> closed too). A new
agreement starts on hold; only an on-hold agreement can be edited: an effective one is
refused, so every order an agreement priced was priced by the terms shown now. Every status
change locks the agreement's row and re-reads its status: two admins at once make one
change, the other gets a 409. Services take the acting user, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from b2bshop.accounts.models import Customer, User
from b2bshop.agreements.models import (
    AgreementStatus,
    CommitmentType,
    CustomerGroup,
    CustomerGroupMember,
    SalesAgreement,
    SalesAgreementLine,
    TradeAgreement,
)
from b2bshop.audit import service as audit
from b2bshop.catalog.models import Product
from b2bshop.core.locks import lock_rows
from b2bshop.errors import DomainError, NotFound
from b2bshop.extensions import db
from b2bshop.money import Money, fits_money
from b2bshop.numbering import next_number
from b2bshop.sales.models import OrderStatus, SalesOrder, SalesOrderLine

#: How long one agreement may run.
MAX_VALIDITY_DAYS = 3660


class AgreementInvalid(DomainError):
    pass


class AgreementConflict(DomainError):
    status_code = 409


TRANSITIONS: dict[AgreementStatus, tuple[AgreementStatus, ...]] = {
    AgreementStatus.ON_HOLD: (AgreementStatus.EFFECTIVE, AgreementStatus.CLOSED),
    AgreementStatus.EFFECTIVE: (AgreementStatus.CLOSED,),
    AgreementStatus.CLOSED: (),
}


@dataclass(frozen=True)
class SalesAgreementInput:
    customer_id: int
    commitment_type: str
    valid_from: date
    valid_to: date
    committed_amount: Decimal | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class AgreementLineInput:
    product_id: int
    unit_price: Decimal | None = None
    discount_percent: Decimal | None = None
    committed_quantity: int | None = None
    committed_amount: Decimal | None = None


def _check_header(data: SalesAgreementInput) -> tuple[Customer, CommitmentType]:
    customer = db.session.get(Customer, data.customer_id)
    if customer is None:
        raise AgreementInvalid(_l("Choose a customer."))
    try:
        kind = CommitmentType(data.commitment_type)
    except ValueError:
        raise AgreementInvalid(_l("Choose a commitment type.")) from None
    if data.valid_from is None or data.valid_to is None or data.valid_to < data.valid_from:
        raise AgreementInvalid(_l("The validity period ends on or after the day it starts."))
    if (data.valid_to - data.valid_from).days > MAX_VALIDITY_DAYS:
        raise AgreementInvalid(_l("An agreement runs for at most ten years."))
    if kind == CommitmentType.TOTAL_AMOUNT:
        if data.committed_amount is None or data.committed_amount <= 0:
            raise AgreementInvalid(
                _l("A total amount commitment needs the amount committed, greater than zero.")
            )
        if not fits_money(data.committed_amount):
            raise AgreementInvalid(_l("The committed amount is too large."))
    return customer, kind


def create_sales_agreement(acting_user: User, data: SalesAgreementInput) -> SalesAgreement:
    """A new agreement, on hold: it prices nothing until an admin makes it effective.
    The customer's row is locked first (step 2), so a double submit waits, then finds the
    agreement its key made."""
    customer, kind = _check_header(data)
    lock_rows(Customer, [customer.id])
    if data.idempotency_key:
        existing = db.session.scalar(
            select(SalesAgreement).where(SalesAgreement.idempotency_key == data.idempotency_key)
        )
        if existing is not None:
            return existing
    agreement = SalesAgreement(
        customer=customer,
        commitment_type=kind,
        status=AgreementStatus.ON_HOLD,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        currency=customer.currency,
        committed_amount=data.committed_amount if kind == CommitmentType.TOTAL_AMOUNT else None,
        created_by_id=acting_user.id,
        idempotency_key=data.idempotency_key,
    )
    agreement.number = next_number("sales_agreement", customer.legal_entity_id)
    db.session.add(agreement)
    db.session.flush()
    audit.record(
        acting_user,
        "sales_agreement.create",
        "sales_agreement",
        agreement.number,
        after={"customer": customer.number, "commitment_type": kind.value},
    )
    return agreement


def _lock_on_hold(agreement_id: int) -> SalesAgreement:
    """The agreement locked and re-read; an edit is refused unless it is still on hold."""
    agreement = lock_rows(SalesAgreement, [agreement_id]).get(agreement_id)
    if agreement is None:
        raise NotFound(_l("There is no such agreement."))
    if agreement.status != AgreementStatus.ON_HOLD:
        raise AgreementConflict(
            _l(
                "Agreement %(number)s is %(status)s: only an agreement on hold can be edited.",
                number=agreement.number,
                status=status_label(agreement.status),
            )
        )
    return agreement


def update_sales_agreement(
    acting_user: User, agreement_id: int, data: SalesAgreementInput
) -> SalesAgreement:
    agreement = _lock_on_hold(agreement_id)
    customer, kind = _check_header(data)
    if any(line.product.currency != customer.currency for line in agreement.lines):
        raise AgreementInvalid(_l("The agreement's products are priced in another currency."))
    agreement.customer_id = customer.id
    agreement.currency = customer.currency
    agreement.commitment_type = kind
    agreement.valid_from = data.valid_from
    agreement.valid_to = data.valid_to
    agreement.committed_amount = (
        data.committed_amount if kind == CommitmentType.TOTAL_AMOUNT else None
    )
    db.session.flush()
    return agreement


def _check_price(unit_price: Decimal | None, discount: Decimal | None) -> None:
    if (unit_price is None) == (discount is None):
        raise AgreementInvalid(_l("Enter either a unit price or a discount percent, not both."))
    if unit_price is not None and (unit_price < 0 or not fits_money(unit_price)):
        raise AgreementInvalid(_l("The unit price cannot be negative."))
    if discount is not None and not (0 < discount < 100):
        raise AgreementInvalid(_l("The discount is more than 0 and less than 100 percent."))


def set_agreement_line(
    acting_user: User, agreement_id: int, data: AgreementLineInput
) -> SalesAgreementLine:
    """Add a product to an agreement on hold, or change its line."""
    agreement = _lock_on_hold(agreement_id)
    product = db.session.get(Product, data.product_id)
    if product is None or not product.active:
        raise AgreementInvalid(_l("This product is not for sale."))
    if product.currency != agreement.currency:
        raise AgreementInvalid(
            _l(
                "%(name)s is priced in %(product_currency)s and the agreement in %(currency)s.",
                name=product.name,
                product_currency=product.currency,
                currency=agreement.currency,
            )
        )
    _check_price(data.unit_price, data.discount_percent)
    quantity, amount = data.committed_quantity, data.committed_amount
    if agreement.commitment_type == CommitmentType.PRODUCT_QUANTITY:
        if quantity is None or quantity <= 0:
            raise AgreementInvalid(_l("Enter the quantity committed, greater than zero."))
        amount = None
    elif agreement.commitment_type == CommitmentType.PRODUCT_AMOUNT:
        if amount is None or amount <= 0 or not fits_money(amount):
            raise AgreementInvalid(_l("Enter the amount committed, greater than zero."))
        quantity = None
    else:
        quantity = amount = None
    line = next((ln for ln in agreement.lines if ln.product_id == product.id), None)
    if line is None:
        line = SalesAgreementLine(product=product)
        agreement.lines.append(line)
    line.unit_price = data.unit_price
    line.discount_percent = data.discount_percent
    line.committed_quantity = quantity
    line.committed_amount = amount
    db.session.flush()
    return line


def remove_agreement_line(acting_user: User, agreement_id: int, line_id: int) -> None:
    agreement = _lock_on_hold(agreement_id)
    line = next((ln for ln in agreement.lines if ln.id == line_id), None)
    if line is None:
        raise NotFound(_l("This line is not on the agreement."))
    agreement.lines.remove(line)
    db.session.flush()


def status_label(status: AgreementStatus) -> str:
    return str(
        {
            AgreementStatus.ON_HOLD: _l("on hold"),
            AgreementStatus.EFFECTIVE: _l("effective"),
            AgreementStatus.CLOSED: _l("closed"),
        }[status]
    )


def change_status(
    acting_user: User, agreement_id: int, new_status: str, seen_status: str | None = None
) -> SalesAgreement:
    """A guarded transition: the row locked, its status re-read. `seen_status` is the
    status the admin's page showed; if it moved meanwhile, nothing changes (409)."""
    try:
        target = AgreementStatus(new_status)
    except ValueError:
        raise AgreementInvalid(_l("Choose a status.")) from None
    agreement = lock_rows(SalesAgreement, [agreement_id]).get(agreement_id)
    if agreement is None:
        raise NotFound(_l("There is no such agreement."))
    if seen_status is not None and agreement.status.value != seen_status:
        raise AgreementConflict(
            _l(
                "Agreement %(number)s changed meanwhile: it is %(status)s now.",
                number=agreement.number,
                status=status_label(agreement.status),
            )
        )
    if target not in TRANSITIONS[agreement.status]:
        raise AgreementConflict(
            _l(
                "Agreement %(number)s is %(status)s and cannot become %(target)s.",
                number=agreement.number,
                status=status_label(agreement.status),
                target=status_label(target),
            )
        )
    if target == AgreementStatus.EFFECTIVE and not agreement.lines:
        raise AgreementInvalid(_l("Add at least one product before the agreement takes effect."))
    before = agreement.status.value
    agreement.status = target
    db.session.flush()
    audit.record(
        acting_user,
        "sales_agreement.status",
        "sales_agreement",
        agreement.number,
        before={"status": before},
        after={"status": target.value},
    )
    return agreement


@dataclass
class LineFulfilment:
    line: SalesAgreementLine
    released_quantity: int = 0
    released_amount: Decimal = Decimal("0.00")

    @property
    def committed(self) -> Decimal | int | None:
        return self.line.committed_quantity or self.line.committed_amount

    @property
    def released(self) -> Decimal | int:
        if self.line.committed_quantity is not None:
            return self.released_quantity
        return self.released_amount

    @property
    def percent(self) -> int | None:
        committed = self.committed
        if not committed:
            return None
        return int(Decimal(self.released) * 100 / Decimal(committed))


@dataclass
class Fulfilment:
    """Released quantity or amount against the commitment: order lines the agreement priced,
    of orders not cancelled."""

    agreement: SalesAgreement
    lines: list[LineFulfilment] = field(default_factory=list)

    @property
    def released_amount(self) -> Money:
        return Money.total(
            (Money(f.released_amount, self.agreement.currency) for f in self.lines),
            self.agreement.currency,
        )

    @property
    def percent(self) -> int | None:
        if self.agreement.commitment_type == CommitmentType.TOTAL_AMOUNT:
            committed = self.agreement.committed_amount
            if not committed:
                return None
            return int(self.released_amount.amount * 100 / committed)
        parts = [f.percent for f in self.lines if f.percent is not None]
        return min(parts) if parts else None


def fulfilments(agreements: list[SalesAgreement]) -> dict[int, Fulfilment]:
    """Each agreement's fulfilment, in one query for all of them."""
    result = {a.id: Fulfilment(a, [LineFulfilment(line) for line in a.lines]) for a in agreements}
    by_line = {f.line.id: f for ful in result.values() for f in ful.lines}
    if not by_line:
        return result
    rows = db.session.execute(
        select(
            SalesOrderLine.sales_agreement_line_id,
            func.coalesce(func.sum(SalesOrderLine.quantity), 0),
            func.coalesce(func.sum(SalesOrderLine.amount), 0),
        )
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(
            SalesOrderLine.sales_agreement_line_id.in_(list(by_line)),
            SalesOrder.status != OrderStatus.CANCELLED,
        )
        .group_by(SalesOrderLine.sales_agreement_line_id)
    ).all()
    for line_id, quantity, amount in rows:
        target = by_line[line_id]
        target.released_quantity = int(quantity)
        target.released_amount = Decimal(amount).quantize(Decimal("0.01"))
    return result


def fulfilment(agreement: SalesAgreement) -> Fulfilment:
    return fulfilments([agreement])[agreement.id]


def visible_agreements(user: User) -> Select:
    """A buyer's agreements: their customer's only (another customer's is not found)."""
    return select(SalesAgreement).where(SalesAgreement.customer_id == user.customer_id)


# --- trade agreements -----------------------------------------------------------------


@dataclass(frozen=True)
class TradeAgreementInput:
    product_id: int
    customer_id: int | None = None
    customer_group_id: int | None = None
    min_quantity: int = 1
    unit_price: Decimal | None = None
    discount_percent: Decimal | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    idempotency_key: str | None = None


def create_trade_agreement(acting_user: User, data: TradeAgreementInput) -> TradeAgreement:
    if (data.customer_id is None) == (data.customer_group_id is None):
        raise AgreementInvalid(_l("Choose a customer or a customer group, not both."))
    if data.customer_id is not None and db.session.get(Customer, data.customer_id) is None:
        raise AgreementInvalid(_l("Choose a customer."))
    if (
        data.customer_group_id is not None
        and db.session.get(CustomerGroup, data.customer_group_id) is None
    ):
        raise AgreementInvalid(_l("Choose a customer group."))
    # The product's row (step 4) serializes a double submit, which then finds the first.
    product = lock_rows(Product, [data.product_id]).get(data.product_id)
    if product is None:
        raise AgreementInvalid(_l("This product is not for sale."))
    if data.idempotency_key:
        existing = db.session.scalar(
            select(TradeAgreement).where(TradeAgreement.idempotency_key == data.idempotency_key)
        )
        if existing is not None:
            return existing
    if data.min_quantity is None or not 1 <= data.min_quantity <= 9999:
        raise AgreementInvalid(_l("The quantity break is from 1 to 9999."))
    _check_price(data.unit_price, data.discount_percent)
    if data.valid_from and data.valid_to and data.valid_to < data.valid_from:
        raise AgreementInvalid(_l("The validity period ends on or after the day it starts."))
    agreement = TradeAgreement(
        customer_id=data.customer_id,
        customer_group_id=data.customer_group_id,
        product=product,
        min_quantity=data.min_quantity,
        unit_price=data.unit_price,
        discount_percent=data.discount_percent,
        currency=product.currency,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        idempotency_key=data.idempotency_key,
    )
    db.session.add(agreement)
    db.session.flush()
    audit.record(
        acting_user,
        "trade_agreement.create",
        "trade_agreement",
        agreement.reference,
        after={"product": product.sku, "min_quantity": data.min_quantity},
    )
    return agreement


def delete_trade_agreement(acting_user: User, agreement_id: int) -> None:
    """Trade agreements are standing prices: an order line keeps the price it was given."""
    agreement = lock_rows(TradeAgreement, [agreement_id]).get(agreement_id)
    if agreement is None:
        raise NotFound(_l("There is no such trade agreement."))
    audit.record(
        acting_user, "trade_agreement.delete", "trade_agreement", agreement.reference, before={}
    )
    db.session.delete(agreement)
    db.session.flush()


def create_customer_group(
    acting_user: User, code: str, name: str, customer_ids: list[int]
) -> CustomerGroup:
    code = (code or "").strip().upper()
    if not code or not (name or "").strip():
        raise AgreementInvalid(_l("A customer group needs a code and a name."))
    if db.session.scalar(select(CustomerGroup.id).where(CustomerGroup.code == code)):
        raise AgreementInvalid(_l("Another customer group has the code %(code)s.", code=code))
    group = CustomerGroup(code=code, name=name.strip())
    customers = db.session.scalars(select(Customer).where(Customer.id.in_(customer_ids))).all()
    group.members = [CustomerGroupMember(customer=c) for c in customers]
    db.session.add(group)
    db.session.flush()
    return group
