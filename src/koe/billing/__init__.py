"""Billing: tariff, monthly runs, qualified invoices, tax, interest, credits, payments (R4.*)."""
