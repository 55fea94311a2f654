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
# # 01 · Investigate an account
#
# Why was this account flagged, and does the evidence hold up? This notebook walks through what
# an analyst checks before confirming or clearing a verdict:
#
# 1. the verdict and its reasons, day by day;
# 2. the account's activity timeline (requests and output tokens per hour);
# 3. its features next to the whole population of that day (percentiles);
# 4. the rules that fire on it, with the values that made them fire;
# 5. a sample of its prompts;
# 6. its neighbours in the account graph (shared payment, network, timing, templates...).
#
# It uses the package's public API only (`detector.verdicts`, `detector.explore`,
# `detector.clusters`). By default it opens the demo home of `make run` when `DETECTOR_HOME`
# points at it, else it builds a small simulated home in a cache folder (about a minute the
# first time, then reused).

# %% tags=["parameters"]
ACCOUNT = None  # an account_id; None = the highest-scoring flagged account of the latest day
DAY = None  # YYYY-MM-DD; None = the latest evaluated day

# %%
import matplotlib.pyplot as plt
import pandas as pd
from _setup import demo_home

from detector import explore
from detector.verdicts import load_verdicts

pd.set_option("display.max_colwidth", 120)
home = demo_home()
settings = home.settings
day = DAY or home.dates[-1]
print(f"home: {settings.home}  evaluated days: {home.dates}")

# %% [markdown]
# ## The review queue of the day
#
# Verdicts are one row per account-day. The score is 0-1; `decision` is allow / review /
# block; `reasons` lists the rules that acted, then the model's top features.

# %%
verdicts = load_verdicts(settings, day)
print(verdicts["decision"].value_counts().to_string())
flagged = verdicts[verdicts["decision"] != "allow"]
flagged[["account_id", "score", "decision", "reasons", "cluster_id"]].head(10)

# %%
account = ACCOUNT or (flagged if len(flagged) else verdicts)["account_id"].iloc[0]
print("investigating", account)

# %% [markdown]
# ## 1. Verdict history

# %%
timeline = explore.verdict_timeline(settings, account)
timeline[["date", "score", "decision", "model_score", "anomaly_score", "rule_hits",
          "shadow_hits", "cluster_id", "model_version"]]

# %% [markdown]
# ## 2. Activity timeline
#
# Requests per hour (UTC) over every day the account appears in the lake, with the output
# tokens it pulled. Harvesters tend to run around the clock at an even pace; people sleep.

# %%
activity = explore.account_activity(settings, account, bucket_minutes=60)
fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(activity["ts"], activity["requests"], width=1 / 24, align="edge", color="#4c72b0")
ax.set_ylabel("requests / hour")
ax2 = ax.twinx()
ax2.plot(activity["ts"], activity["completion_tokens"], color="#dd8452", lw=1)
ax2.set_ylabel("output tokens / hour")
ax.set_title(f"{account}: activity (UTC)")
fig.autofmt_xdate()
plt.show()
print(f"{int(activity['requests'].sum())} requests, "
      f"{int(activity['completion_tokens'].sum())} output tokens, "
      f"{len(activity)} active hours")

# %% [markdown]
# ## 3. Features versus the population
#
# `share_below` is the share of that day's accounts with a lower value (1.0 = the highest of
# all). The most unusual features come first; `w7_` features cover the 7 days ending on the day.

# %%
features = explore.features_vs_population(settings, account, day)
features.head(15)

# %%
top = features.head(15).iloc[::-1]
fig, ax = plt.subplots(figsize=(8, 5))
ax.barh(top["feature"], 100 * top["share_below"], color="#55a868")
ax.set_xlim(0, 100)
ax.set_xlabel("percentile among the day's accounts")
ax.set_title(f"{account} on {day}: most unusual features")
plt.show()

# %% [markdown]
# ## 4. Rule hits
#
# The active rules evaluated on the account's stored features (the same evaluation scoring
# uses). Shadow rules (status experimental) are recorded but never act.

# %%
hits = explore.account_rule_hits(settings, account)
hits[["date", "rule_name", "action", "status", "shadow", "condition"]]

# %%
for row in hits.drop_duplicates("rule_name").itertuples():
    print(f"{row.rule_name} ({row.date}): {row.values}")

# %% [markdown]
# ## 5. Sample prompts
#
# A stable sample (the same requests on every run). Prompt text is raw: mind who sees the
# notebook before sharing it.

# %%
explore.sample_prompts(settings, account, day, n=8)

# %% [markdown]
# ## 6. Cluster neighbours
#
# Typed evidence edges between this account and others: shared payment instrument, network
# prefix, creation time, synchronised timing, shared prompt scaffolds, embedding similarity.
# `linked` means the pair's total evidence passed the cluster stage's link threshold.

# %%
neighbours = explore.cluster_neighbours(settings, account)
print(f"{neighbours['neighbour'].nunique()} neighbours, "
      f"{int(neighbours['linked'].sum())} linked edges")
neighbours.head(12)

# %%
summary = (neighbours.groupby("edge_type")
           .agg(neighbours=("neighbour", "nunique"), mean_weight=("weight", "mean"))
           .sort_values("neighbours", ascending=False))
summary

# %% [markdown]
# **Next steps**: record a decision with `detector cases decide` (or
# `detector.cases.CaseStore(settings).record_decision(...)`); notebook 04 maps the account's
# cluster.
