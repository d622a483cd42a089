#!/usr/bin/env python3
"""Makes the NLP example's data: short customer-support tickets in English,
with the typos people make, for a shop selling electronics and home goods.

    python3 examples/nlp/gen_tickets.py            # rewrites data/tickets-2026-11-26.ndjson
    python3 examples/nlp/gen_tickets.py --check    # exit 1 if that file is not what this writes

Standard library only, seeded, so the file comes out byte for byte the same
on any Python 3. `train.py` imports `tickets()` for its labeled training set
(another seed, no typos).

A ticket (one NDJSON line):

    {"id": "T-20261126-0001", "ts": "2026-11-26T08:14:09Z", "channel": "email",
     "customer": {"id": 48213, "tier": "plus", "tenure_months": 14},
     "order": {"id": "A-771204", "total": 129.99, "days_since_order": 6},
     "previous_contacts": 1,
     "subject": "Charged twice", "text": "Hi, I was charged twice for order A-771204 ..."}

Each ticket is written from one of five categories (account, billing,
returns, shipping, technical) and is a priority ticket ("high") or not
("normal"); the generator knows both, the raw file carries neither: the
pipeline's categorize and score steps predict them. The priority depends on
the category, the customer's history and the order (see `_priority`), with
noise, so no model gets all of it.

The raw file also holds two defects real feeds have: one line cut off
mid-record (`weir stage` quarantines it) and one ticket whose `text` is
null (the spellcheck step quarantines it).
"""

import json
import math
import random
import sys
from pathlib import Path

CATEGORIES = ("account", "billing", "returns", "shipping", "technical")
DATA = Path(__file__).resolve().parent / "data" / "tickets-2026-11-26.ndjson"
DAY = "2026-11-26"
RAW_SEED = 20261126
RAW_TICKETS = 400
RAW_TYPO_RATE = 0.12  # of the words of five letters or more

BRAND = "Nuvio"  # the shop's own brand: not an English word (the spellcheck allowlist keeps it)
PRODUCTS = [
    "wireless earbuds", "smart watch", "coffee grinder", "standing desk", "air fryer",
    "laptop stand", "bluetooth speaker", "robot vacuum", "electric kettle", "fitness tracker",
    "office chair", "monitor", "keyboard", "phone case", "backpack", "blender", "desk lamp",
    "webcam", "hair dryer", f"{BRAND} router", f"{BRAND} smart plug",
]
MONTHS = ["September", "October", "November"]
NAMES = ["Anna", "Ben", "Carla", "David", "Emma", "Fatima", "Grace", "Chen", "Ines", "Jonas",
         "Lucas", "Lena", "Marco", "Nadia", "Omar", "Olivia", "Quinn", "Rosa", "Sam", "Ahmed"]

SUBJECTS = {
    "account": ["Cannot log in", "Password reset", "Account locked", "Change my email",
                "Delete my account", "Login problem", "Two factor code"],
    "billing": ["Charged twice", "Wrong invoice", "Refund for duplicate payment",
                "Discount code not applied", "Unexpected charge", "Receipt request"],
    "returns": ["Return request", "Damaged item", "Exchange", "Refund for return",
                "Wrong item received", "Return label"],
    "shipping": ["Where is my order?", "Late delivery", "Wrong address", "Package missing",
                 "Tracking not updating", "Change delivery address"],
    "technical": ["Not working", "Keeps disconnecting", "Battery problem", "App crashes",
                  "Will not turn on", "Firmware update problem"],
}

