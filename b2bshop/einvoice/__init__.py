"""E-invoices: UBL 2.1 (Peppol BIS Billing 3.0) and Factur-X (CII, EN 16931), the party data
they need, and their downloads."""
