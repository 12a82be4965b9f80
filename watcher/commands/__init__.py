"""One-shot commands of the CLI: check and demo."""
