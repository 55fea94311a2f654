"""Sentences for the reason tokens that are not columns: policy markers and analyst actions.

A verdict's ``reasons`` holds three kinds of token: rule names (their words are the rule's
``title`` in ``rules/*.yaml``), feature columns (their words are the column registry's labels,
``detector.columns``) and the tokens below, which the decision policy, the campaign pass, the
gateway's human overrides and the hooks emit. Each has one sentence here, and nowhere else.
``tests/decide/test_reason_tokens.py`` finds every token the code can emit and checks it is here.
"""

from __future__ import annotations

#: token -> (short label, one-sentence explanation). Who emits each token is in the comment.
POLICY_REASONS: dict[str, tuple[str, str]] = {
    # detector/decide/policy.py (explanation_json.sources; never in ``reasons``)
    "model": (
        "Classifier score",
        "The classifier's calibrated score reached the review or block threshold."),
    # detector/decide/policy.py
    "model_block_capped": (
        "Model block capped at review",
        "The classifier alone would have blocked this account, but the block was capped at "
        "review because too few requests (that day, over the last 7 days, or in its cluster) "
        "stood behind the score, because the day's traffic came in one short burst or one "
        "working session that the score did not clear at the stricter bar (such as a "
        "benchmark run), because most of the day's requests continued conversations, or "
        "because the account relays many distinct end users."),
    # detector/decide/reruns.py
    "model_block_rerun": (
        "Model block held at review: a rerun",
        "The classifier alone would have blocked this account, but a quarter or more of the "
        "day's distinct prompts are ones the account already sent in the week before, as an "
        "evaluation harness re-running its benchmark does; a harvester wants answers it does "
        "not have. The explanation gives how many were sent before and on which days."),
    "model_block_thin_evidence": (
        "Model block on few requests, at a stricter bar",
        "Fewer requests than the usual evidence floor stood behind the classifier's score, "
        "but the block stands: the score passed a stricter bar, the day was one-shot "
        "questions with few follow-ups, sent from the account's own networks rather than a "
        "shared one, and spread beyond one burst."),
    "corroborated_block": (
        "Several kinds of evidence agree",
        "Three or more independent kinds of evidence flagged this account on the same day (the "
        "families of the rules that fired, such as harvesting, timing or infrastructure, and "
        "the classifier's own review), each of which alone would only send it to review; with "
        "enough requests behind them, few follow-ups and no relayed end users, the day is "
        "blocked."),
    # detector/decide/relay_streams.py
    "relay_stream_harvest": (
        "Harvesting stream inside a relay",
        "This account relays many end users, so the classifier alone could not block it; but "
        "one stream of its own traffic (one end user, or one request profile), judged on its "
        "own, scored as a block. The explanation names the stream."),
    # detector/decide/relay_end_users.py
    "relay_end_user_harvest": (
        "End users of this relay look like harvesters",
        "This account relays many end users; some of them, each judged on their own traffic "
        "that day, scored as a review, together they sent enough requests and enough of the "
        "relay's day, and their requests differ from the rest of the relay's in how they ask "
        "(chain-of-thought wording, logprobs, reasoning effort, single-turn requests, output "
        "length) or score as a block together. A block when, besides, their traffic taken "
        "together scored as a block while the rest of the relay's day did not, or scored as a "
        "review on a tenth of the day while asking differently. The explanation lists them "
        "(hashed end-user ids) and those differences, so the relay can be asked about those "
        "customers."),
    # detector/decide/relay_profiles.py
    "relay_profile_harvest": (
        "One request profile of this relay asks for reasoning",
        "This account relays many end users; one profile of its requests that day (the same "
        "model, sampling, logprobs, system prompt, output limit and turn count: one script's "
        "requests, whatever end-user ids they carry) asks for step-by-step reasoning where "
        "the rest of the relay's traffic does not, and either scored as a review judged on "
        "its own or held a tenth of the day sent by a few end-user ids (at least twice the "
        "rest's requests per end user: a review, never a block). A block when it scored as a "
        "review, the rest of the relay's day did not, and the profile held a tenth of the "
        "day or scored as a block on its own. The explanation describes the profile, so the "
        "relay can be asked which customer sends it."),
    # detector/decide/near_fleets.py
    "near_fleet": (
        "Fleet sharing a network and a prompt scaffold",
        "This account and two or more others each asked for step-by-step reasoning and long "
        "answers on four requests in five or more, each question once and in a single turn, "
        "and they share an address or a /24 network and the same prompt scaffolding (system "
        "prompt, wrappers), without being linked strongly enough to form a cluster. A block when the group has five accounts or "
        "more, half of them flagged on their own evidence, and none relays end users. The "
        "explanation lists the group."),
    "cluster_escalation": (
        "Cluster mostly flagged",
        "Most accounts of this account's cluster were flagged on the same day (or all were "
        "flagged and a good share blocked on their own evidence, or all of five or more were "
        "flagged by a detection rule), so the rest of the cluster was flagged or blocked with "
        "them."),
    "allowlisted": (
        "Allow-listed",
        "An analyst put this account or its organisation on the allow-list, which overrides "
        "every detection."),
    # detector/decide/returning.py
    "returning_actor": (
        "Linked to a blocked account",
        "This new account shares payment or several other keys with an account blocked "
        "before, so a person should look at it."),
    # detector/clusters/campaigns.py (and "campaign", its signal family in decide/shadow.py)
    "campaign_sweep": (
        "Part of a split topic sweep",
        "This flagged account and others split one sweep of the topic space between them, "
        "more cleanly than chance allows."),
    "campaign": (
        "Part of a campaign",
        "This account belongs to a campaign: flagged accounts that split one topic sweep."),
    # detector/api/overrides.py (analyst decisions as the gateway applies them)
    "analyst:confirm-block": (
        "Analyst confirmed the block",
        "An analyst confirmed the block; it stays until an analyst decides otherwise."),
    "analyst:clear": (
        "Analyst cleared",
        "An analyst cleared this account for the days up to the decision."),
    "analyst:escalate": (
        "Analyst escalated",
        "An analyst escalated this account for a senior reviewer, so it is at least reviewed."),
    "analyst:needs-more-data": (
        "Analyst asked for more data",
        "An analyst asked for more data before deciding; the verdict is unchanged."),
    "previously_cleared": (
        "Cleared before, flagged again",
        "An analyst cleared this account earlier, and a later day was flagged again on new "
        "evidence."),
    # detector/hooks/events.py
    "block_expired": (
        "Block expired",
        "The automatic block ended because the account had no block verdict for the configured "
        "number of verdict days."),
    # detector/decide/review_load.py (a warning kind of `detector run`, not a verdict reason)
    "review_load_jump": (
        "Review load jump",
        "This day sent many more accounts to review than the median of the days before it."),
    # detector/decide/shadow.py (change kinds of `detector model diff` / `rules diff`)
    "newly_flagged": (
        "Newly flagged",
        "The candidate flags an account-day that the active model and rules allow."),
    "cleared": (
        "Cleared by the candidate",
        "The candidate allows an account-day that the active model and rules flag."),
    "escalated": (
        "Escalated to block",
        "The candidate blocks an account-day that the active model and rules only review."),
    "deescalated": (
        "De-escalated to review",
        "The candidate only reviews an account-day that the active model and rules block."),
}

