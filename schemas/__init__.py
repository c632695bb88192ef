"""JSON Schemas of the topic messages (the public API), shipped as package data."""
