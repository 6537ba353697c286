"""Demo mode: local HTTPS endpoints with a private CA, and data to show Mamori working."""
