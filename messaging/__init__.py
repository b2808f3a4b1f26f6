"""End-to-end encrypted messaging between wallet addresses (see DESIGN.md, Messaging)."""