BODIES = {
    "account": [
        "I cannot log in to my account, the password reset email never arrives.",
        "My account was locked after too many login attempts and I need access today.",
        "How do I change the email address on my account? I no longer use the old one.",
        "Please delete my account and all the personal data you keep about me.",
        "The two factor code is never sent to my phone so I cannot sign in.",
        "I forgot my password and the reset link says it has expired.",
        "Someone changed the password of my account, I did not do this.",
        "I want to update my phone number but the account settings page will not save it.",
    ],
    "billing": [
        "I was charged twice for order {order}. Please refund the duplicate payment.",
        "My invoice for {month} shows {amount} but I was billed {amount2}.",
        "The discount code {code} was not applied at checkout and I paid the full price.",
        "There is a subscription charge on my credit card although I cancelled last month.",
        "Can you send me a receipt for order {order}? I need it for my expense report.",
        "I paid for express delivery on order {order} but the invoice does not show it.",
        "My card was charged {amount} for an order I never placed.",
        "The payment failed but the money was still taken from my bank account.",
    ],
    "returns": [
        "I would like to return the {product}, it is too small. How do I get a return label?",
        "The {product} arrived damaged, the box was crushed and it is broken. I want a replacement.",
        "I sent the {product} back two weeks ago and I am still waiting for the money.",
        "Can I exchange the {product} for a different colour?",
        "The {product} does not match the description, I want to send it back.",
        "I received the wrong item, I ordered a {product} and got a {product2} instead.",
        "The return window says thirty days, can I still return the {product} I bought in {month}?",
        "Please send me a prepaid label so I can return order {order}.",
    ],
    "shipping": [
        "My {product} still has not arrived, tracking has said in transit for {days} days.",
        "The package was delivered to the wrong address, the tracking number is {tracking}.",
        "Order {order} says delivered but there is nothing at my door.",
        "Can I change the delivery address for order {order}? I moved last week.",
        "Delivery was promised for yesterday, when will my {product} arrive?",
        "The tracking page for {tracking} has not updated since Monday.",
        "The courier left my parcel outside in the rain without ringing the bell.",
        "Half of order {order} arrived, the {product} is still missing.",
    ],
    "technical": [
        "The {product} stopped working after the latest firmware update.",
        "My {product} keeps disconnecting from the " + BRAND + " app every few minutes.",
        "The battery of my {product} is empty after two hours of use.",
        f"The {BRAND} app crashes whenever I open the settings screen on my phone.",
        "My {product} will not turn on even after charging it overnight.",
        "The {product} makes a loud noise and then switches itself off.",
        "I cannot pair the {product} with my laptop, it is not found by bluetooth.",
        "Since yesterday the {product} shows an error light and does nothing.",
    ],
}
OPENERS = ["Hi,", "Hello,", "Hi there,", "Good morning,", "Dear support team,", "", "", "Hey,"]
CLOSERS = ["Thanks.", "Thank you!", "Please help.", "This is very frustrating.",
           "Any help would be appreciated.", "", "Regards, {name}", "Kind regards, {name}",
           "This is the third time I am writing about this!", "I need this fixed as soon as possible."]

# Misspellings people actually make, used before random slips of the keyboard.
COMMON_MISSPELLINGS = {
    "received": "recieved", "receive": "recieve", "address": "adress", "until": "untill",
    "payment": "paymnet", "package": "pakage", "password": "pasword", "account": "acount",
    "delivered": "deliverd", "because": "becuase", "which": "wich", "charged": "chraged",
    "working": "workign", "replacement": "replacment", "subscription": "subscripton",
    "tracking": "trackng", "arrived": "arived", "please": "pleae", "thanks": "thnaks",
    "still": "stil", "yesterday": "yesturday", "weeks": "weks", "broken": "borken",
    "invoice": "invocie", "different": "diffrent", "description": "descripton",
    "appreciated": "apreciated", "frustrating": "frustating", "battery": "batery",
    "delivery": "delivry", "would": "woudl", "their": "thier", "never": "nevr",
}
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours(c):
    for row in KEYBOARD:
        i = row.find(c)
        if i >= 0:
            return row[max(i - 1, 0):i] + row[i + 1:i + 2]
    return c


def _misspell(word, rng):
    """One typo in `word` (kept in its case): a known misspelling or one slip."""
    lower = word.lower()
    if lower in COMMON_MISSPELLINGS and rng.random() < 0.6:
        typo = COMMON_MISSPELLINGS[lower]
    else:
        i = rng.randrange(1, len(lower))  # people rarely get the first letter wrong
        kind = rng.choice(("delete", "swap", "double", "neighbour"))
        if kind == "delete":
            typo = lower[:i] + lower[i + 1:]
        elif kind == "swap" and i < len(lower) - 1:
            typo = lower[:i] + lower[i + 1] + lower[i] + lower[i + 2:]
        elif kind == "double":
            typo = lower[:i] + lower[i] + lower[i:]
        else:
            typo = lower[:i] + rng.choice(_neighbours(lower[i])) + lower[i + 1:]
    return typo.capitalize() if word[:1].isupper() else typo


