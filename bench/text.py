"""Varied, believable support text for the benchmark data, made fast (millions of messages).

The company of the demo: card readers, terminals and a point-of-sale app for small businesses.
Messages are a greeting, one or two sentences about a topic with its own details (order numbers,
amounts, dates, devices, cities) and sometimes a closing, so that words have a long-tailed
frequency like real mail: a few very common ones, many rare ones, and unique tokens (order
numbers) that a search can find exactly.
"""

from __future__ import annotations

import random

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Carla",
    "Diego",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xin",
    "Yara",
    "Zoe",
    "Amir",
    "Bea",
    "Chen",
    "Dara",
    "Emil",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Marco",
    "Nina",
    "Omar",
    "Priya",
    "Rui",
    "Sofia",
    "Tomas",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zara",
    "Aiko",
    "Bruno",
    "Cleo",
    "Dmitri",
    "Esme",
    "Felix",
    "Gia",
    "Hector",
    "Isla",
    "Jamal",
    "Kenji",
    "Lucia",
    "Mateo",
    "Nadia",
    "Oscar",
    "Paula",
    "Ravi",
    "Selin",
    "Theo",
    "Ursula",
    "Valentina",
    "Wanda",
    "Ximena",
    "Yosef",
    "Zeynep",
]
LAST_NAMES = [
    "Silva",
    "Novak",
    "Haddad",
    "Kim",
    "Okafor",
    "Rossi",
    "Schmidt",
    "Dubois",
    "Tanaka",
    "Garcia",
    "Kowalski",
    "Nguyen",
    "Jensen",
    "Costa",
    "Ivanova",
    "Murphy",
    "Yilmaz",
    "Andersson",
    "Patel",
    "Moreau",
    "Fischer",
    "Santos",
    "Bianchi",
    "Horvat",
    "Lopez",
    "Sato",
    "Mendes",
    "Brown",
    "Weber",
    "Nielsen",
    "Khan",
    "Popescu",
    "Alvarez",
    "Li",
    "Okoro",
    "Larsen",
    "Ferreira",
    "Romano",
    "Wagner",
    "Chopra",
    "Dumont",
    "Ortiz",
    "Berg",
    "Kaur",
    "Svoboda",
    "Petrov",
    "Ahmed",
    "Lindqvist",
    "Moretti",
    "Castillo",
    "Hansen",
    "Ito",
    "Walsh",
    "Reyes",
    "Nakamura",
    "Keller",
    "Fontaine",
    "Shah",
    "Varga",
    "Torres",
]
CITIES = [
    "Lisbon",
    "Porto",
    "Madrid",
    "Austin",
    "Denver",
    "Toronto",
    "Dublin",
    "Berlin",
    "Lyon",
    "Milan",
    "Krakow",
    "Oslo",
    "Seattle",
    "Chicago",
    "Boston",
    "Nairobi",
    "Lagos",
    "Mumbai",
    "Osaka",
    "Sydney",
    "Auckland",
    "Quito",
    "Lima",
    "Bogota",
    "Santiago",
    "Prague",
    "Vienna",
    "Zagreb",
    "Izmir",
    "Leeds",
]
PRODUCTS = (
    "card reader",
    "Mini reader",
    "Terminal X2",
    "receipt printer",
    "cash drawer",
    "POS app",
    "barcode scanner",
    "kitchen display",
    "tap-to-pay",
    "loyalty module",
    "invoice module",
    "online store",
    "payroll add-on",
    "gift cards",
)
TOPICS: dict[str, tuple[str, ...]] = {
    "payouts": (
        "my payout of {amount} has not arrived yet",
        "the payout for {date} is missing from my bank account",
        "why was my deposit of {amount} split in two",
        "can I change the bank account for payouts",
        "the payout report does not match my sales for {date}",
    ),
    "billing": (
        "I was charged {amount} twice this month",
        "please send the invoice {invoice} again",
        "how do I cancel the {product} subscription",
        "the processing fee on order {order} looks wrong",
        "I want a refund for the {product}",
        "can I switch to the yearly plan and keep my discount",
    ),
    "hardware": (
        "the {product} will not turn on after the update",
        "my {product} keeps disconnecting from bluetooth",
        "the {product} shows error {error}",
        "the battery of the {product} drains in two hours",
        "the screen of my {product} is cracked, is it under warranty",
        "the {product} does not read chip cards anymore",
    ),
    "shipping": (
        "where is my order {order}, tracking says {city}",
        "order {order} arrived damaged",
        "I received the wrong {product} in order {order}",
        "can you ship a replacement {product} to {city}",
        "the courier left order {order} at the wrong address",
    ),
    "account": (
        "I cannot log in, the reset link has expired",
        "please add my manager to the account",
        "how do I turn on two-factor authentication",
        "I changed my phone and lost the authenticator codes",
        "the account is locked after too many attempts",
    ),
    "integrations": (
        "the sync with my accounting software stopped on {date}",
        "the API returns {error} when I create an order",
        "webhooks are not reaching my server since {date}",
        "the {product} does not sync stock with the online store",
        "how do I export sales to a spreadsheet",
    ),
}
GREETINGS = ("Hi", "Hello", "Hey", "Good morning", "Good afternoon", "Hi there", "Dear support", "", "", "")
CLOSINGS = (
    "Thanks",
    "Thank you!",
    "Please help asap.",
    "Any update?",
    "Cheers",
    "Regards",
    "This is urgent, my shop opens at 9.",
    "",
    "",
    "",
    "",
)
FOLLOW_UPS = (
    "I tried restarting it twice",
    "this happened yesterday too",
    "my store number is {store}",
    "the customer is still waiting at the counter",
    "I already sent a photo",
    "it worked fine last week",
    "the serial number is {serial}",
    "I am on the {product} since {date}",
    "we have three locations in {city}",
    "still not fixed",
    "ok I will try that",
    "yes that is correct",
    "no, the same error {error} again",
)
AGENT_REPLIES = (
    "Thanks {name}, I have checked order {order} and {fix}.",
    "Sorry for the trouble, {name}. {fix_cap}.",
    "Hi {name}, {fix}. Let me know if anything else comes up.",
    "I have escalated this to our {team} team; {fix}.",
    "Could you send me the serial number of the {product}? Then {fix}.",
    "Good news: {fix}.",
)
FIXES = (
    "the payout was released and should arrive within two business days",
    "a replacement {product} ships today from our {city} warehouse",
    "the duplicate charge of {amount} has been refunded",
    "I reset the login so you can set a new password",
    "the sync was restarted and your {date} sales are now in",
    "the firmware update 4.2 fixes error {error}",
    "your invoice {invoice} is on its way to your email",
    "the subscription is cancelled and no further charges will be made",
)
ASSISTANT_REPLIES = (
    "I can help with that. {fix_cap}. Did that answer your question?",
    "Here is what usually fixes this: restart the {product} and keep it near the phone. Did it work?",
    "I am handing you over to a colleague who can look at order {order}.",
    "Our help article on {topic} explains the steps. Would you like me to connect you with an agent?",
)
TEAMS = ("billing", "hardware", "logistics", "accounts", "integrations")
ERRORS = ("E101", "E204", "E305", "E42", "401", "500", "timeout", "CARD_DECLINED", "SYNC_FAILED")


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Slots(dict[str, str]):
    """The template's placeholders, each made only when the template uses it (this is the hot loop)."""

    def __init__(self, r: random.Random, name: str, topics: tuple[str, ...]) -> None:
        super().__init__(name=name)
        self.r = r
        self.topics = topics

    def __missing__(self, key: str) -> str:
        r = self.r
        if key == "amount":
            value = f"${r.randint(12, 4800)}.{r.randint(0, 99):02d}"
        elif key == "date":
            value = f"{r.randint(1, 28)} {r.choice(MONTHS)}"
        elif key == "invoice":
            value = f"INV-{r.randint(10000, 999999)}"
        elif key == "order":
            value = f"#{r.randint(100000, 9999999)}"
        elif key == "product":
            value = r.choice(PRODUCTS)
        elif key == "city":
            value = r.choice(CITIES)
        elif key == "error":
            value = r.choice(ERRORS)
        elif key == "store":
            value = str(r.randint(100, 99999))
        elif key == "serial":
            value = f"SN{r.randint(10**7, 10**9)}"
        elif key == "team":
            value = r.choice(TEAMS)
        elif key == "topic":
            value = r.choice(self.topics)
        else:
            raise KeyError(key)
        self[key] = value
        return value


