"""Quotations (SPEC B3): priced offers a buyer accepts into a sales order or declines."""
