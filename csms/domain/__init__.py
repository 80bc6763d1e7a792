"""Pure domain: values, use cases and ports. No I/O imports live here."""