#: Prefix of analyst tokens; an ``analyst:<decision>`` not listed above still reads as words.
ANALYST_PREFIX = "analyst:"


def is_policy(token: str) -> bool:
    """True for a policy or analyst token (not a rule name, not a feature column)."""
    return token in POLICY_REASONS or token.startswith(ANALYST_PREFIX)


def policy_label(token: str) -> str:
    """The short label of a policy or analyst token; raises KeyError naming an unknown one."""
    if token in POLICY_REASONS:
        return POLICY_REASONS[token][0]
    if token.startswith(ANALYST_PREFIX):
        return f"Analyst decision: {token[len(ANALYST_PREFIX):]}"
    raise KeyError(f"reason token {token!r}: not a policy or analyst reason "
                   f"(known: {', '.join(sorted(POLICY_REASONS))})")


def policy_sentence(token: str) -> str:
    """The one-sentence explanation of a policy or analyst token; KeyError for others."""
    if token in POLICY_REASONS:
        return POLICY_REASONS[token][1]
    if token.startswith(ANALYST_PREFIX):
        return f"An analyst recorded the decision {token[len(ANALYST_PREFIX):]!r}."
    raise KeyError(f"reason token {token!r}: not a policy or analyst reason "
                   f"(known: {', '.join(sorted(POLICY_REASONS))})")
