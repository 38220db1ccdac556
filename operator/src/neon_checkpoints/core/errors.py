"""What pure code raises: a spec the operator cannot act on (the CRD schema rejects most of these first)."""


class InvalidSpec(ValueError):
    """The message names the field."""
