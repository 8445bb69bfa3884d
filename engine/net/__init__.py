"""The rig on the network: OSCQuery (HTTP, WebSocket, mDNS), OSC out, the browser surface."""
