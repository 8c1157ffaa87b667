"""Character error rate as a local Hugging Face `evaluate` metric module, built on jiwer.

Loaded by path (`evaluate.load(<this folder>)`), so nothing is fetched from a hub. Every
character counts once, Chinese ones included.
"""
import datasets
import evaluate
import jiwer

_DESCRIPTION = "Character error rate: (substitutions + deletions + insertions) / reference characters."
_KWARGS = """
Args:
    predictions: list of predicted strings.
    references: list of reference strings.
Returns:
    cer: float, total character edits over total reference characters.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class CER(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string", id="sequence"),
                                        "references": datasets.Value("string", id="sequence")}))

    def _compute(self, predictions, references):
        if not references:
            return {"cer": 0.0}
        # jiwer refuses empty strings; a placeholder character outside any plate alphabet keeps an
        # empty prediction counted as deletions (one substitution instead of one deletion: same cost).
        hyps = [p if p else "\u0000" for p in predictions]
        output = jiwer.process_characters(list(references), hyps)
        edits = output.substitutions + output.deletions + output.insertions
        return {"cer": edits / max(1, sum(len(r) for r in references))}
