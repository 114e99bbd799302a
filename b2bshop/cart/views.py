from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from b2bshop.accounts.access import buyer_required
from b2bshop.cart import service

bp = Blueprint("cart", __name__)


@bp.route("/cart")
@buyer_required()
def show_cart():
    return render_template("cart/cart.html", cart=service.get_cart(current_user))
