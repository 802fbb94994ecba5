"""The catalogue the service publishes: its instruments as /v1 entries, the repair guidance
catalogue, the stored copy of every loaded definition, and the problem types."""
