"""Handoff triggers that are read from the customer's own words.

A request for a person is recognised from its parts rather than from whole sentences: a word
for a person ("human", "agent", "alguien", "quelqu'un"...) together with a wish to reach one
("talk to", "speak with", "connect me", "hablar con", "parler à"...), or a person word on its
own in a short message ("human please", "AGENT"), or a complaint about the bot itself ("this
bot is useless"). The word lists cover English, Spanish, French, German, Portuguese and some Italian.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from routing.assistant import text

DEFAULT_HANDOFF_KEYWORDS = ("urgent", "refund", "cancel my subscription")
# The defaults in the other languages customers write in (used only when an inbox sets no keywords).
_DEFAULT_KEYWORD_VARIANTS = (
    "cancel subscription",
    "money back",
    "give me back",
    "pay me back",
    "end my subscription",
    "stop my subscription",
    "terminate my subscription",
    "cancel my plan",
    "cancel my membership",
    "reimburse",
    "reimbursement",
    "cancel my sub",
    "urgente",
    "urgence",
    "reembolso",
    "reembolsar",
    "remboursement",
    "rembourser",
    "cancelar mi suscripcion",
    "cancelar la suscripcion",
    "resilier mon abonnement",
    "annuler mon abonnement",
    "cancel the subscription",
    "cancel the plan",
    "cancel my account",
    "dar de baja",
    "darme de baja",
    "me desabonner",
    "kundigen",
    "geld zuruck",
    "cancelar minha assinatura",
    "cancelar meu plano",
    "cancelar mi plan",
    # Hinglish: "paise wapas karo" (give the money back), "refund chahiye" (I want a refund).
    "paise wapas",
    "paisa wapas",
    "paise vapas",
    "refund chahiye",
    "cancel karo",
    "cancel kar do",
    # Out of a contract; money back in the other languages.
    "terminate my contract",
    "cancel my contract",
    "end my contract",
    "out of my contract",
    "out of the contract",
    "devolucion de mi dinero",
    "devuelvan mi dinero",
    "devuelvanme",
    "mi dinero de vuelta",
    "dinheiro de volta",
)

# Someone who is not the bot.
_PERSON = text.wordset(
    """
    human humans person people agent agents representative representatives rep reps operator operators somebody
    salesperson salesman saleswoman
    someone manager supervisor employee advisor adviser specialist associate
    humano humana persona personas agente representante alguien asesor asesora operador operadora encargado gerente
    pessoa atendente alguem humain humaine personne conseiller conseillere quelquun operateur responsable mensch
    mitarbeiter mitarbeiterin jemand jemandem berater menschen menschlichen
    operatore operatrice qualcuno umano
    insaan insan boss bosses
    """
)
# Vague on their own ("someone charged my card twice"): they count only with a wish to reach them.
_WEAK_PERSON = text.wordset("someone somebody people persona personas alguien personne jemand responsable qualcuno")
_PERSON_ALT = "|".join(sorted(_PERSON))
_REAL = r"(real|live|actual|actually|true|flesh and blood|de verdad|real de|reel|reelle|vraie|vrai|echten|echte|echter)"
_REAL_PERSON = re.compile(rf"\b{_REAL} ({_PERSON_ALT})\b|\b({_PERSON_ALT}) {_REAL}\b")
# Wanting to reach someone.
_REACH = re.compile(
    "|".join(
        [
            r"\b(talk|talking|speak|speaking|chat|chatting|connect|connecting|transfer|escalate|forward|switch)\b",
            r"\b(put me (through|in touch)|get me|give me|let me|i want|i need|i would like|id like|can i get)\b",
            r"\b(can i have|may i|where is|wheres|bring|send me|is there)\b",
            r"\b(can|could|would) you (please )?(get|bring|find|put)\b",
            r"\b(get|fetch|bring|call|want|need) (me )?your\b",
            r"\b(call me|phone me|ring me|call back|callback|contact me|reach me|reach out|email me)\b",
            r"\b(hablar|habla|hable|comunicar|comunicarme|pasame|paseme|pasar|contactar|llamar|llamarme|llame"
            r"|quiero)\b",
            r"\b(necesito|quisiera|puedo|falar|quero|preciso)\b",
            r"\b(parler|joindre|contacter|rappeler|passer|veux|voudrais|besoin|puis)\b",
            r"\b(sprechen|verbinden|mochte|moechte|brauche)\b",
            r"\b(parlare|vorrei|voglio|chiamare|chiamarmi|serve)\b",
            # Hinglish: "kisi insaan se baat karni hai", "agent se baat karao".
            r"\b(baat|baath)\b",
            # On the phone: "quelqu'un au téléphone", "alguien por teléfono", "a person on the phone".
            r"\b(phone|telephone|telefono|telefon|telefone)\b",
            r"\bget (a |an |some )?(real |actual |live )?(human|person|agent|representative|rep|someone|somebody)\b"
            r"(?! to (cover|work|do|help out|clock|run|open|close|take)\b)",
        ]
    )
)
# "Talk to your team", "contact support", "email the billing department".
_REACH_GROUP = re.compile(
    r"\b(talk|speak|chat|contact|call|reach|get|connect me|transfer me|put me through)( to| with)?"
    r" (your |the |a |an |some )?(?!(my|our|his|her|their) )(\w+ )?"
    r"(team|support|department|staff|desk|office|service|customer service)\b"
    # "Talk to billing", "contact sales about...": a department by its name (not "the sales report", "more sales").
    r"|\b(talk|speak|chat|contact|call|reach|connect me|transfer me|put me through)( to| with)? (your |the )?"
    r"(billing|accounts|finance|sales)\b(?! (api|endpoint|report|reports|page|settings|tab|address|history|cycle|date|"
    r"info|details|data|tax|figures|numbers|by|per|for|of|from|to|in|on|total|totals|emails?|invoices?|statements?)\b)"
)
# The same in the other languages: "me comunican con soporte", "parler au service client".
_REACH_GROUP_OTHER = re.compile(
    r"\b(comunic\w*|contactar|hablar|pase\w*|pasa\w*|conect\w*|parler|contacter|joindre|passer|sprechen|verbinden|"
    r"falar|ligar)\b.{0,15}\b(soporte|atencion al cliente|servicio al cliente|equipo|ventas|service client|"
    r"service clientele|equipe|kundendienst|kundenservice|support|suporte|atendimento)\b"
)
# Asking for a call back or an escalation is asking for a person, even without a word for one.
_CALLBACK = re.compile(
    "|".join(
        [
            r"\b(call ?back(?! (url|urls|uri|endpoint|endpoints|address|function|handler|param|parameter)s?\b)|call me|"
            r"phone me|ring me|call us(?! (button|link|page|widget)s?\b)|ring us|escalation|llamenme|rappelez moi)\b"
            r"|\bescalate\b(?! (permissions?|privileges?|access|roles?|rights)\b)",
            r"\b(etre rappelee?|me rappeler|rappelle moi|que me llamen|me llamen|devolver la llamada|ruckruf|"
            r"zuruckrufen|zurueckrufen|me liguem|me ligar)\b",
            r"\b(a|an) (quick )?(phone |video )?(call|ring) (from|with|back)\b",
            r"\b(give|giving) (me|us) a (call|ring|phone)\b|\b(schedule|book|arrange|set up) a (phone )?call\b",
            r"\bon the (line|phone)\b|\bphone number\b.{0,30}\b(call|talk|speak|reach)\b",
            r"\b(talk|speak) (to|with) (you|someone|somebody|anyone) (on|by|over) the phone\b",
            r"\b(i|we) (\w+ )?(ring|phone|call) (someone|somebody|anyone|you|a person|a human|an agent)\b",
        ]
    )
)
# "Who can I speak to?", "let me talk to whoever handles this": asking who the person is, is asking for one.
_WHO_TO_REACH = re.compile(
    r"\b(who|whom|whoever)\b.{0,25}\b(talk|speak|chat|contact|write|email|call|reach|ask)\b"
    r"|\b(talk|speak|chat|get in touch) (to|with) (whoever|whomever|who)\b"
    r"|\b(a|one of your|any of your) (colleague|colleagues|coworker|coworkers|team member|team members|people|folks|"
    r"guys|staff)\b(?! (member|members|account|accounts|permission|permissions|pin|pins|list)\b)"
    r"|\b(someone|somebody|anyone|person) (senior|higher up|in charge|more senior|qualified|competent)\b"
    r"|\bpass (this |it |me )?(on |over |along )?to (someone|somebody|a person|a human|your|the)\b"
    r"|\bdiscuss (this |it )?with (a |one of |your |someone|somebody)"
    r"|\b(i|we) (get|be) (transferred|escalated|passed on)\b|\bget (me|us|this) (transferred|escalated)\b"
    r"|\b(hand|pass) (this|it|me) (on|over)( please| pls| plz)?$"
    # Left for the staff to deal with: "just leave it for the team to pick up".
    r"|\bfor (the|your) (team|staff|support team|support|agents?|people) to (pick|look|handle|deal|check|sort|see|"
    r"review|take)\b"
    r"|\btransmettre a (un|une) (collegue|conseill\w*|responsable|humain|personne)"
    r"|\b(someone|somebody|anyone|anybody|a person|a human|one of you) (from|at|on|in) your (\w+ )?(team|company|"
    r"side|end|support|office|department|staff|people)\b"
    r"|^(please )?(transfer|connect|escalate) me( please| pls| plz| now| thanks)?$"
    r"|\b(number|phone|email|contact|call|ring|write to|speak to|talk to|reach)\b.{0,20}"
    r"\b(head office|headquarters|legal (team|department)|complaints (team|department))\b"
    # Asking us to do it: "just do it for me", "can you cancel it for us".
    r"|\b(can you|could you|would you|please|just) (\w+ )?(do|cancel|close|change|sort|fix|process|handle) "
    r"(it|this|that|them|everything) for (me|us)\b"
    r"|\bcon quien (puedo )?(hablar|comunicarme)\b|\ba qui (je peux|puis je) (parler|m adresser)\b"
)
_ANYONE_THERE = re.compile(
    r"\b(is )?(anyone|anybody|somebody|someone|any one) (there|here|home|alive|real|around|available|awake)\b"
    r"|\b(hay )?alguien (ahi|alli|aqui|ahy|disponible)\b|\b(il )?y a quelquun\b|\bist (da |hier )?(jemand|wer)\b"
    r"|\btem alguem\b"
    r"|\b(anyone|anybody|someone|somebody) (reading|listening|out there|working there)\b(?! to\b)"
    r"|\b(are there|is there) (any )?(real |actual )?(humans?|people|persons?|agents?|staff) (working|there|here|"
    r"available|around|online)\b"
    r"|\bkoi (hai|banda|insaan|insan|aadmi|human|agent|person)\b"
)
# Complaints about the bot mean the same thing: get me out of here.
_BOT = r"(bot|robot|chatbot|ai|machine|computer|automated|autoresponder|auto reply|ia|maquina|programa)"
_BOT_COMPLAINT = re.compile(
    "|".join(
        [
            rf"\b{_BOT}\b.{{0,30}}\b(useless|stupid|dumb|worthless|pointless|garbage|trash|sucks|awful|terrible|"
            r"annoying|not help|isnt help|doesnt help|no help|not understand|doesnt understand|dont understand|"
            r"inutil|inutile|no sirve|no entiende|no me entiende|nul|ne comprend)",
            rf"\b(stop|enough|no more|dont want|do not want|tired of|done with|hate|not|talk to a|talking to a)\b"
            rf".{{0,20}}\b{_BOT}\b",
            rf"\b(you are|youre|ur|u r|u are|this is) (just |only )?(a |an )?{_BOT}\b",
            r"\b(are you|is this|am i talking to|am i chatting with|es un|eres un|c est un|tu es un)"
            rf" (a |an )?{_BOT}\b",
            r"\b(you(re| are) (not|no) help(ing|ful)?|this (is|isnt) (not )?help(ing|ful)|you dont understand)\b",
            r"\b(useless|inutil|inutile|worthless|pointless)\b",
            r"\b(stop (replying|responding|answering|sending)|dont want (an )?(automated|canned))\b",
            r"\b(not understanding|dont get it|not listening|(actual|real|proper) help|not what i asked)\b"
            r"|^(\w+ )?(not helpful|unhelpful|not useful|no help)\b"
            r"|\b(no es lo que (pregunte|pedi)|pas ce que (j ai|jai) demande|nicht (das )?was ich gefragt|nao e o que"
            r" (eu )?perguntei)\b",
            r"\bthanks for nothing\b",
            r"\b(are|r) (you|u) (even )?(reading|listening|paying attention)\b",
            r"\b(wrong|incorrect|not the right|not a real) answer\b|\btry again with a (person|human|real person)\b",
            # The answers themselves are the complaint: "your answers are not helping", "that link has nothing to
            # do with my question".
            r"\b(answer|answers|reply|replies|response|responses|article|articles|link|links|suggestion|suggestions|"
            r"you|bot|chat|this|that) (are |is |were |was |have been |has been )?(still )?"
            r"(not|isnt|arent|wasnt|werent|doesnt|dont|didnt|never) (really |even )?"
            r"(help|helping|helpful|useful|relevant|answer|answering|working)\b",
            r"\b(nothing to do with|unrelated to|irrelevant to) (my|what i)\b",
            # The help given did not work: "the steps you gave me don't work", "tried everything, still stuck".
            r"\b(steps|instructions|solution|solutions|fix|fixes|advice|tips|suggestion|suggestions|troubleshooting)"
            r"( you (gave|sent|suggested)( me| us)?)? (are |is |were |was )?(still )?(not|dont|didnt|doesnt|never|isnt|"
            r"arent|wont) (really |even )?(work|working|worked|help|helping|helped|fix|fixing|fixed)\b",
            r"\b(tried|done|followed|did) (everything|all of (it|that|this|them|those)|all the (steps|articles|"
            r"instructions)|every step|all that|that already|it already|those already)\b.{0,40}"
            r"\b(still|didnt|doesnt|not|no luck|nothing|same)\b",
            r"\b(dont|do not|cant|cannot|wouldnt) trust\b.{0,20}\b(automated|bot|bots|ai|robot|machine|answers?)\b",
            r"\b(going nowhere|going in circles|round in circles|same (answer|reply|article) (again|over))\b",
            r"\b(no me (ayuda|sirve)|no ayuda|ca ne m aide pas|ne m aide pas|hilft (mir )?nicht)\b",
            r"\b(keep|keeps|kept) (getting|sending|giving|showing)( me| us)? (the )?same\b"
            r"|\b(already|you) sent (me |us )?(that|this|the same) (link|article|answer|page)\b",
        ]
    )
)
# A person word said as a demand: "sales rep please", "agent now", "humano por favor".
_PERSON_PLEASE = re.compile(
    rf"\b({_PERSON_ALT}) (please|pls|plz|asap|now|right now|thanks|thx|por favor|porfa|svp|s il vous plait|bitte)\b"
)
# A person asked to do something: "could an agent check my order", "can someone look into this".
_MODAL = r"\b(can|could|would|will|may|might|should|please (have|let|ask)) (a |an |some |one of your |your )?"
# Staff roles are also roles in the merchant's own shop ("can a manager approve discounts?"): not here.
_ROLES = text.wordset(
    "manager supervisor employee associate specialist mitarbeiter mitarbeiterin encargado gerente boss bosses"
)
_STRONG_PERSON_ALT = "|".join(sorted(_PERSON - _WEAK_PERSON - _ROLES))
_PERSON_ASKED = re.compile(
    rf"{_MODAL}(real |actual |live )?({_STRONG_PERSON_ALT})\b"
    rf"|{_MODAL}(someone|somebody|anyone|anybody) (look|check|review|contact|call|email|ring|phone|get back|reach|"
    r"help me|help us|take a look|have a look|investigate|sort)"
)
_NEGATED = re.compile(
    r"\b(dont|do not|no need to|without|not|never) (need|want|talk|speak|wait for|bother)?\s?(a |an |to a |to )?"
    r"(human|person|agent|someone|representative|anyone)\b"
    # "I don't need to speak to anyone", "no need for an agent", "no need to escalate".
    r"|\b(dont|do not|no need|not necessary|without) (need |want |have )?(to |for )?"
    r"((talk|speak|chat|bother|involve|call) (to |with )?)?(a |an |any |your )?"
    r"(human|person|agent|someone|somebody|anyone|anybody|representative|escalate|escalating|escalation)\b"
    # Content with the bot: "I'm fine talking to a bot".
    rf"|\b(fine|happy|ok|okay|good|no problem) (talking|chatting|speaking) (to|with) (a |an |the )?{_BOT}\b"
)
_SHORT = 5
# Person words that are the merchant's own staff or part of a thing's name, not someone of ours to reach: "add a new
# employee", "a report per employee", "my manager", "the employee list", "invite a team member".
_OWN_PERSON = re.compile(
    r"\b(add|adding|invite|inviting|remove|removing|create|creating|hire|hiring|new|another|per|each|every|which)"
    rf" (a |an |the |another )?(new |more |extra |\d+ |two |three |four |five |some )?({_PERSON_ALT}|team members?|"
    r"staff members?|colleagues?)\b"
    rf"|\b(my|our) ({_PERSON_ALT})\b"
    rf"|\b(number|limit|list|how many|count|total) (of )?(new )?({_PERSON_ALT}|staff|team members?)\b"
    rf"|\b({_PERSON_ALT}) (list|limit|limits|permission|permissions|report|reports|account|accounts|pin|pins|passcode|"
    r"passcodes|schedule|schedules|shift|shifts|role|roles|access|name|names|login|logins|id|ids|profile|profiles|"
    r"mode|view|tips|hours|settings|seat|seats|management|discount|discounts|sales|level|levels|code|codes|count|app|"
    r"apps)\b"
)
# The words of a request used for the product itself: a webhook's callback, the merchant's staff escalating to them.
_PRODUCT_USE = re.compile(
    r"\b(set up|setup|configure|add|create|register|test|receive|handle|change|update) (a |an |the |my |our |your )?"
    r"(\w+ )?call ?backs?\b"
    r"|\b(staff|employees?|cashiers?|team members?|servers?|workers?|they|he|she) (can |could |to |should )?escalate\b"
    r"|\bhuman readable\b"
    # The merchant's own customers reaching the shop: "my number, so customers can call the shop".
    r"|\b(customers?|clients?|guests?|buyers?) (can |could |to |will |would )?(call|ring|phone|reach|contact)"
    r" (the shop|the store|the restaurant|the business|us|me|my \w+|our \w+)\b"
    r"|\b(customer|client|caller|buyer)s? (who is |whos |who are |thats |that is |that are )?"
    r"(on the phone|on the line)\b"
)
# A merchant asking how to do something: "how do I...", "can I change...", "is there a way to...".
_ASKS_HOW = re.compile(
    r"\b(how (do|can|should|would) (i|we)|how to|is there (a|any) way|where (do|can) (i|we)|any tips|"
    r"what (do|should|can) (i|we) (do|tell|say))\b"
    r"|\bcan (i|we) (\w+ )?(change|make|set|turn|customi[sz]e|stop|fix|check|see|find|get rid of|hide|add|remove)\b"
)
# The merchant's own customer wanting a person: "how do I handle a customer who wants to speak to the manager?"
_THIRD_PARTY_WISH = re.compile(
    r"\b(customer|customers|client|clients|buyer|buyers|guest|guests|cliente|clientes)\b (who |that )?(\w+ )?"
    r"(wants?|wanted|asks?|asked|asking|demands?|demanded|demanding|insists?|insisted|insisting)\b"
)


@dataclasses.dataclass(frozen=True)
class Trigger:
    reason: str
    detail: str = ""


def asks_how_to(message: str) -> bool:
    """Whether the message asks how to do something (a question for the help centre, however it is worded)."""
    return bool(_ASKS_HOW.search(" ".join(text.words(message))))


def declines_person(message: str) -> bool:
    """Whether the customer says they do not want a person ("no need for an agent, just tell me...")."""
    return bool(_NEGATED.search(" ".join(_words(message))))


def asks_for_person(message: str) -> bool:
    """Whether the customer is asking to be passed to a person (or is fed up with the bot)."""
    ws = _words(message.replace("quelqu'un", "quelquun").replace("quelqu un", "quelquun"))
    if not ws:
        return False
    joined = " ".join(ws)
    if _NEGATED.search(joined):
        return False
    if _THIRD_PARTY_WISH.search(joined) and _ASKS_HOW.search(joined):
        return False
    length = len(ws)
    joined = _PRODUCT_USE.sub(" ", _OWN_PERSON.sub(" ", joined))
    ws = joined.split()
    families = (_BOT_COMPLAINT, _ANYONE_THERE, _REACH_GROUP, _REACH_GROUP_OTHER, _CALLBACK, _WHO_TO_REACH)
    if any(p.search(joined) for p in families):
        return True
    if _PERSON_ASKED.search(joined):
        return True
    persons = [w for w in ws if w in _PERSON]
    if not persons:
        return False
    if _REAL_PERSON.search(joined) or _PERSON_PLEASE.search(joined):
        return True
    if length <= _SHORT and any(w not in _WEAK_PERSON for w in persons):
        return True
    return bool(_REACH.search(joined))


# "How do I refund a customer?" is a merchant's question about their own customer, not a demand of ours.
_THIRD_PARTY = re.compile(
    r"\b(customer|customers|client|clients|buyer|buyers|cliente|clientes)\b(?! (service|support|care))"
)


# "How do I do a refund from the dashboard?", "can I refund one item?", "is there a fee for refunds?": the
# merchant refunding a sale of their own, or asking about refunds as a feature, is using the product.
# "Give me a refund" and "please issue a refund" stay requests of ours.
_MERCHANT_REFUNDS = re.compile(
    r"\b(i|we) (can |could |do |should |will |cannot |cant )?refund (a|an|the|this|that|one|part|some|it|just|"
    r"orders?|sales?|payments?|transactions?|items?)\b"
    r"|\bhow (to|do i|do we|can i|can we) refund\b"
    r"|\brefunds? (i|we|my staff|staff|they) (issued|made|gave|did|processed)\b"
    r"|\b(who|which employee|which cashier) (made|issued|did|gave|processed) (a |the |that |this )?refund\b"
    r"|\b(i|we) refund (more|less) than\b"
    r"|\b(do|process|undo|void|make) (a |an )?(partial |full )?refunds?\b"
    r"|\brefunds? (button|tab|screen|page|option|endpoint|report|limit|window|permission|policy for my)s?\b"
    r"|\b(charge|fee|fees|cost|endpoint|api|limits?|reports?|permission|button|alerts?|notifications?) (for|on|about)"
    r" refunds?\b"
    # Refunds as a rule or a staff permission: "your refund policy", "can a manager approve refunds".
    r"|\brefunds? (polic(y|ies)|rules|terms)\b|\b(polic(y|ies)|rules|terms) (on|for|about) refund\w*\b"
    r"|\b(which|what) (staff member|employee|cashier|team member|server|user) refund\w*\b"
    r"|\bhow (to|do i|do we|can i|can we) (issue|do|make|give|process|send|void)( a| an)?( partial| full)? refunds?\b"
    # (Not "see my refund" or "find my refund": "I can't see my refund on my card" is waiting for one of ours.)
    r"|\b(view|export|list|search|access to) (my |our |the |all |all my |all the |past )?refunds?\b"
    r"|\bsee (all |all my |all the |the |past )refunds?\b"
    r"|\bcomo (hago un |hacer un |puedo hacer un )?(reembols\w*|devuelvo)\b"
    r"|\b(puedo|podemos|se puede) (hacer un |hacer una )?(reembols\w*|devolver|devolucion)\b"
    r"|\bcomment (faire un |effectuer un )?rembours\w*\b"
    r"|\b(managers?|staff|employees?|cashiers?|supervisors?|team members?) (can |could |to |cannot |cant )?"
    r"((approve|issue|give|do|make|process|authori[sz]e)\w* refunds?|refund)\b"
    # Refunding a sale of the merchant's own ("the option to refund a cash sale"), and refunds as a feature
    # ("the difference between a void and a refund").
    r"|\brefund(ing)? (a |an |the |this |that |one |each )(\w+ )?(sale|sales|item|items|tip|tips|ticket|tickets|"
    r"receipt|receipts)\b"
    r"|\bvoids? (and|or|vs|versus) (a |an )?refunds?\b|\brefunds? (and|or|vs|versus) (a |an )?voids?\b"
)


def matched_keyword(message: str, keywords: Sequence[str]) -> str:
    """The first configured handoff keyword (a word or phrase) in the message, or ""."""
    words = _words(message)
    joined = " " + " ".join(words) + " "
    if _THIRD_PARTY.search(joined) or _MERCHANT_REFUNDS.search(joined):
        return ""
    # Word forms count too: "refunded", "refunds" and "cancelled subscriptions" are the same requests.
    stemmed = " " + " ".join(text.stem(w) for w in words) + " "
    for keyword in keywords:
        phrase = " ".join(text.words(keyword))
        if not phrase:
            continue
        stems = " ".join(text.stem(w) for w in phrase.split())
        if f" {phrase} " in joined:
            before, after = joined.split(f" {phrase} ", 1)
        elif f" {stems} " in stemmed:
            # The words around it as written ("nothing urgent"), not as stemmed ("noth").
            start = stemmed.split(f" {stems} ", 1)[0].count(" ")
            before = " " + " ".join(words[:start])
            after = " ".join(words[start + len(stems.split()) :]) + " "
        else:
            continue
        if _NEGATED_KEYWORD.search(before[-40:] + " "):
            continue  # "I'm not asking for a refund, just..."
        if _KEYWORD_AS_A_LABEL.match(after) or _MARKED_AS.search(before[-30:] + " "):
            continue  # "is there an urgent flag for orders", "mark the ticket as urgent"
        return keyword
    return ""


# A keyword that names a label in the product rather than the customer's wish.
_KEYWORD_AS_A_LABEL = re.compile(
    r"(order |orders |ticket |tickets )?(flags?|tags?|labels?|buttons?|options?|settings?|"
    r"status|field|filter|column|icon|colou?r|threshold|thresholds|alerts?|notifications?|mode)\b"
)
_MARKED_AS = re.compile(
    r"\b(mark|marks|marked|marking|flag|flags|flagged|tag|tagged|set|label|labelled|labeled)"
    r"( \w+){0,3} as $"
)
# Words just before a keyword that take the wish back: "not asking for a refund", "no need to cancel".
# Only a negated wish: "I have not received my refund" and "still no refund" are complaints.
_NEGATED_KEYWORD = re.compile(
    r"\b((not|dont|do not|doesnt|isnt|arent)( really| even)? (asking|looking|wanting|want|need|requesting|after)"
    r"( for| to)?|no need (for|to))( a| an| my| the)? $"
    # "Not urgent, but...", "nothing urgent".
    r"|\b(not|nothing|isnt|is not|its not)( really| very| that| too| super| at all)? $"
    # A question about what would happen: "what happens to my data if I cancel my subscription later".
    r"|\b(if|when|once|in case) (i|we) (ever |later |eventually |decide to |do |did |were to |wanted to |want to )?$"
)


def handoff_keywords(configured: Sequence[str] | None) -> Sequence[str]:
    """The inbox's keywords, or the defaults (with their translations) when it sets none."""
    own = [k for k in (configured or []) if isinstance(k, str) and k.strip()]
    return own or (*DEFAULT_HANDOFF_KEYWORDS, *_DEFAULT_KEYWORD_VARIANTS)


