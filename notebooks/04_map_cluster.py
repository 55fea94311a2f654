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
# # 04 · Map a cluster
#
# Hydra and low-and-slow operations spread harvesting over many accounts that each look small.
# The cluster stage links accounts by typed evidence (shared payment instrument, network
# prefix, creation time, synchronised timing, shared prompt scaffolds, embedding similarity)
# and groups them. This notebook:
#
# 1. lists the day's clusters with their cluster-level features;
# 2. draws one cluster as a graph: members coloured by verdict, edges by evidence type;
# 3. tabulates the evidence behind the edges;
# 4. plots the members' activity over time (timing synchronisation) next to a baseline of
#    random accounts.

# %% tags=["parameters"]
CLUSTER = None  # a cluster_id; None = the cluster with the most flagged members
DAY = None  # YYYY-MM-DD; None = the latest clustered day
BIN_MINUTES = 10  # width of the time bins of the timing plot

# %%
import itertools

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from _setup import demo_home
from matplotlib.lines import Line2D

from detector import explore
from detector.clusters import list_clusters
from detector.verdicts import load_verdicts

home = demo_home()
settings = home.settings
truth = home.truth()
print(f"home: {settings.home}  days: {home.dates}")

# %% [markdown]
# ## 1. The day's clusters

# %%
clusters = pd.DataFrame(list_clusters(settings, DAY))
day = DAY or (clusters["date"].iloc[0] if len(clusters) else home.dates[-1])
verdicts = load_verdicts(settings, day)
flagged = verdicts[verdicts["decision"] != "allow"].groupby("cluster_id").size()
if len(clusters):
    clusters["flagged_members"] = clusters["cluster_id"].map(flagged).fillna(0).astype(int)
print(f"{len(clusters)} clusters on {day}")
clusters.head(10)

# %%
if CLUSTER:
    cluster_id = CLUSTER
elif len(clusters):
    cluster_id = clusters.sort_values(["flagged_members", "clu_size"],
                                      ascending=False)["cluster_id"].iloc[0]
else:
    cluster_id = None
print("mapping", cluster_id)
if cluster_id is None:
    print("no cluster on this day: nothing to map (the cells below show empty results)")

# %% [markdown]
# ## 2. The cluster as a graph
#
# Node colour: the member's verdict that day. Edge colour: the strongest evidence type of the
# pair; width: its summed evidence weight.

# %%
graph = explore.cluster_graph(settings, cluster_id, day) if cluster_id else nx.Graph()
print(f"{graph.number_of_nodes()} members, {graph.number_of_edges()} linked pairs")
decision_colour = {"block": "#c44e52", "review": "#dd8452", "allow": "#55a868", None: "#8c8c8c"}
types = sorted({t for _, _, d in graph.edges(data=True) for t in d["types"]})
palette = dict(zip(types, itertools.cycle(plt.get_cmap("tab10").colors), strict=False))


def strongest(data):
    """The evidence type with the largest weight of one pair."""
    return max(data["weights"], key=data["weights"].get)


fig, ax = plt.subplots(figsize=(8, 7))
if graph.number_of_nodes():
    pos = nx.spring_layout(graph, seed=3, weight="weight")
    edges = list(graph.edges(data=True))
    nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=[(a, b) for a, b, _ in edges],
                           edge_color=[palette[strongest(d)] for _, _, d in edges],
                           width=[0.5 + d["weight"] for _, _, d in edges], alpha=0.5)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=160,
                           node_color=[decision_colour.get(graph.nodes[n]["decision"], "#8c8c8c")
                                       for n in graph.nodes])
    handles = [Line2D([], [], color=palette[t], lw=2, label=t) for t in types]
    handles += [Line2D([], [], marker="o", ls="", color=c, label=d or "not scored")
                for d, c in decision_colour.items()]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
ax.set_title(f"cluster {cluster_id} on {day}")
ax.axis("off")
plt.show()

# %% [markdown]
# One panel per evidence type, same layout: which pairs share a payment instrument, a network,
# a creation window, a schedule, prompt scaffolds... A fleet run by one operator is usually
# linked by several independent kinds of evidence at once.

