"""Infrastructure and model-release features against hand-computed values."""

from __future__ import annotations

import pyarrow as pa
import pytest

from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA

from .feat_data import req, ts, write_day
from .feat_run import run_day

DAY1 = "2026-03-04"
DAY2 = "2026-03-05"


@pytest.fixture(scope="module")
def rows(module_settings):
    s = module_settings
    # day 1: model old-m appears at 00:00; accounts x, y, z share prefix 10.0.0.0/24
    d1 = [req("x", ts(DAY1, 0), model="old-m", client_ip="10.0.0.1", ip_prefix="10.0.0.0/24",
              payment_fingerprint="pm1", account_created_at=ts(DAY1, 12)),
          req("y", ts(DAY1, 1), model="old-m", client_ip="10.0.0.2", ip_prefix="10.0.0.0/24",
              payment_fingerprint="pm1"),
          req("z", ts(DAY1, 2), model="old-m", client_ip="10.0.0.3", ip_prefix="10.0.0.0/24",
              payment_fingerprint="pm1")]
    # day 2: new-m first appears at 06:00 on day 2
    x = [req("x", ts(DAY2, 6), model="new-m", client_ip="10.0.0.1", ip_prefix="10.0.0.0/24",
             user_agent="python-requests/2.31", payment_fingerprint="pm1", api_key_id="k1",
             account_created_at=ts(DAY1, 12), end_user_hash="eu1"),
         req("x", ts(DAY2, 7), model="new-m", client_ip="10.0.0.9", ip_prefix="10.0.0.0/24",
             user_agent="Mozilla/5.0", payment_fingerprint="pm1", api_key_id="k2",
             account_created_at=ts(DAY1, 12), end_user_hash="eu2"),
         req("x", ts(DAY2, 8), model="old-m", client_ip="192.0.2.7", ip_prefix="192.0.2.0/24",
             user_agent="curl/8.0", payment_fingerprint="pm1", api_key_id="k2",
             account_created_at=ts(DAY1, 12), end_user_hash="eu1"),
         req("x", ts(DAY2, 9), model="old-m", client_ip="192.0.2.7", ip_prefix="192.0.2.0/24",
             user_agent="curl/8.0", payment_fingerprint="pm1", account_created_at=ts(DAY1, 12))]
    others = [req("y", ts(DAY2, 1), client_ip="10.0.0.2", ip_prefix="10.0.0.0/24", payment_fingerprint="pm1"),
              req("z", ts(DAY2, 1), client_ip="10.0.0.3", ip_prefix="10.0.0.0/24", payment_fingerprint="pm2")]
    write_day(s, DAY1, d1)
    write_day(s, DAY2, x + others)
    run_day(s, DAY1)
    return run_day(s, DAY2)


def test_ips_prefixes_agents_keys(rows):
    x = rows["x"]
    assert x["inf_distinct_ips"] == 3
    assert x["inf_distinct_prefixes"] == 2
    assert x["inf_distinct_user_agents"] == 3
    assert x["inf_distinct_api_keys"] == 2
    assert x["inf_script_ua_share"] == pytest.approx(3 / 4)  # python-requests, curl x2


def test_distinct_end_users(rows):
    assert rows["x"]["inf_distinct_end_users"] == 2  # eu1, eu2, eu1 and one request without
    assert rows["y"]["inf_distinct_end_users"] == 0  # passes no end-user id


def test_shared_prefix(rows):
    # 10.0.0.0/24 is used by x, y, z on day 2 (3 accounts); 192.0.2.0/24 only by x
    assert rows["x"]["inf_shared_prefix_share"] == pytest.approx(2 / 4)
    assert rows["y"]["inf_shared_prefix_share"] == 1.0


def test_account_age_and_payment(rows):
    # created day 1 at 12:00 -> end of day 2 is 36 h later = 1.5 days
    assert rows["x"]["inf_account_age_days"] == pytest.approx(1.5)
    assert rows["y"]["inf_account_age_days"] is None
    assert rows["x"]["inf_payment_shared_accounts"] == 1  # y shares pm1 on day 2; z uses pm2
    assert rows["z"]["inf_payment_shared_accounts"] == 0


def test_new_model_share(rows):
    # new-m first seen day 2 06:00 -> both new-m requests within 48 h; old-m first seen day 1
    # 00:00 -> the day-2 08:00 and 09:00 requests are 32-33 h after: also within 48 h
    assert rows["x"]["rel_new_model_share"] == 1.0


def test_new_model_share_expires(module_settings):
    s = module_settings
    day3 = "2026-03-06"
    write_day(s, day3, [req("x", ts(day3, 0, 0), model="old-m"), req("x", ts(day3, 7), model="new-m")])
    x = run_day(s, day3)["x"]
    # old-m first seen 2026-03-04 00:00: 48 h later = 03-06 00:00 -> not new; new-m (03-05 06:00) new
    assert x["rel_new_model_share"] == pytest.approx(1 / 2)


def test_lake_written_before_end_user_ids(settings):
    # an older lake file without the end_user_hash column: no end users, the rest unchanged
    rows = [req("o", ts(DAY1, 3), client_ip="10.0.0.1"), req("o", ts(DAY1, 4), client_ip="10.0.0.2")]
    table = pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA).drop_columns(["end_user_hash"])
    write_parquet_atomic(settings.requests_dir / f"date={DAY1}" / "part-0.parquet", table)
    row = run_day(settings, DAY1)["o"]
    assert row["inf_distinct_end_users"] == 0
    assert row["inf_distinct_ips"] == 2 and row["vol_requests"] == 2
