"""Demo data: a believable support team with two months of cross-channel history.

The company sells card readers, terminals and a point-of-sale app to small businesses, so
customers write about payouts, plans, shipping, hardware, passwords and integrations.

Configuration (teams, accounts, inboxes, articles, canned responses, SLA policies, rules) is
created with the ORM. Everything that happens in a conversation goes through
``conversations.services`` with the clock moved back by ``time_machine``, so the event trail,
the denormalized fields and the analytics agree with the messages. The assistant has no
service yet: its messages and handoffs are written here the way its service will write them.

``seed_demo()`` is idempotent (the business hours named ``DEMO_MARKER`` mark a seeded
database) and deterministic apart from the accounts' random passwords, which are written to
``VAR_DIR/demo-logins.txt``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import itertools
import os
import random
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from analytics import recorder as analytics_recorder
from analytics.models import CSATResponse
from conversations import realtime, services, sla
from conversations.models import (
    AgentProfile,
    AssignmentStrategy,
    AssistantMode,
    Availability,
    BusinessHours,
    CannedResponse,
    ChannelKind,
    Contact,
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventKind,
    Handler,
    IdentityKind,
    Inbox,
    Message,
    Notification,
    NotificationKind,
    Priority,
    SenderKind,
    SLAPolicy,
    Status,
    Tag,
    Team,
)
from routing.models import KnowledgeArticle, MatchMode, RoutingRule

DEMO_MARKER = "Office hours (demo)"
LOGIN_FILE_NAME = "demo-logins.txt"
RANDOM_SEED = 20_240_611
HISTORY_DAYS = 60
CONTACT_COUNT = 200
ARCHIVE_AFTER_DAYS = 7
NOTIFY_WITHIN = timedelta(days=3)

# --- The company ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AccountSpec:
    username: str
    first_name: str
    last_name: str
    teams: tuple[str, ...]
    availability: str
    capacity: int
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    channels: tuple[str, ...] = ()
    is_supervisor: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


SUPERVISOR = AccountSpec(
    "supervisor",
    "Sam",
    "Okafor",
    ("Support", "Sales", "Billing"),
    Availability.ONLINE,
    10,
    skills=("escalations", "billing", "technical"),
    languages=("en",),
    is_supervisor=True,
)
AGENTS = (
    AccountSpec(
        "sarah",
        "Sarah",
        "Chen",
        ("Support",),
        Availability.ONLINE,
        6,
        skills=("technical", "hardware", "integrations"),
        languages=("en", "zh"),
        channels=("webchat", "email", "api"),
    ),
    AccountSpec(
        "james",
        "James",
        "O'Connor",
        ("Support",),
        Availability.BUSY,
        5,
        skills=("technical", "integrations", "api"),
        channels=("webchat", "sms", "whatsapp", "api"),
    ),
    AccountSpec(
        "priya",
        "Priya",
        "Raman",
        ("Support", "Billing"),
        Availability.ONLINE,
        6,
        skills=("billing", "technical"),
        languages=("en", "hi"),
        channels=("email", "sms", "webchat"),
    ),
    AccountSpec(
        "diego",
        "Diego",
        "Alvarez",
        ("Support",),
        Availability.ONLINE,
        5,
        skills=("hardware", "shipping"),
        languages=("en", "es"),
        channels=("whatsapp", "sms", "voice", "webchat"),
    ),
    AccountSpec(
        "emma",
        "Emma",
        "Lindqvist",
        ("Sales",),
        Availability.ONLINE,
        8,
        skills=("sales", "onboarding"),
        languages=("en", "sv"),
        channels=("webchat", "whatsapp", "voice"),
    ),
    AccountSpec(
        "tom",
        "Tom",
        "Becker",
        ("Sales",),
        Availability.OFFLINE,
        8,
        skills=("sales", "enterprise"),
        languages=("en", "de"),
        channels=("voice", "email"),
    ),
    AccountSpec(
        "aisha",
        "Aisha",
        "Bello",
        ("Billing",),
        Availability.ONLINE,
        6,
        skills=("billing", "disputes"),
        languages=("en", "fr"),
        channels=("email", "sms"),
    ),
    AccountSpec(
        "liam",
        "Liam",
        "Walsh",
        ("Billing",),
        Availability.OFFLINE,
        5,
        skills=("billing", "payouts"),
        channels=("email", "whatsapp"),
    ),
)
ACCOUNTS = (SUPERVISOR, *AGENTS)

TEAMS: tuple[tuple[str, str, str, int | None], ...] = (
    ("Support", "Hardware, the app, logins and integrations.", AssignmentStrategy.CAPACITY, 30),
    ("Sales", "New merchants, upgrades and multi-location deals.", AssignmentStrategy.ROUND_ROBIN, None),
    ("Billing", "Invoices, plan charges, payouts, refunds and disputes.", AssignmentStrategy.SKILL, 60),
)


@dataclasses.dataclass(frozen=True)
class InboxSpec:
    key: str
    name: str
    kind: str
    team: str
    members: tuple[str, ...]
    sla: str
    weight: int
    assistant_enabled: bool = True
    assistant_mode: str = AssistantMode.AUTO_REPLY
    pending_after_minutes: int = 60

    @property
    def style(self) -> str:
        return {"webchat": "chat", "api": "chat", "whatsapp": "chat", "sms": "sms"}.get(self.kind, self.kind)

    @property
    def assistant_answers(self) -> bool:
        return self.assistant_enabled and self.assistant_mode == AssistantMode.AUTO_REPLY


INBOXES = (
    InboxSpec(
        "webchat", "Website chat", "webchat", "Support", ("sarah", "james", "diego", "emma", "priya"), "Live chat", 27
    ),
    InboxSpec(
        "sms", "SMS line", "sms", "Support", ("james", "diego", "priya", "aisha", "emma"), "Standard support", 16
    ),
    InboxSpec("whatsapp", "WhatsApp", "whatsapp", "Support", ("james", "diego", "emma", "liam"), "Live chat", 14),
    InboxSpec(
        "email",
        "Support email",
        "email",
        "Support",
        ("sarah", "priya", "james", "aisha", "tom"),
        "Standard support",
        15,
        pending_after_minutes=240,
    ),
    InboxSpec(
        "billing_email",
        "Billing email",
        "email",
        "Billing",
        ("aisha", "liam", "priya"),
        "Standard support",
        8,
        assistant_mode=AssistantMode.DRAFT,
        pending_after_minutes=240,
    ),
    InboxSpec(
        "voice",
        "Phone line",
        "voice",
        "Support",
        ("diego", "tom", "sarah", "emma"),
        "Standard support",
        7,
        assistant_enabled=False,
    ),
    InboxSpec("api", "Mobile app", "api", "Support", ("sarah", "james"), "Live chat", 8),
)

SUPPORT_NUMBERS = {"sms": "+14155550100", "whatsapp": "+14155550101", "voice": "+14155550102"}
HANDOFF_KEYWORDS = ["urgent", "refund", "cancel my subscription", "chargeback", "fraud", "agent"]

TAGS: dict[str, str] = {
    "2fa": "#0e7490",
    "api": "#334155",
    "billing": "#ca8a04",
    "bug": "#e11d48",
    "cancellation": "#dc2626",
    "chargeback": "#be123c",
    "damaged": "#ef4444",
    "double-charge": "#f43f5e",
    "feature-request": "#a855f7",
    "hardware": "#7c3aed",
    "hot-lead": "#f97316",
    "integration": "#4f46e5",
    "invoice": "#eab308",
    "lead": "#fb923c",
    "login": "#0891b2",
    "offline-mode": "#0d9488",
    "outage": "#b91c1c",
    "payouts": "#15803d",
    "privacy": "#6b7280",
    "quickbooks": "#2ca01c",
    "refund": "#d97706",
    "replacement": "#8b5cf6",
    "reports": "#475569",
    "security": "#9f1239",
    "shipping": "#2563eb",
    "shopify": "#65a30d",
    "spanish": "#c2410c",
    "staff": "#0284c7",
    "supplies": "#64748b",
    "tax": "#a16207",
    "tips": "#14b8a6",
    "upgrade": "#10b981",
    "vip": "#b45309",
}

# --- Help centre ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ArticleSpec:
    key: str
    title: str
    topic: str
    keywords: str
    body: str


ARTICLES = (
    ArticleSpec(
        "password",
        "Resetting your password",
        "technical",
        "password, reset, forgot, login, sign in, locked out",
        """If you've forgotten your password, go to the sign-in page of the dashboard or the Register app and tap
"Forgot password?". Enter the email address on your account and we'll send you a reset link. The link works once
and expires after 1 hour.

Didn't get the email? Check your spam or promotions folder, and make sure you typed the address you signed up
with (it's often a work address). Reset emails come from no-reply@{domain}.

After 5 wrong passwords in a row your account is locked for 30 minutes to protect it. Resetting your password
unlocks it straight away.

Staff members who sign in with a passcode on the Register app can't reset it themselves: the account owner can
set a new passcode under Staff → Team members.""",
    ),
    ArticleSpec(
        "2fa",
        "Two-step verification: new phone or lost codes",
        "technical",
        "2fa, two-step, verification code, authenticator, new phone, backup codes",
        """Two-step verification asks for a 6-digit code whenever you sign in on a new device. Codes come by text
message or from an authenticator app.

Changing phones? Before you reset your old phone, sign in on the dashboard, go to Settings → Security →
Two-step verification and choose "Change phone number" or "Move to a new authenticator".

Lost your phone? Sign in with one of the 10 backup codes you saved when you turned verification on. Each code
works once.

No phone and no backup codes? Contact us. For your security, a member of our team has to verify your identity
(we'll ask about your account and your payout bank account) before we can turn verification off. The assistant
can't do this for you.""",
    ),
    ArticleSpec(
        "plans",
        "Comparing plans: Starter, Growth and Pro",
        "sales",
        "plans, pricing, starter, growth, pro, compare, price, cost, monthly fee",
        """Starter is free: you pay only card fees (2.6% + 10¢ in person, 2.9% + 30¢ online and 3.5% + 15¢ for
keyed-in cards). It includes the Register app, one location, and next-business-day payouts.

Growth is $29 a month per location and adds inventory tracking, unlimited staff accounts with roles, tips and
service charges, and the QuickBooks, Xero and Shopify integrations.

Pro is $79 a month per location and adds multi-location reporting, advanced permissions, custom receipts, the
API with higher rate limits and same-day payouts (1% of the payout).

Card fees are the same on every plan. Businesses with 2 or more locations, or over $250,000 a year in card sales,
can ask our sales team about volume pricing.""",
    ),
    ArticleSpec(
        "change-plan",
        "Changing or cancelling your plan",
        "billing",
        "upgrade, downgrade, cancel, cancel my subscription, close account, change plan",
        """Account owners can change plans in the dashboard under Settings → Billing → Plan. Upgrades start
immediately and you're charged the difference for the rest of the month. Downgrades take effect at the start of
your next billing period.

To cancel a paid plan, choose "Cancel plan". You'll keep your features until the end of the period you've paid
for, then move to Starter. To close your account entirely, contact our billing team: we'll make sure your last
payout has arrived first.

Your sales history stays available for 7 years after you close your account, and you can export it at any time
from Reports.""",
    ),
    ArticleSpec(
        "invoice",
        "Understanding your monthly invoice",
        "billing",
        "invoice, receipt, vat, tax id, statement, charge, subscription fee",
        """Your subscription invoice is issued on the 1st of each month and charged to the card under Settings →
Billing. It lists your plan for each location, any hardware bought on account, and taxes.

Card processing fees are not on the invoice: they're taken from each payout, and listed per payment in Reports
→ Fees.

Need your VAT or tax ID on invoices? Add it under Settings → Billing → Tax ID. New invoices include it; our
billing team can reissue earlier invoices on request. Download any invoice as a PDF from Settings → Billing →
Invoices.""",
    ),
    ArticleSpec(
        "billing-card",
        "Updating the card we charge for your plan",
        "billing",
        "card declined, payment failed, update card, billing card, expired card",
        """If your plan payment fails, we'll email the account owner and try again after 3 and 7 days. Your
account keeps working in the meantime.

To update the card, go to Settings → Billing → Payment method and choose "Replace card". We'll retry the
outstanding invoice straight away. We can't take a different card over chat, email or the phone.""",
    ),
    ArticleSpec(
        "refund-customer",
        "Refunding a customer's payment",
        "billing",
        "refund customer, return, refund sale, partial refund, reverse payment",
        """To refund a sale, open it in the Register app or dashboard (Transactions), tap "Refund" and choose the
items or amount. Refunds go back to the card the customer paid with and usually appear on their statement in
5-10 business days.

You can refund a payment up to 120 days after the sale. Card fees on the original payment aren't returned. If
your balance doesn't cover a refund, it's taken from your next payout.

Owners can stop staff from issuing refunds under Staff → Roles, or require a manager PIN for refunds under
Settings → Security.""",
    ),
    ArticleSpec(
        "hardware-returns",
        "Hardware returns and our 30-day guarantee",
        "billing",
        "return, refund hardware, rma, send back, 30 day, money back, warranty",
        """Not happy with your hardware? Return it within 30 days of delivery for a full refund, even if you've
used it. Ask us for a prepaid return label, pack the device with its cable, and drop it off with UPS. We refund
the card you paid with within 3 business days of receiving it.

All hardware has a 12-month warranty (24 months in the EU and UK). If a device stops working during the
warranty, we'll send you a replacement first, so you're never without a way to take payments, and include a
label to return the faulty one.""",
    ),
    ArticleSpec(
        "shipping",
        "Shipping times and tracking your hardware order",
        "general",
        "shipping, delivery, tracking, order status, where is my order, ups, courier, late",
        """Orders placed before 2pm ET on a business day ship the same day. Standard shipping (free) takes 3-5
business days; express (2 business days) and overnight are available at checkout.

You'll get an email with a UPS tracking number when your order ships, and you can see the status of every
order in the dashboard under Hardware → Orders.

Tracking not updating for more than 2 business days? Let us know: we'll chase the carrier and, if needed, send a
replacement by overnight shipping.""",
    ),
    ArticleSpec(
        "damaged",
        "Damaged or missing items in your delivery",
        "general",
        "damaged, broken, cracked, missing item, wrong item, arrived broken",
        """We're sorry! Send us a photo of the damaged item and the box within 14 days of delivery and we'll ship a
replacement by express at no cost. You don't need to wait for the damaged item to come back to us.

Missing an item? Large orders sometimes ship in more than one box, each with its own tracking number: check
Hardware → Orders for every parcel before contacting us.""",
    ),
    ArticleSpec(
        "payouts",
        "When will I get paid? The payout schedule",
        "billing",
        "payout, deposit, paid, bank, when do i get my money, transfer, settlement",
        """Payouts are sent every business day. Card sales up to 11:59pm ET arrive in your bank account the next
business day. Sales on Friday, Saturday and Sunday are paid out on Monday (Tuesday after a bank holiday).

On Pro, same-day payouts are available for a 1% fee: tap "Pay out now" in the dashboard before 6pm ET.

Some banks take an extra day to show a deposit. If a payout hasn't arrived 2 business days after its date,
contact our billing team with the payout date and amount.""",
    ),
    ArticleSpec(
        "bank-account",
        "Changing the bank account for payouts",
        "billing",
        "bank account, change bank, routing number, payout account, new bank",
        """Account owners can change the payout bank account in the dashboard under Settings → Payouts → Bank
account. You'll need the routing and account numbers.

For your security, payouts are held for 3 business days after a change and we email you to confirm it was you.
If someone gets into your account, this hold stops them redirecting your money. Our billing team can release the
hold early after confirming the change with you by phone.""",
    ),
    ArticleSpec(
        "reader-bluetooth",
        "Pocket reader won't connect: Bluetooth troubleshooting",
        "technical",
        "reader, bluetooth, pairing, connect, blinking, connection failed, pocket reader",
        """A blinking blue light means the reader is waiting to pair. To connect it:

1. Make sure the reader is charged (at least 20%) and the Register app is up to date.
2. In the app go to Settings → Hardware → Card readers → Connect a reader.
3. Hold the reader's power button for 2 seconds.

Still failing? Forget the reader in your phone's Bluetooth settings, restart the phone, and try again. Readers
can only be paired with one device at a time, so unpair it from any other phone or tablet first.

A solid red light means the reader needs charging; a flashing red light means it needs a firmware update: keep it
next to your phone with the app open until the update completes.""",
    ),
    ArticleSpec(
        "terminal-network",
        "Countertop terminal: Wi-Fi and Ethernet setup",
        "technical",
        "terminal, wifi, ethernet, network, offline, e41, connection error",
        """The Countertop terminal connects by Wi-Fi or by the Ethernet port on its dock. Ethernet is the most
reliable option for busy counters.

To change networks, swipe down from the top of the terminal and tap Settings → Network. Error E41 means the
terminal can't reach our servers: check that other devices on the network are online, then restart your router
and the terminal.

Guest networks and networks that need a sign-in page don't work. If your network blocks outgoing traffic, allow
port 443 to *.{domain}.""",
    ),
    ArticleSpec(
        "printer",
        "Receipt printer not printing",
        "technical",
        "printer, receipt, not printing, paper, jam, receipt printer",
        """Check the basics first: the green light is on, there's paper in the printer (shiny side facing down),
and the lid is fully closed.

In the Register app go to Settings → Hardware → Printers and tap "Print test receipt". If the printer isn't
listed, connect it again with the USB cable or over the same Wi-Fi network as the app.

Paper jams: turn the printer off, open the lid, remove the roll and any torn paper, then reload. Use 80mm thermal
rolls; thicker paper causes jams.""",
    ),
    ArticleSpec(
        "offline",
        "Taking payments offline",
        "technical",
        "offline, no internet, signal, offline mode, market, festival",
        """If your internet drops, the Register app switches to offline mode and keeps taking card payments. They're
stored securely on the device and processed when you're back online, for up to 72 hours.

Offline payments can't be checked with the customer's bank at the time of sale, so a few may be declined later;
you can set a maximum offline amount per payment under Settings → Checkout → Offline payments.

Don't log out of the app or delete it while offline payments are waiting: you'll see a counter at the top of the
Transactions screen until they've all been sent.""",
    ),
    ArticleSpec(
        "quickbooks",
        "Connecting QuickBooks Online",
        "technical",
        "quickbooks, accounting, sync, integration, token expired, bookkeeping",
        """On Growth and Pro you can send your daily sales, fees, refunds and payouts to QuickBooks Online. Go to
Settings → Integrations → QuickBooks Online, choose "Connect" and sign in to QuickBooks.

Sales sync every night at 2am ET. If you see "token expired", QuickBooks has ended the connection (it does this
every 100 days): choose "Reconnect". Days that failed to sync are retried automatically within 24 hours; our
support team can retry them sooner.

Map your accounts once under Settings → Integrations → QuickBooks → Account mapping so fees and tips land in the
right ledgers.""",
    ),
    ArticleSpec(
        "shopify",
        "Syncing your Shopify store",
        "technical",
        "shopify, online store, inventory sync, products, duplicates, ecommerce",
        """Connect Shopify under Settings → Integrations → Shopify to share one product catalogue and inventory
between your shop and your online store.

The first sync matches products by SKU. Products without a SKU are imported as new items, which can create
duplicates: add SKUs in Shopify first, or merge duplicates afterwards under Items → Duplicates.

Inventory updates both ways within a minute. Prices are taken from whichever system you choose as the source of
truth in the integration settings.""",
    ),
    ArticleSpec(
        "api",
        "Automating with the API, webhooks and Zapier",
        "technical",
        "api, developer, webhook, zapier, rate limit, 429, token, integration",
        """Developers can use the REST API to read payments, items, customers and payouts, and subscribe to
webhooks for new payments and refunds. Create API keys under Settings → Developers.

Rate limits: 100 requests per second per account (25 per second for list endpoints). A 429 response includes a
Retry-After header with the number of seconds to wait. Use the updated_since filter for incremental syncs.

No code? Our Zapier app connects to 5,000+ apps: for example, add every new customer to Mailchimp or post big
sales to Slack.""",
    ),
    ArticleSpec(
        "staff",
        "Adding staff accounts and permissions",
        "general",
        "staff, employee, permissions, roles, passcode, manager, access",
        """Owners can add staff under Staff → Team members. Each person gets their own 4-digit passcode for the
Register app, so you can see who made every sale.

Roles decide what staff can do: take keyed-in payments, issue refunds, give discounts, open the cash drawer,
change the plan, or see reports. Edit roles under Staff → Roles. On Pro you can also require a manager PIN for
refunds and discounts.""",
    ),
    ArticleSpec(
        "tips",
        "Setting up tips and service charges",
        "general",
        "tips, tipping, gratuity, service charge, tip screen",
        """Turn on tips in the Register app under Settings → Checkout → Tips. Choose up to three presets (as
percentages or amounts) and whether customers can enter a custom tip. The tip screen appears on the Countertop
terminal, or on your phone for the Pocket reader, before the customer pays.

Tips are paid out with your sales. Reports → Tips shows tips per staff member for payroll.

Service charges (for example for large tables) are set up under Items → Service charges and can be added
automatically above a number of guests.""",
    ),
    ArticleSpec(
        "disputes",
        "Disputes and chargebacks: what to do",
        "billing",
        "dispute, chargeback, fraud, evidence, bank reversed, cardholder",
        """A dispute (chargeback) happens when a cardholder asks their bank to reverse a payment. We'll email you
and hold the amount from your balance while the dispute is open.

Respond from the dashboard under Transactions → Disputes within 7 days. Upload whatever shows the customer got
what they paid for: an itemised receipt, delivery confirmation, photos, messages with the customer, your refund
policy.

The bank decides, usually within 60-75 days. If you win, the money is returned to your balance. There's no fee
for disputes you win.""",
    ),
    ArticleSpec(
        "tax",
        "Sales tax settings",
        "billing",
        "sales tax, tax rate, vat, tax exempt, tax included",
        """Set up your tax rates under Settings → Taxes. You can add several rates (for example city and state) and
choose which items each applies to.

Choose whether prices include tax or tax is added at checkout. Changing this doesn't change past sales. Reports
→ Taxes shows tax collected per rate, ready for your return.""",
    ),
    ArticleSpec(
        "reports",
        "Exporting your sales reports",
        "general",
        "reports, export, csv, excel, sales report, accountant, download",
        """Every report in the dashboard can be exported: choose the date range and tap Export → CSV or Excel.
Exports of more than 12 months are emailed to you when they're ready.

Give your accountant their own login with the Accountant role: they can see and export reports but can't take
payments or change settings.""",
    ),
)