def _with_typos(text, rng, rate):
    """`text` with about `rate` of its words of five or more letters misspelt."""
    out = []
    for token in text.split(" "):
        core = token.rstrip(".,!?")
        if len(core) >= 5 and core.isalpha() and core != BRAND and rng.random() < rate:
            token = _misspell(core, rng) + token[len(core):]
        out.append(token)
    return " ".join(out)


def _priority(category, previous_contacts, total, days_since_order, tenure_months, rng):
    """Whether a ticket is "high" priority: a noisy logistic of its features."""
    z = (-3.6 + {"account": 0.9, "billing": 1.1, "returns": -0.4, "shipping": 0.2,
                 "technical": 0.0}[category]
         + 0.7 * previous_contacts + 0.004 * total + 0.03 * days_since_order
         - 0.015 * tenure_months)
    return "high" if rng.random() < 1 / (1 + math.exp(-z)) else "normal"


def tickets(seed, n, *, typo_rate=0.0, day=DAY):
    """`n` tickets as dicts, each with its true `category` and `priority`."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        category = rng.choice(CATEGORIES)
        product, product2 = (_with_typos(p, rng, typo_rate) for p in rng.sample(PRODUCTS, 2))
        order_id = f"A-{rng.randrange(100000, 1000000)}"
        amount = rng.randrange(500, 90000) / 100
        slots = {
            "product": product, "product2": product2, "order": order_id,
            "month": rng.choice(MONTHS), "amount": f"${amount:.2f}",
            "amount2": f"${amount + rng.randrange(100, 5000) / 100:.2f}",
            "code": f"SAVE{rng.choice((10, 15, 20, 25))}", "days": rng.randrange(3, 15),
            "tracking": f"1Z{rng.randrange(10**9, 10**10)}", "name": rng.choice(NAMES),
        }
        opener, message = rng.choice(OPENERS), rng.choice(BODIES[category])
        if opener.endswith(",") and not message.startswith("I "):
            message = message[0].lower() + message[1:]  # "Hi, the ..."
        # Typos go into the words of the template, not into the names,
        # numbers and codes filled in after.
        body = " ".join(p for p in (opener, message, rng.choice(CLOSERS)) if p)
        body = _with_typos(body, rng, typo_rate).format(**slots)
        subject = _with_typos(rng.choice(SUBJECTS[category]), rng, typo_rate / 2)
        tenure_months = rng.randrange(0, 97)
        previous_contacts = min(int(rng.expovariate(1.2)), 6)
        days_since_order = rng.randrange(0, 61)
        seconds = rng.randrange(86400)
        out.append({
            "id": None,  # numbered in time order below
            "ts": f"{day}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z",
            "channel": rng.choice(("email", "email", "chat", "web")),
            "customer": {"id": rng.randrange(10000, 100000),
                         "tier": rng.choice(("free", "plus", "plus", "business")),
                         "tenure_months": tenure_months},
            "order": {"id": order_id, "total": amount, "days_since_order": days_since_order},
            "previous_contacts": previous_contacts,
            "subject": subject,
            "text": body,
            "category": category,
            "priority": _priority(category, previous_contacts, amount, days_since_order,
                                  tenure_months, rng),
        })
    out.sort(key=lambda t: t["ts"])
    for i, ticket in enumerate(out):
        ticket["id"] = f"T-{day.replace('-', '')}-{i + 1:04d}"
    return out


def raw_lines():
    """The raw interval: tickets without their labels, plus the two defects."""
    lines = []
    for i, ticket in enumerate(tickets(RAW_SEED, RAW_TICKETS, typo_rate=RAW_TYPO_RATE)):
        del ticket["category"], ticket["priority"]
        if i == 137:
            ticket["text"] = None  # a web form that lost the message
        lines.append(json.dumps(ticket))
    lines.insert(251, lines[251][:97])  # an upload cut off mid-record
    return "".join(line + "\n" for line in lines)


def main(argv):
    text = raw_lines()
    if argv[1:] == ["--check"]:
        if DATA.read_text() != text:
            sys.exit(f"{DATA} is not what gen_tickets.py writes: run it and commit the result")
        return
    if argv[1:]:
        sys.exit(__doc__.split("\n\n")[1])
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(text)
    print(f"wrote {DATA} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main(sys.argv)
