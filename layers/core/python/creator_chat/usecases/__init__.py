"""Use cases: the product's operations, written against the ports."""
