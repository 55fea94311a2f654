"""Sample-based text features: MinHash near-duplicates, n-gram entropies, CoT classifier."""

from __future__ import annotations

import math
import re

import ibis
import numpy as np
import pyarrow as pa
import pytest

from detector.features import cot, minhash
from detector.features.partials import template
from detector.features.sample import (
    ENTROPY_PROMPTS,
    SAMPLE_K,
    WORDS_PER_PROMPT,
    _expand,
    sample_expr,
    sample_features,
)


def _with_templates(t: pa.Table) -> pa.Table:
    """``t`` plus ``tmpl``, masked by the engine's own template expression (as sample_expr does)."""
    m = ibis.memtable(t)
    expr = m.mutate(tmpl=template(m.prompt_text.fill_null("")))
    return ibis.duckdb.connect().to_pyarrow(expr).select(["account_id", "prompt_hash", "prompt_text", "tmpl"])


def _table(rows):
    return _with_templates(pa.table({
        "account_id": pa.array([r[0] for r in rows], pa.string()),
        "prompt_hash": pa.array([f"h{i}" for i in range(len(rows))], pa.string()),
        "prompt_text": pa.array([r[1] for r in rows], pa.string())}))


def test_near_dup_rate():
    templated = [("t", f"Please translate the sentence number {i} into French for me") for i in range(4)]
    varied = [("v", "How do vaccines train the immune system?"), ("v", "Best pasta recipe for two"),
              ("v", "Explain quicksort in Python"), ("v", "Who painted the Mona Lisa")]
    out = sample_features(_table(templated + varied)).to_pandas().set_index("account_id")
    assert out.loc["t", "div_near_dup_rate"] == 1.0
    assert out.loc["v", "div_near_dup_rate"] == 0.0


def test_minhash_estimates_jaccard():
    a = "the quick brown fox jumps over the lazy dog near the river bank today"
    b = "the quick brown fox jumps over the lazy cat near the river bank today"
    rows, hashes = minhash.shingles([a, b])
    sig = minhash.signatures(rows, hashes, 2)

    def shingles(t):
        return {t[i:i + 4] for i in range(len(t) - 3)}

    true = len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
    est = (sig[0] == sig[1]).mean()
    assert abs(est - true) < 0.25  # 32 bins: std <= 0.09


def _hashed(rows):
    """Like _table with prompt hashes that sort in the given order (h000, h001, ...)."""
    return _with_templates(pa.table({
        "account_id": pa.array([r[0] for r in rows], pa.string()),
        "prompt_hash": pa.array([f"h{i:03d}" for i in range(len(rows))], pa.string()),
        "prompt_text": pa.array([r[1] for r in rows], pa.string())}))


def test_entropies_hand_computed():
    # 16 prompts "aaaa b" (the budget): 4-grams 'aaaa','aaa ','aa b' once each per prompt
    out = sample_features(_hashed([("e", "aaaa b")] * ENTROPY_PROMPTS)).to_pandas().iloc[0]
    assert out["div_char_ngram_entropy"] == pytest.approx(math.log2(3))
    # words: 'aaaa', 'b' -> 1 bit
    assert out["div_word_ngram_entropy"] == pytest.approx(1.0)


def test_entropies_need_a_full_budget_of_prompts():
    rows = [("s", f"question number {i} about topic {i * 7}") for i in range(ENTROPY_PROMPTS - 1)]
    out = sample_features(_hashed(rows)).to_pandas().iloc[0]
    assert math.isnan(out["div_char_ngram_entropy"]) and math.isnan(out["div_word_ngram_entropy"])
    assert out["div_near_dup_rate"] == pytest.approx(out["div_near_dup_rate"])  # still measured


def test_entropies_do_not_grow_with_volume_or_prompt_length():
    words = [f"w{i}" for i in range(4000)]
    base = [" ".join(words[i * 40:(i + 1) * 40]) for i in range(ENTROPY_PROMPTS)]
    small = [("a", t) for t in base]
    # more prompts after the budget (by prompt_hash) and longer prompts change nothing
    heavy = [("a", t + " " + " ".join(words[3000:3100])) for t in base] + [
        ("a", " ".join(words[2000 + i:2040 + i])) for i in range(60)]
    one = sample_features(_hashed(small)).to_pandas().iloc[0]
    many = sample_features(_hashed(heavy)).to_pandas().iloc[0]
    for col in ("div_char_ngram_entropy", "div_word_ngram_entropy"):
        assert many[col] == pytest.approx(one[col]), col
    assert one["div_word_ngram_entropy"] == pytest.approx(math.log2(ENTROPY_PROMPTS * WORDS_PER_PROMPT))