# --- Canned responses ------------------------------------------------------------------------

CANNED: tuple[tuple[str, str, str | None, str], ...] = (
    (
        "greeting",
        "Greeting",
        None,
        "Hi {{customer_name}}, this is {{agent_name}} from {{company_name}}. Thanks for getting in touch, "
        "how can I help today?",
    ),
    (
        "closing",
        "Closing",
        None,
        "Glad we could sort that out, {{customer_name}}! If anything else comes up, just reply here. "
        "Have a great day. {{agent_name}}",
    ),
    (
        "more-info",
        "Ask for details",
        None,
        "Thanks {{customer_name}}. So I can look into this, could you send me the serial number on the back of the "
        "device (it starts with PR- or CT-) and roughly when the problem started?",
    ),
    (
        "callback",
        "Book a call",
        None,
        "Hi {{customer_name}}, I've booked a call for {{date}} at {{time}}. {{agent_name}} will call you on the "
        "number on your account. Reply here if that time doesn't suit.",
    ),
    (
        "password-reset",
        "Password reset steps",
        "Support",
        'Hi {{customer_name}}, you can reset your password from the sign-in page: tap "Forgot password?" and '
        "enter the email address on your account. The link is valid for 1 hour. Let me know if it doesn't arrive!",
    ),
    (
        "2fa-reset-done",
        "Two-step verification turned off",
        "Support",
        "Thanks for confirming, {{customer_name}}. I've turned off two-step verification on your account: sign "
        "in with your password and you'll be asked to set it up again. Please save your backup codes this time.",
    ),
    (
        "replacement-sent",
        "Replacement on its way",
        "Support",
        "Hi {{customer_name}}, a replacement is on its way by express shipping at no cost (sent {{date}}). "
        "You'll get a prepaid label by email to return the faulty device whenever it suits you. {{agent_name}}",
    ),
    (
        "shipping-delay",
        "Shipping delay",
        "Support",
        "Sorry for the wait, {{customer_name}}. I've chased the carrier and I'll update you by {{time}} today. "
        "If it still hasn't moved, we'll send a replacement overnight.",
    ),
    (
        "payout-timing",
        "Payout timing",
        "Billing",
        "Hi {{customer_name}}, payouts are sent every business day: sales up to 11:59pm ET arrive the next "
        "business day, and weekend sales arrive on Monday. Some banks take one more day to show the deposit.",
    ),
    (
        "refund-processed",
        "Refund processed",
        "Billing",
        "Hi {{customer_name}}, I've processed your refund today ({{date}}). It usually shows on your statement "
        "within 5-10 business days. {{agent_name}}, {{company_name}} Billing",
    ),
    (
        "plan-upgrade",
        "Upgrade offer",
        "Sales",
        "Hi {{customer_name}}, {{agent_name}} from {{company_name}} sales here. I'd love to show you what Pro "
        "would do for your business. Are you free for 15 minutes on {{date}} at {{time}}?",
    ),
    (
        "escalated",
        "Escalated to engineering",
        "Support",
        "Thanks for your patience, {{customer_name}}. I've passed this to our engineering team with everything "
        "you've sent. I'll update you as soon as I hear back, by {{date}} at the latest.",
    ),
)

# --- Conversation scripts --------------------------------------------------------------------
#
# A script is what happens in one conversation, in order. The builder decides when it
# happens and how far it has got (an active conversation stops mid-script; a resolved one is
# played to the end and closed). Texts use {placeholders} filled per conversation; a tuple
# of texts is a choice of wordings.

CUSTOMER = "customer"
ASSISTANT = "assistant"
HANDOFF = "handoff"
ASSIGN = "assign"
TAKE_OVER = "take_over"
REPLY = "reply"
NOTE = "note"
TAG = "tag"
PRIORITY = "priority"

Text = str | tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Step:
    kind: str
    text: Text = ""
    confidence: float | None = None
    reason: str = ""
    article: str = ""
    tags: tuple[str, ...] = ()
    priority: str = ""
    attachment: str = ""


def customer(text: Text, *, attachment: str = "") -> Step:
    return Step(CUSTOMER, text, attachment=attachment)


def assistant(text: Text, confidence: float, article: str = "") -> Step:
    return Step(ASSISTANT, text, confidence=confidence, article=article)


def handoff(reason: str, text: Text) -> Step:
    """The assistant hands the conversation to a person and tells the customer so."""
    return Step(HANDOFF, text, reason=reason)


def assign() -> Step:
    return Step(ASSIGN)


def take_over() -> Step:
    return Step(TAKE_OVER)


def reply(text: Text) -> Step:
    return Step(REPLY, text)


def note(text: Text) -> Step:
    return Step(NOTE, text)


def tag(*names: str) -> Step:
    return Step(TAG, tags=names)


def reprioritize(priority: str, reason: str) -> Step:
    return Step(PRIORITY, priority=priority, reason=reason)


@dataclasses.dataclass(frozen=True)
class Script:
    key: str
    style: str  # chat, sms, email or voice
    team: str
    topic: str
    tags: tuple[str, ...]
    priority: str
    steps: tuple[Step, ...]
    summary: str = ""
    subject: str = ""
    language: str = "en"
    follow_up: bool = False  # only played as the second part of a cross-channel story
    priority_reason: str = ""

    @property
    def uses_assistant(self) -> bool:
        return any(step.kind in (ASSISTANT, HANDOFF, TAKE_OVER) for step in self.steps)


