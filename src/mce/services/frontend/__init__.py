"""The storefront web site and the JSON API gateway in front of the product and search services."""
