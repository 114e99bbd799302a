"""e-invoice parties: seller's legal data; customers' address, VAT, Peppol, preference

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:00:00

- legal_entities: structured address, company registration, IBAN/BIC, Peppol endpoint and
  the VAT exemption reason printed on 0 % lines.
- customers: structured address, VAT number, Peppol endpoint, e-invoice preference
  (pdf | pdf_ubl | facturx, a CHECK).
- the demo's seller and customers (by their demo numbers) get plausible valid values: VAT
  numbers with correct check digits, a valid IBAN, Peppol identifiers of their schemes.

Plain ADD COLUMN only: no batch copy of any table (SQLite would drop the triggers of the
tables it copies).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ADDRESS = ["street", "postal_code", "city", "country_code"]
ENTITY_COLUMNS = [
    ("street", 200),
    ("postal_code", 20),
    ("city", 100),
    ("country_code", 2),
    ("registration_number", 40),
    ("iban", 34),
    ("bic", 11),
    ("peppol_scheme", 4),
    ("peppol_id", 100),
    ("vat_exemption_reason", 300),
]
CUSTOMER_COLUMNS = [
    ("street", 200),
    ("postal_code", 20),
    ("city", 100),
    ("country_code", 2),
    ("vat_number", 40),
    ("peppol_scheme", 4),
    ("peppol_id", 100),
]
FORMAT_CHECK = "einvoice_format IN ('pdf', 'pdf_ubl', 'facturx')"

DEMO_SELLER = {
    "street": "Keizersgracht 1",
    "postal_code": "1015 CJ",
    "city": "Amsterdam",
    "country_code": "NL",
    "vat_number": "NL812345678B01",
    "registration_number": "81234567",
    "iban": "NL91ABNA0417164300",
    "bic": "ABNANL2A",
    "peppol_scheme": "0106",
    "peppol_id": "81234567",
    "vat_exemption_reason": "Exempt from VAT (Article 135(1) of Directive 2006/112/EC)",
}
#: customer number -> values
DEMO_CUSTOMERS = {
    "C-1000": {
        "street": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country_code": "FR",
        "vat_number": "FR44732829320",
        "peppol_scheme": "0009",
        "peppol_id": "73282932000017",
        "einvoice_format": "facturx",
    },
    "C-1001": {
        "street": "Rue Royale 120",
        "postal_code": "1000",
        "city": "Bruxelles",
        "country_code": "BE",
        "vat_number": "BE0403177530",
        "peppol_scheme": "0208",
        "peppol_id": "0403177530",
        "einvoice_format": "pdf_ubl",
    },
    "C-2001": {
        "street": "Karl Johans gate 22",
        "postal_code": "0159",
        "city": "Oslo",
        "country_code": "NO",
        "vat_number": "NO923980474MVA",
        "peppol_scheme": "0192",
        "peppol_id": "923980474",
        "einvoice_format": "pdf_ubl",
    },
}


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, length in ENTITY_COLUMNS:
        op.add_column(
            "legal_entities",
            sa.Column(name, sa.String(length), nullable=False, server_default=""),
        )
    for name, length in CUSTOMER_COLUMNS:
        op.add_column(
            "customers", sa.Column(name, sa.String(length), nullable=False, server_default="")
        )
    if sqlite:
        op.execute(
            "ALTER TABLE customers ADD COLUMN einvoice_format VARCHAR(20) NOT NULL DEFAULT 'pdf'"
            f" CONSTRAINT ck_customers_einvoice_format CHECK ({FORMAT_CHECK})"
        )
    else:
        op.add_column(
            "customers",
            sa.Column(
                "einvoice_format", sa.String(20), nullable=False, server_default="pdf"
            ),
        )
        op.create_check_constraint("einvoice_format", "customers", FORMAT_CHECK)

    entities = sa.table(
        "legal_entities",
        sa.column("code", sa.String),
        sa.column("vat_number", sa.String),
        *(sa.column(name, sa.String) for name, _ in ENTITY_COLUMNS),
    )
    op.execute(entities.update().where(entities.c.code == "B2B").values(**DEMO_SELLER))
    customers = sa.table(
        "customers",
        sa.column("number", sa.String),
        sa.column("einvoice_format", sa.String),
        *(sa.column(name, sa.String) for name, _ in CUSTOMER_COLUMNS),
    )
    for number, values in DEMO_CUSTOMERS.items():
        op.execute(customers.update().where(customers.c.number == number).values(**values))


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # DROP COLUMN refuses a column a CHECK names: the check goes with the table's SQL.
        op.execute("ALTER TABLE customers DROP COLUMN einvoice_format")
    else:
        op.drop_constraint(op.f("ck_customers_einvoice_format"), "customers", type_="check")
        op.drop_column("customers", "einvoice_format")
    for name, _ in reversed(CUSTOMER_COLUMNS):
        op.drop_column("customers", name)
    for name, _ in reversed(ENTITY_COLUMNS):
        op.drop_column("legal_entities", name)
