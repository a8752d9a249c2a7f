"""What the task YAMLs and each benchmark.py use: prepared docs, prompts, per-doc records, aggregations, variants, the benchmark registry and the lmms-eval patches."""