def test_group_entropy_counts():
    groups = np.array([0, 0, 0, 0, 1])
    tokens = np.array([1, 1, 2, 3, 9])
    ent = minhash.group_entropy(groups, tokens, 3)
    assert ent[0] == pytest.approx(-(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25)))
    assert ent[1] == 0.0 and math.isnan(ent[2])


def test_shingles_hand_computed():
    # "Ab  c" -> normalised b"ab c": one 4-gram; "xy" -> one zero-padded shingle; None -> b""
    rows, hashes = minhash.shingles(["Ab  c", "xy", None, "abcde"])
    assert rows.tolist() == [0, 1, 2, 3, 3]
    codes = [int.from_bytes(b, "little") for b in (b"ab c", b"xy\0\0", b"\0\0\0\0", b"abcd", b"bcde")]
    assert hashes.tolist() == minhash._fmix32(np.array(codes, dtype=np.uint32)).tolist()
    assert minhash.normalised_bytes(["  A\u00a0b\tC  ", "x" * 600]).to_pylist() == [b"a b c", b"x" * 512]


def test_word_tokens_ids_are_exact():
    rows, ids = minhash.word_tokens(["The cat, the CAT!", None, "dog-cat"])
    assert rows.tolist() == [0, 0, 0, 0, 2, 2]
    assert ids[0] == ids[2] and ids[1] == ids[3] == ids[5] and ids[0] != ids[1] and ids[4] not in ids[:4]


def test_near_dup_flags_within_group_only():
    sig = np.array([[1] * 32, [1] * 32, [2] * 32, [1] * 32])
    assert minhash.near_dup_flags(np.array([0, 0, 0, 1]), sig).tolist() == [True, True, False, False]


