"""The building blocks of the synthetic demo workload: intents with phrasing templates, the
slot fillers the templates draw from, requests that genuinely fit two intents, and
out-of-scope requests.

A template is plain text with ``{slot}`` placeholders; every slot names an entry of
:data:`SLOTS`. The order of :data:`INTENTS` is the popularity rank used by the Zipf-like
sampler (the first intent is the most frequent), interleaved across domains so that no domain
dominates the head of the distribution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracer_stream.demo.intents_finance import FINANCE
from tracer_stream.demo.intents_services import SERVICES

__all__ = [
    "AMBIGUOUS",
    "INTENTS",
    "OUT_OF_SCOPE",
    "OUT_OF_SCOPE_LABEL",
    "SLOTS",
    "Intent",
    "template_slots",
]

OUT_OF_SCOPE_LABEL = "out_of_scope"


@dataclass(frozen=True)
class Intent:
    """One intent: its label, domain, a short description for the prompt, its templates."""

    name: str
    domain: str
    description: str
    templates: tuple[str, ...]


def _interleave(*groups: tuple[Intent, ...]) -> tuple[Intent, ...]:
    out: list[Intent] = []
    for rank in range(max(len(g) for g in groups)):
        out.extend(g[rank] for g in groups if rank < len(g))
    return tuple(out)


INTENTS: tuple[Intent, ...] = _interleave(
    tuple(Intent(n, d, desc, t) for n, d, desc, t in FINANCE),
    tuple(Intent(n, d, desc, t) for n, d, desc, t in SERVICES),
)

AMBIGUOUS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("card_lost", "card_stolen", (
        "my {card} is gone and i think someone may have taken it",
        "i can't find my {card}, maybe it was stolen at {place}",
        "no idea if i dropped my {card} or if it was taken",
    )),
    ("transfer_pending", "transfer_failed", (
        "my transfer to {person} never arrived, did it fail",
        "the {amount} i sent to {person} is nowhere to be seen",
        "what happened to my transfer of {amount} from {date}",
    )),
    ("unrecognized_charge", "charged_twice", (
        "there's a weird extra charge of {amount} from {merchant}",
        "i see one more {merchant} payment than i made",
    )),
    ("refund_status", "return_item", (
        "i sent the {item} back, what happens now",
        "i shipped the {item} back {date}, what's next",
    )),
    ("reset_password", "login_problem", (
        "i can't get into my account, i think i forgot my password",
        "locked out of the app, maybe wrong password",
    )),
    ("card_declined", "cash_withdrawal_issue", (
        "the atm rejected my {card} and i couldn't get any cash",
        "tried to take out {amount} at the atm but my {card} didn't work",
    )),
    ("exchange_rate", "foreign_fee", (
        "why did i get less {currency} than i expected",
        "paying in {currency} cost me more than it should have",
    )),
    ("activate_card", "replace_card", (
        "my new {card} arrived but it doesn't work",
        "the {card} you sent me won't work at all",
    )),
    ("cancel_hotel", "cancel_flight", (
        "cancel my trip to {city2}",
        "i'm not going to {city2} anymore, cancel everything",
    )),
    ("cancel_order", "change_address", (
        "i need to change my order {order_id}",
        "something is wrong with order {order_id}, can you fix it before it ships",
    )),
    ("track_order", "wrong_item", (
        "the package i got isn't my {item}",
        "where is the {item} i actually ordered",
    )),
    ("check_balance", "unrecognized_charge", (
        "my balance looks lower than it should be",
        "why is there less money in my {account} than i expected",
    )),
    ("book_flight", "cancel_flight", (
        "i need to move my flight to {city2} to another day",
        "change my flight to {city2} for {date}",
    )),
    ("update_details", "close_account", (
        "i don't want my {detail} on your system anymore",
        "remove my {detail} and everything else",
    )),
)
"""``(intent_a, intent_b, templates)``: phrasings that fit both intents equally well."""

OUT_OF_SCOPE: tuple[str, ...] = (
    "what's the weather like in {city} {date}",
    "will it rain in {city} this weekend",
    "tell me a joke",
    "tell me a joke about {topic}",
    "how do i make {dish}",
    "give me a recipe for {dish}",
    "who won the {sport} game last night",
    "what's the score of the {sport} match",
    "set an alarm for {time}",
    "remind me to call {person} at {time}",
    "translate '{phrase}' into {language}",
    "how do you say '{phrase}' in {language}",
    "what is the capital of {country}",
    "recommend a good {genre} movie",
    "play some {genre} music",
    "how many calories are in {dish}",
    "what time is it in {city}",
    "how tall is the eiffel tower",
    "what's a good name for a {pet}",
    "how do i get rid of weeds in my garden",
    "who wrote {book}",
    "what is the meaning of life",
    "can you help me with my {topic} homework",
    "how far is the moon",
)
"""Requests the deployment does not serve (label ``out_of_scope``)."""

SLOTS: dict[str, tuple[str, ...]] = {
    "account": ("checking account", "savings account", "current account", "main account",
                "joint account", "business account", "account"),
    "account2": ("savings", "checking account", "other account", "joint account",
                 "holiday pot", "business account"),
    "amount": ("$20", "$45", "50 euros", "£100", "$250", "300 dollars", "1,200 euros",
               "75 pounds", "$9.99", "500", "2000 dollars", "€60"),
    "person": ("my landlord", "my mom", "john", "a friend", "my sister", "maria",
               "the plumber", "my son", "alex", "my business partner", "david"),
    "card": ("card", "debit card", "credit card", "visa", "mastercard", "virtual card",
             "bank card", "amex", "contactless card"),
    "place": ("the supermarket", "a restaurant", "the gym", "the airport", "a bar",
              "the train station", "work", "a taxi", "the mall"),
    "merchant": ("amazon", "uber", "netflix", "starbucks", "a gas station", "spotify",
                 "walmart", "an online shop", "ikea", "the pharmacy", "apple"),
    "date": ("yesterday", "last week", "on monday", "two days ago", "this morning",
             "last friday", "a week ago", "on the 3rd", "tomorrow", "next week"),
    "currency": ("euros", "dollars", "pounds", "yen", "swiss francs", "pesos",
                 "canadian dollars", "rupees"),
    "bill": ("my rent", "the electricity bill", "my gym membership", "my phone bill",
             "the water bill", "my insurance"),
    "city": ("london", "new york", "paris", "berlin", "madrid", "chicago", "boston",
             "rome", "tokyo", "sydney", "toronto", "lisbon"),
    "city2": ("barcelona", "amsterdam", "miami", "dublin", "vienna", "san francisco",
              "prague", "seattle", "athens", "singapore", "denver"),
    "nights": ("two nights", "three nights", "a week", "the weekend", "one night",
               "five nights"),
    "flight": ("ba117", "ua 902", "lh400", "af 1680", "dl 47", "ib3166"),
    "country": ("japan", "brazil", "canada", "india", "australia", "mexico", "turkey",
                "vietnam", "kenya", "the us"),
    "item": ("shoes", "headphones", "jacket", "laptop", "phone case", "coffee maker",
             "dress", "book", "blender", "lamp", "backpack", "watch", "monitor"),
    "order_id": ("#48213", "12-99071", "a7731", "#100452", "55-2841", "#77730", "b1912",
                 "#30018"),
    "email": ("my new email", "a gmail address", "my work email", "a different email"),
    "detail": ("phone number", "home address", "email address", "last name",
               "mailing address", "mobile number"),
    "device": ("phone", "new phone", "laptop", "tablet", "iphone", "android phone"),
    "topic": ("cats", "math", "history", "physics", "chemistry", "dogs", "computers"),
    "dish": ("lasagna", "pancakes", "banana bread", "a curry", "sushi", "guacamole",
             "chocolate cake"),
    "sport": ("football", "basketball", "baseball", "hockey", "tennis", "cricket"),
    "time": ("7am", "6:30", "noon", "9 pm", "half past eight", "tomorrow morning"),
    "phrase": ("good morning", "thank you very much", "where is the station",
               "i love you", "how much is this"),
    "language": ("french", "spanish", "german", "italian", "japanese", "portuguese"),
    "genre": ("comedy", "horror", "jazz", "sci-fi", "rock", "classical", "romantic"),
    "pet": ("dog", "cat", "goldfish", "puppy", "hamster"),
    "book": ("war and peace", "the great gatsby", "pride and prejudice", "dune",
             "the hobbit"),
}
"""Slot name → fillers; a template's ``{slot}`` is replaced by one of them."""

_SLOT = re.compile(r"\{(\w+)\}")


def template_slots(template: str) -> list[str]:
    """The slot names a template uses, in order."""
    return _SLOT.findall(template)
