from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user, login_required

from b2bshop.catalog import service
from b2bshop.entities.service import store_entity_id
from b2bshop.htmx import render

bp = Blueprint("catalog", __name__)


@bp.route("/catalog")
@login_required
def list_products():
    query = request.args.get("q", "").strip()[:100]
    products = service.search_products(query, legal_entity_id=store_entity_id())
    prices = service.catalog_prices(current_user, products)
    return render(
        "catalog/products.html",
        "catalog/_products.html",
        products=products,
        prices=prices,
        q=query,
    )
