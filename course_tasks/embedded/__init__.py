"""The pieces of embedded mode: an in-process broker, Redis server and result backend."""
