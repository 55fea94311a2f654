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
# # 03 · Retrain and evaluate the classifier
#
# The classifier (calibrated gradient boosting over account-day features) learns from labels.
# This notebook:
#
# 1. gathers labels: analysts' confirm-block / clear decisions and explicit labels from the case
#    store, on top of generated truth when the traffic is simulated (analyst labels win);
# 2. trains a candidate with `train_model` (validation on held-out *accounts*, review and block
#    thresholds chosen there for target benign false-positive rates);
# 3. shows its model card;
# 4. compares it with the active model on the same held-out accounts;
# 5. saves it to the home's model registry **without activating it**.

# %% tags=["parameters"]
REVIEW_FPR = 0.01  # target benign false-positive rate of the review threshold
BLOCK_FPR = 0.001  # ... and of the block threshold
MAX_ITER = 60  # boosting iterations (the default model uses more; kept small to run fast)
SAVE = None  # save the candidate to the registry; None = only in the notebooks' scratch home

# %%
import matplotlib.pyplot as plt
import pandas as pd
from _setup import demo_home
from IPython.display import Markdown, display
from sklearn.metrics import precision_recall_curve

from detector import explore
from detector.cases import CaseStore
from detector.model import ModelRegistry, load_active_model
from detector.model.card import card_markdown
from detector.model.dataset import labelled_frame
from detector.model.train import split_by_account, train_model
from detector.verdicts import load_verdicts

home = demo_home()
settings = home.settings
truth = home.truth()
print(f"home: {settings.home}  days: {home.dates}  truth: {home.truth_path}")

# %% [markdown]
# ## 1. Labels from the case store
#
# In production the labels are the analysts' work: every `confirm-block` decision is a
# positive, every `clear` a negative. In the notebooks' scratch home nobody has reviewed
# anything yet, so an "analyst" works through the top of the review queue first, using the
# simulator's truth as their judgement (a stand-in for real review). On a real home nothing is
# written here.

# %%
cases = CaseStore(settings)
if home.scratch and truth is not None and cases.labels().empty:
    queue = load_verdicts(settings, home.dates[-1])
    queue = queue[queue["decision"] != "allow"].head(25)
    for account in queue["account_id"]:
        is_distiller = truth["accounts"].get(account, {}).get("is_distiller", False)
        cases.record_decision(account, "confirm-block" if is_distiller else "clear",
                              analyst="notebook-03", date=home.dates[-1],
                              note="demo review using simulator truth")
    quiet = load_verdicts(settings, home.dates[-1])
    for account in quiet[quiet["decision"] == "allow"]["account_id"].tail(10):
        cases.add_label(account, bool(truth["accounts"].get(account, {}).get("is_distiller")),
                        source="notebook-03", created_by="notebook-03")
analyst = cases.labels()
print(f"{len(analyst)} analyst labels "
      f"({int(analyst['is_distiller'].sum()) if len(analyst) else 0} positive)")
analyst.head()

# %% [markdown]
# `labelled_frame` joins the labels onto the stored account-day features (the same
# `account_features` view scoring reads). Rows without any label are dropped.

# %%
if truth is None and analyst.empty:
    raise RuntimeError("no labels: set DETECTOR_TRUTH or record analyst decisions first")
frame = labelled_frame(settings, home.dates, truth)
print(f"{len(frame)} labelled account-days, {frame['account_id'].nunique()} accounts, "
      f"{int(frame['is_distiller'].sum())} positive account-days")
frame.groupby("is_distiller").size().rename("account-days").to_frame()

# %% [markdown]
# ## 2. Train a candidate

# %%
model, card = train_model(frame, review_fpr=REVIEW_FPR, block_fpr=BLOCK_FPR,
                          model_params={"max_iter": MAX_ITER},
                          description=f"notebook 03 on {settings.home.name}: {home.dates}")
print(f"{len(card['features'])} features; thresholds {card['thresholds']}")

# %% [markdown]
# ## 3. Model card
#
# The JSON card is the source of truth (stored next to the model); this is its Markdown view.

# %%
display(Markdown(card_markdown(card)))

# %%
reliability = pd.DataFrame(card["validation"]["reliability"])
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
ax.scatter(reliability["mean_predicted"], reliability["observed_rate"],
           s=10 + reliability["n"], alpha=0.7)
ax.set_xlabel("mean predicted probability")
ax.set_ylabel("observed share of distillers")
ax.set_title("calibration on validation accounts")
plt.show()

# %% [markdown]
# ## 4. Compare with the active model
#
# Both models score the account-days of the candidate's validation accounts (the same
# account-grouped split `train_model` used), each at its own card's thresholds. When the active
# model was trained on this very home (the notebooks' fallback model), these accounts were in
# its training data and its figures are optimistic.

# %%
active, active_card = load_active_model(settings)
print("active:", active_card.get("version"), "-",
      active_card.get("training_data", {}).get("description"))
_, val_idx = split_by_account(frame, validation_share=0.3, seed=0)
validation = frame.iloc[val_idx]
comparison = explore.model_comparison(validation, {"active": (active, active_card),
                                                   "candidate": (model, card)})
comparison

# %%
fig, ax = plt.subplots(figsize=(5, 4))
y = validation["is_distiller"].to_numpy()
for name, m in (("active", active), ("candidate", model)):
    precision, recall, _ = precision_recall_curve(y, m.predict_proba(validation)[:, 1])
    ax.plot(recall, precision, label=name)
ax.set_xlabel("recall")
ax.set_ylabel("precision")
ax.set_title("validation account-days")
ax.legend()
plt.show()

# %% [markdown]
# Where the two models disagree most (validation account-days):

# %%
diff = validation[["account_id", "date", "is_distiller"]].copy()
diff["active"] = active.predict_proba(validation)[:, 1]
diff["candidate"] = model.predict_proba(validation)[:, 1]
diff["gap"] = (diff["candidate"] - diff["active"]).abs()
diff.sort_values("gap", ascending=False).head(10).round(3)

# %% [markdown]
# ## 5. Save (not activate)
#
# Activation changes every later verdict, so it is a separate, deliberate step:
# `detector model activate VERSION` after reviewing the card.

# %%
save = home.scratch if SAVE is None else SAVE
if save:
    version = ModelRegistry(settings).save(model, card, activate=False)
    print("saved", version)
pd.DataFrame(ModelRegistry(settings).list())
