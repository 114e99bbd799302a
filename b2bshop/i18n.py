"""Translation helpers."""


def N_(message: str) -> str:
    """Mark a string for the catalogs where it is translated later, at display time."""
    return message
