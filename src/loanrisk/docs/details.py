"""The card's model details: type, training algorithm, parameters, calibration, baselines,
licence and contact. The type is read off the estimator the train stage builds, so the card
names the class that was really fitted."""

from __future__ import annotations

from loanrisk.docs import sources as src
from loanrisk.docs.context import Context
from loanrisk.docs.document import Bullets, Paragraph, Section, Table
from loanrisk.docs.ledger import DEC4, Cursor, plain
from loanrisk.docs.text import code, join
from loanrisk.models.estimators import build_candidate

LICENCE = "Apache-2.0"
CONTACT = "the maintainers, via the project's issue tracker"
ALGORITHMS = {
    "HistGradientBoostingClassifier": (
        "gradient-boosted decision trees on binned features (scikit-learn's histogram-based "
        "implementation), categories split natively, each tree fitted to the gradient of the "
        "log loss of the trees before it"
    ),
    "LogisticRegression": "an L2-regularised logistic regression",
}
"""How the candidate's estimator learns, by class name; another class falls back to its name."""


def model_details(ctx: Context) -> Section:
    """What the model is, how it was trained and calibrated, its parameters and baselines."""
    params, dataset = ctx.project.params, ctx.dataset
    p, d = ctx.params, ctx.declaration
    train = ctx.report(src.TRAIN_METRICS, src.CANDIDATE)
    pipeline = build_candidate(params.train.candidate, dataset, params.seed)
    steps = [type(step).__name__ for _, step in pipeline.steps]
    estimator = steps[-1]
    monotone = [
        f"{code(name)} ({'non-decreasing' if sign > 0 else 'non-increasing'})"
        for name, sign in dataset.monotone.items()
    ]
    facts = [
        f"**Name**: {code(ctx.project.registered_model)}, the name it is registered under in "
        "MLflow's model registry.",
        f"**Fingerprint**: {code(ctx.report(src.VERDICT).show(plain, 'fingerprint'))} "
        "(SHA-256 of the canonical model files). The registered version whose "
        f"{code('fingerprint')} tag holds this value is this model.",
        f"**Type**: {code(estimator)} (scikit-learn)"
        + (f" after a {code(steps[0])}, in one {code('Pipeline')}" if len(steps) > 1 else "")
        + f": a binary classifier whose {code('predict_proba')} is the score.",
        f"**Training algorithm**: {ALGORITHMS.get(estimator, code(estimator))}.",
        "**Monotone constraints** (the score may never move against a declared direction): "
        + (join(monotone) if monotone else "none declared")
        + ".",
        f"**Calibration**: {code(p.show(plain, 'train', 'candidate', 'calibration'))} requested "
        f"({code('train.candidate.calibration')}), {code(train.show(plain, 'calibration'))} chosen "
        "by the lowest expected calibration error, cross-fitted in two folds on the validation "
        "split (table below)"
        + (
            f"; the served model wraps the pipeline in {code('CalibratedClassifierCV')} fitted "
            "on the validation split."
            if train.get("calibration") != "none"
            else "; no calibrator wraps the pipeline."
        ),
        f"**Licence**: {LICENCE}. **Contact**: {CONTACT}.",
    ]
    hyper = p.at("train", "candidate")
    rows = [(code("seed"), p.show(plain, "seed"))] + [
        (code(hyper.key(k)), hyper.show(plain, k)) for k in hyper.names()
    ]
    ece = train.at("cross_fitted_ece")
    calibration = [(code(m), ece.show(DEC4, m)) for m in ece.names()]
    inputs = Paragraph(
        f"**Inputs**: {join(code(f) for f in dataset.numeric_features)} (numeric) and "
        f"{join(code(f) for f in dataset.categorical_features) or 'none'} (categorical), as "
        f"declared in {code(ctx.declaration_source)}. The protected attributes "
        f"({join(code(a) for a in dataset.protected) or 'none declared'}) are never an input."
    )
    return Section(
        "Model details",
        (
            Bullets(tuple(facts)),
            inputs,
            Table(
                "parameters",
                ("parameter", "value"),
                tuple(rows),
                f"Parameters ({code('seed')} and {code('train.candidate')} in {code(src.PARAMS)})",
            ),
            Table(
                "calibration_choice",
                ("method", "cross-fitted ECE on validation"),
                tuple(calibration),
                "Calibration methods compared",
            ),
            _baselines(ctx, d),
        ),
    )


def _baselines(ctx: Context, d: Cursor) -> Section:
    flags = [
        f"{code(f.column)} {f.op} {d.show(plain, 'rule_baseline', i, 'value')}"
        for i, f in enumerate(ctx.dataset.rule_baseline)
    ]
    logistic = ctx.params.at("train", "logistic")
    settings = join(
        f"{code(logistic.key(k))} = {logistic.show(plain, k)}" for k in logistic.names()
    )
    return Section(
        "Baselines",
        (
            Bullets(
                (
                    "**rule**: one red flag per broken rule ("
                    + (join(flags) or "none declared")
                    + "); it predicts the positive rate observed in training for each number "
                    "of flags.",
                    f"**logistic**: scaled numbers and one-hot categories into a logistic "
                    f"regression ({settings}).",
                )
            ),
            Paragraph(
                "The candidate has to beat both on the same test rows; the gate requires an "
                "uplift over the logistic baseline, since below it the simpler model wins."
            ),
        ),
    )
