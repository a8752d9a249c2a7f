"""The docs of a task: the prepared set that replaces the template's stub dataset, and each doc's image."""

from __future__ import annotations

import json

from fakevlm_tasks.glue import hub
from fakevlm_tasks.glue.benchmarks import prepare_command
from fakevlm_tasks.glue.images import doc_to_visual
from fakevlm_tasks.glue.prepared import DATA_DIR_ENV, RECORDS_FILE, DataError, DataNotPreparedError, data_root

__all__ = ["doc_to_visual", "prepared_docs", "read_prepared"]


def read_prepared(name: str) -> list[dict]:
    """Load a prepared dataset's records; on first use fetch them from the Hub, or say exactly how to prepare them."""
    path = data_root() / name / RECORDS_FILE
    if not path.is_file():
        _first_use(name, path)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _first_use(name: str, path) -> None:
    """Download and prepare ``name`` when its benchmark is on the Hub and ``$FAKEVLM_AUTO_DOWNLOAD`` allows it;
    otherwise (or when that fails) raise the error that names the command to run."""
    bench = hub.owner(name)
    where = f"(data root: ${DATA_DIR_ENV}, now {data_root()})"
    if bench is None or bench.hub is None:
        raise DataNotPreparedError(f"The '{name}' data is not prepared: no {path}.\n"
                                   f"Prepare it with:\n  {prepare_command(name)}\n{where}")
    manual = f"or, from files you downloaded yourself:\n  {prepare_command(name)}\n{where}"
    if not hub.auto_download():
        raise DataNotPreparedError(f"The '{name}' data is not prepared: no {path}, and ${hub.AUTO_DOWNLOAD_ENV}=0 "
                                   f"forbids downloading it. Download and prepare it with:\n  "
                                   f"{hub.download_command(bench)}\n{manual}")
    try:
        hub.ensure_prepared(name)
    except (DataError, OSError) as exc:  # OSError: a data root that cannot be written, a full disk
        raise DataNotPreparedError(f"The '{name}' data is not prepared ({path}) and could not be fetched from the "
                                   f"Hub:\n{exc}\n{manual}") from None
    if not path.is_file():
        raise DataNotPreparedError(f"The '{name}' data was fetched from {bench.hub.repo_id} but its preparation "
                                   f"wrote no {path} (the log above says why).\n{manual}")


def prepared_docs(name: str):
    """A ``process_docs`` hook that replaces the YAML's stub dataset with the prepared set ``name``.

    lmms-eval must load *some* dataset from the YAML before ``process_docs`` runs; the
    template points it at a one-line stub, and this hook swaps in the records prepared
    under ``$FAKEVLM_DATA_DIR`` (read now, not at import). A set not prepared yet is downloaded
    from the Hub and prepared when its benchmark declares where it is there (not with
    ``FAKEVLM_AUTO_DOWNLOAD=0``); otherwise the error says which command to run.
    """

    def process_docs(_stub):
        import datasets

        return datasets.Dataset.from_list(read_prepared(name))

    process_docs.__name__ = f"{name}_process_docs"
    return process_docs
