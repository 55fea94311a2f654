import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from detector.model.estimator import DistillationClassifier, to_matrix
from detector.model.thresholds import expected_calibration_error
from detector.model.train import train_model


def test_fit_learns_and_is_calibrated_on_held_out_rows(labelled):
    train, test = labelled.iloc[:1400], labelled.iloc[1400:]
    model = DistillationClassifier(max_iter=60).fit(train, train["is_distiller"])
    p = model.predict_proba(test)[:, 1]
    assert list(model.feature_names_in_) == ["hv_logprobs_share", "div_distinct_prompt_ratio", "vol_noise"]
    assert average_precision_score(test["is_distiller"], p) > 0.85
    # Reliability on held-out rows: predicted probabilities match observed rates within 0.08.
    assert expected_calibration_error(test["is_distiller"].to_numpy(), p) < 0.08


def test_missing_columns_at_scoring_time_read_as_nan(labelled):
    model = DistillationClassifier(max_iter=50).fit(labelled, labelled["is_distiller"])
    reduced = labelled.drop(columns=["vol_noise"])
    assert np.isnan(to_matrix(reduced, list(model.feature_names_in_))[:, 2]).all()
    assert model.predict_proba(reduced).shape == (len(labelled), 2)


def test_explain_names_the_informative_feature(labelled):
    model = DistillationClassifier(max_iter=60).fit(labelled, labelled["is_distiller"])
    row = pd.DataFrame({"hv_logprobs_share": [0.99], "div_distinct_prompt_ratio": [0.5],
                        "vol_noise": [0.0]})
    top = model.explain(row, top=2)[0]
    assert top[0][0] == "hv_logprobs_share"
    assert top[0][1] > 0


def test_anomaly_score_is_higher_for_outliers(labelled):
    model = DistillationClassifier(max_iter=50).fit(labelled, labelled["is_distiller"])
    typical = labelled.iloc[:50]
    outlier = pd.DataFrame({"hv_logprobs_share": [25.0], "div_distinct_prompt_ratio": [-40.0],
                            "vol_noise": [90.0]})
    assert model.anomaly_score(outlier)[0] > np.median(model.anomaly_score(typical))


def test_parameter_errors_name_the_parameter(labelled):
    with pytest.raises(ValueError, match="calibration"):
        DistillationClassifier(calibration="magic").fit(labelled, labelled["is_distiller"])
    with pytest.raises(ValueError, match="y: expected both classes"):
        DistillationClassifier().fit(labelled, np.zeros(len(labelled)))
    with pytest.raises(TypeError, match="X: expected a pandas DataFrame"):
        DistillationClassifier().fit(labelled.to_numpy(), labelled["is_distiller"])


def test_train_model_chooses_thresholds_on_validation_accounts(labelled):
    model, card = train_model(labelled, review_fpr=0.05, block_fpr=0.01,
                              model_params={"max_iter": 60})
    thr, val = card["thresholds"], card["validation"]
    assert thr["review"] <= thr["block"]
    assert val["fpr_review"] <= 0.05 + 1e-9
    assert val["fpr_block"] <= 0.01 + 1e-9
    assert card["training_data"]["train_rows"] + card["training_data"]["validation_rows"] == len(labelled)
    assert len(card["training_data"]["sha256"]) == 64
    assert "is_distiller" not in card["features"]
    # the engines that computed the features are recorded beside the estimator's libraries:
    # two builds of one recipe with different training-data hashes show which versions moved
    import duckdb
    assert card["libraries"]["duckdb"] == duckdb.__version__
    assert card["libraries"].keys() >= {"pyarrow", "ibis-framework", "model2vec", "numpy"}


def test_explanations_skip_features_no_tree_splits_on_without_changing_them(labelled, monkeypatch):
    from detector.model import estimator

    frame = labelled.assign(constant=1.0)  # a constant column can never be split on
    model = DistillationClassifier(max_iter=60).fit(frame, frame["is_distiller"])
    used = estimator.split_features(model.model_)
    names = list(model.feature_names_in_)
    assert used is not None and names.index("constant") not in used
    assert names.index("hv_logprobs_share") in used
    rows = frame.iloc[:40]
    pruned = model.explain(rows, top=3)
    monkeypatch.setattr(estimator, "split_thresholds", lambda m: None)  # occlude every pair
    assert model.explain(rows, top=3) == pruned


def test_occlusion_skips_only_pairs_no_split_threshold_separates(labelled, monkeypatch):
    from detector.model import estimator

    rng = np.random.default_rng(5)
    frame = labelled.copy()
    holes = rng.random(len(frame)) < 0.1
    frame.loc[holes, "div_distinct_prompt_ratio"] = np.nan  # missing values always occluded
    model = DistillationClassifier(max_iter=60).fit(frame, frame["is_distiller"])
    rows = frame.iloc[:200]
    matrix = to_matrix(rows, list(model.feature_names_in_))
    thresholds = estimator.split_thresholds(model.model_)
    r, c = estimator.occluded_pairs(matrix, model.medians_, thresholds)
    assert 0 < len(r) < matrix.size  # some pairs skipped, some kept
    kept = set(zip(r.tolist(), c.tolist(), strict=True))
    assert all((i, 1) in kept for i in np.flatnonzero(np.isnan(matrix[:, 1])))
    # a skipped pair really scores like its row: occlude it by hand and predict
    skipped = [(i, j) for i in range(len(matrix)) for j in range(matrix.shape[1])
               if (i, j) not in kept][:50]
    copies = matrix[[i for i, _ in skipped]].copy()
    for n, (_, j) in enumerate(skipped):
        copies[n, j] = model.medians_[j]
    base = model.model_.predict_proba(matrix[[i for i, _ in skipped]])[:, 1]
    assert np.array_equal(model.model_.predict_proba(copies)[:, 1], base)
    pruned = model.explain(rows, top=3)
    monkeypatch.setattr(estimator, "split_thresholds", lambda m: None)
    assert model.explain(rows, top=3) == pruned


def test_explanation_of_a_row_does_not_depend_on_the_rows_explained_with_it(labelled):
    """A feature missing in every row of one part but not of the whole (a Spark partition of
    the flagged rows) is occluded as for the whole when ``absent`` comes from the whole."""
    frame = labelled.copy()
    frame.loc[frame.index[20:], "div_distinct_prompt_ratio"] = np.nan  # present in rows < 20
    model = DistillationClassifier(max_iter=60).fit(labelled, labelled["is_distiller"])
    rows = frame.iloc[:60]
    whole = model.explain(rows, top=3)
    absent = model.absent_features(rows)
    assert "div_distinct_prompt_ratio" not in absent
    parts = model.explain(rows.iloc[:20], top=3, absent=absent) + \
        model.explain(rows.iloc[20:], top=3, absent=absent)
    assert parts == whole
    assert "div_distinct_prompt_ratio" in model.absent_features(rows.iloc[20:])
    assert any("div_distinct_prompt_ratio" in [n for n, _ in r] for r in whole[20:]), \
        "the missing feature never contributed: the test shows nothing"
