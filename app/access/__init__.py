"""Access: organisations and API keys, JWT bearer tokens, who may call a route (`guard`), rate
limits, and the audit trail of every access to patient data."""
