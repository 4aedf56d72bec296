"""Library functions behind the command-line tools (distributed-aware)."""