# Situations only staff can handle, whatever the knowledge base says: security, fraud, legal, money taken twice.
_NEEDS_STAFF = re.compile(
    "|".join(
        [
            r"\b(hack|hacked|hacker|fraud|fraudulent|fraude|stolen|steal|unauthori[sz]ed|scam|scammed|phishing|"
            r"phished)\b",
            # The same in the other languages, and a theft told as a break-in.
            r"\b(hackeado|hackeada|hackearon|pirate|piratee|gehackt|invadida|invadido|robbed|robbery|burglary|"
            r"burgled|break in|broke in|robado|robaron|vole|gestohlen|roubado|roubaram)\b",
            r"\b(lawyer|attorney|legal action|sue|police|abogado|avocat|solicitor|solicitors|subpoena|court order)\b",
            r"\b(charged|billed|cobrado|debite) (me )?(twice|double|two times|2 times)\b|\bdouble (charged|billed)\b",
            r"\b(cobr\w*|debit\w*|preleve\w*|abgebucht|belastet|addebitat\w*)\b.{0,25}"
            r"\b(dos veces|duas vezes|deux fois|zweimal|doppelt|due volte|tres veces|trois fois|dreimal|tres vezes)\b",
            r"\b(nicht genehmigt|nao autorizei|no autorice|pas autorise)\b",
            r"\b(dont|do not|didnt) recogni[sz]e\b",
            r"\b(suspended|frozen|deactivated|closed|shut down|terminated|banned) (my )?account\b"
            r"|\baccount (was |is |got |get |gets |has been )?"
            r"(suspended|frozen|deactivated|closed|shut down|terminated|banned)\b",
            r"\b(verify|verification of) (my )?identity\b|\bidentity (check|verification)\b",
            r"\b(new owner|transfer ownership|change (the )?owner|selling the business|sold the business)\b",
            r"\b(no|lost|dont have|do not have|without)\b.{0,40}\bbackup codes\b",
            # An account or money held back by us: only a person can look at why.
            r"\b(my|our) (\w+ )?(account|payouts?|funds|money|balance|deposits?)\b"
            r" (is |are |was |were |got |has been |have been |is being |are being |says |shows |is showing |"
            r"is marked |is marked as )?(now |still |currently )?"
            r"(on hold|held|under review|in review|paused|frozen|"
            r"withheld|blocked|restricted|limited|stuck|flagged)\b",
            # A payout that has gone missing: "where is my payout?", "my deposit is missing", "mon virement n'est
            # toujours pas arrivé".
            r"\bwhere (is|are|s) (my|our|the) (\w+ )?(payouts?|deposits?|money|funds|transfers?)\b"
            r"|\b(payouts?|deposits?|money|funds|transfers?|virements?|pagos?|pagamentos?|auszahlung)\b.{0,30}"
            r"\b(is missing|are missing|went missing|never arrived|never came|still not arrived|still hasnt arrived|"
            r"toujours pas arrive|todavia no (me )?ha llegado|ainda nao chegou|immer noch nicht angekommen)\b",
            # A payout the bank sent back, or one that does not add up.
            r"\b(returned|bounced|rejected|reversed|sent back) (the |my |our )?(payouts?|deposits?|transfers?)\b"
            r"|\b(payouts?|deposits?|transfers?) (that |which )?(was |were |got |has been |have been )?"
            r"(returned|bounced|rejected|reversed)\b"
            r"|\b(payouts?|deposits?|balance|money)\b.{0,40}\b(something is wrong|something s wrong|doesnt add up|"
            r"dont add up|does not add up|do not add up)\b",
            # Locked out with no way back in: the recovery address or phone is gone.
            r"\b(cant|cannot|can not|no longer|dont|do not) (have )?(access|get into|use)( to)? (my |the |that |an |"
            r"our )?(old |former |previous )?(email|e mail|inbox|phone|number|address)\b"
            r"|\b(old|former|previous) (email|e mail|address|phone|number)\b.{0,30}\b(cant|cannot|no longer)"
            r" (access|use|get into|have)\b",
            # Hardware orders gone wrong: the wrong item, short or lost in the post. (Damaged in transit is in the
            # help centre.)
            r"\b(wrong|incorrect) (item|items|reader|model|product|terminal|size|colou?r|order)\b"
            r"|\b(only|just) (got|received|came with) (\d+|one|two|three|half)\b|\bhalf (of )?(my|our|the) order\b"
            r"|\b(arrived|came|delivered|showed up|turned up) with (only|just) (\d+|one|two|three|half)\b"
            r"|\b(only|just) (\d+|one|two|three) (of (them|the \w+|my \w+|our \w+) )?"
            r"(arrived|came|showed up|was in|were in)\b"
            r"|\b(delivered|shipped)\b.{0,30}\b(never|not) (arrived|came|showed up|got it|received)\b"
            r"|\b(order|package|parcel|shipment)\b.{0,30}\b(never (arrived|came|showed up)|is lost|got lost|"
            r"stuck|lost)\b",
            # Money owed that has not come: "the deposit never came", "still haven't been paid for last week".
            r"\b(payouts?|deposits?|money|funds|transfers?)\b (\w+ )?(never|still (has not|hasnt|havent|have not))"
            r" (came|come|arrived|showed up|landed|been paid)\b"
            r"|\b(still )?(havent|have not|hasnt|has not|never) (been )?(paid|received (my|our|the) "
            r"(payouts?|deposits?|money)) (for|from)\b",
            # Someone else in the account: "a stranger has my login", "alguien entró a mi cuenta".
            r"\b(stranger|someone else|somebody else|strangers)\b.{0,20}\b(has|have|got|knows?) (my|our) "
            r"(login|password|details|account)\b"
            r"|\b(alguien|alguem|quelquun|jemand) (ha |a |hat )?(entro|entrou|est entre|ist|entrado|accedido|accedio|"
            r"eingeloggt) (a |en |na |dans |in )?"
            r"(mi|minha|mon|mein) (cuenta|conta|compte|konto)\b",
            r"\b(money|funds|balance|payouts?|deposits?)\b.{0,50}\b(vanished|disappeared|gone missing|is gone|"
            r"are gone|went missing)\b",
            r"\b(cuenta|dinero|pagos?) (esta |estan )?(bloquead[ao]s?|suspendid[ao]s?|retenid[ao]s?|congelad[ao]s?)\b"
            r"|\b(compte|argent|virements?) (est |sont )?(bloques?|suspendus?|gele|geles|retenus?)\b"
            r"|\bkonto\b.{0,15}\b(gesperrt|eingefroren)\b|\bconta (esta )?(bloqueada|suspensa)\b",
            # Money the customer says we owe, and exceptions only a person can grant.
            r"\b(you owe|owe me|owe us|(i|we) (am|are|m|re) owed)\b"
            r"|\b(make|grant|authori[sz]e|approve) an exception\b"
            r"|\bwaive (the|my|our|this|that|a) (\w+ )?(fee|fees|charge)\b",
            # Personal data and privacy requests.
            r"\b(gdpr|rgpd|dsgvo|ccpa|right to be forgotten|data (deletion|access|subject) request)\b",
            r"\b(delete|erase|remove|wipe) (all )?(of )?(my|our) (personal )?(data|information|info|details)\b"
            r"|\b(borrar|eliminar) (todos )?mis datos\b|\bsupprimer (toutes )?mes donnees\b"
            r"|\bmeine daten\b.{0,10}\bloschen\b",
            # Complaints and repeat contacts: the customer is past what the knowledge base can do.
            r"\b(where|how|who) (can|do|should) (i|we) (complain|make a complaint|send a complaint)\b",
            r"\b(file|filing|make|making|lodge|lodging|raise|raising|submit|submitting|formal|official|handles?|"
            r"handling) (a |an |my |the )?(formal |official )?complaints?\b",
            r"\b(queja|reclamacion|plainte|reclamation|beschwerde|reclamacao|grievance|grievances)\b",
            r"\b(nobody|no one|noone|no body|nadie|personne|niemand|ninguem)\b.{0,20}\b(answers?|answered|answering|"
            r"replies|replied|replying|responds?|responded|responding|gets? back|got back|called back|helps?|helped|"
            r"responde|contesta|repond|antwortet|responde)\b",
            # Charges the customer disputes: twice, after cancelling, not theirs.
            r"\b(charg\w*|bill\w*|took|taken|debit\w*|paid|payments?)\b.{0,30}\b(twice|two times|double|2x|"
            r"three times|3 times)\b",
            r"\b(still|keep|keeps|kept) (being |getting )?(charg\w*|bill\w*|taking)\b"
            r"|\b(stop|quit) (charging|billing|taking)\b",
            r"\b(payments?|charges?|transactions?|purchases?|sales|refunds?|orders|voids)\b.{0,30}"
            r"\b(i|we) (didnt|did not|never) (make|made|authori[sz]e|authori[sz]ed|do|did|order|ordered)\b",
            r"\b(dispute|contest|challenge|disputing|contesting) (a |the |this |that |your |these |those )?"
            r"((?!customers?|clients?|buyers?)\w+ ){0,2}"
            r"(charge|charges|fee|fees|bill|invoice|payment you took)\b",
            r"\b(never|didnt|did not|dont|do not) (agree|agreed|sign up|signed up|consent|consented) (to|for)\b",
            r"\b(overcharg\w*|over charg\w*|charged (me )?too much|charging (me )?too much)\b",
            r"\b(charg\w*|bill\w*|took|taken|debit\w*)\b.{0,20}\bafter (i |we )?(cancel\w*|clos\w*|unsubscrib\w*|"
            r"downgrad\w*)",
            r"\b(payouts?|deposits?|money|funds)\b.{0,20}\b(delayed|late|held)\b.{0,25}\b(weeks?|days|months?)\b",
            r"\b(without|no|with no) (any )?(explanation|reason|warning|notice)\b",
            # Kept waiting: the assistant cannot make up for it.
            r"\b(waiting|waited)\b.{0,30}\b(minutes|mins|hours|hrs|days|weeks|forever|ages)\b.{0,30}\b(respond|reply|"
            r"answer|get back|help)\w*\b",
            r"\bfor (anyone|someone|somebody|a person|an agent) to (respond|reply|answer|get back|help|call)\b",
            # About to leave for a competitor: only a person can keep the customer.
            r"\b(take|taking|move|moving) (my|our) business (elsewhere|somewhere else)\b"
            r"|\b(leave|leaving|switch|switching|move|moving|go|going) (to|for|with) (another|a different|a competitor|"
            r"your competitor|a new) (provider|company|processor|pos|system|competitor)\b"
            r"(?! (name|address|account|email|logo|details)\b)"
            r"|\b(thinking|thinking seriously) (of|about) (leaving|switching|cancelling|canceling)\b",
            # Data the business runs on, deleted: "all our products got deleted after the sync". (Items that
            # only disappeared from view are in the help centre.)
            r"\b(all |my |our |the )(\w+ )?(products|items|menu|menus|data|sales|history|reports|customers|"
            r"inventory|transactions|orders|receipts)\b.{0,25}\b(deleted|wiped|erased|lost)\b"
            r"|\ball (of )?(my|our|the) (\w+ )?(products|items|menu|data|sales|history|customers|inventory)\b.{0,25}"
            r"\b(disappeared|vanished|gone|missing)\b",
            # Safety of the hardware.
            r"\b(caught fire|on fire|smoke|smoking|burning smell|burnt|exploded|explode|sparks|electric shock|"
            r"sparked|sparking|swollen|swelling|bulging|melted|melting|scorched|electrocuted|got a shock|puffed|"
            r"too hot to touch|shocked|chemical smell|zap|zapped|zapping|"
            r"overheating)\b",
            r"\b(stealing|stole|theft|embezzl\w*|skimming|skimmer)\b",
            # Regulators, courts and the press.
            r"\b(report (you|this)|reporting (you|this)|consumer protection|ombudsman|regulator|trading standards|"
            r"better business bureau|bbb|small claims|court|the press|the media)\b",
            # Someone pretending to be us.
            r"\bsuspicious (text|sms|email|e mail|mail|call|message|link)\b"
            r"|\b(claiming|pretending|claims|pretends) to be (you|from you|your|from your)\b",
            # Money taken that the customer did not agree to.
            r"\b(took|taken|taking|take|withdrew|withdrawn|debited|charged|billed|pulled|deducted|removed)\b.{0,40}"
            r"\bwithout (asking|permission|my permission|consent|my consent|authori[sz]ation|telling me|warning|"
            r"notice)\b",
            # Asking to be made good for a loss: only a person can decide that.
            r"\b(compensation|compensate|compensated|goodwill credit|make (this|it) right)\b",
            # Taking the dispute to the customer's bank or card company.
            r"\b(i|we|ive|weve|i have|we have|ill|well|i will|we will|im|were|going to|gonna|already)"
            r" (\w+ )?(opened|opening|filed|filing|raised|raising|started|starting|initiated|initiating|open|file|"
            r"raise|start|initiate) (a )?(chargeback|dispute)\b"
            r"|\b(chargeback|dispute|disputing|contest\w*)\b.{0,40}\b(with|to|through) (my|our) (bank|"
            r"card company|card issuer|credit card company|card provider|credit card provider)\b"
            r"|\b(going|go|went|gone|complain\w*) to (my|our) (bank|card company|credit card company)\b",
            # Repeat contacts and promises not kept: "this is my fifth message", "c'est la troisième fois", "you said
            # someone would call".
            r"\b(my|this is the|this is my|its the|its my|thats the|thats my) (2nd|second|3rd|third|4th|fourth"
            r"|5th|fifth|"
            r"sixth) (message|email|mail|chat|request|ticket|attempt|follow up)\b"
            r"|\b(2nd|second|3rd|third|4th|fourth|5th|fifth|sixth) (message|email|mail|chat|request|ticket|attempt)"
            r" (about|on|regarding|asking)\b"
            r"|\b(second|third|fourth|zweite|dritte|vierte|segunda|tercera|cuarta|terceira|quarta|deuxieme|troisieme|"
            r"quatrieme) (mal|vez|fois)\b"
            r"|\b(already|previously) (reported|told you|explained|raised) (this|it|that)\b"
            r"|\b(already|previously) (contacted|emailed|written to|wrote to|messaged) (you|support|your)\b"
            r"|\b(said|promised|told me|told us) (that )?(someone|somebody|they|you|he|she|it) (would|will|d"
            r"|was going to)"
            r" (follow up|call|get back|email|contact|reply|fix|sort|be fixed|be sorted)\b"
            r"|\bstill waiting (on|for) (an |a )?(answer|reply|response|callback|call back|call|someone|anyone|"
            r"somebody)\b"
            r"|\bkoi (jawab|reply|response)\b"
            # Silence, and tickets closed unanswered: "heard nothing back", "closed without anyone replying".
            r"|\b(heard nothing|(havent|have not|hasnt|not|never) heard (anything|back|a thing)|no word (back|from))\b"
            r"|\b(closed|resolved|marked (as )?(resolved|solved|closed)) without (anyone|anybody|someone|an answer|"
            r"a reply|a response|being (answered|fixed|solved|resolved)|any (answer|reply|response))\b"
            r"|\b(warte|warten) (schon )?seit\b|\b(llevo|llevamos) (\w+ ){1,3}esperando\b"
            r"|\bj attends (\w+ ){0,3}depuis\b",
            # The bank or card company looking into our charges; an order that came wrong or empty.
            r"\b(bank|card company|card issuer) (is |are |has been |have been )?(investigating|looking into|"
            r"disputing|querying)\b"
            r"|\b(arrived|came|showed up|turned up|delivered) (completely |totally )?empty\b"
            r"|\b(box|package|parcel|order|delivery|shipment) (was|is) (completely |totally )?empty\b"
            r"|\bempty (box|package|parcel)\b"
            r"|\binstead of the (\w+ ){0,2}(i|we) (ordered|paid for|bought)\b",
            # Someone who should no longer be in the account, told the other way round: "a cashier I fired is still
            # logging in", "the new bank account on my profile, I never set it up".
            r"\b(fired|dismissed|let go|sacked)\b.{0,30}\b(still|keeps?) (\w+ )?(logging|logs|using|accessing|"
            r"getting)\b"
            r"|\b(i|we) (never|didnt|did not) (set up|add|added|create|created) (that|this|the|a|any) "
            r"(new )?(bank|payout|account|login|user|staff)\b"
            r"|\b(bank|payout|login|email|password|account) (details|account|info|information|address|settings)?\b"
            r".{0,60}"
            r"\b(nobody|no one|noone|none of us)\b (\w+ ){0,4}(changed|added|set up|created|touched|updated)\b",
            # Billed for a plan the customer is not on: "charged for growth, but we've always been on starter".
            r"\b(charged|billed|invoiced|charging|billing)\b.{0,40}\bbut (i|we)( have| ve)?( always| only)?"
            r"( been| am| are| m| re| was| were)( only| still| always)? on\b",
            # Leaving, and losses the customer holds us to.
            r"\b(leave|leaving|switch|switching|move|moving|go|going) (to|for|with) (another|a different|a competitor|"
            r"your competitor|a new) (\w+ )?(provider|company|processor|pos|system|competitor)\b"
            r"(?! (name|address|account|email|logo|details)\b)"
            r"|\b(last straw|done with (you|this company|your company|your service|this service))\b"
            r"|\b(im|i am|were|we are|ill|i will|well|we will|going to|gonna)( \w+)? (closing|cancelling|canceling|"
            r"leaving|quitting|deleting) (my |our |the )?(account|subscription|plan|contract|service)\b"
            r"|\b(cost|costing|costs) (me|us) (\w+ )?(hundreds|thousands|a fortune|sales|business|customers|a day|"
            r"a full day|days)\b"
            r"|\b(im|i am|ill|i will|we will|well|going to|gonna|will be)( \w+)? (post|posting|write|writing"
            r"|leave|leaving"
            r"|put|putting)\b.{0,30}\b(review sites?|trustpilot|yelp|social media|bad reviews?|negative reviews?|"
            r"1 star|one star)\b",
            # The bank or card company told.
            r"\b(asked|told|called|rang|contacted|contacting|calling|will call|ill call) (my|our) (bank|card company|"
            r"card issuer|credit card company)\b"
            r"|^(filing|opening|raising|initiating|starting) (a )?(chargeback|dispute)\b",
            # Someone else in the account, told in other words.
            r"\b(someone|somebody|a stranger|strangers|a hacker|hackers)\b.{0,25}\b(got|gotten|broke|broken|logged|"
            r"logging|accessed|accessing|been in|getting) (in |into |in to )?(my|our) (account|dashboard|login|admin|"
            r"profile)\b"
            r"|\b(i|we) (never|didnt|did not) (invite|invited|request|requested|authori[sz]e|authori[sz]ed|"
            r"sign up for|signed up for)\b"
            r"|\b(it|that|this) (wasnt|was not|werent|were not) (me|us)\b"
            r"|\bfake (page|site|website|login|email|e mail|text|sms|invoice|app|call)\b"
            r"|\b(ex|former|fired|previous) (employee|employees|staff|manager|partner|business partner|cashier"
            r"|worker)s?"
            r"\b.{0,40}\b(still|access|logging|logged|log in|took|taken)\b"
            r"|\b(bank|payout) (account|details|info)\b.{0,40}\b(one (i|we) (dont|do not) know|(an|one) i dont "
            r"recogni[sz]e|not mine|isnt mine|not ours|wasnt me|was not me|(didnt|did not) do (it|that|this))\b",
            # Money held, taken twice or after closing.
            r"\b(\d+|two|three|four) (identical|duplicate|duplicated) (charges|payments|transactions|debits)\b"
            r"|\b(when|since|though|but|after) (i|we) (had |have |already )?(cancell?ed|closed|unsubscribed)\b"
            r"|\b(holding|withholding|keeping|sitting on)\b.{0,20}\b(my|our) (money|funds|payouts?|balance)\b"
            r"|\b(froze|frozen|freeze|freezing|suspended|withheld|withholding|restricted)"
            r" (my|our) (\w+ )?(payouts?|funds|money|account|balance|deposits?)\b"
            r"|\b(you|they|youve|you have|theyve|they have) (\w+ )?(blocked|paused|locked|closed|shut)( down)? (my|our)"
            r" (\w+ )?(payouts?|funds|money|account|balance|deposits?)\b",
            # Orders gone astray, accounts changing hands, data to delete.
            r"\b(ordered|bought|paid for) (\d+|two|three|four|five|six|ten)\b.{0,30}\b(only )?(\d+|one|two|three|four)"
            r" (turned up|arrived|came|showed up)\b"
            r"|\b(sent|delivered|left|shipped|dropped)\b.{0,30}\b(to|at) the wrong (address|place|house|shop|store|"
            r"person|building)\b"
            r"|\b(someone|somebody) elses (order|package|parcel|invoice|items?)\b"
            r"|\b(also|again) the wrong (one|item|model|reader|size|colou?r)\b|\bsent (me |us )?the wrong (one|thing)\b"
            r"|\b(passed away|deceased|death of)\b"
            r"|\b(owner|husband|wife|partner|father|mother|dad|mum|mom|son|daughter|brother|sister|boss|he|she)"
            r" (has |had )?(died|passed)\b|\b(has|had) (died|passed)\b"
            r"|\bownership\b.{0,30}\b(moved|transferred|changed|to me|over)\b"
            r"|\b(move|transfer|change) (the )?(account )?ownership\b"
            r"|\b(delete|erase|remove|wipe) (all )?(of )?(the )?(data|information|info|details|records) (you"
            r"|u) (hold|have|"
            r"keep|store)\b",
            r"\b(me|nos) (han|ha) (bloqueado|suspendido|cerrado|congelado) (la |mi )?cuenta\b"
            r"|\b(bloquearon|suspendieron|cerraron|congelaron) (la |mi )?cuenta\b",
            # Hinglish: "do baar kat gaya" (taken twice).
            r"\b(do|2|teen|3) baar\b.{0,20}\b(kat|kata|kaat|cut|charge|charged|debit|liya|liye)\b",
            r"\b(2nd|second|3rd|third|4th|fourth|5th|fifth|several|multiple|many|countless|100) times?\b.{0,20}"
            r"\b(writing|written|wrote|contacting|contacted|asking|asked|emailing|emailed|messaging|messaged|"
            r"reaching out|reached out|calling|called|chatting)\b",
        ]
    )
)


