"""Receipts, deliveries, orders and allocations at the same moment (issue 19).

PostgreSQL only, as test_money_concurrency.py: SQLite serializes every writer. Threads
released together on a barrier, each in its own app context and session, each a unit of
work (the edge a view or job uses). Afterwards, for the product:

    stock on hand + reserved (allocated, not delivered) = start + received - delivered

and nothing was allocated beyond what was on hand (stock never negative, no line reserved
beyond what it ordered), whatever was refused on the way.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from b2bshop.accounts.models import Customer, Role, User
from b2bshop.catalog.models import Product
from b2bshop.core import unit_of_work
from b2bshop.errors import DomainError
from b2bshop.extensions import db
from b2bshop.numbering import NumberSequence
from b2bshop.purchasing import service as purchasing
from b2bshop.purchasing.models import ReceiptLine
from b2bshop.sales import service as sales
from b2bshop.sales.models import PackingSlipLine, SalesOrder, SalesOrderLine
from tests import factories
from tests.conftest import ON_POSTGRES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="SQLite serializes every writer; the race needs row locks"
    ),
]

START = 6
ROUNDS = 4
TODAY = date.today()


def at_once(app: Flask, calls: list[Callable[[], object]]) -> tuple[int, int, list[str]]:
    """Run each call as a unit of work in its own thread; count done, refused, broken."""
    barrier = threading.Barrier(len(calls))
    done, refused, broken = [], [], []

    def run(call: Callable[[], object]) -> None:
        with app.app_context():
            barrier.wait()
            try:
                unit_of_work.run(call)
                done.append(1)
            except DomainError:
                db.session.rollback()
                refused.append(1)
            except Exception:
                broken.append(traceback.format_exc())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a unit hung (deadlock?)"
    return len(done), len(refused), broken


def test_receipts_deliveries_and_orders_at_once_keep_stock_whole(app):
    with app.app_context():
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product("RACE", price="3.00", stock=START)
        vendor = purchasing.save_vendor(admin, None, purchasing.VendorInput("Race Supply"))
        customers = [factories.customer(credit_limit="1000000") for _ in range(8)]
        buyers = [factories.user(customer=c) for c in customers]
        # Four confirmed orders of 3: the first two take the start stock, two wait; what the
        # receipts bring beyond that goes on hand, where new orders and deliveries take it.
        orders = [
            sales.place_order(
                buyer,
                customer,
                [sales.OrderLineInput(product.id, 3)],
                requested_ship_date=TODAY + timedelta(days=n),
                confirm=True,
            )
            for n, (buyer, customer) in enumerate(zip(buyers[:4], customers[:4], strict=True))
        ]
        po = purchasing.create_purchase_order(
            admin,
            vendor.id,
            [purchasing.PurchaseLineInput(product.id, 1000, TODAY + timedelta(days=3))],
        )
        db.session.commit()
        ids = {
            "admin": admin.id,
            "product": product.id,
            "po": po.id,
            "po_line": po.lines[0].id,
            "orders": [o.id for o in orders],
            "lines": [o.lines[0].id for o in orders],
            "buyers": [b.id for b in buyers],
            "customers": [c.id for c in customers],
        }

    def receive(qty: int) -> Callable[[], object]:
        return lambda: purchasing.receive(
            db.session.get(User, ids["admin"]), ids["po"], {ids["po_line"]: qty}
        )

    def deliver(index: int, qty: int) -> Callable[[], object]:
        return lambda: sales.post_packing_slip(
            db.session.get(User, ids["admin"]),
            db.session.get(SalesOrder, ids["orders"][index]),
            {ids["lines"][index]: qty},
        )

    def order(index: int, qty: int) -> Callable[[], object]:
        return lambda: sales.place_order(
            db.session.get(User, ids["buyers"][index]),
            db.session.get(Customer, ids["customers"][index]),
            [sales.OrderLineInput(ids["product"], qty)],
            confirm=True,
        )

    def allocate(index: int, qty: int) -> Callable[[], object]:
        return lambda: purchasing.allocate_stock(
            db.session.get(User, ids["admin"]), ids["product"], {ids["lines"][index]: qty}
        )

    for _round in range(ROUNDS):
        calls = [
            receive(2),
            receive(2),
            receive(3),
            receive(1),
            deliver(0, 1),
            deliver(1, 2),
            deliver(2, 3),
            deliver(3, 1),
            order(4, 2),
            order(5, 1),
            order(6, 4),
            order(7, 1),
            allocate(2, 1),
            allocate(3, 2),
        ]
        done, _refused, broken = at_once(app, calls)
        assert not broken, "\n\n".join(broken)
        assert done >= 3  # the receipts at least

    with app.app_context():
        on_hand = db.session.scalar(
            select(Product.stock_on_hand).where(Product.id == ids["product"])
        )
        lines = db.session.scalars(
            select(SalesOrderLine)
            .join(SalesOrder)
            .where(SalesOrderLine.product_id == ids["product"])
        ).all()
        reserved = sum(ln.quantity - ln.backorder_quantity - ln.delivered_quantity for ln in lines)
        received = db.session.scalar(select(func.coalesce(func.sum(ReceiptLine.quantity), 0)))
        delivered = db.session.scalar(select(func.coalesce(func.sum(PackingSlipLine.quantity), 0)))
        allocated_by_receipts = db.session.scalar(
            select(func.coalesce(func.sum(ReceiptLine.allocated_quantity), 0))
        )
        assert received == 8 * ROUNDS  # every receipt went through, serialized on the PO
        assert on_hand >= 0
        assert all(
            0 <= ln.backorder_quantity <= ln.quantity - ln.delivered_quantity for ln in lines
        )
        assert on_hand + reserved == START + received - delivered
        assert allocated_by_receipts <= received


def _stock_whole(product_id: int, start: int) -> None:
    on_hand = db.session.scalar(select(Product.stock_on_hand).where(Product.id == product_id))
    lines = db.session.scalars(
        select(SalesOrderLine).where(SalesOrderLine.product_id == product_id)
    ).all()
    reserved = sum(ln.quantity - ln.backorder_quantity - ln.delivered_quantity for ln in lines)
    received = db.session.scalar(select(func.coalesce(func.sum(ReceiptLine.quantity), 0)))
    delivered = db.session.scalar(select(func.coalesce(func.sum(PackingSlipLine.quantity), 0)))
    assert on_hand + reserved == start + received - delivered


def test_a_receipt_waits_for_an_order_that_holds_the_stock(app):
    """Deterministic: an order holds the product's row (placed, not yet committed) when a
    receipt starts. The receipt must wait and then read what the order left, not write a
    stock figure computed from before it."""
    with app.app_context():
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product("HOLD", price="3.00", stock=5)
        vendor = purchasing.save_vendor(admin, None, purchasing.VendorInput("Hold Supply"))
        buyer = factories.user(customer=factories.customer(credit_limit="1000000"))
        po = purchasing.create_purchase_order(
            admin, vendor.id, [purchasing.PurchaseLineInput(product.id, 10, TODAY)]
        )
        db.session.commit()
        ids = (admin.id, product.id, po.id, po.lines[0].id, buyer.id, buyer.customer_id)
    holding, broken = threading.Event(), []

    def order_and_hold() -> None:
        with app.app_context():
            try:
                sales.place_order(
                    db.session.get(User, ids[4]),
                    db.session.get(Customer, ids[5]),
                    [sales.OrderLineInput(ids[1], 4)],
                    confirm=True,
                )
                holding.set()
                threading.Event().wait(0.8)  # the receipt runs into the lock meanwhile
                db.session.commit()
            except Exception:
                holding.set()
                broken.append(traceback.format_exc())
            finally:
                db.session.remove()

    def receipt() -> None:
        holding.wait(10)
        with app.app_context():
            try:
                unit_of_work.run(
                    lambda: purchasing.receive(db.session.get(User, ids[0]), ids[2], {ids[3]: 3})
                )
            except Exception:
                broken.append(traceback.format_exc())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=order_and_hold), threading.Thread(target=receipt)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not broken, "\n\n".join(broken)
    with app.app_context():
        # 5 on hand, the order took 4, the receipt brought 3: 4 on hand, 4 reserved.
        assert db.session.scalar(select(Product.stock_on_hand).where(Product.id == ids[1])) == 4
        _stock_whole(ids[1], 5)


def test_two_confirms_at_once_reserve_once(app):
    """A double click on Confirm (two requests at the same moment) reserves the stock once."""
    with app.app_context():
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product("TWICE", price="3.00", stock=10)
        customer = factories.customer(credit_limit="1000000")
        order = sales.create_order(
            admin, customer, sales.OrderType.SALES_ORDER, [sales.OrderLineInput(product.id, 4)]
        )
        db.session.commit()
        ids = (admin.id, order.id, product.id)

    def confirm() -> object:
        return sales.confirm_order(db.session.get(User, ids[0]), db.session.get(SalesOrder, ids[1]))

    done, refused, broken = at_once(app, [confirm, confirm, confirm])
    assert not broken, "\n\n".join(broken)
    assert (done, refused) == (1, 2)
    with app.app_context():
        assert db.session.scalar(select(Product.stock_on_hand).where(Product.id == ids[2])) == 6
        _stock_whole(ids[2], 10)


def test_two_type_changes_at_once_take_one_rma_number(app):
    """Turning an order into a return twice at the same moment (two admins, or a double
    click): the order's row is locked and re-read, so one RMA number is taken, not two
    with one of them lost to the gap-free series."""
    with app.app_context():
        admin = factories.user(role=Role.STORE_ADMIN)
        product = factories.product("BACK", price="3.00", stock=10)
        customer = factories.customer(credit_limit="1000000")
        order = sales.create_order(
            admin, customer, sales.OrderType.JOURNAL, [sales.OrderLineInput(product.id, 2)]
        )
        db.session.commit()
        ids = (admin.id, order.id)

    def to_return() -> object:
        return sales.change_order_type(
            db.session.get(User, ids[0]),
            db.session.get(SalesOrder, ids[1]),
            sales.OrderType.RETURNED_ORDER,
        )

    done, refused, broken = at_once(app, [to_return, to_return, to_return])
    assert not broken, "\n\n".join(broken)
    assert (done, refused) == (3, 0)  # the later ones find the type already changed
    with app.app_context():
        order = db.session.get(SalesOrder, ids[1])
        assert order.order_type == sales.OrderType.RETURNED_ORDER
        taken = db.session.scalar(
            select(NumberSequence.next_value).where(
                NumberSequence.name == "rma",
                NumberSequence.legal_entity_id == order.legal_entity_id,
            )
        )
        assert order.rma_number.endswith("000001") and taken == 2
