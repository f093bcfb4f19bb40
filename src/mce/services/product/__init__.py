"""Product catalog service: products, categories and their change events."""