# Problems that have happened, as opposed to questions about them: "my account was hacked", "I was charged".
_INCIDENT = re.compile(
    r"\b(i|we|my|our|me|us)\b.{0,40}\b(was|were|got|has been|have been|is|are|been|keep|keeps|still|never|"
    r"didnt|did not|cant|cannot|havent|hasnt)\b"
    r"|\b(someone|somebody|they|you)\b.{0,30}\b(my|our|me|us)\b"
    # Asking how to complain or dispute is the complaint itself.
    r"|\b(complain|complaint|dispute|contest)\b"
)
# A how-to or what-if question about security, fraud or disputes ("how do I turn on fraud alerts", "what should
# I do if I get a phishing email") is answered by the help centre, unless it also tells of something that happened.
_HOW_TO = re.compile(
    r"^(how (do|can|should|would) (i|we|you)|how does|how do|where (do|can) (i|we)|what (should|do|can) (i|we) do"
    r" (if|when)|what happens (if|when)|what if|is there (a|an) (guide|setting|way|article)|can (i|we) (turn"
    r"|set|switch))\b"
    r"|\b(hypothetically|just curious|in case|for future reference)\b"
)


def needs_staff(message: str) -> str:
    """Why only a person can help with this message ("" when the assistant may try)."""
    joined = " ".join(text.words(message))
    if not _NEEDS_STAFF.search(joined):
        return ""
    if _HOW_TO.search(joined) and not _INCIDENT.search(_HOW_TO.sub(" ", joined)):
        return ""
    if _THIRD_PARTY.search(joined) and _ASKS_HOW.search(joined):
        return ""  # "My customer says she was charged twice, how do I check her payment?"
    return "needs_staff"