SCRIPTS: tuple[Script, ...] = (
    # --- Web chat, in-app chat and WhatsApp -----------------------------------------------------
    Script(
        "chat-password",
        "chat",
        "Support",
        "technical",
        ("login",),
        "normal",
        (
            customer(
                (
                    "hi, I can't log in to the dashboard, it says my password is wrong but I'm sure it's right",
                    "cant log in. password not working and i havent changed it??",
                    "Hello, I'm locked out of my account. I think I forgot my password",
                )
            ),
            assistant(
                'Sorry about that! You can reset it from the sign-in page: click "Forgot password?", enter the '
                "email address on your account and we'll send a link that's valid for 1 hour. If it doesn't "
                "arrive within a few minutes, check your spam folder.",
                0.88,
                "password",
            ),
            customer(
                ("ok got the email. done, I'm in. thanks!", "that worked, thank you", "found it in spam lol. in now")
            ),
            assistant("Great, glad you're back in! Anything else I can help with?", 0.93),
        ),
    ),
    Script(
        "chat-2fa",
        "chat",
        "Support",
        "technical",
        ("login", "2fa"),
        "high",
        (
            customer(
                "Got a new phone and now the app keeps asking for a verification code that goes to my old number. "
                "I don't have the old SIM anymore"
            ),
            assistant(
                "If you can still sign in on another device, go to Settings → Security → Two-step verification "
                'and choose "Change phone number". If you can\'t sign in anywhere, use one of the backup codes you '
                "saved when you turned verification on.",
                0.61,
                "2fa",
            ),
            customer(
                "I don't have backup codes and I'm not logged in anywhere. I need to take payments in like an hour"
            ),
            handoff(
                "security",
                "For your security I can't turn off two-step verification from here, so I'm passing you to a "
                "member of our team who can verify your identity. They'll reply right here.",
            ),
            assign(),
            reply(
                "Hi {first}, {agent} here, I can help with that. To confirm it's you, can you tell me the last 4 "
                "digits of the bank account your payouts go to, and the email address on the account?"
            ),
            customer("{last4}, and it's {email}"),
            note("Verified with payout account last 4 + account email. Turned off 2FA, customer to re-enrol."),
            reply(
                "Thanks, that all matches. I've turned off two-step verification: sign in with your password and "
                "you'll be asked to set it up again with your new number. Please save the backup codes this time!"
            ),
            customer(("Worked. You're a lifesaver", "in!! thank you so much", "All good now, thanks {agent}")),
            reply("Happy to help, {first}. Good luck with the rush!"),
        ),
        summary=(
            "{first} changed phones and is locked out by two-step verification: codes go to the old number and "
            "there are no backup codes. Needs to take payments within the hour. Identity check needed before a reset."
        ),
        priority_reason="Locked out and needs to take payments within the hour",
    ),
    Script(
        "chat-reader-pairing",
        "chat",
        "Support",
        "technical",
        ("hardware",),
        "high",
        (
            customer(
                (
                    "my pocket reader wont connect to the ipad. blue light just blinks",
                    "Reader isn't pairing with my phone, light keeps flashing blue",
                )
            ),
            assistant(
                "A blinking blue light means the reader is waiting to pair. Try this: 1) turn Bluetooth off and on, "
                "2) in the Register app go to Settings → Hardware → Card readers → Connect a reader, 3) hold the "
                "reader's power button for 2 seconds. Does it show up in the list?",
                0.82,
                "reader-bluetooth",
            ),
            customer("it shows up but then says connection failed"),
            assistant(
                "Sorry, that's frustrating. Please make sure the Register app is up to date and the reader is "
                "charged above 20%. You can also forget the reader in your Bluetooth settings and pair it again.",
                0.44,
                "reader-bluetooth",
            ),
            customer(("done all that twice. can i talk to an actual person please", "still nothing. human please")),
            handoff(
                "customer_asked",
                "Of course, I'm bringing in someone from our support team. They can see everything we've tried.",
            ),
            assign(),
            reply(
                "Hi {first}, I'm {agent}. Thanks for trying those steps already. Could you tell me the reader's "
                "serial number (on the back, starts with PR-) and which device you're pairing it with?"
            ),
            customer(("{serial}. ipad 9th gen", "{serial}, it's an iPhone 12")),
            note("Serial is in the batch with the 2.4.1 pairing bug (eng ticket HW-312). Pushing firmware manually."),
            reply(
                "Thanks! That reader needs a firmware update that isn't installing by itself. I've pushed it from "
                "our side: plug the reader into power for 5 minutes, then try pairing again."
            ),
            customer(("omg it connected. thank you!!", "Connected first time. Thanks {agent}")),
            reply("Brilliant! If it drops again, just reply here and we'll pick it straight up."),
        ),
        summary=(
            "Pocket reader blinks blue and fails to pair. Customer already tried restarting Bluetooth, updating "
            "the app, charging and re-pairing. Asked for a person."
        ),
    ),
    Script(
        "chat-plan-compare",
        "chat",
        "Sales",
        "sales",
        ("upgrade",),
        "normal",
        (
            customer(
                (
                    "Hi! I'm opening a second location in the spring. What's the difference between Growth and Pro?",
                    "We're about to open a 2nd shop. Which plan do we need for two locations?",
                )
            ),
            assistant(
                "Congratulations on the new location! Growth ($29/month per location) includes inventory, staff "
                "accounts and integrations. Pro ($79/month per location) adds multi-location reporting, advanced "
                "permissions, custom receipts and same-day payouts. Card fees are the same on both. Would you like "
                "me to connect you with our sales team for a quote for both locations?",
                0.87,
                "plans",
            ),
            customer("Yes please, and do you do discounts for 2+ locations?"),
            handoff("sales_request", "I'll pass you to our sales team, they handle multi-location pricing."),
            assign(),
            reply(
                "Hi {first}, {agent} from the sales team here. We do: for 2-4 locations on Pro it's 15% off each "
                "location, and I can include a free Countertop terminal for the new shop on an annual plan. Would "
                "a quick call help? I'm free {day}."
            ),
            customer(("That sounds great, {day} afternoon works", "{day} works. After 2 is best")),
            note(
                "Hot lead: 2nd location opening soon, currently on Growth. Offered Pro -15% + free terminal (annual)."
            ),
            tag("hot-lead"),
            reply("Perfect, I've sent you a calendar invite for {day} at 2:30pm. Talk then!"),
        ),
        summary=(
            "Existing merchant opening a second location; comparing Growth and Pro and asking for multi-location "
            "discounts."
        ),
    ),
    Script(
        "chat-order-status",
        "chat",
        "Support",
        "general",
        ("shipping",),
        "low",
        (
            customer(
                (
                    "where is my order {order}? ordered the countertop terminal last week",
                    "Hi, any update on order {order}?",
                    "hey has my printer shipped yet? order {order}",
                )
            ),
            assistant(
                "I found order {order}: it shipped on {ship_day} with UPS, tracking number {tracking}. The latest "
                "scan says it's out for delivery today.",
                0.91,
                "shipping",
            ),
            customer(("perfect thx", "great, thanks!", "👍")),
        ),
    ),
    Script(
        "chat-damaged-printer",
        "chat",
        "Support",
        "general",
        ("damaged", "shipping"),
        "high",
        (
            customer(
                "The receipt printer arrived with a cracked case and it won't power on. I want a refund or a "
                "replacement"
            ),
            handoff(
                "keyword",
                "I'm sorry it arrived damaged! I've passed this to our team to arrange a replacement or refund. "
                "Could you send a photo of the damage and the box in the meantime?",
            ),
            customer("sent the photos to your email. box was crushed on one corner too"),
            assign(),
            reply(
                "Hi {first}, {agent} here. Thanks for the photos, that definitely shouldn't happen. I've sent a "
                "replacement printer by express at no cost, it should arrive in 1-2 business days. You'll get a "
                "prepaid label by email to send the damaged one back whenever it suits you."
            ),
            tag("replacement"),
            customer(("great, thanks for sorting it so fast", "ok thank you")),
            reply("You're welcome! Tracking for the replacement is {tracking}."),
        ),
        summary=(
            "Receipt printer arrived with a cracked case and won't power on. Customer wants a refund or replacement."
        ),
        priority_reason="Hardware arrived damaged",
    ),
    Script(
        "chat-payout-timing",
        "chat",
        "Billing",
        "billing",
        ("payouts",),
        "normal",
        (
            customer(("when do i get my money from yesterdays sales", "How long do payouts take to reach my bank?")),
            assistant(
                "Payouts go out every business day: sales up to 11:59pm ET arrive in your bank account the next "
                "business day, and sales from Friday to Sunday are paid out on Monday (Tuesday after a bank holiday).",
                0.86,
                "payouts",
            ),
            customer(("ok so monday. thanks", "got it, thank you", "makes sense, cheers")),
        ),
    ),
    Script(
        "chat-payout-missing",
        "chat",
        "Billing",
        "billing",
        ("payouts",),
        "urgent",
        (
            customer(
                "My payout from Monday still isn't in my account. It's over {amount} and I have rent due. What's "
                "going on??"
            ),
            assistant(
                "Payouts usually arrive the next business day, but some banks take up to 2 more days to show the "
                "deposit. Could you check that your bank details are up to date in Settings → Payouts?",
                0.52,
                "payouts",
            ),
            customer("They are correct, nothing has changed in a year. I need to speak to someone now"),
            handoff("customer_asked", "I understand. I'm getting a person from our payments team on this right away."),
            assign(),
            reply(
                "Hi {first}, this is {agent} from Billing, and I'm sorry for the stress. I can see the payout of "
                "{amount} was returned by your bank on Tuesday with the code 'account frozen'. That's usually "
                "temporary on the bank's side. Could you give them a call? Once they confirm the account is active "
                "we can resend it the same day."
            ),
            customer("just called them, they had a fraud hold on it. its cleared now"),
            note("Payout returned R16 (account frozen). Resent manually after customer confirmed with bank."),
            reply(
                "Thanks for checking. I've resent the payout, it should land by tomorrow morning. I'll keep an eye on "
                "it."
            ),
            customer(("ok. thank you", "appreciate it")),
        ),
        summary=(
            "Payout of {amount} from Monday hasn't arrived; customer says bank details are unchanged and rent is "
            "due. Frustrated, asked for a person."
        ),
    ),
    Script(
        "chat-cancel",
        "chat",
        "Billing",
        "billing",
        ("cancellation",),
        "normal",
        (
            customer(
                (
                    "How do I cancel my subscription? We're closing the shop at the end of the month",
                    "I want to cancel my subscription please, selling the business",
                )
            ),
            handoff(
                "keyword",
                "I'm sorry to hear that. I've asked someone from our billing team to help, so nothing is charged "
                "after you close.",
            ),
            assign(),
            reply(
                "Hi {first}, I'm {agent}. Sorry to hear you're closing up. I've set your plan to end on the last day "
                "of the month, so there will be no further charges. Your sales history stays available for 7 "
                "years, and you can export it any time from Reports."
            ),
            customer(("Thank you, that was easier than I expected", "ok great. thanks for making it easy")),
            reply("Glad to help. Good luck with whatever comes next, {first}!"),
        ),
        summary="Customer is closing the business at the end of the month and wants to cancel the paid plan.",
    ),
    Script(
        "chat-quickbooks",
        "chat",
        "Support",
        "technical",
        ("integration", "quickbooks"),
        "normal",
        (
            customer("Quickbooks sync has been failing since friday, error says 'token expired'"),
            assistant(
                "That error means the connection to QuickBooks needs renewing. Go to Settings → Integrations → "
                'QuickBooks Online, click "Reconnect" and sign in to QuickBooks again. Sales since the last '
                "successful sync are then sent automatically.",
                0.8,
                "quickbooks",
            ),
            customer("reconnected, but friday and saturday sales are still missing in quickbooks"),
            assistant("Sorry, I'm not sure why those days didn't sync.", 0.34),
            handoff("low_confidence", "Let me pass this to someone who can check the sync log for you."),
            assign(),
            reply(
                "Hi {first}, {agent} here. I checked the sync log: those two days failed while the token was "
                "expired and weren't retried. I've re-queued them and they show as synced now. Could you check "
                "QuickBooks and let me know?"
            ),
            customer(("yep they're there now. cheers", "All there. Thanks!")),
        ),
        summary=(
            "QuickBooks sync failed with 'token expired' since Friday. Reconnected, but Friday and Saturday sales "
            "are still missing. Assistant couldn't explain it."
        ),
    ),
    Script(
        "chat-api-rate-limit",
        "chat",
        "Support",
        "technical",
        ("api",),
        "normal",
        (
            customer("We're getting 429s from /v1/payments during our nightly sync. What's the rate limit?"),
            assistant(
                "The API allows 100 requests per second per account, and 25 per second for list endpoints. A 429 "
                "response has a Retry-After header saying how long to wait. For nightly syncs, the updated_since "
                "filter with a page size of 200 usually keeps you well under the limit.",
                0.76,
                "api",
            ),
            customer(
                "We already use updated_since and we peak at maybe 40 rps. Can someone check whether our key has a "
                "lower limit?"
            ),
            handoff("customer_asked", "I'll pass this to our developer support team to check your account's limits."),
            assign(),
            reply(
                "Hi {first}, {agent} from support. Your key was still on the sandbox limit of 20 requests per "
                "second from before you went live, our mistake. I've raised it to the standard limit. Let us know "
                "if the 429s continue tonight."
            ),
            tag("bug"),
            customer("Thanks, will watch tonight's run."),
            reply("Great. I'll check the logs tomorrow morning too."),
        ),
        summary=(
            "Developer gets HTTP 429 from /v1/payments at ~40 rps during nightly sync; suspects a lower limit on "
            "their key."
        ),
    ),
    Script(
        "chat-tips",
        "chat",
        "Support",
        "general",
        ("tips",),
        "low",
        (
            customer(("how do i turn on tipping on the terminal? customers keep asking", "Can customers add a tip?")),
            assistant(
                "Yes! In the Register app go to Settings → Checkout → Tips. Choose up to three percentage or amount "
                "presets and whether to allow a custom tip. The tip screen then appears before the customer pays.",
                0.92,
                "tips",
            ),
            customer(("perfect, found it", "done. easy, thanks")),
        ),
    ),
    Script(
        "chat-staff-refunds",
        "chat",
        "Support",
        "general",
        ("staff",),
        "low",
        (
            customer("Can I stop my staff from issuing refunds without me?"),
            assistant(
                'Yes. In the dashboard go to Staff → Roles, edit the role your staff use and turn off "Issue '
                'refunds". On Pro you can require a manager PIN for refunds instead.',
                0.89,
                "staff",
            ),
            customer("thanks!!"),
        ),
    ),
    Script(
        "chat-double-charge",
        "chat",
        "Billing",
        "billing",
        ("double-charge",),
        "high",
        (
            customer(("agent", "talk to a person")),
            handoff(
                "customer_asked", "Sure, connecting you with a person. What's your question about, so they're ready?"
            ),
            customer("i was charged twice for my subscription this month"),
            assign(),
            reply(
                "Hi {first}, {agent} from Billing. You're right: your card was charged twice on the 1st because a "
                "retry went through after a timeout. I've refunded the duplicate {plan_price}, it'll show on your "
                "statement in 5-10 business days."
            ),
            tag("refund"),
            customer(("ok thanks for fixing", "Thank you. Please make sure it doesn't happen again")),
            note("Duplicate subscription charge from the payment retry bug on the 1st. Refunded."),
        ),
        summary="Customer was charged twice for the subscription this month.",
        priority_reason="Charged twice",
    ),
    Script(
        "chat-offline-mode",
        "chat",
        "Support",
        "technical",
        ("offline-mode",),
        "normal",
        (
            customer(
                "Doing a festival this weekend and there's basically no signal in the field. Will the reader still "
                "work?"
            ),
            assistant(
                "Yes: if the internet drops, the Register app switches to offline mode and keeps taking card "
                "payments. They're stored on your device and processed when you're back online, for up to 72 hours. "
                "A few offline payments may be declined later, so you can set a maximum offline amount per payment "
                "under Settings → Checkout → Offline payments.",
                0.9,
                "offline",
            ),
            customer("amazing. anything I should do before?"),
            assistant(
                "Update the Register app and the reader's firmware before you go, charge everything fully, and "
                "don't log out of the app until the offline payments have been sent.",
                0.81,
                "offline",
            ),
            customer(("great thanks", "👍 thanks")),
        ),
    ),
    Script(
        "chat-shopify",
        "chat",
        "Support",
        "technical",
        ("integration", "shopify"),
        "normal",
        (
            customer(
                "I connected Shopify yesterday and now every product shows up twice in the Register app. About 300 "
                "items. Help"
            ),
            assistant(
                "The first sync matches products by SKU; products without a SKU are imported as new items, which "
                "can create duplicates. You can merge them under Items → Duplicates.",
                0.57,
                "shopify",
            ),
            customer("They all have SKUs though. I checked"),
            assistant("Sorry, I don't know why that would happen when the SKUs match.", 0.31),
            take_over(),
            reply(
                "Hi {first}, {agent} from support, I'm taking this one. Your Shopify SKUs have a trailing space, so "
                "they didn't match the ones in the Register app. I can run a merge on our side that ignores the "
                "spaces. Is it OK if I do that now? It takes about 10 minutes and your stock counts are kept."
            ),
            customer("yes please go ahead"),
            note(
                "SKU whitespace mismatch. Ran merge-duplicates script with trim option. Filed INT-88 to trim on import."
            ),
            reply(
                "Done: 296 duplicates merged. 4 items had different prices in each system, I've listed them under "
                "Items → Review."
            ),
            customer(("You're a star. Thank you", "that's fixed it, thanks")),
        ),
        summary="After connecting Shopify every product (~300) appears twice; customer says SKUs match.",
    ),
    Script(
        "chat-feature-request",
        "chat",
        "Support",
        "general",
        ("feature-request",),
        "low",
        (
            customer(
                (
                    "is there a way to put our instagram handle on the receipts?",
                    "Can I add a message at the bottom of receipts? like 'see you soon!'",
                )
            ),
            assistant("Custom receipt text is part of the Pro plan, under Settings → Receipts.", 0.55, "plans"),
            customer("we're on growth. seems a bit much to upgrade just for that"),
            take_over(),
            reply(
                "Hi {first}, {agent} here. Totally fair! I've passed it to our product team as a request for Growth "
                "too; you're not the first to ask. In the meantime you can add a short line to the receipt footer "
                "under Settings → Receipts → Footer (up to 40 characters), which works on every plan."
            ),
            customer(("oh nice, didn't know that. thanks", "the footer works for now, thank you")),
        ),
        summary="Wants custom text on receipts; on Growth, custom receipts are Pro only.",
    ),
    Script(
        "chat-chargeback",
        "chat",
        "Billing",
        "billing",
        ("chargeback",),
        "high",
        (
            customer(
                "Got an email saying a customer opened a chargeback for {amount}. They picked up their order in "
                "person and signed for it! This is fraud"
            ),
            handoff(
                "keyword",
                "That sounds stressful. I've passed this to our disputes team; someone will reply here shortly.",
            ),
            assign(),
            reply(
                "Hi {first}, {agent} from Billing. You can respond to the dispute from Transactions → Disputes; you "
                "have 7 days. For an in-person pickup, the strongest evidence is the signed receipt, a photo of the "
                "order, and any messages with the customer. Would you like me to review what you upload before you "
                "submit?"
            ),
            customer("yes please, uploading now"),
            reply(
                "That's a solid case: the signed receipt and the pickup time from your messages are exactly what the "
                "bank looks for. I've added a note for our disputes team. The bank usually decides in 60-75 days."
            ),
            note("Evidence looks strong (signed receipt, pickup confirmation). Flagged to disputes team."),
        ),
        summary="Customer received a chargeback for {amount} on an order picked up in person and signed for.",
        priority_reason="Dispute with a response deadline",
    ),
    Script(
        "chat-hardware-bundle",
        "chat",
        "Sales",
        "sales",
        ("lead",),
        "normal",
        (
            customer(
                "We're opening a bar in {city} next month. Need 3 terminals and 2 printers. Do you do bundle prices?"
            ),
            assistant(
                "Congrats on the new bar! The Countertop terminal is $299 and the receipt printer $129, and our "
                "sales team can quote bundles. Would you like me to connect you?",
                0.74,
                "plans",
            ),
            customer("yes"),
            handoff("sales_request", "Great, someone from sales will reply here shortly."),
            assign(),
            reply(
                "Hi {first}, {agent} from {company} sales. For 3 terminals and 2 printers I can do $1,020 instead of "
                "$1,155, with free express shipping. If you go with Pro, the first 2 months are on us too. Shall I "
                "put a quote together?"
            ),
            customer("yes please send it to {email}"),
            reply("Sent! The quote is valid for 30 days. Any questions, just reply here."),
        ),
        summary="New bar opening next month; wants 3 terminals and 2 printers and asked about bundle pricing.",
    ),
    Script(
        "chat-export",
        "chat",
        "Support",
        "general",
        ("reports",),
        "low",
        (
            customer(
                ("my accountant needs all of last year's sales in excel", "how do i export sales to a spreadsheet")
            ),
            assistant(
                "Every report can be exported: choose the date range and tap Export → CSV or Excel. Exports over "
                "12 months are emailed to you. You can also give your accountant their own login with the "
                "Accountant role.",
                0.9,
                "reports",
            ),
            customer(("perfect thank you", "oh the accountant login is handy. thanks")),
        ),
    ),
    Script(
        "chat-locked-out",
        "chat",
        "Support",
        "technical",
        ("login",),
        "normal",
        (
            customer("it says my account is locked?? i tried my password a few times"),
            assistant(
                "After 5 wrong passwords your account is locked for 30 minutes to protect it. Resetting your "
                'password with "Forgot password?" unlocks it straight away.',
                0.86,
                "password",
            ),
            customer("the reset email isn't coming. and i need to close out the day"),
            assistant("Reset emails come from no-reply@{domain}. Could you check your spam folder?", 0.49, "password"),
            customer("not there either. can someone just unlock it"),
            handoff("customer_asked", "I'll get someone who can check your account. One moment."),
            assign(),
            reply(
                "Hi {first}, {agent} here. The reset emails were bouncing: your account email had a typo "
                "(.con instead of .com). I've corrected it and unlocked the account. You should have a new reset "
                "email now."
            ),
            customer(("got it, in now. thanks!", "that's it, thank you")),
        ),
        summary="Account locked after several wrong passwords; reset email not arriving. Needs to close out the day.",
    ),
    # --- Spanish ----------------------------------------------------------------------------------
    Script(
        "es-reader-charging",
        "chat",
        "Support",
        "technical",
        ("hardware",),
        "high",
        (
            customer("Hola, el lector de tarjetas no carga. Lo dejé toda la noche enchufado y no enciende."),
            assistant(
                "Lo siento. Prueba con otro cable USB-C y otro enchufe, y mantén pulsado el botón 10 segundos para "
                "reiniciarlo. Si la luz no se enciende tras 15 minutos cargando, puede que necesite un reemplazo.",
                0.63,
                "reader-bluetooth",
            ),
            customer("Ya probé con otro cable. Nada. ¿Puedo hablar con alguien?"),
            handoff("customer_asked", "Claro, te paso con una persona de nuestro equipo."),
            assign(),
            reply(
                "Hola {first}, soy {agent}. Parece un fallo de la batería. Te envío hoy mismo un lector nuevo sin "
                "coste; llegará en 2-3 días laborables. Número de seguimiento: {tracking}."
            ),
            tag("replacement"),
            customer("¡Muchas gracias!"),
        ),
        summary=(
            "El lector no carga ni enciende tras una noche enchufado; ya probó otro cable. Pidió hablar con una "
            "persona."
        ),
        language="es",
    ),
    Script(
        "es-payout",
        "chat",
        "Billing",
        "billing",
        ("payouts",),
        "normal",
        (
            customer("Hola, ¿cuándo recibo el dinero de las ventas del fin de semana?"),
            assistant(
                "Las ventas de viernes, sábado y domingo se pagan el lunes (el martes si el lunes es festivo). Algunos "
                "bancos tardan un día más en mostrar el depósito.",
                0.84,
                "payouts",
            ),
            customer("Perfecto, gracias"),
        ),
        language="es",
    ),
    Script(
        "es-plan",
        "chat",
        "Sales",
        "sales",
        ("upgrade",),
        "normal",
        (
            customer("Buenas, ¿qué incluye el plan Growth? Tengo una taquería y somos 4 empleados"),
            assistant(
                "Growth cuesta $29 al mes por local e incluye inventario, cuentas para empleados con permisos, "
                "propinas e integraciones con QuickBooks y Shopify. ¿Quieres que te ponga en contacto con ventas?",
                0.78,
                "plans",
            ),
            customer("Sí, por favor"),
            handoff("sales_request", "Perfecto, alguien de ventas te escribirá aquí en breve."),
            assign(),
            reply(
                "Hola {first}, soy {agent} de ventas. Para 4 empleados Growth es ideal: cada uno tiene su código y "
                "ves las propinas por persona. ¿Te activo una prueba gratis de 30 días?"
            ),
            customer("¡Sí, dale!"),
        ),
        summary="Taquería con 4 empleados pregunta qué incluye el plan Growth.",
        language="es",
    ),
    # --- SMS and WhatsApp (short) -----------------------------------------------------------------
    Script(
        "sms-reader-died",
        "sms",
        "Support",
        "technical",
        ("hardware",),
        "high",
        (
            customer(
                ("hi is this {company}? my reader died mid sale", "reader just died in the middle of a payment!!")
            ),
            assistant(
                "Yes, this is {company}! Sorry to hear that. Is it charged? Hold the power button for 10 seconds to "
                "restart it. If it still won't turn on, reply AGENT and a person will text you back.",
                0.72,
                "reader-bluetooth",
            ),
            customer(("AGENT", "agent", "Agent pls")),
            handoff("keyword", "Got it, someone from our team will text you here shortly."),
            assign(),
            reply(
                "Hi {first}, {agent} from {company}. Can you text me the serial number from the back of the reader? "
                "Starts with PR-"
            ),
            customer("{serial}"),
            reply(
                "Thanks. It's under warranty so we're sending a new one today, should be with you {day}. Tracking "
                "{tracking}"
            ),
            tag("replacement"),
            customer(("ty!!", "thank you 🙏", "great thanks")),
        ),
        summary="Pocket reader died mid-sale and won't restart. Customer replied AGENT.",
    ),
    Script(
        "sms-payout-when",
        "sms",
        "Billing",
        "billing",
        ("payouts",),
        "low",
        (
            customer(("Whens my payout coming", "when do i get paid for fridays sales", "payout today?")),
            assistant(
                "Payouts arrive the next business day for sales up to 11:59pm ET. Friday-Sunday sales arrive Monday.",
                0.83,
                "payouts",
            ),
            customer(("k thx", "ok", "cool thanks")),
        ),
    ),
    Script(
        "sms-bill-question",
        "sms",
        "Billing",
        "billing",
        ("billing",),
        "normal",
        (
            customer(("need to talk to someone about my bill", "question about a charge, can a person text me")),
            handoff("customer_asked", "Sure, someone from billing will text you back here shortly."),
            assign(),
            reply("Hi {first}, {agent} from {company} Billing. What can I help with on your bill?"),
            customer("why was i charged 79 this month im on the 29 plan"),
            reply(
                "Looks like the plan was upgraded to Pro on the 3rd from the dashboard, by one of your staff logins. "
                "Want me to switch you back to Growth and refund the difference?"
            ),
            customer("yes pls. and how do i stop staff doing that"),
            note("Staff member upgraded plan. Prorated refund of $50 issued, back on Growth."),
            reply(
                "Done: $50 refunded and you're back on Growth. You can block staff from changing the plan under Staff "
                "→ Roles."
            ),
            tag("refund"),
            customer("thanks"),
        ),
        summary="Customer asked for a person about an unexpected charge on this month's bill.",
    ),
    Script(
        "sms-phone-number",
        "sms",
        "Support",
        "general",
        (),
        "low",
        (
            customer(("do u guys have a phone number i can call", "is there a number to call")),
            assistant(
                "You can call us on (415) 555-0102, Monday to Friday 8am-8pm ET. Or just text here, a person picks up "
                "if I can't help.",
                0.9,
            ),
            customer(("ok", "thanks")),
        ),
    ),
    Script(
        "sms-terminal-late",
        "sms",
        "Support",
        "general",
        ("shipping",),
        "high",
        (
            customer(
                (
                    "My terminal was supposed to come today. Tracking hasnt moved since tues",
                    "order {order} still not here. tracking stuck",
                )
            ),
            assistant(
                "Sorry about the delay. Tracking {tracking} shows the parcel at the carrier's depot; carriers "
                "sometimes "
                "don't scan again until it's out for delivery.",
                0.53,
                "shipping",
            ),
            customer("Its been 3 days. I need it for the weekend market"),
            handoff("low_confidence", "Let me get someone from our team to chase this for you."),
            assign(),
            reply(
                "Hi {first}, {agent} here. I checked with UPS: the parcel got stuck at the depot. I've sent a second "
                "terminal overnight, it'll be there tomorrow before 10:30. If the first one turns up, just refuse it."
            ),
            customer(("thank u so much", "legend. thanks")),
        ),
        summary="Terminal delivery stuck at the carrier depot for 3 days; needed for a weekend market.",
    ),
    Script(
        "sms-food-truck",
        "sms",
        "Sales",
        "sales",
        ("lead",),
        "normal",
        (
            customer("Hi saw your ad. Can someone show me how it works for a food truck?"),
            assistant(
                "Hi! The Pocket reader works great for food trucks: it runs on your phone, keeps taking payments "
                "offline when the signal drops, and costs $59. Would you like a 15-minute demo with our team?",
                0.81,
                "offline",
            ),
            customer("yes"),
            handoff("sales_request", "Great, someone from sales will text you to set it up."),
            assign(),
            reply(
                "Hi {first}, {agent} from {company} sales. How's {day} at 10am for a quick video call? I'll text you "
                "a link."
            ),
            customer(("works", "can we do 11? lunch prep till then")),
            reply("Sure, 11 it is. Talk then!"),
        ),
        summary="Food truck owner saw an ad and wants a demo.",
    ),
    Script(
        "sms-receipt-paper",
        "sms",
        "Support",
        "general",
        ("supplies",),
        "low",
        (
            customer(
                ("Hi 👋 do you sell the receipt paper rolls? running low", "where do i buy paper for the printer")
            ),
            assistant(
                "Yes! 80mm thermal rolls come in boxes of 20 for $24.99 in the dashboard under Hardware store → "
                "Supplies. Orders before 2pm ET ship the same day.",
                0.88,
                "printer",
            ),
            customer(("ordered, thanks 🙏", "great")),
        ),
    ),
    Script(
        "sms-update-stuck",
        "sms",
        "Support",
        "technical",
        ("hardware",),
        "urgent",
        (
            customer("URGENT my card reader says update required and won't take payments. Queue out the door 😩"),
            assistant(
                "Updates usually take 2-3 minutes: keep the reader next to your phone with the app open and "
                "Bluetooth on, and don't close the app until it says Update complete.",
                0.68,
                "reader-bluetooth",
            ),
            customer("its stuck at 40% for 10 min"),
            handoff("keyword", "I'm getting a person on this right now."),
            assign(),
            reply(
                "Hi {first}, {agent} here. Unplug the reader, hold the power button 15s to force a restart, then "
                "open the app: the update carries on where it stopped. Meanwhile you can key in cards in the app "
                "(Checkout → Keyed-in)."
            ),
            customer(("restarted and it finished. back in business", "ok its working now")),
            reply("Great to hear! Sorry for the scare."),
        ),
        summary="Reader firmware update stuck at 40% for 10 minutes during a rush; customer can't take payments.",
    ),
    Script(
        "sms-bank-change",
        "sms",
        "Billing",
        "billing",
        ("payouts",),
        "normal",
        (
            customer("Can I change the bank account my money goes to? We switched banks"),
            assistant(
                "Yes: dashboard → Settings → Payouts → Bank account. For your security we hold payouts for 3 "
                "business days after a change and email you to confirm.",
                0.85,
                "bank-account",
            ),
            customer("why 3 days?? thats a long time for a small business"),
            handoff("sentiment", "I understand. Let me get someone from billing who can help with the hold."),
            assign(),
            reply(
                "Hi {first}, {agent} from Billing. The hold protects you if someone got into your account and tried "
                "to redirect your money. I can confirm it with you now instead: did you make the change today "
                "around {time_of_day}?"
            ),
            customer("yes that was me"),
            reply("Thanks! I've released the hold, your next payout goes to the new account tomorrow."),
            customer(("appreciate it", "perfect thanks")),
        ),
        summary="Changed payout bank account and is unhappy about the 3-day security hold.",
    ),
    Script(
        "sms-vat-invoice",
        "sms",
        "Billing",
        "billing",
        ("invoice",),
        "normal",
        (
            customer("Need an invoice with our tax ID for last month please. Accounts is chasing me"),
            assistant(
                "You can add your tax ID under Settings → Billing → Tax ID; invoices issued after that include it. "
                "Our billing team can reissue earlier invoices.",
                0.79,
                "invoice",
            ),
            customer("ok added it. can you reissue last months?"),
            handoff("customer_asked", "Sure, I've asked our billing team to reissue it."),
            assign(),
            reply(
                "Hi {first}, {agent} here. Done: I've reissued invoice {invoice} with your tax ID and emailed it to "
                "{email}."
            ),
            customer(("got it, thanks", "perfect")),
        ),
        summary="Needs last month's invoice reissued with the company tax ID.",
    ),
    Script(
        "sms-verification-code",
        "sms",
        "Support",
        "technical",
        ("security",),
        "high",
        (
            customer("who is this? i just got a text with a verification code from you and i didnt ask for one"),
            assistant(
                "That code is sent when someone tries to sign in to an account using this phone number. If it "
                "wasn't you, don't share the code with anyone. Would you like someone from our team to check the "
                "account?",
                0.71,
                "2fa",
            ),
            customer("yes please"),
            handoff("security", "I've flagged this to our team. Someone will text you shortly."),
            assign(),
            reply(
                "Hi {first}, {agent} from {company}. Someone entered your email with the wrong password 6 times "
                "from another country, but they didn't get in: the code stopped them. I've locked sign-ins from new "
                "devices and sent you a link to set a new password, just to be safe."
            ),
            note(
                "Brute force attempt from unfamiliar IP range, blocked by 2FA. New-device sign-in locked, password "
                "reset sent."
            ),
            customer("wow ok. done, changed it. thank you"),
        ),
        summary="Customer received a sign-in code they didn't request; possible account takeover attempt.",
        priority_reason="Possible account takeover",
    ),
    Script(
        "es-sms-payout",
        "sms",
        "Billing",
        "billing",
        ("payouts",),
        "normal",
        (
            customer("hola no me llego el pago de ayer"),
            assistant(
                "Los pagos llegan el siguiente día laborable. Algunos bancos tardan un día más. Si mañana no lo ves, "
                "escribe PERSONA y te atiende alguien del equipo.",
                0.66,
                "payouts",
            ),
            customer("PERSONA"),
            handoff("customer_asked", "Claro, alguien de nuestro equipo te escribirá aquí."),
            assign(),
            reply(
                "Hola {first}, soy {agent}. El pago de {amount} salió ayer y tu banco lo mostrará hoy antes de las 5pm."
            ),
            customer("ok gracias"),
        ),
        summary="No ha recibido el pago de ayer.",
        language="es",
    ),
    # --- Email (longer) ------------------------------------------------------------------------------
    Script(
        "email-fees",
        "email",
        "Billing",
        "billing",
        ("billing", "reports"),
        "normal",
        (
            customer(
                "Hello,\n\nI do the books for {store} and I'm reconciling last month. The statement shows total "
                "processing fees of $1,284.17, but when I calculate 2.6% + 10c on the transactions in the export I "
                "get $1,201.90. Can someone explain the difference? The export is attached.\n\nKind regards,\n"
                "{full}\nBookkeeper, {store}",
                attachment="transactions.csv",
            ),
            assign(),
            reply(
                "Hi {first},\n\nThanks for the detailed breakdown, it made this quick to check. The difference "
                "($82.27) comes from 37 keyed-in payments, which are charged at 3.5% + 15c rather than the in-person "
                "rate. They're marked \"Keyed\" in the Entry method column of your export.\n\nIf you'd like the fees "
                "itemised per payment, Reports → Fees has one line per payment.\n\nBest,\n{agent}\n{company} Billing"
            ),
            customer(
                "That explains it, thank you. Is there a way to stop staff keying in cards? Most of those were "
                "phone orders that shouldn't have been taken that way.\n\n{first}"
            ),
            reply(
                'Hi {first},\n\nYes: under Staff → Roles, untick "Take keyed-in payments" for the roles that '
                "shouldn't. The owner can still key in cards when needed.\n\nBest,\n{agent}"
            ),
        ),
        summary="Bookkeeper's fee calculation differs from the statement by about $82; export attached.",
        subject="Processing fees on last month's statement don't add up",
    ),
    Script(
        "email-hardware-return",
        "email",
        "Billing",
        "billing",
        ("refund",),
        "normal",
        (
            customer(
                "Hi,\n\nWe bought a Countertop terminal three weeks ago (order {order}) but it's honestly too big for "
                "our counter, and the Pocket reader does everything we need. Your website says there's a 30-day "
                "return policy. How do I send it back and get a refund?\n\nThanks,\n{full}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nNo problem at all, it's within the 30 days. I've emailed you a prepaid UPS label: "
                "pack the terminal with its dock and cable and drop it at any UPS location. We'll refund $299 to the "
                "card you paid with within 3 business days of receiving it.\n\nBest wishes,\n{agent}\n{company}"
            ),
            customer("Perfect, dropped it off this morning. Thanks for making it painless."),
            reply(
                "Thanks {first}! I'll keep an eye out for it and let you know when the refund is on its way.\n\n{agent}"
            ),
        ),
        summary="Wants to return a Countertop terminal bought 3 weeks ago under the 30-day guarantee.",
        subject="Returning the countertop terminal",
    ),
    Script(
        "email-outage-complaint",
        "email",
        "Support",
        "technical",
        ("outage",),
        "urgent",
        (
            customer(
                "To whom it may concern,\n\nOn Saturday none of our four terminals could take cards for almost 40 "
                "minutes, right in the middle of lunch. We had to turn people away and my staff were writing card "
                "numbers on paper, which I'm sure is not allowed. Nobody picked up the phone and your status page "
                "said everything was fine for the first 20 minutes.\n\nI have been a customer for four years. I "
                "need to know what happened, what you're doing so it doesn't happen again, and what you're going "
                "to do about the sales we lost.\n\n{full}\nOwner, {store}"
            ),
            reprioritize("urgent", "Long-time customer, lost sales during Saturday's outage"),
            assign(),
            note(
                "Saturday incident: acquirer timeout 12:02-12:38 ET, status page updated late (postmortem INC-2207). "
                "Offering one month's fees back. Do NOT ask them to resend card numbers written down."
            ),
            reply(
                "Dear {first},\n\nI'm very sorry. You're right to be angry, and you shouldn't have had to find out "
                "from your customers. On Saturday one of our card-processing partners stopped responding between "
                "12:02 and 12:38 ET. Our terminals should have switched to offline mode and kept taking payments; "
                "because of a bug, yours waited for the network instead. We've fixed that, and we've changed how "
                "we update the status page so it happens within 5 minutes of an alert.\n\nPlease don't run the card "
                "numbers your staff wrote down, and shred the paper: I'll send you a safe way to contact those "
                "customers. I've credited a month of card fees to your account to make up for part of what you "
                "lost.\n\nIf you'd like to talk it through, I'm on (415) 555-0102 until 6pm today.\n\nSincerely,\n"
                "{agent_full}\n{company}"
            ),
            customer(
                "Thank you for the honest answer. The credit is appreciated. Please do send the instructions for "
                "the paper records.\n\n{first}"
            ),
            reply("Sent just now. Thank you for your patience, {first}.\n\n{agent}"),
        ),
        summary=(
            "Four-year customer; all four terminals down ~40 minutes on Saturday lunch. Angry about lost sales and "
            "the status page."
        ),
        subject="Terminals down Saturday - unacceptable",
    ),
    Script(
        "email-chain-sales",
        "email",
        "Sales",
        "sales",
        ("hot-lead",),
        "high",
        (
            customer(
                "Hi there,\n\nI run operations for a group of 12 coffee shops across {city} and two other cities. "
                "Our current provider's contract ends in March and we're evaluating alternatives. We'd need "
                "roughly 30 terminals, multi-location reporting, and an integration with our accounting system "
                "(we're on Xero).\n\nCould someone send pricing and availability for a call next week?\n\nBest,\n"
                "{full}\nHead of Operations, {store}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nThanks for considering us! For a group your size we'd put together custom pricing "
                "on card rates as well as Pro for each location, and we can ship and pre-configure all 30 terminals "
                "so each shop is ready to go on day one. Xero is supported on Growth and Pro.\n\nI've attached our "
                "multi-location overview. Would {day} at 11am or 3pm work for a 30-minute call?\n\nBest regards,\n"
                "{agent_full}\nSales, {company}"
            ),
            customer("{day} at 3pm works. I'll bring our finance director.\n\n{first}"),
            note("12 locations, ~30 terminals, contract ends March, Xero. Loop in Sam for custom rates."),
            reply("Great, invite sent for {day} at 3pm. Looking forward to it.\n\n{agent}"),
        ),
        summary=(
            "Operations lead for a 12-shop coffee chain evaluating a switch; ~30 terminals, Xero, contract ends in "
            "March."
        ),
        subject="Pricing for 12 locations",
        priority_reason="Large deal: 12 locations",
    ),
    Script(
        "email-gdpr",
        "email",
        "Support",
        "general",
        ("privacy",),
        "normal",
        (
            customer(
                "Hello,\n\nI bought something at a shop that uses your system and I received a marketing email "
                "afterwards. Under data protection law I'd like to know what personal data you hold about me and "
                "I'd like it deleted.\n\nRegards,\n{full}"
            ),
            assign(),
            note("Privacy request. Forwarded to privacy@ (ticket PRV-431). 30-day deadline."),
            reply(
                "Dear {first},\n\nThank you for getting in touch. I've passed your request to our privacy team, "
                "who will confirm what we hold and delete it within 30 days; they may ask you to verify your email "
                "address first.\n\nThe marketing email came from the shop itself rather than from us, so to stop "
                "those please use the unsubscribe link at the bottom of it.\n\nKind regards,\n{agent}\n{company}"
            ),
        ),
        summary="Data access and deletion request from a shopper (not a merchant).",
        subject="Data access and deletion request",
    ),
    Script(
        "email-ownership",
        "email",
        "Billing",
        "billing",
        ("billing",),
        "normal",
        (
            customer(
                "Hi,\n\nI've sold {store} and the new owner takes over on the 1st. What's the best way to hand over "
                "the account? I'd like the payouts to stop going to my bank account from that day, and the new "
                "owner wants to keep the item library and the hardware.\n\nMany thanks,\n{full}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nCongratulations on the sale! Because payouts and tax details belong to the business "
                "owner, the new owner needs to open their own account; we can then copy the item library and move "
                "the hardware over to it. Your account closes once your last payout has arrived.\n\nCould you send "
                "me the new owner's name and email address? I'll take it from there.\n\nBest,\n{agent}"
            ),
            customer("Of course: it's Jordan Ellis, jordan@{store_domain}. Thank you!"),
            reply(
                "Thanks {first}, I've emailed Jordan with the next steps and set your account to close on the "
                "1st.\n\n{agent}"
            ),
        ),
        summary="Business sold; new owner takes over on the 1st and wants to keep the items and hardware.",
        subject="Selling the business - transferring the account",
    ),
    Script(
        "email-chargeback-evidence",
        "email",
        "Billing",
        "billing",
        ("chargeback",),
        "high",
        (
            customer(
                "Hello,\n\nWe've had three chargebacks this month, all for online orders shipped to the same "
                "address with different cards. I think we're being targeted. What evidence do I need to send, and "
                "can you block that address?\n\nThanks,\n{full}\n{store}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nThanks for flagging this. It does look like card testing followed by fraud. For each "
                "dispute, upload the order, the shipping confirmation with tracking, and any emails with the buyer. "
                "I've added the address and the email used to our fraud rules on your account, so new orders to it "
                "are declined.\n\nI've also asked our risk team to look at all three together.\n\nBest,\n{agent}"
            ),
            note(
                "3 disputes, same ship-to, different cards. Added address + email to merchant block list. Risk ticket "
                "RSK-902."
            ),
            customer("Thank you, that's reassuring. Evidence uploaded for all three."),
        ),
        summary="Three chargebacks this month on online orders shipped to the same address; suspects fraud.",
        subject="Chargebacks - I think we're being targeted",
        priority_reason="Several disputes; possible fraud",
    ),
    Script(
        "email-shopify-prices",
        "email",
        "Support",
        "technical",
        ("integration", "shopify"),
        "normal",
        (
            customer(
                "Hi support,\n\nSince we connected Shopify last week, prices keep changing back. We set a price in "
                "the Register app, and a few minutes later it's back to the old Shopify price. It's confusing our "
                "staff. What are we doing wrong?\n\n{full}"
            ),
            assistant(
                "Prices are taken from whichever system you choose as the source of truth in the Shopify "
                "integration settings. If Shopify is the source, price changes made in the Register app are "
                "overwritten at the next sync.",
                0.84,
                "shopify",
            ),
            customer(
                "Found the setting and switched it to the Register app. But now our online prices are wrong. Can "
                "we have different prices in store and online?"
            ),
            take_over(),
            reply(
                'Hi {first},\n\nYes you can: in the integration settings, turn off "Sync prices" and each system '
                "keeps its own prices, while stock still syncs both ways. I've checked your account and the "
                "online prices are back as they were before the switch.\n\nBest,\n{agent}"
            ),
            customer("Brilliant, that's exactly what we needed. Thanks!"),
        ),
        summary="Shopify integration overwrites in-store prices; wants different prices in store and online.",
        subject="Prices keep changing back",
    ),
    Script(
        "email-annual-invoice",
        "email",
        "Billing",
        "billing",
        ("invoice",),
        "low",
        (
            customer(
                "Good morning,\n\nCould you please send us a single invoice for all of last year's subscription "
                "payments for {store}? Our auditors have asked for one document rather than twelve.\n\nThank you,\n"
                "{full}"
            ),
            assign(),
            reply(
                "Good morning {first},\n\nOf course. I've attached a statement of all subscription payments for last "
                "year, with each monthly invoice number listed. If your auditors need it on letterhead with a "
                "signature, just let me know.\n\nKind regards,\n{agent}\n{company} Billing"
            ),
            customer("That's perfect, thank you."),
        ),
        subject="Annual invoice for our auditors",
    ),
    Script(
        "email-sales-tax",
        "email",
        "Billing",
        "billing",
        ("tax",),
        "normal",
        (
            customer(
                "Hi,\n\nOur city's sales tax went up on the 1st and I updated the rate in settings, but the receipts "
                "from the first three days still show the old rate. Did I do something wrong? Do I need to correct "
                "those sales?\n\nThanks,\n{full}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nYou didn't do anything wrong: rate changes apply from the moment you save them and "
                "don't change past sales. Your settings show the new rate was saved on the 4th, so sales from the "
                "1st to the 3rd used the old one.\n\nReports → Taxes lists the tax collected on those days, so your "
                "accountant can adjust for the difference in your return.\n\nBest,\n{agent}"
            ),
            customer("Got it, thanks for the quick explanation."),
        ),
        summary="Sales tax rate changed on the 1st but was updated in settings on the 4th.",
        subject="Sales tax rate on receipts",
    ),
    Script(
        "email-reader-again",
        "email",
        "Support",
        "technical",
        ("hardware",),
        "high",
        (
            customer(
                (
                    "Reader not working again. Third time this month. Please call me.\n\nSent from my iPhone",
                    "the card reader keeps disconnecting every few sales. this is the 2nd one you've sent. call me "
                    "pls\n\nSent from my iPhone",
                )
            ),
            reprioritize("high", "Repeat hardware failure"),
            assign(),
            note("3rd contact about the reader this month. Check previous conversations before calling."),
            reply(
                "Hi {first},\n\nI'm sorry it's still giving you trouble. I'll call you in the next 30 minutes. In "
                "the meantime, could you check whether any other phone or tablet near the counter is paired with "
                "the reader? That's the most common cause of repeated disconnects.\n\n{agent}"
            ),
            note(
                "Called: old iPad in the back office was auto-connecting. Unpaired it, working. Sending a spare "
                "reader anyway."
            ),
            customer("Thanks for calling. Working fine since."),
        ),
        summary="Repeat reader failures (third contact this month); customer asked for a call.",
        subject="Reader",
    ),
    Script(
        "email-order-status",
        "email",
        "Support",
        "general",
        ("shipping",),
        "low",
        (
            customer(
                "Hello,\n\nI ordered two Pocket readers on {ship_day} (order {order}) and haven't had a shipping "
                "email yet. Could you let me know when they'll arrive?\n\nThanks,\n{full}"
            ),
            assistant(
                "Hi {first}, thanks for your order! Order {order} shipped today with UPS, tracking number {tracking}. "
                "Standard delivery takes 3-5 business days; you can follow it under Hardware → Orders.",
                0.89,
                "shipping",
            ),
            customer("Great, thanks."),
        ),
        subject="Order {order}",
    ),
    Script(
        "email-feedback",
        "email",
        "Support",
        "general",
        ("feature-request",),
        "low",
        (
            customer(
                "Hi team,\n\nJust wanted to say the new tipping screen is great, our staff tips are up about 20% "
                "since we switched it on. One request: could the end-of-day report show tips per staff member "
                "per shift, rather than per day? We split tips by shift.\n\nKeep up the good work,\n{full}\n{store}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nThis made our day, thank you! I've shared your request with the product team; "
                "per-shift tips are on their list and your vote helps. For now, Reports → Tips can be filtered by "
                "time range, which some teams use per shift.\n\nCheers,\n{agent}"
            ),
        ),
        summary="Positive feedback on tipping; requests per-shift tip reports.",
        subject="Tips report idea",
    ),
    # --- Voicemail ---------------------------------------------------------------------------------
    Script(
        "voice-terminal-e41",
        "voice",
        "Support",
        "technical",
        ("hardware",),
        "high",
        (
            customer(
                "Hi, this is {full} from {store}. Um, our terminal's showing an error, E... forty-one? And it won't "
                "take cards. Could someone call me back on this number? Thanks."
            ),
            assign(),
            note(
                "Called back. E41 = can't reach our servers; their router had reset to the guest network. Walked "
                "them through Settings → Network, working again."
            ),
        ),
        summary="Voicemail: terminal shows error E41 and won't take cards; wants a call back.",
    ),
    Script(
        "voice-unknown-charge",
        "voice",
        "Billing",
        "billing",
        ("billing",),
        "normal",
        (
            customer(
                "Yeah hi, I'm calling about a charge on my card from {company}, twenty-nine dollars. I don't think I "
                "have an account with you? Please call me back. It's {full}."
            ),
            assign(),
            note("Called back: the account belongs to their business partner (Growth plan). No action needed."),
        ),
        summary="Voicemail: doesn't recognise a $29 charge from us.",
    ),
    Script(
        "voice-missing-reader",
        "voice",
        "Support",
        "general",
        ("shipping",),
        "normal",
        (
            customer(
                "Hello, it's {first}. I ordered two of the pocket readers and only one arrived. Order number {order}. "
                "Thank you, bye."
            ),
            assign(),
            note(
                "Second reader shipped in a separate parcel, delivered today per UPS. Left a voicemail with the "
                "tracking number."
            ),
        ),
        summary="Voicemail: ordered two readers, only one arrived.",
    ),
    Script(
        "voice-switching-lead",
        "voice",
        "Sales",
        "sales",
        ("lead",),
        "normal",
        (
            customer(
                "Hi, my name's {full}, we have three cafés in {city} and we're thinking of switching from our current "
                "system, the fees are killing us. Could someone from sales give me a call? Best time is after two. "
                "Thanks."
            ),
            assign(),
            note("Called after 2pm. 3 cafés, ~$90k/month card volume. Sending Pro proposal with volume rates."),
            tag("hot-lead"),
        ),
        summary="Voicemail: owner of three cafés wants to switch providers because of fees.",
    ),
    Script(
        "voice-outage",
        "voice",
        "Support",
        "technical",
        ("outage",),
        "urgent",
        (
            customer(
                "This is {full}, our whole system is down, none of the terminals are taking payments, it's lunch "
                "rush, please call me back as soon as possible."
            ),
            assign(),
            note(
                "Called back within 5 min. Regional acquirer incident (INC-2207), recovering. Walked through "
                "offline mode so they could keep trading."
            ),
        ),
        summary="Voicemail: all terminals down during lunch rush; urgent call back.",
    ),
    Script(
        "voice-cancel",
        "voice",
        "Billing",
        "billing",
        ("cancellation",),
        "normal",
        (
            customer(
                "Hi, this is {first}, I'd like to cancel the Pro plan, we're going back to Growth. Just wanted to "
                "check I won't lose our sales history. Call me back or email is fine."
            ),
            assign(),
            note(
                "Called back. Downgrade to Growth scheduled for next billing period; history is kept. Confirmed by "
                "email."
            ),
        ),
        summary="Voicemail: wants to downgrade from Pro to Growth and keep the sales history.",
    ),
    # --- Second parts of cross-channel stories ---------------------------------------------------------
    Script(
        "email-reader-broken",
        "email",
        "Support",
        "technical",
        ("hardware", "replacement"),
        "high",
        (
            customer(
                "Hi,\n\nOur Pocket reader ({serial}) stopped charging two weeks after we got it. The light doesn't "
                "come on at all, even with a different cable and plug. We have a market stall every weekend so we "
                "really need it working by Saturday.\n\nThanks,\n{full}\n{store}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nSorry to hear that! It's well within warranty, so I've sent you a new reader by "
                "express: it should arrive by Friday, tracking number {tracking}. There's a prepaid label in the "
                "box for the old one.\n\nBest,\n{agent}"
            ),
            customer("Thank you, that's great."),
        ),
        summary="Pocket reader stopped charging after two weeks; needs one for the weekend market.",
        subject="Reader stopped charging",
        follow_up=False,
        priority_reason="Needs a working reader by Saturday",
    ),
    Script(
        "sms-replacement-where",
        "sms",
        "Support",
        "general",
        ("shipping", "replacement"),
        "high",
        (
            customer(
                "hi its {first} from {store}, emailed last week about the broken reader. tracking says the new one "
                "was delivered but its not here??"
            ),
            assistant(
                "Let me look that up. Tracking {tracking} shows delivered on Friday at 2:14pm.", 0.58, "shipping"
            ),
            customer("yeah but its NOT HERE. market tomorrow"),
            handoff("sentiment", "I'm sorry. I'm getting a person to sort this out with you now."),
            assign(),
            reply(
                "Hi {first}, {agent} here. I can see your email thread with {prev_agent} about the reader. UPS says "
                "it was left by the side door. Could you have a quick look there? If it's not, I'll send another "
                "one overnight, no question."
            ),
            customer("found it behind the bins 🙄 thanks"),
            reply("Ha, glad it turned up! Good luck at the market tomorrow."),
        ),
        summary="Follow-up by SMS to last week's email: replacement reader shows delivered but customer can't find it.",
        follow_up=True,
        priority_reason="Replacement missing before a market day",
    ),
    Script(
        "chat-upgrade-pro",
        "chat",
        "Sales",
        "sales",
        ("upgrade",),
        "normal",
        (
            customer("Thinking about upgrading to Pro for the same-day payouts. Is it per location?"),
            assistant(
                "Yes, Pro is $79 a month per location. Same-day payouts cost 1% of the amount you pay out early.",
                0.88,
                "plans",
            ),
            customer("ok. can I try it for a month first?"),
            handoff("sales_request", "Let me get someone from sales, they can set up a trial."),
            assign(),
            reply(
                "Hi {first}, {agent} from sales. I've switched you to Pro with the first month free. It'll bill from "
                "next month."
            ),
            customer("great thanks!"),
        ),
        summary="Considering Pro for same-day payouts; asked for a trial month.",
    ),
    Script(
        "chat-upgrade-invoice",
        "chat",
        "Billing",
        "billing",
        ("invoice", "upgrade"),
        "normal",
        (
            customer(
                "Hi, I upgraded to Pro last month on your website chat. The invoice this month says $79 but I thought "
                "the first month was free?"
            ),
            assistant(
                "Upgrades start immediately and you're charged the difference for the rest of the month.",
                0.47,
                "change-plan",
            ),
            customer("that's not what I was told"),
            handoff("sentiment", "Sorry for the confusion, I'm passing you to our billing team."),
            assign(),
            reply(
                "Hi {first}, {agent} from Billing. I can see {prev_agent} set up your free month in the chat. The "
                "discount wasn't applied to the invoice, my apologies. I've refunded the $79 and the next invoice "
                "will be the regular Pro price."
            ),
            customer("thanks for checking"),
        ),
        summary="Charged $79 for Pro although a free first month was promised in an earlier web chat.",
        follow_up=True,
    ),
    Script(
        "voice-payout-missing",
        "voice",
        "Billing",
        "billing",
        ("payouts",),
        "high",
        (
            customer(
                "Hi, it's {full} from {store}. My payouts have been coming in short the last two weeks and I can't "
                "work out why. Can someone call me? Or I'll email the details."
            ),
            assign(),
            note("Tried calling back, no answer. Left voicemail asking them to email the payout dates."),
        ),
        summary="Voicemail: payouts have been short for two weeks.",
        priority_reason="Payouts short for two weeks",
    ),
    Script(
        "email-payout-details",
        "email",
        "Billing",
        "billing",
        ("payouts", "refund"),
        "high",
        (
            customer(
                "Hi,\n\nI left a voicemail yesterday about our payouts. Here are the details: the payouts on the 3rd, "
                "4th and 5th were each about $40-60 less than our sales report says.\n\nThanks,\n{full}"
            ),
            assign(),
            reply(
                "Hi {first},\n\nThanks for the details, and sorry I missed you on the phone. The difference on those "
                "days is refunds your staff issued on older sales: refunds are taken from the next payout when they "
                "happen. Reports → Payouts shows each refund deducted. Two of them look like duplicates of the "
                "same order: you can require a manager PIN for refunds under Settings → Security.\n\nBest,\n{agent}"
            ),
            customer("Ah, that explains it. Thanks for spotting the duplicates."),
        ),
        summary="Follow-up to a voicemail: payouts on three days were $40-60 short of the sales report.",
        subject="Payouts coming in short",
        follow_up=True,
        priority_reason="Payouts short for two weeks",
    ),
    Script(
        "sms-printer-jam",
        "sms",
        "Support",
        "technical",
        ("hardware",),
        "normal",
        (
            customer("printer keeps jamming every few receipts"),
            assistant(
                "Turn the printer off, open the lid, remove the roll and any torn paper, then reload with the shiny "
                "side down. Use 80mm thermal rolls; thicker paper causes jams.",
                0.82,
                "printer",
            ),
            customer("ok that fixed it thanks"),
        ),
    ),
    Script(
        "sms-printer-again",
        "sms",
        "Support",
        "technical",
        ("hardware", "replacement"),
        "normal",
        (
            customer("hi again, printer is jamming again even with the right paper now"),
            assign(),
            reply(
                "Hi {first}, {agent} here. I can see it jammed last time too. If it's jamming with the right paper, "
                "the cutter is probably worn. I'm sending a replacement printer today, no charge."
            ),
            customer("amazing, thank you"),
        ),
        summary="Printer jamming again after last month's fix, with the right paper.",
        follow_up=True,
    ),
)

