"""The cart's storage port and its adapters."""
