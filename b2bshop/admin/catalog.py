"""Products: create, edit, deactivate, and delete what nothing uses."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from b2bshop.accounts.access import store_admin_required
from b2bshop.admin.common import (
    admin_entity_id,
    admin_list,
    bp,
    delete_action,
    edit_page,
    get_or_404,
    input_from,
    search_and_active,
)
from b2bshop.admin.forms import ProductFilterForm, ProductForm
from b2bshop.catalog import service
from b2bshop.catalog.models import Product


@bp.route("/products")
@store_admin_required
def list_products():
    return admin_list(
        ProductFilterForm,
        search_and_active(Product, Product.sku, Product.name),
        Product.sku,
        Product.id,
        "admin/_products.html",
        "admin.list_products",
        title=_("Products"),
        new_url=url_for(".new_product"),
        descending=False,
        parse=str,
    )


def _save_product(product: Product | None):  # type: ignore[no-untyped-def]
    form = ProductForm(obj=product)
    return edit_page(
        form,
        lambda: service.save_product(
            current_user,
            product,
            input_from(form, service.ProductInput),
            legal_entity_id=admin_entity_id(),
        ),
        lambda saved: (_("Product %(sku)s saved.", sku=saved.sku), url_for(".list_products")),
        title=_("New product") if product is None else _("Edit %(name)s", name=product.name),
        back_url=url_for(".list_products"),
        back_label=_("Products"),
        delete_url=url_for(".delete_product", product_id=product.id) if product else None,
        delete_note=_("A product on orders or in carts cannot be deleted; deactivate it."),
    )


@bp.route("/products/new", methods=["GET", "POST"])
@store_admin_required
def new_product():
    return _save_product(None)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@store_admin_required
def edit_product(product_id: int):
    return _save_product(get_or_404(Product, product_id))


@bp.route("/products/<int:product_id>/delete", methods=["POST"])
@store_admin_required
def delete_product(product_id: int):
    product = get_or_404(Product, product_id)
    return delete_action(
        lambda: service.delete_product(current_user, product),
        url_for(".edit_product", product_id=product_id),
        url_for(".list_products"),
        _("Product deleted."),
    )
