"""The order service: orders, their lifecycle, checkout and the simulated card payment."""
