"""Per-account-day behaviour features (``features/daily``; ``window=True``: also ``w7_<name>``
in ``features/weekly``). The formulas are in :mod:`detector.features.catalog`."""

from __future__ import annotations

from detector.columns.model import Column

FLOAT, INT = "float64", "int64"
HIGHER, LOWER = "higher", "lower"


def _c(name: str, dtype: str, unit: str, direction: str | None, label: str, meaning: str,
       why: str, *, window: bool = False, volume: bool = False) -> Column:
    return Column(name, name.split("_", 1)[0], dtype, unit, direction, label, meaning, why,
                  window=window, volume=volume)


VOLUME = [
    _c("vol_requests", INT, "requests", None, "Requests",
       "Requests the account sent that day.",
       "Harvesting a training set takes many requests; most people send a handful.",
       window=True, volume=True),
    _c("vol_input_tokens", INT, "tokens", None, "Prompt tokens",
       "Sum of usage.prompt_tokens (missing counted as 0).",
       "Large prompt volume marks bulk jobs.", window=True, volume=True),
    _c("vol_output_tokens", INT, "tokens", HIGHER, "Output tokens",
       "Sum of usage.completion_tokens (missing counted as 0).",
       "Output tokens are what a distiller takes away; they dominate its bill.",
       window=True, volume=True),
    _c("vol_active_hours", INT, "hours", HIGHER, "Active hours",
       "Distinct UTC clock hours with at least one request (0-24; the 7-day window sums the "
       "daily values, 0-168).",
       "Pipelines run around the clock; people are active a few hours a day.",
       window=True, volume=True),
    _c("vol_peak_rpm", INT, "requests/minute", HIGHER, "Peak requests per minute",
       "Most requests in any single UTC clock minute (7-day window: the largest daily peak).",
       "Parallel harvesting workers produce minute peaks no human typing reaches.",
       window=True, volume=True),
    _c("vol_top_model_share", FLOAT, "fraction", HIGHER, "Share on the busiest model",
       "Share of the day's requests on the account's busiest model.",
       "Distillers target one teacher model; exploratory users spread."),
    _c("vol_distinct_models", INT, "models", None, "Distinct models",
       "Distinct models requested that day.", "Context for vol_top_model_share."),
    Column("w7_days_active", "vol", INT, "days", None, "Days active in the 7 days",
           "Days with traffic among the 7 days ending on the day (0-7).",
           "Context for every w7_ column: how many days the window sums."),
]

