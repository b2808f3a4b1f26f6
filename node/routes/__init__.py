"""The relay's HTTP and WebSocket routes, one router per resource."""
