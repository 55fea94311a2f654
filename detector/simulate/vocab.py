"""Vocabularies for the built-in prompt generator (written for this project, no external data).

Plain tuples of words and phrases; :mod:`detector.simulate.prompts` combines them with templates.
The taxonomy (subject -> subtopics) is also what systematic harvesters walk through.
"""

from __future__ import annotations

#: subject -> subtopics. Harvesters and low-and-slow clusters cover this grid systematically.
TAXONOMY: dict[str, tuple[str, ...]] = {
    "algebra": ("linear equations", "quadratic equations", "polynomials", "inequalities",
                "systems of equations", "exponents", "logarithms", "functions", "sequences",
                "matrices", "complex numbers", "factoring"),
    "calculus": ("limits", "derivatives", "the chain rule", "integrals", "integration by parts",
                 "series convergence", "Taylor series", "optimisation problems", "related rates",
                 "differential equations", "multivariable calculus", "the fundamental theorem"),
    "statistics": ("hypothesis testing", "p-values", "confidence intervals", "linear regression",
                   "Bayesian inference", "the central limit theorem", "variance", "sampling bias",
                   "A/B testing", "chi-square tests", "correlation vs causation", "bootstrapping"),
    "physics": ("Newton's laws", "thermodynamics", "electromagnetism", "quantum tunnelling",
                "special relativity", "optics", "fluid dynamics", "entropy", "orbital mechanics",
                "wave interference", "nuclear fission", "semiconductors"),
    "chemistry": ("chemical bonding", "acids and bases", "redox reactions", "organic synthesis",
                  "reaction kinetics", "the periodic table", "stoichiometry", "polymers",
                  "electrochemistry", "chemical equilibrium", "catalysis", "spectroscopy"),
    "biology": ("cell division", "photosynthesis", "DNA replication", "natural selection",
                "the immune system", "enzymes", "ecosystems", "neurons", "protein folding",
                "genetic drift", "mitochondria", "CRISPR"),
    "medicine": ("hypertension", "type 2 diabetes", "antibiotic resistance", "vaccines",
                 "sleep apnea", "migraines", "vitamin D deficiency", "anxiety disorders",
                 "cholesterol", "asthma", "concussions", "iron deficiency"),
    "history": ("the French Revolution", "the Roman Empire", "the Cold War", "the Silk Road",
                "the Industrial Revolution", "the Meiji Restoration", "the Ottoman Empire",
                "World War I", "the Renaissance", "the fall of Constantinople",
                "decolonisation in Africa", "the printing press"),
    "economics": ("inflation", "interest rates", "supply and demand", "game theory",
                  "comparative advantage", "monetary policy", "market failures", "tariffs",
                  "behavioural economics", "GDP measurement", "unemployment", "elasticity"),
    "finance": ("index funds", "compound interest", "bond yields", "options pricing",
                "portfolio diversification", "mortgages", "retirement accounts", "credit scores",
                "discounted cash flow", "venture capital", "hedging", "dividends"),
    "programming": ("recursion", "hash tables", "binary search", "dynamic programming",
                    "graph traversal", "concurrency", "memory management", "unit testing",
                    "design patterns", "regular expressions", "big-O notation", "sorting"),
    "web development": ("REST APIs", "CSS grid", "React hooks", "authentication with JWT",
                        "CORS errors", "server-side rendering", "web sockets", "caching headers",
                        "form validation", "GraphQL", "accessibility", "service workers"),
    "data engineering": ("ETL pipelines", "data lakes", "Parquet files", "Spark joins",
                         "schema evolution", "stream processing", "SQL window functions",
                         "data partitioning", "Airflow DAGs", "deduplication", "CDC", "indexes"),
    "machine learning": ("gradient descent", "overfitting", "decision trees", "transformers",
                         "embeddings", "cross-validation", "feature scaling", "random forests",
                         "attention", "batch normalisation", "reinforcement learning", "dropout"),
    "devops": ("Docker images", "Kubernetes deployments", "CI pipelines", "Terraform modules",
               "load balancers", "TLS certificates", "log aggregation", "blue-green deploys",
               "secrets management", "autoscaling", "DNS", "monitoring alerts"),
    "security": ("SQL injection", "phishing", "password hashing", "two-factor authentication",
                 "XSS", "zero trust", "threat modelling", "ransomware", "OAuth", "firewalls",
                 "public key cryptography", "incident response"),
    "writing": ("cover letters", "persuasive essays", "short stories", "product descriptions",
                "wedding speeches", "press releases", "poems", "blog posts", "thank-you notes",
                "resignation letters", "book reviews", "screenplays"),
    "business": ("marketing plans", "pricing strategy", "OKRs", "hiring interviews",
                 "customer retention", "pitch decks", "supply chains", "negotiation",
                 "competitive analysis", "budgeting", "remote teams", "onboarding"),
    "law": ("tenant rights", "copyright", "employment contracts", "GDPR", "small claims court",
            "wills and trusts", "trademarks", "non-compete clauses", "privacy policies",
            "freelance contracts", "consumer protection", "immigration visas"),
    "philosophy": ("free will", "utilitarianism", "Stoicism", "the trolley problem",
                   "existentialism", "epistemology", "the ship of Theseus", "Kant's ethics",
                   "personal identity", "moral relativism", "the mind-body problem", "Plato's cave"),
    "geography": ("plate tectonics", "monsoons", "river deltas", "urbanisation", "deserts",
                  "glaciers", "population density", "time zones", "coral reefs", "volcanoes",
                  "climate zones", "mountain formation"),
    "cooking": ("sourdough bread", "stir-fry", "meal prep", "knife skills", "fermentation",
                "baking cookies", "vegan protein", "curry", "sous vide", "pasta from scratch",
                "grilling steak", "food storage"),
    "travel": ("packing light", "train travel in Europe", "visa requirements", "jet lag",
               "budget hostels", "travel insurance", "road trips", "solo travel",
               "airport layovers", "hiking trips", "travelling with kids", "local etiquette"),
    "health and fitness": ("strength training", "running a marathon", "stretching", "sleep",
                           "intermittent fasting", "hydration", "posture", "protein intake",
                           "HIIT workouts", "yoga", "recovery days", "calorie counting"),
    "language learning": ("Spanish verb conjugation", "Japanese kanji", "French pronunciation",
                          "German cases", "Mandarin tones", "Italian idioms", "Korean honorifics",
                          "Arabic script", "Portuguese slang", "phrasal verbs", "Russian aspect",
                          "Dutch word order"),
    "psychology": ("cognitive biases", "habit formation", "procrastination", "motivation",
                   "memory", "attachment styles", "burnout", "growth mindset", "impostor syndrome",
                   "emotional intelligence", "decision fatigue", "flow states"),
    "environment": ("carbon capture", "recycling", "renewable energy", "deforestation",
                    "ocean acidification", "heat pumps", "electric vehicles", "composting",
                    "biodiversity loss", "water scarcity", "solar panels", "microplastics"),
    "astronomy": ("black holes", "exoplanets", "the Big Bang", "dark matter", "neutron stars",
                  "the Moon's phases", "solar eclipses", "galaxies", "comets", "Mars missions",
                  "the James Webb telescope", "cosmic microwave background"),
}