TIMING = [
    _c("tim_hour_entropy", FLOAT, "bits (0-4.585)", HIGHER, "Hour-of-day entropy",
       "Shannon entropy of the hour-of-day (UTC) histogram of requests.",
       "Flat, 24-hour activity (high entropy) is machine-driven; human activity clusters.",
       window=True, volume=True),
    _c("tim_busy_window_hours", INT, "hours (1-24)", HIGHER, "Hours holding 90% of the day",
       "Length of the shortest run of consecutive UTC clock hours (circular: a run may cross "
       "midnight UTC) that holds at least 90% of the day's requests, from the hour-of-day "
       "histogram (requests at 10:59 and 11:00 are two hours; under 10 requests, every "
       "request). 1-24.",
       "One sitting (a benchmark run, a batch) fits in a few consecutive hours even when it "
       "trickles on; a working day of separate sessions spreads over many, even when its "
       "hour-of-day entropy is as low as a sitting's.", volume=True),
    _c("tim_interarrival_cv", FLOAT, "ratio", None, "Variation of the gaps between requests",
       "Coefficient of variation (population std / mean) of the gaps in seconds between "
       "consecutive requests within the UTC day; null under 3 requests. 7-day window pools the "
       "daily gaps (overnight gaps excluded).",
       "Schedulers produce very regular (CV << 1) or very bursty (CV >> 1) arrivals; "
       "interactive use is in between.", window=True),
    _c("tim_burstiness", FLOAT, "-1..1", LOWER, "Burstiness",
       "Goh-Barabasi burstiness (cv - 1) / (cv + 1) of the inter-arrival gaps: -1 periodic, "
       "0 Poisson, +1 bursty.",
       "Same signal as the CV on a bounded scale, easier for thresholds.", window=True),
    _c("tim_periodicity", FLOAT, "fraction", HIGHER, "Evenly spaced requests",
       "Share of consecutive gap pairs (both >= 1 s) that differ by at most 10% of the larger "
       "gap.", "A fixed-rate loop (sleep N; request) makes nearly every gap pair agree.",
       window=True),
    _c("tim_night_share", FLOAT, "fraction", HIGHER, "Requests in the account's night",
       "Share of requests in the account's apparent night: the quietest 6-hour circular window "
       "of its hour-of-day histogram (method: slide a 6-hour window round the 24 UTC hours, "
       "take the minimum; that window is assumed to be local 00:00-06:00). About 0 for people, "
       "about 0.25 for flat 24-hour activity.",
       "People sleep; pipelines do not, whatever timezone they are in.", window=True),
    _c("tim_apparent_utc_offset", FLOAT, "hours (-11..12)", None, "Apparent UTC offset",
       "Apparent UTC offset of the account: the offset that puts the quietest 6-hour window at "
       "local 00:00-06:00. Meaningless for flat activity (high tim_night_share).",
       "Context for analysts (where an operation runs), and for comparing accounts of a "
       "cluster."),
    _c("tim_round_robin_evenness", FLOAT, "index 0-1", HIGHER, "Evenness of traffic over API keys",
       "How evenly the day's requests spread over the account's API keys: normalised entropy "
       "of the per-key counts (1 = perfectly even; null with fewer than 2 keys).",
       "Harvesters rotate keys round-robin to dodge per-key limits, which makes the split "
       "unnaturally even."),
]

DIVERSITY = [
    _c("div_distinct_prompt_ratio", FLOAT, "fraction", HIGHER, "Distinct prompts per request",
       "Distinct prompt_hash / requests.",
       "Dataset harvesting rarely repeats a prompt (ratio ~1); apps and retries repeat."),
    _c("div_template_reuse", FLOAT, "fraction", HIGHER, "Template reuse",
       "Probability that two of the account's sampled distinct prompts share a masked "
       "template (pairs sharing one / all pairs, over the day's fixed-size prompt sample; null "
       "under 2 sampled prompts). A template is the first 300 characters with quoted text, "
       "capitalised words (names) and numbers masked, lower-cased, whitespace collapsed. An "
       "unbiased pair estimate on a fixed sample, so it does not grow with the account's "
       "volume (a share of repeated templates over all requests does: diverse questions "
       "collide on short templates).",
       "Generated prompt sets fill one template with many values: distinct prompts, few "
       "templates."),
    _c("div_top_template_share", FLOAT, "fraction", HIGHER, "Share of the busiest template",
       "Share of the sampled distinct prompts using the sample's most frequent masked template "
       "(null under 2 sampled prompts).",
       "A single template driving most traffic is a generator."),
    _c("div_multiturn_share", FLOAT, "fraction", LOWER, "Multi-turn requests",
       "Share of requests with more than one user turn.",
       "Harvesting is single-shot Q&A; real chat is multi-turn.", window=True),
    _c("div_system_share", FLOAT, "fraction", None, "Requests with a system prompt",
       "Share of requests carrying a system prompt.",
       "Context for div_system_distinct_ratio.", window=True),
    _c("div_system_distinct_ratio", FLOAT, "fraction", HIGHER, "Distinct system prompts per use",
       "Distinct system prompts / requests that carry one; null if none.",
       "Persona sweeps (many system prompts) are a data-generation trick; apps use one."),
    _c("div_near_dup_rate", FLOAT, "fraction", HIGHER, "Near-duplicate prompts",
       "Share of sampled distinct prompts with a near-duplicate (another sampled prompt of the "
       "same account-day whose character 4-gram MinHash, 32 one-permutation bins in 8 bands of "
       "4, collides in a band). Sample: up to 32 distinct prompts per account-day (smallest "
       "prompt_hash first), first 512 bytes. Bound: a pair of Jaccard similarity s is caught "
       "with probability 1-(1-s^4)^8 (s=0.8: 0.98, s=0.5: 0.41, s=0.3: 0.06); the sample rate "
       "estimate has standard error <= 0.5/sqrt(32) = 0.09 of the account-day's true rate.",
       "Paraphrase and template generation produce many near-identical distinct prompts."),
    _c("div_char_ngram_entropy", FLOAT, "bits", LOWER, "Character variety of prompts",
       "Shannon entropy of the character 4-gram (UTF-8 byte) distribution on a fixed budget: "
       "the first 64 4-grams of each of the first 16 sampled distinct prompts (smallest "
       "prompt_hash first). Null when the account-day has fewer than 16 distinct prompts. The "
       "fixed budget makes it independent of volume and prompt length (at most log2(1024) = 10 "
       "bits).", "Templated prompts reuse the same character sequences: low entropy."),
    _c("div_word_ngram_entropy", FLOAT, "bits", None, "Word variety of prompts",
       "Shannon entropy of the word (lower-cased, alphanumeric runs) distribution on a fixed "
       "budget: the first 16 words of each of the first 16 sampled distinct prompts; null below "
       "16 distinct prompts (at most log2(256) = 8 bits).",
       "Same as the character entropy at the word level: narrow vocabularies mark templates."),
]