def test_cot_fast_scores_equal_sklearn():
    texts = ["Think step by step, then answer: is 91 prime?", "", "naïve café ünïcode ß", "x y",
             "What is the capital of France? What is the capital of France?"]
    ref = cot.load().predict_proba([t or "" for t in texts])[:, 1]
    np.testing.assert_allclose(cot.scores(texts + [None]), list(ref) + [ref[1]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cot.scores(["", None, "!"]), [ref[1]] * 3, rtol=1e-12)  # no tokens at all


def test_cot_classifier_separates_generated_examples():
    texts = ["Why is the sky blue? Think step by step and show your reasoning.",
             "Walk me through your thought process before you answer: is 91 prime?",
             "What is the capital of France?", "Translate hello into Spanish"]
    s = cot.scores(texts)
    assert s[0] >= 0.5 and s[1] >= 0.5 and s[2] < 0.5 and s[3] < 0.5


def test_template_reuse_hand_computed():
    # a: 'translate "q" for N 0' x3, 'why is the sea salty' x1 -> 3*2 = 6 of the 4*3 = 12
    # ordered pairs share a template; top share 3/4
    a = [("a", 'Translate "good day" for Alice 3'), ("a", 'Translate "see you" for Bob 45'),
         ("a", 'Translate "hi" for Carol 7'), ("a", "why is the sea salty")]
    # one: a single sampled prompt says nothing about reuse (null); z: all distinct templates
    rows = a + [("one", "hello")] + [("z", "why is the sea salty"), ("z", "how do tides work")]
    out = sample_features(_table(rows)).to_pandas().set_index("account_id")
    assert out.loc["a", "div_template_reuse"] == pytest.approx(6 / 12)
    assert out.loc["a", "div_top_template_share"] == pytest.approx(3 / 4)
    assert np.isnan(out.loc["one", "div_template_reuse"])
    assert np.isnan(out.loc["one", "div_top_template_share"])
    assert out.loc["z", "div_template_reuse"] == 0.0
    assert out.loc["z", "div_top_template_share"] == pytest.approx(1 / 2)


def test_template_reuse_does_not_grow_with_the_sample():
    # accounts whose distinct prompts each use one of 4 scaffolds at random: the pair estimate's
    # mean is 1/4 whether 8 or 32 prompts are sampled, where "1 - templates / prompts" goes from
    # about 0.55 to 0.87 (it counts collisions, which grow with the number of prompts)
    rng = np.random.default_rng(7)
    verbs = ["explain", "describe", "summarise", "list"]

    def acct(name, k):
        return [(name, f"{verbs[rng.integers(4)]} topic {i} in detail") for i in range(k)]
    rows = [r for a in range(60) for r in acct(f"s{a}", 8)] + [r for a in range(60) for r in acct(f"b{a}", 32)]
    out = sample_features(_table(rows)).to_pandas().set_index("account_id")
    small = out.loc[[f"s{a}" for a in range(60)], "div_template_reuse"].mean()
    big = out.loc[[f"b{a}" for a in range(60)], "div_template_reuse"].mean()
    assert abs(small - 0.25) < 0.04 and abs(big - 0.25) < 0.03 and abs(big - small) < 0.05


def test_sample_expr_keeps_sample_k_distinct_prompts_with_templates():
    # 40 distinct prompts, each sent twice, plus a null hash: SAMPLE_K rows, smallest hashes first
    texts = [f'Translate "x{i}" for Alice {i}' for i in range(40)]
    req = pa.table({"account_id": ["a"] * 81,
                    "prompt_hash": [f"h{i:02d}" for i in range(40)] * 2 + [None],
                    "prompt_text": texts * 2 + ["no hash"]})
    out = ibis.duckdb.connect().to_pyarrow(sample_expr(ibis.memtable(req))).to_pandas()
    assert sorted(out["prompt_hash"]) == [f"h{i:02d}" for i in range(SAMPLE_K)]
    assert set(out["tmpl"]) == {'n "q" for n 0'}  # capitalised words are masked too


def test_sample_without_templates_is_refused():
    t = pa.table({"account_id": ["a"], "prompt_hash": ["h"], "prompt_text": ["hi"]})
    with pytest.raises(ValueError, match="tmpl"):
        sample_features(t)


def test_empty_sample():
    out = sample_features(_table([]))
    assert out.num_rows == 0 and "div_near_dup_rate" in out.column_names


def test_tokenise_matches_the_vectoriser_pattern():
    # ASCII texts are split by Arrow, the others by re: same tokens, in text order
    texts = ["Think STEP-by-step: a_b 91 x", "", None, "Ünïcode Straße and ascii", "it's 3.14 ok", "é"]
    rows, tokens = cot._tokenise(pa.array(texts, pa.string()))
    expected = [(i, w) for i, t in enumerate(texts) for w in re.findall(r"(?u)\b\w\w+\b", (t or "").lower())]
    assert list(zip(rows.tolist(), tokens.to_pylist(), strict=True)) == expected
    assert expected[:4] == [(0, "think"), (0, "step"), (0, "by"), (0, "step")]


def test_expand_repeats_the_entries_of_each_rows_text():
    # distinct texts: 0 -> entries 10, 11; 1 -> none; 2 -> 12. Rows have texts 2, 0, 0, 1.
    rows, values = _expand(np.array([0, 0, 2]), np.array([10, 11, 12]), np.array([2, 0, 0, 1]), 3)
    assert rows.tolist() == [0, 1, 1, 2, 2]
    assert values.tolist() == [12, 10, 11, 10, 11]


def test_texts_shared_across_accounts_give_each_accounts_own_values():
    # sketches and the classifier run once per distinct text; an account's values must not
    # depend on which other accounts share its prompts
    texts = ["Please translate sentence 1 into French", "Please translate sentence 2 into French",
             "Think step by step: is 91 prime?", "Best pasta recipe for two", "Who painted the Mona Lisa"]
    a, b = [("a", t) for t in texts], [("b", t) for t in texts[:3]] + [("b", "Explain quicksort")]
    both = sample_features(_table(a + b)).to_pandas().set_index("account_id")
    for rows, acct in ((a, "a"), (b, "b")):
        alone = sample_features(_table(rows)).to_pandas().set_index("account_id")
        pd_row, ref = both.loc[acct], alone.loc[acct]
        for col in ref.index:
            assert pd_row[col] == pytest.approx(ref[col], rel=1e-12, nan_ok=True), col
    assert both.loc["a", "hv_cot_classifier_share"] == pytest.approx(1 / 5)