SUBJECTS: tuple[str, ...] = tuple(TAXONOMY)

LANGUAGES = ("Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "C++", "Kotlin",
             "Swift", "Ruby", "PHP", "SQL", "Bash", "Scala", "R")
FRAMEWORKS = ("Django", "Flask", "FastAPI", "React", "Vue", "Next.js", "Spring Boot", "Express",
              "pandas", "NumPy", "PyTorch", "Rails", "Laravel", "Angular", "Svelte", "Tokio")
CODE_TASKS = ("read a CSV file", "parse JSON", "reverse a linked list", "debounce a function",
              "connect to PostgreSQL", "retry an HTTP request", "sort a list of dicts by a key",
              "write a decorator", "validate an email address", "paginate API results",
              "upload a file to S3", "handle timeouts", "hash a password", "stream a large file",
              "merge two sorted arrays", "implement an LRU cache", "schedule a cron job",
              "mock a database call in tests", "convert timestamps between time zones",
              "deduplicate rows", "run tasks in parallel", "build a CLI", "log to a file",
              "compute a moving average", "rate-limit requests", "serialise a dataclass")
ERRORS = ("KeyError: 'id'", "TypeError: 'NoneType' object is not subscriptable",
          "undefined is not a function", "segmentation fault", "CORS policy blocked",
          "connection refused", "ModuleNotFoundError", "index out of range",
          "deadlock detected", "permission denied", "null pointer exception",
          "cannot borrow as mutable", "ECONNRESET", "out of memory", "SSL: CERTIFICATE_VERIFY_FAILED")
