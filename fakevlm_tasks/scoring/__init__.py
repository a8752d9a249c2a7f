"""Pure scoring: answer parsing, detection and explanation metrics, statistics. No lmms-eval, no I/O."""
