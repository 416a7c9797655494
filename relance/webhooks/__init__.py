"""Outbound webhooks (Standard Webhooks): endpoints, signing, the SSRF guard and delivery of
``relance.events`` rows, with retries and a delivery log (ADR 0026, docs/integrations.md)."""
