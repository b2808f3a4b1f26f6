"""The relay daemon that stores and forwards sealed envelopes (see DESIGN.md, Relay node)."""
