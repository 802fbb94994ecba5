"""Stateless scoring: one administration or a batch of one instrument, nothing stored."""
