# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Tune a rule
#
# Rules are YAML files in `rules/` (see `docs/rules.md`). This notebook moves one threshold of
# one rule and measures what it would have done on the stored features:
#
# 1. backtest the current rule set against the labels (generated truth and analyst decisions);
# 2. sweep candidate thresholds for one comparison of one rule, in a single backtest scan;
# 3. draw the precision/recall curve and pick a threshold by a stated criterion;
# 4. write the tuned rule file into a **temporary** rules folder (never into the repository's
#    `rules/`), validate it with `load_ruleset(rules_dir=...)` and run the rule's own tests.
#
# Labels: with simulated traffic `truth.json` labels every account; on real traffic the labels
# are the analysts' confirm-block / clear decisions in the case store, which `backtest` reads
# by itself. A threshold picked here is a proposal: copy the file into `rules/` through review.

# %% tags=["parameters"]
RULE = "infra_new_account_high_volume"  # rule name or id
COLUMN = "vol_output_tokens"  # the feature whose threshold is swept
MIN_PRECISION = 0.95  # pick the threshold with the best recall at this account precision

# %%
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _setup import demo_home

from detector import explore
from detector.features.assemble import account_features
from detector.lake.db import connect
from detector.rules import default_rules_dir, load_ruleset
from detector.rules.backtest import backtest
from detector.rules.labels import read_truth
from detector.rules.testing import run_rule_tests

home = demo_home()
settings = home.settings
truth = read_truth(home.truth_path) if home.truth_path else None
source = "truth" if truth is not None else "analyst"
print(f"home: {settings.home}  days: {home.dates}  labels: {source}")

# %% [markdown]
# ## 1. Backtest the current rules
#
# Per rule: account-days and accounts hit, precision and recall at the account grain (an
# account is hit when any of its days is). Shadow rules are listed too.

# %%
ruleset = load_ruleset()
result = backtest(settings, ruleset, truth=truth)
table = pd.DataFrame([{
    "rule": r["name"], "status": r["status"], "hits": r["hits"], "accounts": r["accounts_hit"],
    "precision": r["metrics"].get(source, {}).get("account", {}).get("precision"),
    "recall": r["metrics"].get(source, {}).get("account", {}).get("recall"),
} for r in result.rules])
table

# %% [markdown]
# ## 2. Sweep the threshold
#
# Candidates are quantiles of the feature over the population (so they land where accounts
# actually are), plus the current value. Every candidate becomes a variant of the rule and all
# variants are backtested in one scan.

# %%
rule = ruleset.get(RULE)
print(rule.name, "\n", rule.source_condition)
con = connect(settings)
account_features(con, settings, home.dates)
values = con.execute(f'SELECT "{COLUMN}" FROM account_features WHERE "{COLUMN}" IS NOT NULL').df()
con.close()
quantiles = np.quantile(values[COLUMN], np.linspace(0.5, 0.995, 25))
current = explore.rule_threshold(rule.source_condition, COLUMN)
candidates = sorted({float(f"{q:.3g}") for q in quantiles} | {current})
print(f"current threshold: {current}; {len(candidates)} candidates")

# %%
sweep = explore.threshold_sweep(settings, rule, COLUMN, candidates, truth=truth)
sweep

# %% [markdown]
# ## 3. Precision / recall against the labels

# %%
p, r = sweep[f"{source}_precision"], sweep[f"{source}_recall"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(sweep["threshold"], p, marker="o", label="precision")
ax1.plot(sweep["threshold"], r, marker="o", label="recall")
ax1.axvline(current, color="grey", ls="--", label="current")
ax1.set_xscale("log")
ax1.set_xlabel(f"{COLUMN} threshold")
ax1.set_title(f"{rule.name}: account-level metrics")
ax1.legend()
ax2.plot(r, p, marker="o")
ax2.set_xlabel("recall")
ax2.set_ylabel("precision")
ax2.set_xlim(0, 1.02)
ax2.set_ylim(0, 1.02)
ax2.set_title("precision / recall curve")
plt.show()

# %% [markdown]
# The pick: the threshold with the highest recall among those whose account precision is at
# least `MIN_PRECISION` (ties: the higher, more conservative threshold). Keep the current value
# when no candidate qualifies.

# %%
ok = sweep[sweep[f"{source}_precision"].fillna(0) >= MIN_PRECISION]
if len(ok):
    best = ok.sort_values([f"{source}_recall", "threshold"], ascending=[False, False]).iloc[0]
    chosen = float(best["threshold"])
else:
    chosen = current
print(f"chosen threshold for {COLUMN}: {chosen} (current {current})")
sweep[sweep["threshold"].isin([current, chosen])]

# %% [markdown]
# ## 4. Write the tuned rule into a temporary rules folder
#
# The folder starts as a copy of the active rules, so the whole set is validated together
# (duplicate ids or conditions would be caught). Only the condition and `modified:` change in
# the file; its tests are kept, and run below: a test row sitting between the old and the new
# threshold fails and must be updated before the file goes into `rules/`.

# %%
tuned_dir = Path(tempfile.mkdtemp(prefix="tuned-rules-"))
shutil.copytree(default_rules_dir(), tuned_dir, dirs_exist_ok=True)
path = explore.write_tuned_rule(rule, COLUMN, chosen, tuned_dir)
print(path)
print(path.read_text())

# %%
tuned = load_ruleset(rules_dir=tuned_dir)
print(f"valid: {len(tuned)} rules, hash {tuned.hash[:12]} (active {ruleset.hash[:12]})")
report = run_rule_tests(tuned.select([rule.name]))
print(f"rule tests: {report.rows} rows, {len(report.failures)} failure(s)")
for failure in report.failures:
    print(" ", failure)

# %%
after = backtest(settings, tuned, truth=truth)
union = {name: next(r for r in res.rules if r["name"] == "(acting rules)")
         for name, res in (("active", result), ("tuned", after))}
pd.DataFrame({name: {"accounts hit": u["accounts_hit"],
                     "precision": u["metrics"].get(source, {}).get("account", {}).get("precision"),
                     "recall": u["metrics"].get(source, {}).get("account", {}).get("recall")}
              for name, u in union.items()})

# %% [markdown]
# To adopt it: copy the file into `rules/`, fix any failing test rows, run
# `detector rules test` and `detector rules backtest`, and send it for review.

# %%
shutil.rmtree(tuned_dir)