# Cross-channel stories: the same person writes on one channel, then later on another.
STORIES: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("email", "email-reader-broken"), ("sms", "sms-replacement-where")),
    (("webchat", "chat-upgrade-pro"), ("whatsapp", "chat-upgrade-invoice")),
    (("voice", "voice-payout-missing"), ("billing_email", "email-payout-details")),
    (("sms", "sms-printer-jam"), ("sms", "sms-printer-again")),
)

CSAT_COMMENTS: dict[int, tuple[str, ...]] = {
    5: ("Fast and friendly, thank you!", "Sorted in minutes.", "Best support I've had from any provider.", "", ""),
    4: ("Good, took a little while to get to a person.", "Helpful, thanks.", ""),
    3: ("Fixed in the end but I had to explain twice.", "OK.", ""),
    2: ("Took too long, I lost sales while waiting.", "The bot was useless, the person was fine."),
    1: ("Still not fixed.", "Nobody called me back."),
}

# --- People ----------------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia",
    "Marcus",
    "Hannah",
    "Jamal",
    "Wei",
    "Grace",
    "Tyler",
    "Fatima",
    "Kenji",
    "Chloe",
    "Daniel",
    "Omar",
    "Nina",
    "Lucas",
    "Zoe",
    "Ethan",
    "Aaliyah",
    "Noah",
    "Mei",
    "Rachel",
    "Derek",
    "Tasha",
    "Ben",
    "Ivy",
    "Leah",
    "Andre",
    "Monique",
    "Kevin",
    "Erin",
    "Raj",
    "Julia",
    "Trevor",
    "Amara",
    "Connor",
    "Yuki",
    "Gabriel",
    "Bianca",
    "Malik",
    "Sienna",
    "Patrick",
    "Naomi",
    "Hassan",
    "Keisha",
    "Owen",
    "Ruby",
    "Victor",
    "Tess",
    "Dmitri",
    "Lena",
    "Ashley",
    "Brandon",
    "Felix",
    "Harper",
    "Isaac",
    "Jade",
    "Kai",
    "Laura",
    "Nora",
    "Oscar",
    "Paige",
    "Quinn",
    "Sean",
    "Tara",
    "Uma",
    "Vince",
    "Wendy",
    "Xavier",
    "Yasmin",
    "Zach",
    "Abby",
    "Cole",
    "Dana",
    "Elise",
    "Femi",
)
LAST_NAMES = (
    "Nguyen",
    "Johnson",
    "Okafor",
    "Kowalski",
    "Smith",
    "Patel",
    "Kim",
    "Rossi",
    "Martin",
    "Brown",
    "Haddad",
    "Yamamoto",
    "O'Brien",
    "Fischer",
    "Cohen",
    "Ward",
    "Silva",
    "Thompson",
    "Baker",
    "Mensah",
    "Novak",
    "Park",
    "Hughes",
    "Schmidt",
    "Ali",
    "Evans",
    "Foster",
    "Gupta",
    "Hayes",
    "Ibrahim",
    "Jensen",
    "Khan",
    "Murphy",
    "Nakamura",
    "Osei",
    "Price",
    "Russo",
    "Sato",
    "Tran",
    "Usman",
    "Young",
    "Zhang",
    "Bennett",
    "Carter",
    "Ellis",
    "Ford",
    "Greene",
    "Hart",
    "Ivanova",
    "Jackson",
    "Lee",
    "Reed",
    "Stone",
    "Dubois",
    "Kaur",
    "Lindgren",
    "Moss",
)
ES_FIRST_NAMES = (
    "Carlos",
    "Lucía",
    "Alejandro",
    "Valentina",
    "Javier",
    "Camila",
    "Miguel",
    "Sofía",
    "Andrés",
    "Gabriela",
    "Luis",
    "Paula",
    "Mateo",
    "Rosa",
)
ES_LAST_NAMES = (
    "García",
    "Hernández",
    "Martínez",
    "Rodríguez",
    "López",
    "Ramírez",
    "Torres",
    "Flores",
    "Castillo",
    "Morales",
    "Jiménez",
    "Ruiz",
)
STORE_FIRST = (
    "Blue Door",
    "Little Fig",
    "Copper Kettle",
    "Northside",
    "Two Rivers",
    "Golden Hour",
    "Maple & Main",
    "Fern",
    "Salt & Stone",
    "Harbor",
    "Red Fox",
    "Sunny Side",
    "Old Mill",
    "Juniper",
    "Brick Lane",
    "Paper Moon",
    "Lucky Cat",
    "Wildflower",
    "Third Street",
    "Oak & Ivy",
    "Half Moon",
    "Corner",
    "Honeybee",
    "Driftwood",
)
STORE_SECOND = (
    "Coffee",
    "Books",
    "Bakery",
    "Barbers",
    "Flowers",
    "Records",
    "Tacos",
    "Yoga",
    "Bike Shop",
    "Deli",
    "Boutique",
    "Pet Supply",
    "Hardware",
    "Pizza",
    "Tea House",
    "Food Truck",
    "Candles",
    "Vintage",
    "Gallery",
    "Nail Studio",
)
US_CITIES = (
    ("Portland, OR", "503"),
    ("Austin, TX", "512"),
    ("Brooklyn, NY", "718"),
    ("Chicago, IL", "312"),
    ("Denver, CO", "303"),
    ("Seattle, WA", "206"),
    ("Boston, MA", "617"),
    ("San Diego, CA", "619"),
    ("Nashville, TN", "615"),
    ("Atlanta, GA", "404"),
    ("Minneapolis, MN", "612"),
    ("Philadelphia, PA", "215"),
    ("Oakland, CA", "510"),
    ("Asheville, NC", "828"),
    ("Madison, WI", "608"),
)
ES_CITIES = (("Miami, FL", "305"), ("San Antonio, TX", "210"), ("Los Angeles, CA", "213"), ("El Paso, TX", "915"))
UK_CITY = "London, UK"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

