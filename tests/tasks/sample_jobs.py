"""A job for the queue tests: it needs the app context and the database, like real jobs."""

from b2bshop.accounts.models import Customer
from b2bshop.extensions import db


def rename_customer(customer_id: int, name: str) -> str:
    customer = db.session.get(Customer, customer_id)
    customer.name = name
    db.session.commit()
    return name
