"""The docs of a task: the prepared set that replaces the template's stub dataset, and each doc's image."""

from __future__ import annotations

import json

from fakevlm_tasks.glue.benchmarks import prepare_command
from fakevlm_tasks.glue.images import doc_to_visual
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, RECORDS_FILE, DataNotPreparedError, data_root

__all__ = ["doc_to_visual", "prepared_docs", "read_prepared"]


def read_prepared(name: str) -> list[dict]:
    """Load a prepared dataset's records, or say exactly how to prepare it (the command its benchmark declares)."""
    path = data_root() / name / RECORDS_FILE
    if not path.is_file():
        command = prepare_command(name)
        raise DataNotPreparedError(
            f"The '{name}' data is not prepared: no {path}.\n"
            f"Prepare it with:\n  {command}\n"
            f"(data root: ${DATA_DIR_ENV}, now {data_root()})"
        )
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def prepared_docs(name: str):
    """A ``process_docs`` hook that replaces the YAML's stub dataset with the prepared set ``name``.

    lmms-eval must load *some* dataset from the YAML before ``process_docs`` runs; the
    template points it at a one-line stub, and this hook swaps in the records prepared
    under ``$FAKEVLM_DATA_DIR`` (read now, not at import), or raises the error that says
    which ``fakevlm-data prepare`` command to run.
    """

    def process_docs(_stub):
        import datasets

        return datasets.Dataset.from_list(read_prepared(name))

    process_docs.__name__ = f"{name}_process_docs"
    return process_docs