HARVESTING = [
    _c("hv_logprobs_share", FLOAT, "fraction", HIGHER, "Requests asking for logprobs",
       "Share of requests asking for logprobs or top_logprobs > 0.",
       "Token probabilities are soft labels for distillation; few applications need them.",
       window=True),
    _c("hv_top_logprobs_mean", FLOAT, "alternatives", HIGHER, "Alternatives per token requested",
       "Mean top_logprobs requested (missing = 0).",
       "Asking for the maximum alternatives per token harvests the full distribution.",
       window=True),
    _c("hv_n_gt1_share", FLOAT, "fraction", HIGHER, "Requests for several completions",
       "Share of requests with n > 1 completions.",
       "Several samples per prompt build preference / rejection-sampling data.", window=True),
    _c("hv_completions_per_request", FLOAT, "completions", HIGHER, "Completions per request",
       "Mean completions requested (n, default 1).",
       "Context for hv_n_gt1_share: how many samples per prompt.", window=True),
    _c("hv_max_tokens_mean", FLOAT, "tokens", HIGHER, "Mean max_tokens",
       "Mean max_tokens over requests that set it; null if none did.",
       "Harvesters ask for long outputs to capture whole reasoning traces.", window=True),
    _c("hv_max_tokens_high_share", FLOAT, "fraction", HIGHER, "Requests with max_tokens >= 4096",
       "Share of requests with max_tokens >= 4096.",
       "Same as above, robust to a few outliers.", window=True),
    _c("hv_output_input_ratio", FLOAT, "tokens/token", HIGHER, "Output tokens per input token",
       "Completion tokens / prompt tokens.",
       "Distillers send short prompts and take long answers.", window=True),
    _c("hv_length_finish_share", FLOAT, "fraction", HIGHER, "Answers cut at the length limit",
       "Share of responses with a finish_reason that stopped at the length limit; null if no "
       "finish_reason.", "Pushing every answer to the token limit harvests maximal output.",
       window=True),
    _c("hv_temperature_distinct", INT, "values", HIGHER, "Distinct temperatures",
       "Distinct temperature values used that day.",
       "Temperature sweeps sample the teacher's distribution systematically.", volume=True),
    _c("hv_temperature_range", FLOAT, "temperature units", HIGHER, "Temperature range",
       "max - min temperature; null if none set.",
       "Same signal as the distinct count, on a scale."),
    _c("hv_high_effort_share", FLOAT, "fraction", HIGHER, "Requests at high reasoning effort",
       "Share of requests with reasoning_effort high (or xhigh / max).",
       "Maximal reasoning effort yields the longest traces to copy.", window=True),
    _c("hv_reasoning_token_share", FLOAT, "fraction", HIGHER, "Reasoning share of output tokens",
       "usage.reasoning_tokens / completion tokens; null without completion tokens.",
       "Reasoning-heavy answers are the prized data.", window=True),
    _c("hv_cot_lexicon_share", FLOAT, "fraction", HIGHER, "Prompts asking for the reasoning",
       "Share of prompts containing a chain-of-thought elicitation phrase from "
       "rules/lexicons/cot_phrases.txt (case-insensitive substring).",
       "Asking the model to expose its reasoning is how reasoning traces are harvested.",
       window=True),
    _c("hv_cot_classifier_share", FLOAT, "fraction", HIGHER,
       "Prompts eliciting the reasoning (classifier)",
       "Share of sampled distinct prompts (up to 32 per account-day, as div_near_dup_rate) "
       "that the packaged chain-of-thought elicitation classifier (hashing vectoriser + "
       "logistic regression, trained on the project's generated examples) scores >= 0.5. "
       "Standard error <= 0.09.",
       "Catches paraphrased elicitation that the fixed lexicon misses."),
]