# %%
if types:
    cols = min(4, len(types))
    rows = -(-len(types) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, kind in zip(axes.flat, types, strict=False):
        pairs = [(a, b) for a, b, d in graph.edges(data=True) if kind in d["weights"]]
        nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=pairs, edge_color=[palette[kind]],
                               width=[0.5 + 2 * graph.edges[e]["weights"][kind] for e in pairs])
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=30, node_color="#444444")
        ax.set_title(f"{kind}: {len(pairs)} pairs", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    plt.show()

# %% [markdown]
# Members with their verdicts (and, for simulated traffic, what they really are):

# %%
members = pd.DataFrame([{"account_id": n, **d} for n, d in graph.nodes(data=True)],
                       columns=["account_id", "degree", "strength", "score", "decision"])
if truth is not None:
    members["archetype"] = members["account_id"].map(
        lambda a: truth["accounts"].get(a, {}).get("archetype"))
members.sort_values("strength", ascending=False)

# %% [markdown]
# Cluster-level features (the `clu_*` columns rules and the model read):

# %%
pd.Series({k: v for k, v in graph.graph.items() if k.startswith("clu_")}, dtype=object)

# %% [markdown]
# ## 3. The evidence behind the edges

# %%
evidence = pd.DataFrame([{"src": a, "dst": b, "edge_type": t, "weight": d["weights"][t],
                          "evidence": ev}
                         for a, b, d in graph.edges(data=True) for t, ev in d["evidence"].items()],
                        columns=["src", "dst", "edge_type", "weight", "evidence"])
(evidence.groupby("edge_type").agg(pairs=("src", "size"), mean_weight=("weight", "mean"))
 .sort_values("pairs", ascending=False) if len(evidence) else evidence)

# %%
evidence.drop_duplicates("edge_type").head(10)

# %% [markdown]
# ## 4. Timing synchronisation
#
# Requests per time bin of every member (rows) over the day, next to the same number of random
# accounts active that day. Two signatures of one scheduler behind many accounts: bursts in the
# same bins (positive mean pairwise correlation), or one stream dealt round-robin over the
# accounts (every member busy at the same steady rate around the clock, slightly negative
# correlation, and a flat combined stream below). People and independent apps look like the
# baseline: sparse, uneven, uncorrelated.

# %%
accounts = sorted(graph.nodes)
rng = np.random.default_rng(0)
others = verdicts[~verdicts["account_id"].isin(accounts)]["account_id"].to_numpy()
baseline = sorted(rng.choice(others, size=min(len(accounts), len(others)), replace=False)
                  ) if len(accounts) else []
series = {name: explore.timing_series(settings, accts, day, bin_minutes=BIN_MINUTES)
          for name, accts in (("cluster", accounts), ("baseline", baseline))}


def mean_correlation(frame):
    """Mean off-diagonal Pearson correlation between the columns (NaN for < 2 columns)."""
    corr = frame.loc[:, frame.std() > 0].corr().to_numpy()
    off = corr[~np.eye(len(corr), dtype=bool)]
    return float(np.nanmean(off)) if off.size else float("nan")


fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
for ax, (name, frame) in zip(axes, series.items(), strict=True):
    if frame.shape[1]:
        ax.imshow(frame.T.to_numpy(), aspect="auto", cmap="Greys", interpolation="nearest",
                  extent=[0, 24, frame.shape[1], 0])
    ax.set_ylabel("accounts")
    ax.set_title(f"{name}: mean pairwise correlation {mean_correlation(frame):.2f}")
axes[-1].set_xlabel(f"hour of {day} (UTC), {BIN_MINUTES}-minute bins")
plt.show()

# %%
fig, ax = plt.subplots(figsize=(11, 3))
for name, frame in series.items():
    ax.plot(frame.index, frame.sum(axis=1), label=f"{name} ({frame.shape[1]} accounts)")
ax.set_ylabel(f"requests / {BIN_MINUTES} min")
ax.legend()
plt.show()

# %% [markdown]
# **Next steps**: notebook 01 investigates any member; `detector clusters show ID` prints the
# same evidence from the command line.