# Which identity a customer uses to reach each inbox.
IDENTITY_FOR_INBOX = {
    "webchat": IdentityKind.WEB_VISITOR,
    "sms": IdentityKind.PHONE,
    "voice": IdentityKind.PHONE,
    "whatsapp": IdentityKind.WHATSAPP,
    "email": IdentityKind.EMAIL,
    "billing_email": IdentityKind.EMAIL,
    "api": IdentityKind.API,
}

# How a conversation ends up, and how often.
TARGETS = (("active", 12), ("pending", 9), ("snoozed", 3), ("resolved", 18), ("archived", 58))


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().replace("'", "").lower()


@dataclasses.dataclass
class _Person:
    name: str
    language: str
    city: str
    segment: str
    store: str
    phone: str
    email: str
    channels: list[str]
    attributes: dict[str, Any]
    identities: dict[str, str] = dataclasses.field(default_factory=dict)
    contact: Contact | None = None

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclasses.dataclass
class _Plan:
    seq: int
    person: _Person
    inbox: InboxSpec
    script: Script
    target: str
    steps: list[Step]
    offsets: list[timedelta]
    agent: str
    context: dict[str, str]
    rng: random.Random
    resolve_delay: timedelta
    identity: tuple[str, str]
    previous: _Plan | None = None
    start: datetime | None = None
    conversation: Conversation | None = None

    @property
    def last_agent_step(self) -> int:
        kinds = (ASSIGN, TAKE_OVER, REPLY, NOTE, TAG, PRIORITY)
        return max((i for i, step in enumerate(self.steps) if step.kind in kinds), default=-1)

    def at(self, index: int) -> datetime:
        assert self.start is not None
        return self.start + self.offsets[index]

    @property
    def end(self) -> datetime:
        return self.at(len(self.steps) - 1)