# --- Typos -------------------------------------------------------------------------------------
# "humen", "agnet", "conect", "represenative", "refnd": a word one edit away from exactly one word of a
# request for a person or of a handoff keyword is read as that word (text.correct: five letters or more,
# unique). Only those words: the situations needing staff are full of everyday words ("closed", "court")
# that ordinary words ("close", "count") are one edit away from.


def _without_exclusions(source: str) -> str:
    """A pattern's source without its negative lookaheads: "(?! (number|address)...)" lists words that take a match
    back, and a typo must not be read as one of those ("number" as "numbers")."""
    kept: list[str] = []
    depth = 0  # Parentheses still open inside the lookahead being dropped (0: not in one).
    i = 0
    while i < len(source):
        if depth == 0 and source.startswith("(?!", i):
            depth, i = 1, i + 3
            continue
        char = source[i]
        if char == "\\":
            if depth == 0:
                kept.append(source[i : i + 2])
            i += 2
            continue
        if depth:
            depth += {"(": 1, ")": -1}.get(char, 0)
        else:
            kept.append(char)
        i += 1
    return "".join(kept)


def _pattern_words(source: str) -> set[str]:
    # Whole words only: a stem followed by \\w*, ? or [...] in a pattern ("charg\\w*") is not a word.
    found = re.findall(r"(?<![a-z\\\]])([a-z]+)(\\w|\?|\[|\(|)", _without_exclusions(source))
    return {word for word, suffix in found if not suffix and len(word) >= 5}


_TRIGGER_VOCABULARY = frozenset(
    word
    for source in [
        _REACH.pattern,
        _REACH_GROUP.pattern,
        _REACH_GROUP_OTHER.pattern,
        _CALLBACK.pattern,
        _BOT,
        " ".join(_PERSON),
        " ".join(DEFAULT_HANDOFF_KEYWORDS),
        " ".join(_DEFAULT_KEYWORD_VARIANTS),
    ]
    for word in _pattern_words(source)
) - text.wordset(
    # Everyday words of those patterns: a neighbour of one ("these", "tough") is more likely a word than a typo.
    """
    there where wheres would quick video touch number office email reply money client customer through giving
    bring fetch staff schedule arrange people machine computer cliente
    """
)


def _words(message: str) -> list[str]:
    return [w if w in text.STOPWORDS else text.correct(w, _TRIGGER_VOCABULARY) for w in text.words(message)]


def customer_trigger(message: str, *, keywords: Sequence[str]) -> Trigger | None:
    if asks_for_person(message):
        return Trigger("customer_asked")
    keyword = matched_keyword(message, keywords)
    if keyword:
        return Trigger("keyword", keyword)
    return None
