"""The stable facade that task YAMLs and ``benchmark.py`` files name: ``!function fakevlm_tasks.hooks.<name>``.

Nothing is defined here. Each name comes from the glue module that owns it, so a YAML or a benchmark folder
outside the package keeps working when the inside moves:

* docs and images: :mod:`fakevlm_tasks.glue.docs`, :mod:`fakevlm_tasks.glue.images`;
* prompts: :mod:`fakevlm_tasks.glue.prompts`;
* per-doc records and the ``process_results`` built from them: :mod:`fakevlm_tasks.glue.records`;
* aggregations: :mod:`fakevlm_tasks.glue.aggregations`; the metric declarations: :mod:`fakevlm_tasks.glue.metric_lists`;
* the benchmark declaration and the prepared-set format: :mod:`fakevlm_tasks.glue.benchmarks`,
  :mod:`fakevlm_tasks.glue.prepared`.
"""

from __future__ import annotations

from fakevlm_tasks.glue.aggregations import (  # noqa: F401
    agg_acc, agg_acc_official_parser, agg_balanced_acc, agg_contradiction_rate, agg_css, agg_css_encoder,
    agg_css_evidence, agg_f1, agg_f1_fake, agg_f1_macro, agg_failed_rate, agg_judge_model, agg_judged_rate,
    agg_official_fallback_rate, agg_pooled_auc, agg_pooled_balanced_acc, agg_pooled_fake_acc, agg_pooled_video_auc,
    agg_rouge_l, agg_rouge_l_evidence, agg_rules_judge_agreement, agg_rules_judge_audited, agg_score_coverage,
    agg_unknown_rate, auc, auc_avg, auc_video_avg, balanced_acc_avg,
    fake_groups, mean_or_none, pct, per_video, pooled, reads,
)
from fakevlm_tasks.glue.benchmarks import Benchmark, HubSource, PaperRows, module  # noqa: F401
from fakevlm_tasks.glue.docs import doc_to_visual, prepared_docs  # noqa: F401
from fakevlm_tasks.glue.prepared import (  # noqa: F401
    FAKECLUE_QUESTION, IMAGE_SUFFIXES, DataError, ImagePolicy, PrepareReport, check_image, load_json,
)
from fakevlm_tasks.glue.metric_lists import (  # noqa: F401
    DETECTION_METRICS, SCORE_COVERAGE, VERDICT_METRICS, Metric, per_group,
)
from fakevlm_tasks.glue.prompts import DETECTION_PROMPTS, prompted
from fakevlm_tasks.glue.records import (  # noqa: F401
    PARSE_MODE_ENV, PARSE_MODES, REQUEST_FAILED_MARKER, answer_text, cluster_of, detection_record, detection_results,
    evidence_of, fan_out, is_failed_answer, judge_config, loglikelihood_record,
    loglikelihood_results, loglikelihood_value, text_record,
)

#: The detection question with the prompt of the model's family (the template names the family per model).
doc_to_text = prompted(DETECTION_PROMPTS)
