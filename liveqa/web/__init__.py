"""The HTTP and WebSocket layer: transport only; rules live in liveqa.domain, data in liveqa.store."""
