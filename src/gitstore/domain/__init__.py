"""Pure domain logic: no servers, no I/O frameworks. Every other layer may import it."""
