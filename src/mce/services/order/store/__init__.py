"""The order service's storage: its port and the SQL adapter."""
