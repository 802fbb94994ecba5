"""Alerts: which changes of rupture flags are sent where (webhook endpoints, the outbox written
in the transaction that caused them), delivering them signed (`dispatch`), and where
deliveries may go (`egress`)."""