class _Context(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@contextmanager
def _clock(when: datetime) -> Iterator[None]:
    """Run the services as if it were ``when``: they all read ``timezone.now()``."""
    with time_machine.travel(when, tick=False):
        yield


# --- Logins ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    note: str

    @property
    def line(self) -> str:
        return f"{self.role:<11} {self.username:<11} {self.password}  ({self.note})"


@dataclasses.dataclass(frozen=True)
class SeedReport:
    created: bool
    message: str
    logins: list[DemoLogin]
    login_file: Path
    passwords_reset: bool = False


def login_file_path() -> Path:
    return Path(settings.VAR_DIR) / LOGIN_FILE_NAME


def _account_note(spec: AccountSpec) -> str:
    return "admin" if spec.is_supervisor else ", ".join(spec.teams)


def _write_logins(path: Path, logins: Sequence[DemoLogin]) -> None:
    """Write the demo logins readable by this user only, replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    company = settings.COMPANY_NAME
    lines = [
        f"# Demo accounts for {company}, made by `manage.py seed_demo`. Sign in at {settings.PUBLIC_BASE_URL}/",
        "# role      username    password",
        *(login.line for login in logins),
    ]
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def read_logins(path: Path) -> list[DemoLogin]:
    if not path.exists():
        return []
    logins = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=3)
        if len(parts) < 3:
            continue
        note = parts[3].strip().removeprefix("(").removesuffix(")") if len(parts) > 3 else ""
        logins.append(DemoLogin(parts[0], parts[1], parts[2], note))
    return logins


def _new_password() -> str:
    return secrets.token_urlsafe(15)


def _hash_in_background(passwords: Sequence[str], *, spare_a_core: bool) -> Callable[[], list[str]]:
    """Start hashing now and return a function that waits for the hashes.

    Each hash is deliberately slow (most of a second), and hashlib releases the GIL while it
    works, so the hashes are made side by side and, while seeding, beside the database work.
    """
    cores = os.cpu_count() or 1
    workers = max(1, min(len(passwords), cores - 1 if spare_a_core else cores))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-password")
    futures = [pool.submit(make_password, password) for password in passwords]
    pool.shutdown(wait=False)
    return lambda: [future.result() for future in futures]


def _reset_passwords(users: dict[str, Any]) -> list[DemoLogin]:
    specs = [spec for spec in ACCOUNTS if spec.username in users]
    passwords = [_new_password() for _ in specs]
    hashes = _hash_in_background(passwords, spare_a_core=False)()
    with transaction.atomic():
        for spec, hashed in zip(specs, hashes, strict=True):
            user = users[spec.username]
            user.password = hashed
            user.save(update_fields=["password"])
    return [
        DemoLogin("supervisor" if spec.is_supervisor else "agent", spec.username, password, _account_note(spec))
        for spec, password in zip(specs, passwords, strict=True)
    ]


# --- Entry point -----------------------------------------------------------------------------


def is_seeded() -> bool:
    return BusinessHours.objects.filter(name=DEMO_MARKER).exists()


def _reason_not_to_seed() -> str:
    """Demo data is only added to an empty product, never mixed into real data."""
    usernames = [spec.username for spec in ACCOUNTS]
    taken = list(get_user_model().objects.filter(username__in=usernames).values_list("username", flat=True))
    if taken:
        return f"not adding demo data: the username(s) {', '.join(sorted(taken))} already exist"
    if Inbox.objects.exists() or Conversation.objects.exists():
        return "not adding demo data: this database already has inboxes or conversations"
    return ""


def seed_demo(*, now: datetime | None = None) -> SeedReport:
    """Create the demo company once; afterwards only make sure its logins are on file and work."""
    path = login_file_path()
    if is_seeded():
        users = {u.username: u for u in get_user_model().objects.filter(username__in=[s.username for s in ACCOUNTS])}
        logins = read_logins(path)
        if users and set(users) <= {login.username for login in logins}:
            return SeedReport(False, "demo data already present", logins, path)
        logins = _reset_passwords(users)
        _write_logins(path, logins)
        return SeedReport(False, "demo data already present; demo passwords were reset", logins, path, True)
    reason = _reason_not_to_seed()
    if reason:
        return SeedReport(False, reason, [], path)
    started = time.monotonic()
    # History is not news: no one watches it live, so the services send no live events for it.
    with transaction.atomic(), realtime.muted():
        builder = _Builder(now=now or timezone.now())
        logins = builder.build()
    with realtime.muted():
        # Targets the history already missed are recorded as breached now, quietly, not as a burst of alerts
        # on the first beat; and the dashboard has its figures at once rather than after the first refresh.
        sla.run_sla_timers()
    analytics_recorder.rebuild()
    _write_logins(path, logins)
    counts = builder.counts()
    message = f"demo data created for {settings.COMPANY_NAME}: {counts} ({time.monotonic() - started:.1f}s)"
    return SeedReport(True, message, logins, path)


# --- The builder -----------------------------------------------------------------------------


class _Builder:
    def __init__(self, *, now: datetime) -> None:
        self.now = now.replace(microsecond=0)
        self.rng = random.Random(RANDOM_SEED)
        self.company = settings.COMPANY_NAME
        self.domain = f"{slugify(self.company.split()[0]) or 'demo'}.example"
        self.users: dict[str, Any] = {}
        self.user_names: dict[int, str] = {}
        self.password_hashes: Callable[[], list[str]] = list
        self.teams: dict[str, Team] = {}
        self.inboxes: dict[str, Inbox] = {}
        self.articles: dict[str, KnowledgeArticle] = {}
        self.rules: dict[str, RoutingRule] = {}
        self.script_uses: dict[str, int] = {}
        self.actions: list[tuple[datetime, int, int, Callable[[], None]]] = []

    # --- Orchestration ---------------------------------------------------------------------

    def build(self) -> list[DemoLogin]:
        start = self.now - timedelta(days=HISTORY_DAYS + 5)
        with _clock(start):
            logins = self._accounts()
            self._teams()
            hours, policies = self._hours_and_policies()
            self._inboxes(hours, policies)
            self._tags()
            self._articles()
            self._canned()
            self._rules(policies)
        people = self._people()
        plans = self._plans(people)
        for plan in plans:
            self._schedule(plan)
        for when, _seq, _index, action in sorted(self.actions, key=lambda item: item[:3]):
            with _clock(when):
                action()
        self._presence()
        for spec, hashed in zip(ACCOUNTS, self.password_hashes(), strict=True):
            self.users[spec.username].password = hashed
            self.users[spec.username].save(update_fields=["password"])
        return logins

    def counts(self) -> str:
        return (
            f"{len(self.inboxes)} inboxes, {len(self.teams)} teams, {len(self.users)} accounts, "
            f"{Contact.objects.count()} contacts, {Conversation.objects.count()} conversations, "
            f"{Message.objects.count()} messages"
        )

    def _add(self, when: datetime, plan: _Plan, index: int, action: Callable[[], None]) -> None:
        self.actions.append((when, plan.seq, index, action))

    def _minutes(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=round(self.rng.uniform(low, high) * 60))

    # --- Configuration (ORM, validated) --------------------------------------------------------

    def _accounts(self) -> list[DemoLogin]:
        user_model = get_user_model()
        users = [
            user_model(
                username=spec.username,
                first_name=spec.first_name,
                last_name=spec.last_name,
                email=f"{spec.first_name.lower()}@{self.domain}",
                is_staff=spec.is_supervisor,
                is_superuser=spec.is_supervisor,
            )
            for spec in ACCOUNTS
        ]
        passwords = [_new_password() for _ in ACCOUNTS]
        self.password_hashes = _hash_in_background(passwords, spare_a_core=True)
        for spec, user in zip(ACCOUNTS, users, strict=True):
            user.set_unusable_password()  # until the real hash is ready, at the end of the seed
            user.full_clean()
            user.save()
            self.users[spec.username] = user
        self.user_names = {user.pk: name for name, user in self.users.items()}
        return [
            DemoLogin("supervisor" if spec.is_supervisor else "agent", spec.username, password, _account_note(spec))
            for spec, password in zip(ACCOUNTS, passwords, strict=True)
        ]

    def _teams(self) -> None:
        for name, description, strategy, reassign in TEAMS:
            team = Team(
                name=name, description=description, assignment_strategy=strategy, reassign_after_minutes=reassign
            )
            team.full_clean()
            team.save()
            team.supervisors.add(self.users[SUPERVISOR.username])
            self.teams[name] = team
        for spec in ACCOUNTS:
            profile = AgentProfile(
                user=self.users[spec.username],
                availability=spec.availability,
                capacity=spec.capacity,
                skills=list(spec.skills),
                languages=list(spec.languages),
                channels=list(spec.channels),
            )
            profile.full_clean()
            profile.save()
            profile.teams.add(*(self.teams[name] for name in spec.teams))

    def _hours_and_policies(self) -> tuple[BusinessHours, dict[str, SLAPolicy]]:
        year = self.now.year
        holidays = [
            day.isoformat()
            for y in (year, year + 1)
            for day in (date(y, 1, 1), date(y, 7, 4), _thanksgiving(y), date(y, 12, 25))
        ]
        weekdays = {str(day): [["08:00", "20:00"]] for day in range(1, 6)}
        hours = BusinessHours(
            name=DEMO_MARKER,
            timezone="America/New_York",
            schedule={**weekdays, "6": [["10:00", "16:00"]]},
            holidays=holidays,
        )
        hours.full_clean()
        hours.save()
        policies = {}
        for name, first, following, resolution, business in (
            ("Standard support", 60, 240, 24 * 60, True),
            ("Live chat", 5, 15, 8 * 60, False),
            ("VIP", 15, 60, 8 * 60, True),
        ):
            policy = SLAPolicy(
                name=name,
                first_response_minutes=first,
                next_response_minutes=following,
                resolution_minutes=resolution,
                business_hours=hours if business else None,
            )
            policy.full_clean()
            policy.save()
            policies[name] = policy
        return hours, policies

    def _inbox_config(self, spec: InboxSpec) -> dict[str, Any]:
        if spec.kind == ChannelKind.WEBCHAT:
            public = urlparse(settings.PUBLIC_BASE_URL)
            origins = [f"https://www.{self.domain}", f"https://help.{self.domain}"]
            if public.scheme and public.netloc:
                origins.append(f"{public.scheme}://{public.netloc}")
            return {
                "allowed_origins": origins,
                "greeting": "Hi! Questions about your reader, payouts or plan? Ask away.",
                "color": "#0f766e",
            }
        if spec.kind in SUPPORT_NUMBERS:
            return {"phone_number": SUPPORT_NUMBERS[spec.kind]}
        if spec.kind == ChannelKind.EMAIL:
            local = "billing" if spec.key == "billing_email" else "support"
            return {"address": f"{local}@{self.domain}"}
        return {"outbound_url": f"https://app.{self.domain}/hooks/support-replies"}

    def _inboxes(self, hours: BusinessHours, policies: dict[str, SLAPolicy]) -> None:
        for spec in INBOXES:
            inbox = Inbox(
                name=spec.name,
                kind=spec.kind,
                config=self._inbox_config(spec),
                default_team=self.teams[spec.team],
                business_hours=hours,
                sla_policy=policies[spec.sla],
                pending_after_minutes=spec.pending_after_minutes,
                archive_after_days=ARCHIVE_AFTER_DAYS,
                assistant_enabled=spec.assistant_enabled,
                assistant_mode=spec.assistant_mode,
                handoff_keywords=list(HANDOFF_KEYWORDS),
            )
            inbox.full_clean()
            inbox.save()
            inbox.members.add(self.users[SUPERVISOR.username], *(self.users[name] for name in spec.members))
            self.inboxes[spec.key] = inbox

    def _tags(self) -> None:
        for name, color in TAGS.items():
            item = Tag(name=name, color=color)
            item.full_clean()
            item.save()

    def _articles(self) -> None:
        supervisor = self.users[SUPERVISOR.username]
        for index, spec in enumerate(ARTICLES):
            with _clock(self.now - timedelta(days=HISTORY_DAYS + 30 - index)):
                article = KnowledgeArticle(
                    title=spec.title,
                    body=spec.body.replace("{domain}", self.domain),
                    keywords=spec.keywords,
                    topic=spec.topic,
                    created_by=supervisor,
                )
                article.full_clean()
                article.save()
            self.articles[spec.key] = article

    def _canned(self) -> None:
        for shortcut, title, team, body in CANNED:
            response = CannedResponse(
                shortcut=shortcut,
                title=title,
                body=body,
                team=self.teams[team] if team else None,
                created_by=self.users[SUPERVISOR.username],
            )
            response.full_clean()
            response.save()

    def _rules(self, policies: dict[str, SLAPolicy]) -> None:
        specs: tuple[tuple[str, str, int, list[dict[str, Any]], dict[str, Any], bool], ...] = (
            (
                "vip",
                "VIP customers first",
                10,
                [{"field": "segment", "operator": "is", "value": "vip"}],
                {"priority": "high", "tags": ["vip"], "sla_policy": policies["VIP"].pk},
                False,
            ),
            (
                "billing",
                "Billing questions to the Billing team",
                20,
                [
                    {"field": "topic", "operator": "is", "value": "billing"},
                    {
                        "field": "keywords",
                        "operator": "contains_any",
                        "value": ["invoice", "refund", "payout", "charged"],
                    },
                ],
                {"team": self.teams["Billing"].pk},
                True,
            ),
            (
                "spanish",
                "Spanish speakers to Spanish-speaking agents",
                30,
                [{"field": "language", "operator": "is", "value": "es"}],
                {"team": self.teams["Support"].pk, "tags": ["spanish"]},
                False,
            ),
            (
                "sales",
                "Sales questions from chat to Sales",
                40,
                [
                    {"field": "channel", "operator": "in", "value": ["webchat", "whatsapp"]},
                    {"field": "topic", "operator": "is", "value": "sales"},
                ],
                {"team": self.teams["Sales"].pk},
                True,
            ),
        )
        for key, name, position, conditions, actions, stop in specs:
            rule = RoutingRule(
                name=name,
                position=position,
                match=MatchMode.ANY if key == "billing" else MatchMode.ALL,
                conditions=conditions,
                actions=actions,
                stop_processing=stop,
            )
            rule.full_clean()
            rule.save()
            self.rules[key] = rule

    # --- Customers and what happens to them ----------------------------------------------------

    def _people(self) -> list[_Person]:
        rng = self.rng
        people: list[_Person] = []
        used_names: set[str] = set()
        used_stores: set[str] = set()
        used_phones: set[str] = set()
        inbox_keys = [spec.key for spec in INBOXES]
        weights = [spec.weight for spec in INBOXES]
        for index in range(CONTACT_COUNT):
            kind = "es" if index % 14 == 3 else "uk" if index % 33 == 7 else "us"
            while True:
                if kind == "es":
                    name = f"{rng.choice(ES_FIRST_NAMES)} {rng.choice(ES_LAST_NAMES)}"
                else:
                    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                if name not in used_names:
                    used_names.add(name)
                    break
            while True:
                store = f"{rng.choice(STORE_FIRST)} {rng.choice(STORE_SECOND)}"
                if store not in used_stores:
                    used_stores.add(store)
                    break
            city, area = rng.choice(ES_CITIES if kind == "es" else US_CITIES)
            while True:
                phone = (
                    f"+447700900{rng.randint(0, 999):03d}" if kind == "uk" else f"+1{area}55501{rng.randint(0, 99):02d}"
                )
                if phone not in used_phones:
                    used_phones.add(phone)
                    break
            if kind == "uk":
                city = UK_CITY
            first, last = (_ascii(part) for part in name.split(maxsplit=1))
            store_domain = f"{slugify(store)}.example"
            email = (
                f"{first}@{store_domain}"
                if rng.random() < 0.55
                else f"{first}.{last.replace(' ', '')}{rng.choice(['', '', str(rng.randint(1, 99))])}@example.com"
            )
            roll = rng.random()
            segment = "vip" if roll < 0.07 else "enterprise" if roll < 0.1 else "trial" if roll < 0.2 else ""
            allowed = {
                "es": ["webchat", "whatsapp", "sms"],
                "uk": ["webchat", "email", "whatsapp", "api"],
                "us": inbox_keys,
            }[kind]
            count = 1 if rng.random() < 0.66 else 2 if rng.random() < 0.78 else 3
            channels: list[str] = []
            while len(channels) < min(count, len(allowed)):
                choice = rng.choices(inbox_keys, weights)[0]
                if choice in allowed and choice not in channels:
                    channels.append(choice)
            people.append(
                _Person(
                    name=name,
                    language="es" if kind == "es" else "en",
                    city=city,
                    segment=segment,
                    store=store,
                    phone=phone,
                    email=email,
                    channels=channels,
                    attributes={
                        "business": store,
                        "plan": rng.choice(["Starter", "Growth", "Growth", "Pro"]),
                        "merchant_id": f"m_{rng.getrandbits(48):012x}",
                        "customer_since": (self.now - timedelta(days=rng.randint(90, 2000))).date().isoformat(),
                    },
                )
            )
        return people

    def _identity(self, person: _Person, inbox_key: str) -> tuple[str, str]:
        kind = IDENTITY_FOR_INBOX[inbox_key]
        if kind not in person.identities:
            person.identities[kind] = {
                IdentityKind.PHONE: person.phone,
                IdentityKind.WHATSAPP: person.phone,
                IdentityKind.EMAIL: person.email,
                IdentityKind.WEB_VISITOR: f"wv_{self.rng.getrandbits(80):020x}",
                IdentityKind.API: f"merchant-{self.rng.randint(100000, 999999)}",
            }[kind]
        return kind, person.identities[kind]

    def _pick_script(self, person: _Person, spec: InboxSpec, used: set[str]) -> Script:
        styles = {"chat", "sms"} if spec.kind == "whatsapp" else {spec.style}
        candidates = [
            script
            for script in SCRIPTS
            if script.style in styles
            and script.language == person.language
            and not script.follow_up
            and script.key not in used
            and (spec.assistant_answers or not script.uses_assistant)
            and (spec.key != "billing_email" or script.team == "Billing")
        ]
        weights = [1 / (1 + self.script_uses.get(script.key, 0)) for script in candidates]
        script = self.rng.choices(candidates, weights)[0]
        self.script_uses[script.key] = self.script_uses.get(script.key, 0) + 1
        return script

    def _pick_agent(self, person: _Person, spec: InboxSpec, script: Script, previous: _Plan | None) -> str:
        if previous is not None and previous.inbox.key == spec.key:
            return previous.agent
        members = [agent for agent in AGENTS if agent.username in spec.members]
        if person.language != "en":
            speakers = [agent for agent in members if person.language in agent.languages]
            if speakers:
                return speakers[0].username
        pool = (
            [agent for agent in members if script.team in agent.teams]
            or [agent for agent in members if spec.team in agent.teams]
            or members
        )
        if previous is not None and len(pool) > 1:
            pool = [agent for agent in pool if agent.username != previous.agent]
        return self.rng.choice(pool).username

    def _plans(self, people: list[_Person]) -> list[_Plan]:
        plans: list[_Plan] = []
        specs = {spec.key: spec for spec in INBOXES}
        scripts = {script.key: script for script in SCRIPTS}
        # Every fifth US customer from the eighth on tells one of the cross-channel stories.
        storytellers = [i for i, p in enumerate(people) if p.language == "en" and p.city != UK_CITY]
        stories = {storytellers[7 + number * 5]: story for number, story in enumerate(STORIES * 3)}
        for position, person in enumerate(people):
            story = stories.get(position)
            used: set[str] = set()
            if story is not None:
                (first_inbox, first_key), (second_inbox, second_key) = story
                person.channels = [c for c in person.channels if c not in (first_inbox, second_inbox)]
                second = self._plan(person, specs[second_inbox], scripts[second_key], previous=None, target=None)
                first = self._plan(person, specs[first_inbox], scripts[first_key], previous=None, target="story")
                second.previous = first
                second.agent = self._pick_agent(person, second.inbox, second.script, first)
                second.context.update(self._agent_context(second.agent), prev_agent=first.context["agent"])
                self._place(second)
                self._place_before(first, second)
                plans += [first, second]
                used = {first_key, second_key}
            for channel in person.channels:
                spec = specs[channel]
                script = self._pick_script(person, spec, used)
                used.add(script.key)
                plan = self._plan(person, spec, script, previous=None, target=None)
                self._place(plan)
                plans.append(plan)
        plans.sort(key=lambda plan: plan.start or self.now)
        for seq, plan in enumerate(plans):
            plan.seq = seq
        return plans

    def _agent_context(self, username: str) -> dict[str, str]:
        user = self.users[username]
        return {"agent": user.first_name, "agent_full": user.get_full_name()}

    def _plan(
        self, person: _Person, spec: InboxSpec, script: Script, *, previous: _Plan | None, target: str | None
    ) -> _Plan:
        rng = self.rng
        if target is None:
            target = rng.choices([name for name, _ in TARGETS], [weight for _, weight in TARGETS])[0]
        steps = self._cut(script, target)
        if steps is None:
            target = "resolved" if rng.random() < 0.3 else "archived"
            steps = list(script.steps)
        agent = self._pick_agent(person, spec, script, previous)
        city = person.city.split(",")[0]
        context = _Context(
            first=person.first,
            full=person.name,
            store=person.store,
            store_domain=f"{slugify(person.store)}.example",
            email=person.email,
            company=self.company,
            domain=self.domain,
            city=city,
            order=f"#{rng.randint(40000, 89999)}",
            tracking=f"1Z{rng.randint(100, 999)}E{rng.randint(10, 99)}03{rng.randint(10_000_000, 99_999_999)}",
            amount=f"${rng.uniform(850, 4800):,.2f}",
            serial=f"PR-{rng.randint(1_000_000, 9_999_999)}",
            last4=f"{rng.randint(0, 9999):04d}",
            day=rng.choice(WEEKDAYS),
            ship_day=rng.choice(WEEKDAYS),
            invoice=f"INV-{self.now.year}-{rng.randint(10000, 99999)}",
            plan_price=rng.choice(["$29.00", "$79.00"]),
            time_of_day=f"{rng.randint(9, 11)}:{rng.choice(['05', '20', '40', '55'])}am",
            prev_agent="a colleague",
            **self._agent_context(agent),
        )
        low, high = {"email": (20, 300), "voice": (2, 30)}.get(spec.style, (2, 50))
        return _Plan(
            seq=0,
            person=person,
            inbox=spec,
            script=script,
            target=target,
            steps=steps,
            offsets=self._offsets(steps, spec.style),
            agent=agent,
            context=context,
            rng=random.Random(rng.getrandbits(64)),
            resolve_delay=self._minutes(low, high),
            identity=self._identity(person, spec.key),
            previous=previous,
        )

    def _cut(self, script: Script, target: str) -> list[Step] | None:
        """The part of the script played for a conversation that ends up in ``target``."""
        steps = list(script.steps)
        if target in ("resolved", "archived", "story"):
            return steps
        if target == "active":
            ends = [i for i, step in enumerate(steps) if step.kind in (CUSTOMER, ASSISTANT, HANDOFF, ASSIGN, TAKE_OVER)]
        elif target == "pending":
            ends = [i for i, step in enumerate(steps) if step.kind in (REPLY, ASSISTANT)]
        else:  # snoozed: an agent is on it and waiting for something
            first_agent = next((i for i, s in enumerate(steps) if s.kind in (ASSIGN, TAKE_OVER, REPLY)), len(steps))
            ends = [i for i, step in enumerate(steps) if step.kind in (REPLY, NOTE) and i > first_agent]
        if not ends:
            return None
        end = self.rng.choice(ends[len(ends) // 3 :])
        return steps[: end + 1]

    def _offsets(self, steps: Sequence[Step], style: str) -> list[timedelta]:
        """When each step happens, counted from the first message."""
        offsets = [timedelta(0)]
        for previous, step in itertools.pairwise(steps):
            offsets.append(offsets[-1] + self._gap(previous, step, style))
        return offsets

    def _gap(self, previous: Step, step: Step, style: str) -> timedelta:
        slow = {"chat": 1.0, "sms": 3.0, "email": 40.0, "voice": 8.0}[style]
        kind, before = step.kind, previous.kind
        if kind in (ASSISTANT, HANDOFF):
            return timedelta(seconds=self.rng.randint(3, 14))
        if kind == CUSTOMER:
            if before in (ASSISTANT, HANDOFF):
                return self._minutes(0.3 * slow, 2.5 * slow)
            return self._minutes(0.6 * slow, 5 * slow)
        if kind == ASSIGN:
            if before == HANDOFF:
                return self._minutes(1, 22)
            return self._minutes(0.5 * slow, 2.5 * slow)
        if kind == TAKE_OVER:
            return self._minutes(0.5, 5)
        if kind == REPLY:
            if before in (ASSIGN, TAKE_OVER):
                return self._minutes(0.4 * slow, 3 * slow)
            if before == CUSTOMER:
                return self._minutes(0.5 * slow, 4 * slow)
            return self._minutes(0.3, 3)
        if kind == NOTE:
            if style == "voice" and before in (ASSIGN, CUSTOMER):
                return self._minutes(4, 40)
            return self._minutes(0.3, 3)
        return self._minutes(0.1, 1)

    def _daytime(self, start: datetime) -> timedelta:
        """How far to move a conversation so it starts during a US working day (UTC 14:00-02:00)."""
        extra = self._minutes(0, 8 * 60)  # drawn every time, so later plans don't depend on the hour now
        if start.hour >= 14 or start.hour < 2:
            return timedelta(0)
        return timedelta(hours=14 - start.hour) + extra

    def _place(self, plan: _Plan) -> None:
        """Decide when the conversation happened, from how it ends up."""
        duration = plan.offsets[-1]
        threshold = timedelta(minutes=plan.inbox.pending_after_minutes)
        archive_after = timedelta(days=ARCHIVE_AFTER_DAYS)
        draw = self.rng.uniform(0, 1)
        if plan.target == "active":
            end = self.now - timedelta(minutes=2 + 28 * draw)
        elif plan.target == "pending":
            end = self.now - threshold - timedelta(minutes=10 + 60 * 60 * draw)
        elif plan.target == "snoozed":
            end = self.now - timedelta(minutes=20 + 30 * 60 * draw)
        else:
            low, high = (0.02, 6.6) if plan.target == "resolved" else (7.6, HISTORY_DAYS - 2 - duration.days)
            resolved_at = self.now - timedelta(days=low + (high - low) * draw)
            end = resolved_at - plan.resolve_delay
            shift = self._daytime(end - duration)
            if plan.target == "archived":
                if end + shift + plan.resolve_delay + archive_after + timedelta(hours=1) > self.now:
                    shift -= timedelta(days=1)
                end += shift
            elif end + shift + plan.resolve_delay < self.now - timedelta(minutes=30):
                end += shift
        plan.start = end - duration

    def _place_before(self, first: _Plan, second: _Plan) -> None:
        """The first part of a story ends (resolved) a few days before the second part starts."""
        assert second.start is not None
        resolved_at = second.start - timedelta(days=self.rng.uniform(1.0, 5.0))
        first.target = "archived" if resolved_at + timedelta(days=7, hours=1) < self.now else "resolved"
        first.start = resolved_at - first.resolve_delay - first.offsets[-1]

    # --- Playing the scripts through the services ---------------------------------------------

    def _schedule(self, plan: _Plan) -> None:
        threshold = timedelta(minutes=plan.inbox.pending_after_minutes)
        last_message: datetime | None = None
        for index, step in enumerate(plan.steps):
            when = plan.at(index)
            if last_message is not None:
                self._idle_timer(plan, last_message, threshold, before=when, index=1000 + index)
            self._add(when, plan, index, functools.partial(self._run_step, plan, index))
            if step.kind in (CUSTOMER, ASSISTANT, HANDOFF, REPLY, TAKE_OVER):
                last_message = when
        assert last_message is not None
        end, n = plan.end, len(plan.steps)
        if plan.target == "pending":
            self._idle_timer(plan, last_message, threshold, before=self.now, index=n)
        elif plan.target == "snoozed":
            snoozed_at = end + timedelta(minutes=plan.rng.uniform(1, 8))
            until = (self.now + timedelta(hours=plan.rng.uniform(18, 96))).replace(minute=0, second=0)
            self._add(snoozed_at, plan, n, functools.partial(self._snooze, plan, until))
        elif plan.target in ("resolved", "archived"):
            resolved_at = end + plan.resolve_delay
            self._idle_timer(plan, last_message, threshold, before=resolved_at, index=n)
            self._add(resolved_at, plan, n + 1, functools.partial(self._resolve, plan))
            self._schedule_csat(plan, resolved_at)
            if plan.target == "archived":
                archived_at = resolved_at + timedelta(days=ARCHIVE_AFTER_DAYS, minutes=plan.rng.uniform(1, 30))
                self._add(archived_at, plan, n + 4, functools.partial(self._archive, plan))

    def _idle_timer(self, plan: _Plan, last: datetime, threshold: timedelta, *, before: datetime, index: int) -> None:
        """The auto-status timer: a quiet active conversation becomes pending (checked when it would run)."""
        when = last + threshold + timedelta(minutes=plan.rng.uniform(0.2, 5))
        if when < before:
            self._add(when, plan, index, functools.partial(self._go_pending, plan, threshold))

    def _schedule_csat(self, plan: _Plan, resolved_at: datetime) -> None:
        human = any(step.kind in (ASSIGN, TAKE_OVER, REPLY) for step in plan.steps)
        if plan.rng.random() > (0.45 if human else 0.15):
            return
        requested_at = resolved_at + timedelta(seconds=plan.rng.randint(20, 90))
        self._add(requested_at, plan, len(plan.steps) + 2, functools.partial(self._csat_request, plan))
        answered_at = requested_at + timedelta(minutes=plan.rng.uniform(3, 20 * 60))
        if plan.rng.random() < 0.8 and answered_at < self.now:
            self._add(answered_at, plan, len(plan.steps) + 3, functools.partial(self._csat_answer, plan))

    def _text(self, plan: _Plan, text: Text) -> str:
        chosen = plan.rng.choice(text) if isinstance(text, tuple) else text
        return chosen.format_map(plan.context)

    def _conversation(self, plan: _Plan) -> Conversation:
        """The conversation as it is now (the services lock and re-read it themselves)."""
        assert plan.conversation is not None
        return Conversation.objects.get(pk=plan.conversation.pk)

    def _run_step(self, plan: _Plan, index: int) -> None:
        step = plan.steps[index]
        agent = self.users[plan.agent]
        if step.kind == CUSTOMER:
            self._customer_writes(plan, index, step)
            return
        conversation = plan.conversation
        assert conversation is not None
        if step.kind == ASSISTANT:
            self._assistant_writes(plan, self._text(plan, step.text), confidence=step.confidence, article=step.article)
        elif step.kind == HANDOFF:
            self._assistant_hands_off(plan, step)
        elif step.kind == ASSIGN:
            self._assign(plan, self._conversation(plan), agent)
        elif step.kind == TAKE_OVER:
            services.conversation_take_over(conversation=conversation, agent=agent)
            self._summarize(plan)
            for message in Message.objects.filter(conversation=conversation, delivery_status=DeliveryStatus.QUEUED):
                self._deliver(plan, message)
        elif step.kind == REPLY:
            body = self._text(plan, step.text)
            self._deliver(plan, services.message_send_reply(conversation=conversation, author=agent, body=body))
        elif step.kind == NOTE:
            services.note_add(conversation=conversation, author=agent, body=self._text(plan, step.text))
        elif step.kind == TAG:
            services.conversation_set_tags(conversation=conversation, actor=agent, add=step.tags)
        elif step.kind == PRIORITY:
            services.conversation_set_priority(
                conversation=conversation, priority=step.priority, actor=agent, reason=step.reason
            )
        if index == plan.last_agent_step:  # where the agent got to: later customer messages are unread
            services.conversation_mark_read(conversation=conversation, user=agent)

    def _customer_writes(self, plan: _Plan, index: int, step: Step) -> None:
        person, inbox = plan.person, self.inboxes[plan.inbox.key]
        kind, value = plan.identity
        if index == 0 and person.contact is not None:  # a known customer on a new channel
            services.contact_add_identity(contact=person.contact, kind=kind, value=value, verified=kind == "email")
        subject = ""
        if inbox.kind == ChannelKind.EMAIL:
            subject = plan.script.subject.format_map(plan.context)
            subject = subject if index == 0 else f"Re: {subject}"
        attachments = (
            [services.InboundAttachment(step.attachment, "text/csv", self._statement_csv(plan))]
            if step.attachment
            else []
        )
        result = services.message_receive_inbound(
            inbox=inbox,
            identity_kind=kind,
            identity_value=value,
            body=self._text(plan, step.text),
            channel_message_id=self._channel_message_id(plan, outbound=False),
            contact_name=person.name,
            subject=subject,
            attachments=attachments,
            metadata=self._inbound_metadata(plan, index),
            start_new_conversation=index == 0 and inbox.kind == ChannelKind.EMAIL,
        )
        conversation = plan.conversation = result.message.conversation
        if person.contact is None:
            # A first message creates the contact; what the CRM knows about them is filled in here.
            person.contact = conversation.contact
            details = {"language": person.language, "location": person.city, "segment": person.segment}
            Contact.objects.filter(pk=person.contact.pk).update(**details, custom_attributes=person.attributes)
            if person.language != conversation.language:
                Conversation.objects.filter(pk=conversation.pk).update(language=person.language)
        if index == 0:
            with _clock(timezone.now() + timedelta(seconds=plan.rng.uniform(1, 2.5))):
                self._triage(plan, conversation)
        elif conversation.assignee_id is not None:
            self._notify(
                self.users[self.user_names[conversation.assignee_id]],
                NotificationKind.CUSTOMER_REPLIED,
                conversation,
                f"{person.name} replied",
                result.message.body[:140],
            )

    def _triage(self, plan: _Plan, conversation: Conversation) -> None:
        """What the assistant and the routing rules do with a new message: topic, tags, priority."""
        script, person = plan.script, plan.person
        if conversation.topic != script.topic:
            Conversation.objects.filter(pk=conversation.pk).update(topic=script.topic)
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.TOPIC,
                actor_kind=SenderKind.ASSISTANT,
                data={"topic": script.topic, "from": conversation.topic},
                created_at=timezone.now(),
            )
        tags = list(script.tags)
        priority = Priority.from_name(script.priority)
        reason = script.priority_reason or {
            Priority.URGENT: "Urgent wording; the customer can't take payments",
            Priority.HIGH: "The customer is blocked",
            Priority.LOW: "General question",
        }.get(priority, "")
        if person.segment == "vip":
            rule = self.rules["vip"]
            self._rule_applied(conversation, rule)
            Conversation.objects.filter(pk=conversation.pk).update(sla_policy=rule.actions["sla_policy"])
            tags.append("vip")
            if priority < Priority.HIGH:
                priority, reason = Priority.HIGH, f"Routing rule: {rule.name}"
        if person.language == "es":
            self._rule_applied(conversation, self.rules["spanish"])
            tags.append("spanish")
        if tags:
            services.conversation_set_tags(conversation=conversation, actor=None, add=tags)
        if priority != conversation.priority:
            services.conversation_set_priority(conversation=conversation, priority=priority, actor=None, reason=reason)
        if priority == Priority.URGENT:
            self._notify(
                self.users[SUPERVISOR.username],
                NotificationKind.URGENT,
                conversation,
                f"Urgent: {person.name}",
                conversation.last_message_preview[:140],
            )

    def _rule_applied(self, conversation: Conversation, rule: RoutingRule) -> None:
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.RULE_APPLIED,
            actor_kind=SenderKind.SYSTEM,
            data={"rule": rule.pk, "name": rule.name},
            created_at=timezone.now(),
        )

    def _assistant_writes(
        self, plan: _Plan, text: str, *, confidence: float | None, article: str = "", handing_off: bool = False
    ) -> Message:
        """An assistant message, written the way the assistant's service will write it."""
        now = timezone.now()
        sources = [{"id": self.articles[article].pk, "title": self.articles[article].title}] if article else []
        conversation = plan.conversation
        assert conversation is not None
        # No lock: the seed is one transaction in one process (the assistant's service will lock).
        message = Message.objects.create(
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Direction.OUTBOUND,
            sender_kind=SenderKind.ASSISTANT,
            body=text,
            delivery_status=DeliveryStatus.QUEUED,
            confidence=confidence,
            metadata={"sources": sources} if sources else {},
            created_at=now,
        )
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.MESSAGE_OUT,
            actor_kind=SenderKind.ASSISTANT,
            message=message,
            data={"confidence": confidence} if confidence is not None else {},
            created_at=now,
        )
        fields: dict[str, Any] = {
            "last_message_at": now,
            "last_message_preview": text.strip()[: services.PREVIEW_LENGTH],
            "last_message_direction": Direction.OUTBOUND,
            "last_message_sender_kind": SenderKind.ASSISTANT,
            "message_count": F("message_count") + 1,
            "updated_at": now,
        }
        if not handing_off:  # answered; a customer handed to a person is still waiting
            fields["waiting_since"] = None
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
        self._deliver(plan, message)
        return message

    def _assistant_hands_off(self, plan: _Plan, step: Step) -> None:
        self._assistant_writes(plan, self._text(plan, step.text), confidence=None, handing_off=True)
        now = timezone.now()
        conversation = plan.conversation
        assert conversation is not None
        handed_off = Conversation.objects.filter(pk=conversation.pk, handler=Handler.BOT).update(
            handler=Handler.HUMAN, handed_off_at=now, updated_at=now
        )
        if handed_off:
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.HANDOFF,
                actor_kind=SenderKind.ASSISTANT,
                data={"reason": step.reason},
                created_at=now,
            )
        self._summarize(plan)
        self._notify(
            self.users[SUPERVISOR.username],
            NotificationKind.HANDOFF,
            conversation,
            f"{plan.person.name} needs a person",
            self._text(plan, plan.script.summary)[:140] if plan.script.summary else "",
        )

    def _summarize(self, plan: _Plan) -> None:
        if plan.script.summary:
            assert plan.conversation is not None
            Conversation.objects.filter(pk=plan.conversation.pk, summary="").update(
                summary=self._text(plan, plan.script.summary)
            )

    def _assign(self, plan: _Plan, conversation: Conversation, agent: Any) -> None:
        if conversation.assignee_id == agent.pk:
            return
        roll = plan.rng.random()
        actor = None if roll < 0.5 else self.users[SUPERVISOR.username] if roll < 0.7 else agent
        team = self.teams[plan.script.team]
        agent_teams = next(spec.teams for spec in ACCOUNTS if spec.username == plan.agent)
        if conversation.team_id != team.pk and team.name in agent_teams:
            if actor is None and team.name == "Billing":
                self._rule_applied(conversation, self.rules["billing"])
            elif actor is None and team.name == "Sales" and plan.inbox.kind in ("webchat", "whatsapp"):
                self._rule_applied(conversation, self.rules["sales"])
            services.conversation_transfer(conversation=conversation, team=team, actor=actor, assignee=agent)
        else:
            services.conversation_assign(conversation=conversation, assignee=agent, actor=actor)
        self._summarize(plan)
        if actor is not agent:
            self._notify(
                agent,
                NotificationKind.ASSIGNED,
                conversation,
                f"Assigned to you: {plan.person.name}",
                conversation.last_message_preview[:140],
            )

    def _deliver(self, plan: _Plan, message: Message) -> None:
        """What the channel reports back about a reply just queued (there is no worker to send it here)."""
        read = plan.inbox.kind in (ChannelKind.WHATSAPP, ChannelKind.WEBCHAT) and plan.rng.random() < 0.7
        with _clock(timezone.now() + timedelta(seconds=plan.rng.uniform(0.5, 2.5))):
            services.message_update_delivery_status(
                message=message,
                status=DeliveryStatus.READ if read else DeliveryStatus.DELIVERED,
                channel_message_id=self._channel_message_id(plan, outbound=True),
            )

    def _go_pending(self, plan: _Plan, threshold: timedelta) -> None:
        conversation = self._conversation(plan)
        if conversation.status == Status.ACTIVE and conversation.last_message_at <= timezone.now() - threshold:
            services.conversation_set_status(conversation=conversation, status=Status.PENDING, actor=None)

    def _snooze(self, plan: _Plan, until: datetime) -> None:
        conversation = self._conversation(plan)
        agent = conversation.assignee or self.users[plan.agent]
        reason = plan.rng.choice(
            (
                "Waiting to hear back from the customer, snoozing so it comes back to the top.",
                "Customer will try it at opening time tomorrow. Snoozed.",
                "Waiting on the carrier / engineering. Snoozed until then.",
                "Customer is checking with their bank. Snoozed.",
            )
        )
        services.note_add(conversation=conversation, author=agent, body=reason)
        services.conversation_snooze(conversation=conversation, until=until, actor=agent)

    def _resolve(self, plan: _Plan) -> None:
        conversation = self._conversation(plan)
        if conversation.status in (Status.RESOLVED, Status.ARCHIVED):
            return
        if conversation.handler == Handler.BOT:
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.ASSISTANT_RESOLVED,
                actor_kind=SenderKind.ASSISTANT,
                created_at=timezone.now(),
            )
            services.conversation_set_status(
                conversation=conversation, status=Status.RESOLVED, actor=None, reason="assistant_resolved"
            )
        else:
            resolver = conversation.assignee or self.users[plan.agent]
            services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=resolver)

    def _archive(self, plan: _Plan) -> None:
        conversation = self._conversation(plan)
        cutoff = timezone.now() - timedelta(days=ARCHIVE_AFTER_DAYS)
        if conversation.status == Status.RESOLVED and conversation.resolved_at and conversation.resolved_at <= cutoff:
            services.conversation_set_status(conversation=conversation, status=Status.ARCHIVED, actor=None)

    def _csat_request(self, plan: _Plan) -> None:
        conversation = self._conversation(plan)
        resolution = (
            ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.STATUS, data__to=Status.RESOLVED)
            .order_by("-created_at", "-id")
            .first()
        )
        if resolution is None or CSATResponse.objects.filter(resolution_event=resolution).exists():
            return
        CSATResponse.objects.create(
            conversation=conversation,
            resolution_event=resolution,
            agent=conversation.resolved_by,
            requested_at=timezone.now(),
        )

    def _csat_answer(self, plan: _Plan) -> None:
        assert plan.conversation is not None
        survey = CSATResponse.objects.filter(conversation_id=plan.conversation.pk, rating=None).last()
        if survey is None:
            return
        rating = plan.rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 6, 4))[0]
        comment = plan.rng.choice(CSAT_COMMENTS[rating])
        now = timezone.now()
        CSATResponse.objects.filter(pk=survey.pk).update(rating=rating, comment=comment, answered_at=now)
        ConversationEvent.objects.create(
            conversation_id=survey.conversation_id,
            kind=EventKind.CSAT,
            actor_kind=SenderKind.CONTACT,
            data={"rating": rating, "comment": comment},
            created_at=now,
        )

    def _notify(self, recipient: Any, kind: str, conversation: Conversation, title: str, body: str) -> None:
        """Notifications of the last few days, the older ones already read."""
        now = timezone.now()
        if now < self.now - NOTIFY_WITHIN:
            return
        age = self.now - now
        read_at = now + timedelta(minutes=self.rng.uniform(1, 90)) if age > timedelta(hours=5) else None
        Notification.objects.create(
            recipient=recipient,
            kind=kind,
            conversation=conversation,
            title=title[:200],
            body=body,
            read_at=read_at,
            created_at=now,
        )

    def _presence(self) -> None:
        for spec in ACCOUNTS:
            away = timedelta(minutes=3) if spec.availability != Availability.OFFLINE else timedelta(hours=14)
            AgentProfile.objects.filter(user=self.users[spec.username]).update(
                last_seen_at=self.now - away, availability_changed_at=self.now - away - timedelta(hours=2)
            )

    # --- Channel details -------------------------------------------------------------------------

    def _channel_message_id(self, plan: _Plan, *, outbound: bool) -> str | None:
        bits = plan.rng.getrandbits(128)
        kind = plan.inbox.kind
        if kind in (ChannelKind.SMS, ChannelKind.WHATSAPP):
            return f"SM{bits:032x}"
        if kind == ChannelKind.EMAIL:
            host = self.domain if outbound else plan.person.email.split("@", 1)[1]
            return f"<{bits:032x}@mail.{host}>"
        if kind == ChannelKind.VOICE:
            return None if outbound else f"RE{bits:032x}"
        if kind == ChannelKind.API:
            return f"msg_{bits:032x}"
        return None

    def _inbound_metadata(self, plan: _Plan, index: int) -> dict[str, Any]:
        kind = plan.inbox.kind
        if kind == ChannelKind.WEBCHAT:
            page = plan.rng.choice(["pricing", "help/payouts", "hardware", "help/readers", "account/billing", ""])
            return {
                "page_url": f"https://www.{self.domain}/{page}",
                "referrer": plan.rng.choice(["https://www.google.com/", "", f"https://help.{self.domain}/"]),
                "browser": plan.rng.choice(
                    ["Chrome 131 on macOS", "Safari on iPhone", "Edge on Windows", "Chrome on Android"]
                ),
            }
        if kind in (ChannelKind.SMS, ChannelKind.WHATSAPP):
            return {"from": plan.person.phone, "to": SUPPORT_NUMBERS[kind]}
        if kind == ChannelKind.VOICE:
            return {"kind": "voicemail", "from": plan.person.phone, "duration_seconds": plan.rng.randint(14, 75)}
        if kind == ChannelKind.API:
            return {"source": "register-app", "platform": plan.rng.choice(["iOS", "Android"]), "app_version": "5.12.1"}
        return {"from": plan.person.email, "to": self.inboxes[plan.inbox.key].config.get("address", "")}

    def _statement_csv(self, plan: _Plan) -> bytes:
        """A card-payments export, as a bookkeeper would attach it."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["Date", "Time", "Amount", "Fee", "Entry method", "Card"])
        start = (plan.start or self.now) - timedelta(days=31)
        for row in range(40):
            amount = round(plan.rng.uniform(4.5, 180), 2)
            keyed = plan.rng.random() < 0.15
            fee = round(amount * (0.035 if keyed else 0.026) + (0.15 if keyed else 0.10), 2)
            when = start + timedelta(hours=row * 17 + plan.rng.randint(0, 9))
            card = plan.rng.choice(["Visa", "Mastercard", "Amex", "Discover"])
            writer.writerow(
                [f"{when:%Y-%m-%d}", f"{when:%H:%M}", f"{amount:.2f}", f"{fee:.2f}", "Keyed" if keyed else "Tap", card]
            )
        return buffer.getvalue().encode()


def _thanksgiving(year: int) -> date:
    november_first = date(year, 11, 1)
    first_thursday = 1 + (3 - november_first.weekday()) % 7
    return date(year, 11, first_thursday + 21)
