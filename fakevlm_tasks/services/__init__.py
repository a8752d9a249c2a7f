"""Services with state: the CSS sentence encoder and its embedding cache, the LLM judge and its cache."""