class TextMaker:
    """Deterministic given its seed; every call consumes the same random stream."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.topics = tuple(TOPICS)

    def _slots(self, name: str) -> _Slots:
        return _Slots(self.random, name, self.topics)

    def topic(self) -> str:
        return self.random.choice(self.topics)

    def customer_first(self, topic: str, name: str) -> str:
        r = self.random
        slots = self._slots(name)
        greeting = r.choice(GREETINGS)
        body = r.choice(TOPICS[topic]).format_map(slots)
        if r.random() < 0.5:
            body += ", " + r.choice(FOLLOW_UPS).format_map(slots)
        text = f"{greeting}, {body}." if greeting else body[0].upper() + body[1:] + "."
        closing = r.choice(CLOSINGS)
        return f"{text} {closing}" if closing else text

    def customer_follow_up(self, name: str) -> str:
        r = self.random
        text = r.choice(FOLLOW_UPS).format_map(self._slots(name))
        return text[0].upper() + text[1:] + r.choice((".", "!", "?", ".", ""))

    def agent_reply(self, name: str) -> str:
        r = self.random
        slots = self._slots(name)
        fix = r.choice(FIXES).format_map(slots)
        slots["fix"], slots["fix_cap"] = fix, fix[0].upper() + fix[1:]
        return r.choice(AGENT_REPLIES).format_map(slots)

    def assistant_reply(self, name: str) -> str:
        r = self.random
        slots = self._slots(name)
        fix = r.choice(FIXES).format_map(slots)
        slots["fix"], slots["fix_cap"] = fix, fix[0].upper() + fix[1:]
        return r.choice(ASSISTANT_REPLIES).format_map(slots)

    def subject(self, topic: str) -> str:
        text = self.random.choice(TOPICS[topic]).format_map(self._slots(""))
        return text[0].upper() + text[1:80]
