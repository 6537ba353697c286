"""Deployment of certificates (CERT-09) and CERT-14."""
