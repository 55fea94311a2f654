"""Cluster recovery against simulator ground truth (truth.json's ``cluster`` per account).

Member recall: share of a true group's active member-days placed in a cluster together with at
least one member of the same true group. Purity: size-weighted share of each predicted
cluster's largest true group (accounts in no true group are their own). Hard negatives:
benign, shared-address (NAT) and reseller account-days in clusters, and NAT groups merged.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

from detector.clusters.store import read
from detector.settings import Settings


def day_members(settings: Settings, day: str, campaigns: bool = True) -> pd.DataFrame | None:
    """cluster_id, account_id of the day's linked clusters (and campaigns when asked)."""
    parts = [read(settings, day, "members")]
    if campaigns:
        parts.append(read(settings, day, "campaign_members"))
    parts = [p[["cluster_id", "account_id"]] for p in parts if p is not None]
    return pd.concat(parts, ignore_index=True) if parts else None


def cluster_recovery(settings: Settings, truth: dict, dates: list[str],
                     campaigns: bool = True) -> dict:
    """Member recall per archetype, purity and hard negatives, pooled over ``dates``."""
    acc = truth["accounts"]
    label = {a: (v["cluster"] or f"solo:{a}") for a, v in acc.items()}
    per_arch: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pure = total = nat_merged = nat_in = res_in = benign_in = 0
    n_clusters = 0
    for day in dates:
        members = day_members(settings, day, campaigns)
        if members is None:
            continue
        active = {a for a, v in acc.items() if day in v["active_dates"]}
        by_cluster = members.groupby("cluster_id")["account_id"].apply(list)
        n_clusters += len(by_cluster)
        kin = {}
        for ms in by_cluster:
            labels = Counter(label.get(m, f"solo:{m}") for m in ms)
            pure += labels.most_common(1)[0][1]
            total += len(ms)
            groups = Counter(acc[m]["shared_ip_group"] for m in ms
                             if m in acc and acc[m]["shared_ip_group"])
            nat_merged += sum(1 for c in groups.values() if c >= 2)
            for m in ms:
                kin[m] = labels[label.get(m, f"solo:{m}")] >= 2
        for a in active:
            v = acc[a]
            if v["cluster"]:
                per_arch[v["archetype"]][1] += 1
                per_arch[v["archetype"]][0] += int(kin.get(a, False))
            elif a in kin:
                benign_in += int(not v["is_distiller"])
                nat_in += int(bool(v["shared_ip_group"]))
                res_in += int(v["archetype"] == "reseller")
    return {
        "member_recall": {k: round(v[0] / v[1], 3) for k, v in per_arch.items() if v[1]},
        "member_counts": {k: v for k, v in per_arch.items()},
        "purity": round(pure / total, 3) if total else None,
        "clusters": n_clusters, "clustered_account_days": total,
        "benign_account_days_in_clusters": benign_in,
        "nat_account_days_in_clusters": nat_in,
        "nat_groups_merged": nat_merged,
        "reseller_account_days_in_clusters": res_in,
    }
