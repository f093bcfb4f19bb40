"""The product repository port and its SQL adapter."""
