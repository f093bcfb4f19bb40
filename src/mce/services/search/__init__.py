"""The search service: full-text product search kept current from product events."""
