"""Purchase orders, receipts and backorder allocation (SPEC B7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from b2bshop.accounts.models import Role
from b2bshop.catalog.models import Product
from b2bshop.extensions import db
from b2bshop.purchasing import service
from b2bshop.purchasing.models import PurchaseOrderStatus
from b2bshop.sales import service as sales
from b2bshop.sales.models import PackingSlipLine, SalesOrderLine
from tests import factories

TODAY = date(2026, 11, 30)


@pytest.fixture
def setup(app_ctx):
    admin = factories.user(role=Role.STORE_ADMIN)
    vendor = service.save_vendor(
        admin, None, service.VendorInput("Bolts Ltd", "sales@bolts.example")
    )
    product = factories.product("BOLT", price="5.00", stock=0)
    return admin, vendor, product


def _order(customer, product, qty, ship=None, today=TODAY):
    buyer = factories.user(customer=customer)
    return sales.place_order(
        buyer, customer, [sales.OrderLineInput(product.id, qty)], today=today,
        requested_ship_date=ship, confirm=True,
    )  # fmt: skip


def _po(admin, vendor, product, qty, expected=TODAY + timedelta(days=5), **kwargs):
    return service.create_purchase_order(
        admin, vendor.id, [service.PurchaseLineInput(product.id, qty, expected)], today=TODAY,
        **kwargs,
    )  # fmt: skip


def test_receipt_allocates_oldest_requested_date_first(setup):
    admin, vendor, product = setup
    late = _order(factories.customer(), product, 4, ship=TODAY + timedelta(days=20))
    early = _order(factories.customer(), product, 3, ship=TODAY + timedelta(days=2))
    plain = _order(factories.customer(), product, 5)  # no date: waits from its order date
    po = _po(admin, vendor, product, 10)
    assert po.number.startswith("PO-") and vendor.number.startswith("V-")
    receipt = service.receive(admin, po.id, {po.lines[0].id: 6}, today=TODAY)
    assert receipt.lines[0].allocated_quantity == 6
    # The order date (today) is older than either requested date: it goes first.
    assert plain.lines[0].backorder_quantity == 0 and plain.lines[0].reserved_quantity == 5
    assert early.lines[0].backorder_quantity == 2 and early.lines[0].reserved_quantity == 1
    assert late.lines[0].backorder_quantity == 4
    assert product.stock_on_hand == 0
    # The rest of the purchase order: 2 for early, 2 for late, nothing left over.
    service.receive(admin, po.id, {po.lines[0].id: 4}, today=TODAY)
    assert early.lines[0].backorder_quantity == 0 and late.lines[0].backorder_quantity == 2
    assert po.status == PurchaseOrderStatus.RECEIVED and product.stock_on_hand == 0


def test_what_no_one_waits_for_goes_on_hand(setup):
    admin, vendor, product = setup
    order = _order(factories.customer(), product, 2)
    po = _po(admin, vendor, product, 5)
    service.receive(admin, po.id, {po.lines[0].id: 5}, today=TODAY)
    assert order.lines[0].backorder_quantity == 0 and product.stock_on_hand == 3


def test_an_admins_priority_goes_before_dates(setup):
    admin, vendor, product = setup
    first = _order(factories.customer(), product, 2, ship=TODAY + timedelta(days=1))
    second = _order(factories.customer(), product, 2, ship=TODAY + timedelta(days=9))
    service.allocate_stock(admin, product.id, {}, {second.lines[0].id: 1})
    po = _po(admin, vendor, product, 2)
    service.receive(admin, po.id, {po.lines[0].id: 2}, today=TODAY)
    assert second.lines[0].backorder_quantity == 0 and first.lines[0].backorder_quantity == 2


def test_admin_splits_on_hand_stock_and_the_packing_slip_delivers_it(setup):
    admin, _vendor, product = setup
    a = _order(factories.customer(), product, 4)
    b = _order(factories.customer(), product, 4)
    product.stock_on_hand = 5  # came in before the orders were allocated (a stock count)
    db.session.flush()
    service.allocate_stock(admin, product.id, {a.lines[0].id: 1, b.lines[0].id: 4}, stock_seen=5)
    assert product.stock_on_hand == 0
    assert (a.lines[0].reserved_quantity, b.lines[0].reserved_quantity) == (1, 4)
    slip = sales.post_packing_slip(admin, b, {b.lines[0].id: 4}, today=TODAY)
    assert slip.lines[0].quantity == 4 and b.lines[0].delivered_quantity == 4
    assert product.stock_on_hand == 0 and a.lines[0].reserved_quantity == 1


@pytest.mark.parametrize(
    ("split", "seen", "error", "message"),
    [
        ({0: 3, 1: 3}, 5, service.PurchasingInvalid, "Only 5 of BOLT on hand"),
        ({0: 5}, 5, service.PurchasingInvalid, "waits for 4"),
        ({0: 1}, 7, service.PurchasingConflict, "changed meanwhile"),
        ({0: -1}, 5, service.PurchasingInvalid, "greater than zero"),
    ],
)
def test_bad_splits_change_nothing(setup, split, seen, error, message):
    admin, _vendor, product = setup
    orders = [_order(factories.customer(), product, 4) for _ in range(2)]
    product.stock_on_hand = 5
    db.session.flush()
    with pytest.raises(error, match=message):
        service.allocate_stock(
            admin,
            product.id,
            {orders[i].lines[0].id: qty for i, qty in split.items()},
            stock_seen=seen,
        )
    db.session.rollback()


def test_a_line_no_longer_waiting_is_refused(setup):
    admin, _vendor, product = setup
    order = _order(factories.customer(), product, 2)
    product.stock_on_hand = 5
    db.session.flush()
    service.allocate_stock(admin, product.id, {order.lines[0].id: 2})
    with pytest.raises(service.PurchasingConflict, match="no longer waiting"):
        service.allocate_stock(admin, product.id, {order.lines[0].id: 1})


@pytest.mark.parametrize(
    ("quantities", "seen", "error", "message"),
    [
        ({"line": 11}, 0, service.PurchasingInvalid, "receive between 0 and 10"),
        ({"line": 0}, 0, service.PurchasingInvalid, "at least one line"),
        ({"other": 1}, 0, service.PurchasingInvalid, "not on the purchase order"),
        ({"line": 1}, 1, service.PurchasingConflict, "meanwhile"),
    ],
)
def test_bad_receipts_change_nothing(setup, quantities, seen, error, message):
    admin, vendor, product = setup
    po = _po(admin, vendor, product, 10)
    ids = {"line": po.lines[0].id, "other": po.lines[0].id + 1000}
    with pytest.raises(error, match=message):
        service.receive(
            admin, po.id, {ids[k]: v for k, v in quantities.items()}, receipts_seen=seen
        )


def test_a_received_or_cancelled_purchase_order_takes_no_receipt(setup):
    admin, vendor, product = setup
    po = _po(admin, vendor, product, 1)
    service.receive(admin, po.id, {po.lines[0].id: 1})
    with pytest.raises(service.PurchasingConflict):
        service.receive(admin, po.id, {po.lines[0].id: 1})
    with pytest.raises(service.PurchasingConflict):
        service.cancel_purchase_order(admin, po.id)
    other = _po(admin, vendor, product, 1)
    service.cancel_purchase_order(admin, other.id)
    with pytest.raises(service.PurchasingConflict):
        service.receive(admin, other.id, {other.lines[0].id: 1})


@pytest.mark.parametrize(
    ("qty", "expected", "message"),
    [
        (0, TODAY, "at least one line"),
        (10**6, TODAY, "whole numbers from 1 to"),
        (1, TODAY - timedelta(days=1), "today or later"),
        (1, TODAY + timedelta(days=4000), "ten years"),
    ],
)
def test_bad_purchase_orders_are_refused(setup, qty, expected, message):
    admin, vendor, product = setup
    with pytest.raises(service.PurchasingInvalid, match=message):
        _po(admin, vendor, product, qty, expected)


def test_the_same_key_makes_one_purchase_order(setup):
    admin, vendor, product = setup
    key = "6f1e8d1c-0000-4000-8000-000000000001"
    first = _po(admin, vendor, product, 3, idempotency_key=key)
    again = _po(admin, vendor, product, 3, idempotency_key=key)
    assert first.id == again.id


def test_expected_dates_walk_the_queue(setup):
    admin, vendor, product = setup
    a = _order(factories.customer(), product, 3)
    b = _order(factories.customer(), product, 3, ship=TODAY + timedelta(days=3))
    c = _order(factories.customer(), product, 3, ship=TODAY + timedelta(days=4))
    _po(admin, vendor, product, 4, TODAY + timedelta(days=5))
    _po(admin, vendor, product, 2, TODAY + timedelta(days=9))
    dates = service.expected_dates([product.id])
    assert dates[a.lines[0].id] == TODAY + timedelta(days=5)
    assert dates[b.lines[0].id] == TODAY + timedelta(days=9)
    assert dates[c.lines[0].id] is None  # 9 waiting, 6 on order


def test_stock_invariant_after_a_mix_of_moves(setup):
    admin, vendor, product = setup
    start = product.stock_on_hand
    orders = [_order(factories.customer(), product, n) for n in (3, 5, 2)]
    po = _po(admin, vendor, product, 20)
    service.receive(admin, po.id, {po.lines[0].id: 7})
    sales.post_packing_slip(admin, orders[0], {orders[0].lines[0].id: 3})
    service.receive(admin, po.id, {po.lines[0].id: 6})
    received = 13
    delivered = db.session.scalar(select(func.sum(PackingSlipLine.quantity)))
    reserved = sum(
        line.quantity - line.backorder_quantity - line.delivered_quantity
        for line in db.session.scalars(select(SalesOrderLine))
    )
    on_hand = db.session.scalar(select(Product.stock_on_hand).where(Product.id == product.id))
    assert on_hand + reserved == start + received - delivered
