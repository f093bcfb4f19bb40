"""The admin product form: reading what was typed, and placing the catalog's complaints."""

from mce.services.frontend.forms import catalog_errors, read_product_form, values_from_product

FILLED = {
    "name": " Desk Lamp ",
    "description": "Warm light.",
    "price": "59.99",
    "stock": "12",
    "category": "Home",
    "image_url": "",
}


def test_a_filled_form_becomes_a_product():
    form = read_product_form(FILLED, editing=False)
    assert form.valid
    assert form.payload == {
        "name": "Desk Lamp",
        "description": "Warm light.",
        "price": "59.99",
        "stock": 12,
        "category": "Home",
    }


def test_prices_may_be_typed_with_a_dollar_sign_and_thousands_separators():
    form = read_product_form({**FILLED, "price": "$1,299.00"}, editing=False)
    assert form.payload["price"] == "1299.00"


def test_a_decimal_comma_is_refused_not_read_as_a_hundred_times_the_price():
    for typed in ("1,50", "12,5", "1,2345", "1,299,00"):
        form = read_product_form({**FILLED, "price": typed}, editing=False)
        assert "price" in form.errors and "dot" in form.errors["price"], typed


def test_prices_are_kept_exact_and_limited_to_cents():
    assert read_product_form({**FILLED, "price": "0.1"}, editing=False).payload["price"] == "0.10"
    for typed in ("1.999", "-5", "1e3", "99999999999"):
        assert "price" in read_product_form({**FILLED, "price": typed}, editing=False).errors, typed


def test_a_price_that_is_not_a_number_is_reported_on_its_field():
    form = read_product_form({**FILLED, "price": "cheap"}, editing=False)
    assert not form.valid
    assert "price" in form.errors
    assert form.values["price"] == "cheap"


def test_stock_must_be_a_whole_number_of_zero_or_more():
    for typed in ("1.5", "-1", "lots", ""):
        assert "stock" in read_product_form({**FILLED, "stock": typed}, editing=False).errors, typed


def test_editing_sends_the_version_and_clears_a_blank_image():
    form = read_product_form({**FILLED, "version": "4"}, editing=True)
    assert form.version == 4
    assert form.payload["version"] == 4
    assert form.payload["image_url"] is None


def test_rules_beyond_types_are_left_to_the_catalog():
    form = read_product_form({**FILLED, "name": ""}, editing=False)
    assert form.valid
    assert form.payload["name"] == ""


def test_catalog_details_land_on_their_fields():
    body = {
        "error": {
            "code": "invalid",
            "message": "invalid request: name: too short",
            "details": [{"field": "name", "message": "too short"}, {"field": "body.price", "message": "too big"}],
        }
    }
    assert catalog_errors(body) == ({"name": "too short", "price": "too big"}, "")


def test_a_catalog_error_without_fields_becomes_the_summary():
    body = {"error": {"code": "bad_request", "message": "category is unknown"}}
    assert catalog_errors(body) == ({}, "category is unknown")


def test_an_unreadable_error_body_still_gives_a_summary():
    assert catalog_errors(None) == ({}, "The catalog refused the change.")


def test_a_stored_product_fills_the_form():
    product = {"name": "Lamp", "description": None, "price": "5.00", "stock": 3, "category": "Home", "image_url": None}
    assert values_from_product(product) == {
        "name": "Lamp",
        "description": "",
        "price": "5.00",
        "stock": "3",
        "category": "Home",
        "image_url": "",
    }