INFRASTRUCTURE = [
    _c("inf_distinct_ips", INT, "addresses", HIGHER, "Distinct client addresses",
       "Distinct client IPs that day.", "Harvesters spread over proxies and cloud workers.",
       volume=True),
    _c("inf_distinct_prefixes", INT, "prefixes", HIGHER, "Distinct network prefixes",
       "Distinct network prefixes (/24 IPv4, /48 IPv6).",
       "Many prefixes for one account is a proxy pool.", volume=True),
    _c("inf_shared_prefix_share", FLOAT, "fraction", HIGHER, "Requests from shared networks",
       "Share of requests from prefixes used by at least 3 accounts that day (heuristic for "
       "cloud / NAT egress rather than residential lines, which few accounts share).",
       "Harvesting runs on cloud workers shared by many (often sock-puppet) accounts.",
       window=True),
    _c("inf_distinct_user_agents", INT, "user agents", HIGHER, "Distinct user agents",
       "Distinct User-Agent strings that day.", "Rotating user agents is an evasion tactic.",
       volume=True),
    _c("inf_script_ua_share", FLOAT, "fraction", HIGHER, "Requests from scripting libraries",
       "Share of requests whose User-Agent is a generic scripting HTTP library "
       "(rules/lexicons/script_user_agents.txt).",
       "Bulk jobs use raw HTTP clients; heuristic only, many back-ends do too.", window=True),
    _c("inf_distinct_api_keys", INT, "keys", HIGHER, "Distinct API keys",
       "Distinct API keys used that day.", "Key rotation spreads rate limits.", volume=True),
    _c("inf_distinct_end_users", INT, "end users", None, "Distinct end users passed",
       "Distinct end-user ids the account passed for its own users that day (request.user or "
       "safety_identifier, hashed at ingest); 0 when it passes none.",
       "Separates relays and platforms (many identified end users behind one account, a "
       "business to review with, not to cut off on a model score) from a single operator; a "
       "harvester rarely bothers to invent end users.", volume=True),
    _c("inf_account_age_days", FLOAT, "days", LOWER, "Account age",
       "Days from account_created_at to the end (24:00 UTC) of the day; null if unknown.",
       "Sock-puppet accounts are created shortly before heavy use."),
    _c("inf_payment_shared_accounts", INT, "accounts", HIGHER, "Accounts sharing the payment",
       "Other accounts active that day with the same payment fingerprint (0 when none or "
       "unknown).", "One payer behind many accounts is an operation splitting its volume."),
]

RELEASE = [
    _c("rel_new_model_share", FLOAT, "fraction", HIGHER, "Requests on a newly released model",
       "Share of requests on a model within 48 h of that model's first appearance anywhere in "
       "the lake.", "Distillers rush to harvest a new model as soon as it ships.", window=True),
]

#: Columns of ``features/daily`` in stored order (``w7_days_active`` is weekly only).
DAILY: list[Column] = [c for c in VOLUME + TIMING + DIVERSITY + HARVESTING + INFRASTRUCTURE
                       + RELEASE if c.name != "w7_days_active"]
ALL: list[Column] = VOLUME + TIMING + DIVERSITY + HARVESTING + INFRASTRUCTURE + RELEASE
