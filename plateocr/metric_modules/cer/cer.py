"""Character error rate as a local Hugging Face `evaluate` metric module, built on jiwer.

Same shape as the hub's `cer` metric, but loaded by path so nothing is fetched:

    evaluate.load("plateocr/metric_modules/cer").compute(predictions=[...], references=[...])

Every character counts once, Chinese ones included: 皖 → 苏 is one substitution, like 5 → 6.
"""
import datasets
import evaluate
import jiwer

_DESCRIPTION = """\
Character error rate (CER) over a corpus: (substitutions + deletions + insertions) summed over all
pairs, divided by the number of reference characters. Each Unicode character is one unit, so a
Chinese province character counts exactly like a digit. Lower is better; it can exceed 1 when a
prediction has many insertions.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of predicted strings; an empty string is a plate read as nothing, i.e. all of
        its reference characters deleted.
    references: list of reference strings, as many as predictions.
Returns:
    cer: float, total character edits over total reference characters (0.0 for empty lists).
Examples:
    >>> import evaluate
    >>> metric = evaluate.load("plateocr/metric_modules/cer")  # doctest: +SKIP
    >>> metric.compute(predictions=["皖A12346"], references=["皖A12345"])  # doctest: +SKIP
    {'cer': 0.14285714285714285}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CER(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string", id="sequence"),
                "references": datasets.Value("string", id="sequence"),
            }),
            codebase_urls=["https://github.com/jitsi/jiwer/"],
            reference_urls=["https://en.wikipedia.org/wiki/Word_error_rate"],
        )

    def _compute(self, predictions, references):
        if not references:
            return {"cer": 0.0}
        # jiwer 4 scores "" against a reference as all deletions (what an unread plate should cost).
        # jiwer.cer is corpus-level (sum of edits / sum of reference lengths), not a mean of
        # per-plate rates, and splits strings into characters, not words.
        return {"cer": float(jiwer.cer(references, predictions))}
