"""The analytics service's storage port and its SQL adapter."""