FIRST_NAMES = ("Maria", "James", "Aisha", "Wei", "Lucas", "Sofia", "Omar", "Emma", "Hiro",
               "Priya", "Noah", "Fatima", "Liam", "Chen", "Olga", "Diego", "Anna", "Kwame",
               "Yuki", "Elena", "Mateo", "Sara", "Ivan", "Zoe", "Ravi", "Ines", "Tom", "Leila")
CITIES = ("Lisbon", "Tokyo", "Nairobi", "Toronto", "Berlin", "Mexico City", "Seoul", "Cairo",
          "Sydney", "Buenos Aires", "Oslo", "Mumbai", "Istanbul", "Chicago", "Hanoi", "Prague")
PRODUCTS = ("wireless earbuds", "running shoes", "a standing desk", "a coffee grinder",
            "a smartwatch", "a yoga mat", "a backpack", "an air fryer", "a phone case",
            "a mechanical keyboard", "a winter jacket", "a blender", "a desk lamp", "sunglasses")
BRANDS = ("Northwind", "Acme Outdoors", "BlueHarbor Bank", "Pixel & Co", "GreenLeaf Grocers",
          "Stellar Telecom", "Urban Nest", "QuickShip", "Maple Insurance", "Helio Fitness",
          "Orbit Airlines", "Cedar Health", "Lumen Energy", "Atlas Books")
ADJECTIVES = ("simple", "detailed", "short", "friendly", "formal", "funny", "clear", "concise",
              "beginner-friendly", "technical", "persuasive", "casual")
AUDIENCES = ("a 10-year-old", "a beginner", "my grandmother", "a senior engineer",
             "a high-school student", "my boss", "a non-technical manager", "a new hire")
OPENERS = ("", "", "", "hey, ", "hi! ", "quick question: ", "ok so ", "Hello, ", "please ",
           "can you help? ", "I need help. ", "So ")
CLOSERS = ("", "", "", " thanks", " Thanks!", " pls", " asap", "?", " :)", " thank you in advance")
FOLLOW_UPS = ("can you make it shorter?", "thanks! what about {sub}?", "why is that?",
              "can you give an example?", "make it more formal", "ok and how does that relate to {sub}?",
              "that doesn't work, I get {err}", "explain the second point again",
              "great, now translate it to {lang}", "can you put that in a table?",
              "is there a simpler way?", "what are the downsides?", "more details please",
              "and for {aud}?", "rewrite it as bullet points")
HUMAN_LANGS = ("Spanish", "French", "German", "Japanese", "Portuguese", "Italian", "Korean",
               "Hindi", "Arabic", "Dutch", "Polish", "Turkish")
REVIEW_BITS = ("the delivery was late", "great quality for the price", "stopped working after a week",
               "customer service was helpful", "exactly as described", "the battery life is awful",
               "would buy again", "packaging was damaged", "fits perfectly", "too expensive",
               "the app keeps crashing", "smells weird", "super comfortable", "instructions unclear")
TICKET_ISSUES = ("where is my order #{num}", "I was charged twice for order #{num}",
                 "how do I reset my password", "can I change my delivery address",
                 "my card was declined", "I want to cancel my subscription",
                 "the item I received is broken", "how do I return {prod}",
                 "is {prod} back in stock", "I never got my refund for #{num}",
                 "can I upgrade my plan", "the promo code {code} does not work")
SELF_INSTRUCT_TASKS = ("question answering", "classification", "rewriting", "brainstorming",
                       "open-ended generation", "summarisation", "extraction", "coding",
                       "maths word problems", "multi-step reasoning", "dialogue", "editing")
DOC_TYPES = ("textbook chapter", "tutorial", "lecture", "FAQ", "study guide", "explainer",
             "worked solution set", "encyclopedia entry", "exam with answers", "deep dive")
