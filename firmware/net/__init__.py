# Network layer: our RFC 6455 WebSocket client (ws), reconnect backoff (backoff)
# and the connection supervisor (link). Knows nothing about OCPP messages; the
# protocol core hands it text and receives text.
