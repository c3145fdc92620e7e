"""General clinical language the pipeline knows besides the packs' concepts: section headings and ConText
modifiers added to medspaCy's defaults. Family-neutral: no procedure is named here."""

from __future__ import annotations

import re

# Section headings (category, phrases), recognised at the start of a line as "Phrase:", "[Phrase]" or
# "Phrase -".
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("indication", ("indication", "indications", "reason for procedure", "reason for the procedure",
                    "reason for consult", "pre-procedure diagnosis", "preprocedure diagnosis", "preoperative diagnosis",
                    "pre-op diagnosis", "diagnosis", "diagnoses", "clinical indication", "clinical question")),
    ("history", ("history", "history of present illness", "hpi", "pmh", "past medical history",
                 "past surgical history", "hospital course", "background", "subjective")),
    ("procedure", ("procedure", "procedures", "procedure performed", "procedures performed", "procedure details",
                   "procedure detail", "procedure description", "procedure note", "procedure technique",
                   "procedure name", "procedure today", "operation", "today", "this procedure", "this visit",
                   "this encounter", "current procedure", "intervention", "technique", "description",
                   "description of procedure", "description of the procedure", "details", "narrative",
                   "operative note", "operative report")),
    ("findings", ("finding", "findings", "result", "results", "fluid", "output", "drainage", "volume",
                  "volume removed", "specimen", "specimens", "specimens sent", "labs sent", "lab sent")),
    ("complications", ("complication", "complications", "ebl", "estimated blood loss", "adverse event",
                       "adverse events")),
    ("post-procedure", ("post-procedure", "postprocedure", "post procedure", "post-procedure imaging",
                        "post procedure imaging", "post-procedure cxr", "post-procedural", "post-op", "imaging",
                        "disposition", "post-procedure x-ray", "post-procedure film")),
    ("plan", ("plan", "recommendation", "recommendations", "follow-up", "follow up", "followup", "next steps",
              "next step", "assessment and plan", "a/p", "impression and plan")),
    ("impression", ("impression", "assessment", "summary")),
    ("consent", ("consent", "time-out", "timeout", "time out", "anesthesia", "sedation")),
)
# A sentence opening with one of these starts the account of another act in a note documenting several.
SEGMENT_CUE = re.compile(r"[\W_]*(?:first|second|third|initial|1st|2nd|3rd|repeat|another|subsequent|next|"
                         r"then a second|on the (?:right|left)|(?:right|left) side)\b", re.IGNORECASE)

# Sections whose mentions are not the act being documented.
NOT_DONE_SECTIONS = frozenset({"indication", "history", "plan"})
HYPOTHETICAL_SECTIONS = frozenset({"plan"})
HISTORICAL_SECTIONS = frozenset({"history"})

# Times in the past that close their clause ("injected with 40 mg about three months ago"): backward modifiers
# over the whole modifier scope, not the two words before them.
PAST_TIMES = ("last week", "last month", "last year", "days ago", "weeks ago", "months ago", "years ago",
              "at another hospital", "at an outside hospital", "at another facility", "at an outside facility",
              "elsewhere", *(f"in {month}" for month in (
                  "january", "february", "march", "april", "june", "july", "august", "september", "october",
                  "november", "december")))

# ConText modifiers added to medspaCy's defaults: (literal, category, direction). Phrase-matched, lower case.
CONTEXT: tuple[tuple[str, str, str], ...] = (
    *((w, "HYPOTHETICAL", "FORWARD") for w in (
        "plan", "plans", "planned", "planning", "will", "will need", "would", "to be scheduled", "scheduled for",
        "consider", "considering", "recommend", "recommended", "candidate for", "may need", "might need",
        "if needed", "as needed", "prn", "in case", "discussed", "options include", "offered", "refer for",
        "referred for", "to return for", "tomorrow", "talked about", "spoke about", "spoke with", "talked with",
        "talk about", "to talk about", "discuss", "to discuss",
        "option of", "options of", "candidate", "would benefit", "return for")),
    *((w, "HYPOTHETICAL", "BACKWARD") for w in (
        "tomorrow", "next week", "is planned", "was planned", "is scheduled", "if needed", "if it recurs",
        "if reaccumulates", "if it reaccumulates", "as needed", "prn", "to be scheduled", "later this week",
        "if it comes back", "if it recurs", "if recurs", "should it recur", "as an option", "in the future",
        "next week", "in the morning", "if symptoms worsen", "once inr is corrected")),
    *((w, "HISTORICAL", "FORWARD") for w in (
        "s/p", "status post", "previous", "previously", "prior", "history of", "h/o", "hx of", "has had",
        "already has", "already had", "already have", "still has")),
    *((w, "HISTORICAL", "BACKWARD") for w in (
        "yesterday", "in the past", "previously", "earlier this week", "earlier this month", "in the ed",
        "on admission", "at the outside hospital")),
    *((w, "HISTORICAL", "BACKWARD") for w in PAST_TIMES),
    *((w, "FAMILY", "FORWARD") for w in ("mother", "father", "sister", "brother", "family history of")),
    *((w, "NEGATED_EXISTENCE", "BACKWARD") for w in (
        "not used", "was not used", "were not used", "not performed", "was not performed", "not utilized",
        "was not utilized", "not available", "unavailable", "not done", "declined", "deferred", "not needed",
        "was not needed", "not required", "none", "ruled out", "not seen", "not identified", "not visualized",
        "absent", "negative")),
    *((w, "NEGATED_EXISTENCE", "FORWARD") for w in (
        "no", "nothing", "without", "w/o", "not", "never", "nor", "none", "denies", "denied", "negative for", "free of",
        "absence of", "absent", "no evidence of", "no signs of", "lack of", "did not", "didn't", "was not",
        "wasn't", "were not", "weren't", "has not", "have not", "had not", "not been", "rather than",
        "instead of", "ruled out", "declined")),
    *((w, "POSSIBLE_EXISTENCE", "FORWARD") for w in ("possible", "possibly", "question of", "?")),
    *((w, "PSEUDO", "PSEUDO") for w in (
        "prior to", "no change", "not only", "no increase", "previously placed", "no further", "no longer",
        # a device's fate stated as a negation ("nothing left in" is removed): the packs' removal words
        "nothing left", "nothing was left", "nothing remains", "not left", "was not left", "were not left",
        "no catheter left", "no drain left", "no tube left", "no device left", "no hardware left")),
    *((w, "TERMINATE", "TERMINATE") for w in (
        "but", "however", "then", "and then", "which", "after which", "afterwards", "subsequently", "although",
        "so", "patient", "pt", "we", "then we", ";", ",")),
)
